package patch

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

func TestParamTypes(t *testing.T) {
	for _, tc := range []struct {
		spec, param, value, err string
	}{
		{"text", "X", "anything at all", ""},
		{"text", "X", "two\nlines", `"two\nlines" holds a control character (U+000A): a text parameter is one line`},
		{"text", "X", strings.Repeat("a", 4097), "the value is 4097 bytes, more than the 4096 a text parameter may hold"},
		{"text", "X", "nul\x00", `"nul\x00" holds a NUL byte`},
		{"text", "X", "\xff\xfe", `"\xff\xfe" is not valid UTF-8`},
		{"text", "DB_PASS", "nul\x00secret", "the value holds a NUL byte"},
		{"count", "N", "50", ""},
		{"count 1..10", "N", "0", `"0" is below 1, the smallest the patch allows`},
		{"count 1..10", "N", "11", `"11" is above 10, the largest the patch allows`},
		{"count 16..", "N", "1000000", ""},
		{"count", "N", "-1", `"-1" is not a whole number`},
		{"count", "N", " 5", `" 5" is not a whole number`},
		{"count", "N", "0x10", `"0x10" is not a whole number`},
		{"count", "N", "99999999999999999999", `is not a whole number`},
		{"mb 32..65536", "FTS_HEAP", "abc", `"abc" is not a whole number of megabytes such as 1024`},
		{"mb 32..65536", "FTS_HEAP", "512M", `"512M" is not a whole number of megabytes`},
		{"mb 32..65536", "FTS_HEAP", "16", `"16" is below 32, the smallest the patch allows`},
		{"size 32M..64G", "MEMORY_LIMIT", "2048M", ""},
		{"size 32M..64G", "MEMORY_LIMIT", "2g", ""},
		{"size 32M..64G", "MEMORY_LIMIT", "512MB", `"512MB" is not a size such as 512K, 100M or 2G`},
		{"size 32M..64G", "MEMORY_LIMIT", "1.5G", `is not a size`},
		{"size 32M..64G", "MEMORY_LIMIT", "16M", `"16M" is below 32M, the smallest the patch allows`},
		{"size 32M..64G", "MEMORY_LIMIT", "65G", `"65G" is above 64G, the largest the patch allows`},
		{"size", "S", "99999999999999999G", `is not a size`},
		{"cidr-list", "IPS", "192.0.2.10 2001:db8::/48, 10.0.0.0/8\n198.51.100.1", ""},
		{"cidr-list", "IPS", "10.0.0.0/33", `"10.0.0.0/33" is not an IP address or network`},
		{"cidr-list", "IPS", "example.org", `"example.org" is not an IP address or network`},
		{"cidr-list", "IPS", " , ", "the list is empty"},
		{"cidr-list", "IPS", strings.Repeat("10.0.0.1 ", 8000), "more than the 65536 a parameter may hold"},
		{"count", "API_TOKEN", "12x", "the value is not a number of the declared type count"},
	} {
		typ, err := parseType(tc.spec)
		if err != nil {
			t.Fatalf("parseType(%q): %v", tc.spec, err)
		}
		err = typ.checkValue(tc.param, tc.value)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s %s = %q: %v", tc.spec, tc.param, tc.value, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s %s = %q: err %v, want %q", tc.spec, tc.param, tc.value, err, tc.err)
		case err != nil && tc.param != "N" && strings.Contains(tc.param, "PASS") && strings.Contains(err.Error(), "secret"):
			t.Errorf("the error shows the secret: %v", err)
		}
	}
}

func TestParseTypeErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"":               "want a type",
		"number":         `unknown type "number" (want text, count, mb, size or cidr-list)`,
		"count 10":       `range "10": want MIN..MAX`,
		"count ..":       `range "..": want MIN..MAX`,
		"count 10..1":    "the range is empty",
		"size 1X..2G":    `range minimum "1X" is not a size`,
		"mb 1..x":        `range maximum "x" is not a whole number of megabytes`,
		"text 1..2":      "type text takes no range",
		"count 1..2 foo": "want a type",
	} {
		if _, err := parseType(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseType(%q) = %v, want %q", spec, err, want)
		}
	}
}

// TestParsePatchTypes: [types], [defaults] and [check] are checked when
// the patch is read, each error with its line.
func TestParsePatchTypes(t *testing.T) {
	const head = "description = d\nparams = N SIZE\n"
	const edit = "[edit e]\nfile = f\nkind = line\nline = n ${N} ${SIZE}\nmatch = ^n \nposition = end\n"
	for name, tc := range map[string]struct{ src, want string }{
		"bad type":         {head + "[types]\nN = number\n" + edit, `x.ini:4: invalid patch: [types] N: "number": unknown type`},
		"type of no param": {head + "[types]\nM = count\n" + edit, "x.ini:4: invalid patch: [types] M is not listed in params"},
		"default out of range": {head + "[defaults]\nN = 0\n[types]\nN = count 1..\n" + edit,
			`x.ini:4: invalid patch: [defaults] N: "0" is below 1, the smallest the patch allows (declared count 1..)`},
		"check unknown key": {head + "[types]\nN = count\n" + edit + "[check c]\nfile = f\nkind = ini\nkey = k\nparam = N\nmust_be = greater\nmsut = x\n",
			`invalid patch: [check c] unknown key "msut"`},
		"check text param": {head + edit + "[check c]\nfile = f\nkind = ini\nkey = k\nparam = N\nmust_be = greater\n",
			"[check c] param N must be declared count, mb or size in [types] to be compared"},
		"check bad must_be": {head + "[types]\nN = count\n" + edit + "[check c]\nfile = f\nkind = ini\nkey = k\nparam = N\nmust_be = bigger\n",
			`[check c] must_be = "bigger": want greater, at-least, less or at-most`},
		"check outside": {head + "[types]\nN = count\n" + edit + "[check c]\nfile = ../f\nkind = env\nkey = K\nparam = N\nmust_be = less\n",
			"[check c] file: path outside the mailcow directory"},
		"check kind": {head + "[types]\nN = count\n" + edit + "[check c]\nfile = f\nkind = json\nkey = k\nparam = N\nmust_be = less\n",
			`[check c] kind "json": a check reads an ini or env value`},
		"check missing": {head + "[types]\nN = count\n" + edit + "[check c]\nfile = f\n", "[check c] missing key kind"},
	} {
		_, err := Parse("x.ini", []byte(tc.src))
		if !errors.Is(err, ErrSyntax) && !errors.Is(err, fsx.ErrUnsafePath) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v\nwant %q", name, err, tc.want)
		}
	}
}

// TestResolveParamErrors: a value its patch refuses is a configuration
// error naming mcupdate.ini's line, the patch and the parameter — the
// values the issue found written into mailcow.conf with exit 0.
func TestResolveParamErrors(t *testing.T) {
	lib, err := Library()
	if err != nil {
		t.Fatal(err)
	}
	origin := func(patch, param string) string {
		return "/etc/mcupdate/mcupdate.ini:" + map[string]string{"FTS_HEAP": "14", "MAX_CHILDREN": "17", "SIZ": "20"}[param]
	}
	for name, tc := range map[string]struct {
		patch, param, value, want string
	}{
		"word":    {"fts-heap", "FTS_HEAP", "abc", `/etc/mcupdate/mcupdate.ini:14: [patch fts-heap] FTS_HEAP: "abc" is not a whole number of megabytes such as 1024 (fts-heap.ini declares FTS_HEAP mb 32..65536)`},
		"NUL":     {"fts-heap", "FTS_HEAP", "512\x00", `/etc/mcupdate/mcupdate.ini:14: [patch fts-heap] FTS_HEAP: "512\x00" holds a NUL byte`},
		"20 MB":   {"fts-heap", "FTS_HEAP", strings.Repeat("9", 20<<20), "/etc/mcupdate/mcupdate.ini:14: [patch fts-heap] FTS_HEAP: the value is 20971520 bytes, more than the 65536 a parameter may hold"},
		"range":   {"php-fpm-pool-size", "MAX_CHILDREN", "0", `/etc/mcupdate/mcupdate.ini:17: [patch php-fpm-pool-size] MAX_CHILDREN: "0" is below 1, the smallest the patch allows`},
		"unknown": {"fts-heap", "SIZ", "1", "/etc/mcupdate/mcupdate.ini:20: [patch fts-heap] SIZ: the patch does not take SIZ (it takes: FTS_HEAP)"},
	} {
		params := map[string]map[string]string{tc.patch: {tc.param: tc.value}}
		if tc.param == "SIZ" {
			params[tc.patch]["FTS_HEAP"] = "512"
		}
		_, _, err := Resolve(Settings{Enabled: []string{tc.patch}, Params: params, Origin: origin}, lib, nil)
		var pe *ParamError
		if !errors.Is(err, ErrParam) || !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %.300v\nwant %q", name, err, tc.want)
		}
		if len(err.Error()) > 1000 {
			t.Errorf("%s: the error is %d bytes long", name, len(err.Error()))
		}
	}
}

// TestCheckSpareServers: php-fpm-pool-size refuses MAX_CHILDREN below
// pools.conf's pm.max_spare_servers (php-fpm would not start; equal starts,
// as fpm_conf.c and verify's php-fpm check say), with
// the value read from the file as the patch's edits leave it; nothing is
// written.
func TestCheckSpareServers(t *testing.T) {
	lib, err := Library()
	if err != nil {
		t.Fatal(err)
	}
	pools := "[web-worker]\npm = dynamic\npm.max_children = 50\npm.start_servers = 10\npm.min_spare_servers = 10\npm.max_spare_servers = 15\n"
	for _, tc := range []struct {
		children, spare, want string
	}{
		{"16", "15", ""},
		{"15", "15", ""},
		{"14", "15", "patch php-fpm-pool-size, check spare-servers: data/conf/phpfpm/php-fpm.d/pools.conf: MAX_CHILDREN = 14 (m.ini:9) must be at least pm.max_spare_servers = 15 in [web-worker]: php-fpm refuses to start below it"},
		{"10", "15", "MAX_CHILDREN = 10 (m.ini:9) must be at least pm.max_spare_servers = 15"},
		{"10", "8", ""},
		{"10", "many", `pm.max_spare_servers in [web-worker] in the file: "many" is not a whole number, so MAX_CHILDREN cannot be checked against it`},
	} {
		dir := t.TempDir()
		conf := strings.Replace(pools, "max_spare_servers = 15", "max_spare_servers = "+tc.spare, 1)
		writeTree(t, dir, map[string]string{"data/conf/phpfpm/php-fpm.d/pools.conf": conf})
		bs, _, err := Resolve(Settings{Enabled: []string{"php-fpm-pool-size"}, Params: map[string]map[string]string{"php-fpm-pool-size": {"MAX_CHILDREN": tc.children}},
			Origin: func(string, string) string { return "m.ini:9" }}, lib, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Apply(osWriter{}, dir, bs, ModeApply)
		got, _ := os.ReadFile(filepath.Join(dir, "data/conf/phpfpm/php-fpm.d/pools.conf"))
		if tc.want == "" {
			if err != nil || !strings.Contains(string(got), "pm.max_children = "+tc.children+"\n") {
				t.Errorf("MAX_CHILDREN %s, spare %s: %v\n%s", tc.children, tc.spare, err, got)
			}
			continue
		}
		if !errors.Is(err, ErrParam) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("MAX_CHILDREN %s, spare %s: err = %v\nwant %q", tc.children, tc.spare, err, tc.want)
		}
		if string(got) != conf {
			t.Errorf("MAX_CHILDREN %s: pools.conf written:\n%s", tc.children, got)
		}
		var failed []string
		for _, e := range res.Patches[0].Edits {
			failed = append(failed, e.Edit+"="+string(e.State))
		}
		if strings.Join(failed, " ") != "web-worker=skipped spare-servers=failed" {
			t.Errorf("edit states %v", failed)
		}
	}
}
