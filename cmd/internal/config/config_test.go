package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"
)

func TestLoadMissingFileIsDefaults(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mcupdate.ini")
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Path = p
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load(missing) = %+v, want %+v", c, want)
	}
	if c.Exists {
		t.Error("Exists is true for a missing file")
	}
}

// TestLoadNotAFile: --config naming a directory, a FIFO (which a plain
// read would block on forever) or an unreadable file is a configuration
// error (*Error, exit 2) naming the path, not a failure (exit 1).
func TestLoadNotAFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{dir, dir + ": is a directory, not a configuration file: --config (or MCUPDATE_CONFIG) names the file, such as /etc/mcupdate/mcupdate.ini"},
		{fifo, fifo + ": is not a regular file"},
		{filepath.Join(dir, "x", "..", "fifo", "y"), "not a directory"},
	} {
		c, err := Load(tc.path)
		var e *Error
		if c != nil || !errors.As(err, &e) || e.File != tc.path || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s) = %v, %v; want a *config.Error %q", tc.path, c, err, tc.want)
		}
	}
}

// TestParseRepeated: a repeated section or key is an error naming both
// lines; ini.v1 alone merged the sections and let the last key win, so the
// first `enable` list was silently lost.
func TestParseRepeated(t *testing.T) {
	for _, tc := range []struct{ name, ini, want string }{
		{"section", "[patches]\nenable = fts-heap\n\n[general]\nbranch = master\n[patches]\ndir = /p\n",
			"m.ini:6: [patches]: section repeats the one on line 1: merge them"},
		{"key", "[patches]\nenable = fts-heap\ndir = /p\nenable = greylist-off\n",
			"m.ini:4: [patches] enable: set again: line 2 sets it too; keep one, only the last would count"},
		{"key in repeated section", "[patches]\nenable = a\n[patches]\nenable = b\n",
			"m.ini:4: [patches] enable: set again: line 2 sets it too"},
		{"patch section", "[patch fts-heap]\nFTS_HEAP = 1024\n[patch  fts-heap]\nFTS_HEAP = 2048\n",
			"m.ini:3: [patch  fts-heap]: section repeats the one on line 1"},
		{"parameter", "[patch fts-heap]\nFTS_HEAP = 1024\n; a comment\nFTS_HEAP : 2048\n",
			"m.ini:4: [patch fts-heap] FTS_HEAP: set again: line 2 sets it too"},
		{"default section", "a = 1\na = 2\n[general]\n", "m.ini:2: [DEFAULT] a: set again: line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("m.ini", []byte(tc.ini))
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a *config.Error %q", err, tc.want)
			}
		})
	}
	// Not repeats: a key in two sections, a multi-line value's lines, a
	// continuation line.
	for _, ok := range []string{
		"[general]\nbranch = a\n[patch x]\nbranch = b\n",
		"[patch x]\nA = \"\"\"\nA = 1\nB = 2\n\"\"\"\nB = 3\n",
		"[patch x]\nA = one \\\nA = two\nB = 1\n",
	} {
		if _, err := Parse("m.ini", []byte(ok)); err != nil {
			t.Errorf("Parse(%q): %v", ok, err)
		}
	}
}

// TestParamOrigin: each parameter's line, for the errors of parameters a
// patch refuses.
func TestParamOrigin(t *testing.T) {
	c, err := Parse("/etc/m.ini", []byte("[patches]\nenable = fts-heap\n\n[patch fts-heap]\n; heap\nFTS_HEAP = 1024\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ParamOrigin("fts-heap", "FTS_HEAP"); got != "/etc/m.ini:6" {
		t.Errorf("ParamOrigin = %q, want /etc/m.ini:6", got)
	}
	if got := c.ParamOrigin("fts-heap", "OTHER"); got != "" {
		t.Errorf("ParamOrigin(unset) = %q", got)
	}
}

func TestLoadEveryKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mcupdate.ini")
	ini := `# admin's configuration
[general]
stop_on_danger = off
on_predicted_loss = stop-forced
branch = nightly

[docker]
ipv6 = no
fixed_cidr_v6 = fd00:1234::/64
version_timeout = 1m30s

[snapshot]
paths = mailcow.conf, data/conf/postfix/extra.cf  docker-compose.override.yml
dirs = data/conf/rspamd,data/hooks
keep = 3

[restart]
enabled = false
compose = docker-compose -p mailcowdockerized

[patches]
enable = php-memory-limit, fts-heap
dir = /etc/mcupdate/patches.d

[patch php-memory-limit]
MEMORY_LIMIT = 2048M

[patch fts-heap]
FTS_HEAP = 1024
FTS_PROCS = 2

[verify]
cert_min_days = 21
[log]
file = /var/log/mcupdate.log
max_size = 64K
syslog = off

[notify]
webhook = https://hooks.example.org/mcupdate?token=abc
kuma_push = https://kuma.example.org/api/push/Xy12
timeout = 2500ms

[validate]
enabled = on
dovecot-mailcow = off
`
	if err := os.WriteFile(p, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Path:            p,
		Exists:          true,
		StopOnDanger:    false,
		Branch:          "nightly",
		OnPredictedLoss: "stop-forced",
		Predict:         true,
		IPv6:            false,
		FixedCIDRv6:     "fd00:1234::/64",
		DockerTimeout:   90 * time.Second,
		SnapshotPaths:   []string{"mailcow.conf", "data/conf/postfix/extra.cf", "docker-compose.override.yml"},
		SnapshotDirs:    []string{"data/conf/rspamd", "data/hooks"},
		SnapshotKeep:    3,
		Restart:         false,
		Compose:         []string{"docker-compose", "-p", "mailcowdockerized"},
		Enabled:         []string{"php-memory-limit", "fts-heap"},
		PatchDir:        "/etc/mcupdate/patches.d",
		Params: map[string]map[string]string{
			"php-memory-limit": {"MEMORY_LIMIT": "2048M"},
			"fts-heap":         {"FTS_HEAP": "1024", "FTS_PROCS": "2"},
		},
		paramLines: map[string]map[string]int{
			"php-memory-limit": {"MEMORY_LIMIT": 26},
			"fts-heap":         {"FTS_HEAP": 29, "FTS_PROCS": 30},
		},
		enableLine:       22,
		Validate:         true,
		ValidateCommands: map[string]string{"dovecot-mailcow": "off"},
		validateLines:    map[string]int{"enabled": 45, "dovecot-mailcow": 46},
		CertMinDays:      21,
		LogFile:          "/var/log/mcupdate.log",
		LogMaxSize:       64 << 10,
		Syslog:           false,
		WebhookURL:       "https://hooks.example.org/mcupdate?token=abc",
		KumaPushURL:      "https://kuma.example.org/api/push/Xy12",
		NotifyTimeout:    2500 * time.Millisecond,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if got := c.PatchParams("fts-heap"); !reflect.DeepEqual(got, []string{"FTS_HEAP", "FTS_PROCS"}) {
		t.Errorf("PatchParams = %q", got)
	}
	if got := c.PatchParams("none"); got != nil {
		t.Errorf("PatchParams(none) = %q", got)
	}
}

func TestParseBooleans(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"on", true}, {"yes", true}, {"TRUE", true}, {"1", true}, {"True", true},
		{"off", false}, {"no", false}, {"false", false}, {"0", false}, {"Off", false},
	} {
		t.Run(tt.in, func(t *testing.T) {
			c, err := Parse("m.ini", []byte("[general]\nstop_on_danger = "+tt.in+"\n[docker]\nipv6 = "+tt.in+"\n[restart]\nenabled = "+tt.in+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			if c.StopOnDanger != tt.want || c.IPv6 != tt.want || c.Restart != tt.want {
				t.Errorf("stop_on_danger %v ipv6 %v restart %v, want %v", c.StopOnDanger, c.IPv6, c.Restart, tt.want)
			}
		})
	}
}

// An empty value keeps the default; it is not an error.
func TestParseEmptyValuesKeepDefaults(t *testing.T) {
	c, err := Parse("m.ini", []byte("[general]\nstop_on_danger =\n[docker]\nfixed_cidr_v6 =\nversion_timeout =\n[snapshot]\nkeep =\n[restart]\ncompose =\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if c.StopOnDanger != d.StopOnDanger || c.FixedCIDRv6 != d.FixedCIDRv6 || c.DockerTimeout != d.DockerTimeout ||
		c.SnapshotKeep != d.SnapshotKeep || !reflect.DeepEqual(c.Compose, d.Compose) {
		t.Errorf("empty values changed the defaults: %+v", c)
	}
}

func TestParseWarnings(t *testing.T) {
	tests := []struct {
		name, ini string
		want      []string // each must appear in one warning, in order
	}{
		{"unknown section", "[genral]\nbranch = master\n", []string{"m.ini: unknown section [genral] ignored"}},
		{"unknown key", "[general]\nstop_on_dangr = off\n", []string{`m.ini: [general] unknown key "stop_on_dangr" ignored (known: stop_on_danger, branch, on_predicted_loss, predict)`}},
		{"key outside any section", "branch = master\n", []string{`m.ini: [DEFAULT] unknown key "branch" ignored`}},
		{"key case matters", "[docker]\nIPv6 = no\n", []string{`m.ini: [docker] unknown key "IPv6"`}},
		{"several", "[x]\n[docker]\nipv4 = 1\n[snapshot]\nkep = 2\n", []string{"[x]", `[docker] unknown key "ipv4"`, `[snapshot] unknown key "kep"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("m.ini", []byte(tt.ini))
			if err != nil {
				t.Fatalf("a warning became an error: %v", err)
			}
			if len(c.Warnings) != len(tt.want) {
				t.Fatalf("warnings %q, want %d", c.Warnings, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(c.Warnings[i], w) {
					t.Errorf("warning %q does not contain %q", c.Warnings[i], w)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	type keyErr struct{ section, key, msg string }
	tests := []struct {
		name, ini string
		want      []keyErr
	}{
		{"stop_on_danger maybe", "[general]\nstop_on_danger = maybe\n", []keyErr{{"general", "stop_on_danger", `"maybe" is not a boolean`}}},
		{"ipv6 2", "[docker]\nipv6 = 2\n", []keyErr{{"docker", "ipv6", `"2" is not a boolean`}}},
		{"restart enabled", "[restart]\nenabled = sometimes\n", []keyErr{{"restart", "enabled", "not a boolean"}}},
		{"keep -1", "[snapshot]\nkeep = -1\n", []keyErr{{"snapshot", "keep", `"-1" is not a whole number of at least 1`}}},
		{"keep 0", "[snapshot]\nkeep = 0\n", []keyErr{{"snapshot", "keep", "at least 1"}}},
		{"keep ten", "[snapshot]\nkeep = ten\n", []keyErr{{"snapshot", "keep", "whole number"}}},
		{"cert_min_days -1", "[verify]\ncert_min_days = -1\n", []keyErr{{"verify", "cert_min_days", `"-1" is not a whole number of days`}}},
		{"cert_min_days two weeks", "[verify]\ncert_min_days = two weeks\n", []keyErr{{"verify", "cert_min_days", "whole number of days"}}},
		{"version_timeout soon", "[docker]\nversion_timeout = soon\n", []keyErr{{"docker", "version_timeout", `"soon" is not a duration`}}},
		{"version_timeout 5", "[docker]\nversion_timeout = 5\n", []keyErr{{"docker", "version_timeout", "not a duration"}}},
		{"version_timeout negative", "[docker]\nversion_timeout = -5s\n", []keyErr{{"docker", "version_timeout", "not a duration"}}},
		{"fixed_cidr_v6 IPv4", "[docker]\nfixed_cidr_v6 = 1.2.3.4/8\n", []keyErr{{"docker", "fixed_cidr_v6", `"1.2.3.4/8" is not an IPv6 CIDR`}}},
		{"on_predicted_loss", "[general]\non_predicted_loss = maybe\n", []keyErr{{"general", "on_predicted_loss", `"maybe" is not one of warn, stop-forced, stop`}}},
		{"fixed_cidr_v6 no prefix", "[docker]\nfixed_cidr_v6 = fd00::\n", []keyErr{{"docker", "fixed_cidr_v6", "not an IPv6 CIDR"}}},
		// Docker refuses to start with a malformed fixed-cidr-v6: mailcow down.
		{"fixed_cidr_v6 garbage with : and /", "[docker]\nfixed_cidr_v6 = fd00:zz::/80\n", []keyErr{{"docker", "fixed_cidr_v6", "not an IPv6 CIDR"}}},
		{"fixed_cidr_v6 prefix too long", "[docker]\nfixed_cidr_v6 = fd00::/129\n", []keyErr{{"docker", "fixed_cidr_v6", "not an IPv6 CIDR"}}},
		{"fixed_cidr_v6 mapped IPv4", "[docker]\nfixed_cidr_v6 = ::ffff:1.2.3.4/120\n", []keyErr{{"docker", "fixed_cidr_v6", "not an IPv6 CIDR"}}},
		{"absolute snapshot path", "[snapshot]\npaths = /etc/passwd\n", []keyErr{{"snapshot", "paths", `"/etc/passwd" must be relative`}}},
		{"dotdot snapshot path", "[snapshot]\npaths = data/../../etc\n", []keyErr{{"snapshot", "paths", `"data/../../etc" must be relative`}}},
		{"dotdot snapshot dir", "[snapshot]\ndirs = ..\n", []keyErr{{"snapshot", "dirs", `".." must be relative`}}},
		{"absolute snapshot dir", "[snapshot]\ndirs = data/conf /root\n", []keyErr{{"snapshot", "dirs", `"/root" must be relative`}}},
		{"log max_size small", "[log]\nmax_size = 100\n", []keyErr{{"log", "max_size", `"100" is not a size of at least 4K`}}},
		{"log max_size words", "[log]\nmax_size = big\n", []keyErr{{"log", "max_size", "not a size"}}},
		{"log file dotdot", "[log]\nfile = ../../etc/x\n", []keyErr{{"log", "file", "no .. parts"}}},
		{"log syslog", "[log]\nsyslog = maybe\n", []keyErr{{"log", "syslog", "not a boolean"}}},
		{"webhook not a URL", "[notify]\nwebhook = hooks.example.org/x?token=s3cr3t\n", []keyErr{{"notify", "webhook", "not an http:// or https:// URL"}}},
		{"kuma ftp", "[notify]\nkuma_push = ftp://kuma/api/push/s3cr3t\n", []keyErr{{"notify", "kuma_push", "not an http:// or https:// URL"}}},
		{"notify timeout long", "[notify]\ntimeout = 5m\n", []keyErr{{"notify", "timeout", "between 0 and 1m"}}},
		{"notify timeout zero", "[notify]\ntimeout = 0s\n", []keyErr{{"notify", "timeout", "not a duration"}}},
		{"empty patch name", "[patch ]\nX = 1\n", []keyErr{{"patch ", "", "section needs a patch name"}}},
		{"patch without a name", "[patch]\nX = 1\n", []keyErr{{"patch", "", "section needs a patch name"}}},
		{"all reported, not just the first", `[general]
stop_on_danger = maybe
[docker]
fixed_cidr_v6 = 1.2.3.4/8
version_timeout = soon
[snapshot]
paths = ../x
keep = -1
`, []keyErr{
			{"general", "stop_on_danger", "maybe"},
			{"docker", "fixed_cidr_v6", "1.2.3.4/8"},
			{"docker", "version_timeout", "soon"},
			{"snapshot", "paths", "../x"},
			{"snapshot", "keep", "-1"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("/etc/mcupdate/mcupdate.ini", []byte(tt.ini))
			if err == nil {
				t.Fatal("no error")
			}
			var got []*Error
			collectErrors(err, &got)
			if len(got) != len(tt.want) {
				t.Fatalf("%d errors, want %d: %v", len(got), len(tt.want), err)
			}
			for i, w := range tt.want {
				e := got[i]
				if e.File != "/etc/mcupdate/mcupdate.ini" || e.Section != w.section || e.Key != w.key {
					t.Errorf("error %d is for %s [%s] %s, want [%s] %s", i, e.File, e.Section, e.Key, w.section, w.key)
				}
				if !strings.Contains(e.Error(), w.msg) {
					t.Errorf("error %q does not say %q", e, w.msg)
				}
				prefix := "/etc/mcupdate/mcupdate.ini: [" + w.section + "]"
				if w.key != "" {
					prefix += " " + w.key
				}
				if !strings.HasPrefix(e.Error(), prefix+": ") {
					t.Errorf("error %q does not start with %q", e, prefix)
				}
			}
		})
	}
}

// collectErrors flattens multierror trees into their *Error leaves.
func collectErrors(err error, out *[]*Error) {
	if j, ok := err.(*multierror.Error); ok {
		for _, e := range j.WrappedErrors() {
			collectErrors(e, out)
		}
		return
	}
	var e *Error
	if errors.As(err, &e) {
		*out = append(*out, e)
	}
}

func TestParseSyntaxError(t *testing.T) {
	_, err := Parse("m.ini", []byte("[general\nbranch = x\n"))
	var e *Error
	if !errors.As(err, &e) || e.File != "m.ini" {
		t.Fatalf("error %v is not a *config.Error naming m.ini", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q spans lines", err)
	}
}

func TestParseValidCIDRs(t *testing.T) {
	for _, v := range []string{"fd00:dead:beef:c0::/80", "2001:db8::/64", "fd00::/8"} {
		c, err := Parse("m.ini", []byte("[docker]\nfixed_cidr_v6 = "+v+"\n"))
		if err != nil {
			t.Errorf("%s: %v", v, err)
			continue
		}
		if c.FixedCIDRv6 != v {
			t.Errorf("FixedCIDRv6 = %q, want %q", c.FixedCIDRv6, v)
		}
	}
}

// TestLogAndNotify: the log file can be turned off, sizes take K, M and
// G, and a bad notification URL's error never shows the URL (it may hold
// a token).
func TestLogAndNotify(t *testing.T) {
	c, err := Parse("m.ini", []byte("[log]\nfile = off\nmax_size = 2M\n"))
	if err != nil || c.LogFile != "" || c.LogMaxSize != 2<<20 {
		t.Errorf("file = off, max_size = 2M: %q %d %v", c.LogFile, c.LogMaxSize, err)
	}
	d := Default()
	if d.LogFile != DefaultLogFile || !d.Syslog || d.WebhookURL != "" || d.KumaPushURL != "" || d.NotifyTimeout != 5*time.Second {
		t.Errorf("defaults: %+v", d)
	}
	_, err = Parse("m.ini", []byte("[notify]\nwebhook = hxxp://x/s3cr3tT0ken\n"))
	if err == nil || strings.Contains(err.Error(), "s3cr3tT0ken") {
		t.Errorf("bad URL: %v", err)
	}
}
