package patch

import (
	"errors"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

func TestParseErrors(t *testing.T) {
	head := "description = d\nparams = A\n"
	cases := []struct {
		name string
		src  string
		err  error
		want string // error text, with file and line
	}{
		{"unknown kind", head + "[edit e]\nfile = f\nkind = ynI\n", ErrSyntax, `x.ini:5: invalid patch: [edit e] unknown kind "ynI"`},
		{"missing kind", head + "[edit e]\nfile = f\n", ErrSyntax, `x.ini:3: invalid patch: [edit e] missing key kind`},
		{"missing file", head + "[edit e]\nkind = ini\nkey = k\nvalue = v\n", ErrSyntax, `x.ini:3: invalid patch: [edit e] missing key file`},
		{"missing value", head + "[edit e]\nfile = f\nkind = ini\nkey = k\n", ErrSyntax, `x.ini:3: invalid patch: [edit e] kind ini needs key value`},
		{"typo in key", head + "[edit e]\nfile = f\nkind = ini\nkey = k\nvalue = v\nsecton = s\n", ErrSyntax, `x.ini:8: invalid patch: [edit e] unknown key "secton" for kind ini`},
		{"unknown top key", head + "servces = x\n[edit e]\nfile = f\nkind = file\ncontent = x\n", ErrSyntax, `x.ini:3: invalid patch: unknown key "servces"`},
		{"unset param name", head + "[edit e]\nfile = f\nkind = ini\nkey = k\nvalue = ${B}\n", ErrParam, `x.ini:7: parameter error: [edit e] value uses ${B}, which params does not list`},
		{"unknown filter", head + "[edit e]\nfile = f\nkind = ini\nkey = k\nvalue = ${A|kb}\n", ErrParam, `x.ini:7: parameter error: [edit e] value: ${A|kb}: unknown filter "kb"`},
		{"absolute file", head + "[edit e]\nfile = /etc/passwd\nkind = file\ncontent = x\n", fsx.ErrUnsafePath, `x.ini:4: [edit e] file: path outside the mailcow directory: "/etc/passwd" is absolute`},
		{"dotdot file", head + "[edit e]\nfile = data/../../x\nkind = file\ncontent = x\n", fsx.ErrUnsafePath, `x.ini:4: [edit e] file: path outside the mailcow directory: "data/../../x" goes up a directory (..)`},
		{"bad regexp", head + "[edit e]\nfile = f\nkind = line\nline = x\nmatch = ^(x\n", ErrSyntax, "x.ini:7: invalid patch: [edit e] match: error parsing regexp"},
		{"bad restart", "description = d\nrestart = reboot\n[edit e]\nfile = f\nkind = file\ncontent = x\n", ErrSyntax, `x.ini:2: invalid patch: restart = "reboot"`},
		{"bad mode", head + "[edit e]\nfile = f\nkind = mode\nmode = 0999\n", ErrSyntax, `x.ini:6: invalid patch: [edit e] mode = "0999"`},
		{"bad owner", head + "[edit e]\nfile = f\nkind = mode\nowner = www-data\n", ErrSyntax, `x.ini:6: invalid patch: [edit e] owner = "www-data"`},
		{"block without place", head + "[edit e]\nfile = f\nkind = block\ncontent = x\n", ErrSyntax, "x.ini:3: invalid patch: [edit e] kind block needs after = REGEX or position = end"},
		{"after and position", head + "[edit e]\nfile = f\nkind = line\nline = x\nafter = y\nposition = end\n", ErrSyntax, "x.ini:8: invalid patch: [edit e] after and position exclude each other"},
		{"duplicate edit", head + "[edit e]\nfile = f\nkind = file\ncontent = x\n[edit e]\n", ErrSyntax, "x.ini:7: invalid patch: section [edit e] repeats the one on line 3"},
		{"duplicate key", head + "[edit e]\nfile = f\nfile = g\n", ErrSyntax, `x.ini:5: invalid patch: key "file" repeats the one on line 4`},
		{"no description", "[edit e]\nfile = f\nkind = file\ncontent = x\n", ErrSyntax, "x.ini: invalid patch: missing key description"},
		{"no edits", head, ErrSyntax, "x.ini: invalid patch: no [edit NAME] section"},
		{"unknown section", head + "[edti e]\n", ErrSyntax, "x.ini:3: invalid patch: unknown section [edti e]"},
		{"default not a param", head + "[defaults]\nB = 1\n[edit e]\nfile = f\nkind = file\ncontent = x\n", ErrSyntax, "x.ini:4: invalid patch: [defaults] B is not listed in params"},
		{"multi-line line", head + "[edit e]\nfile = f\nkind = line\nline = \"\"\"a\nb\"\"\"\n", ErrSyntax, "x.ini:6: invalid patch: [edit e] line must be one line"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("x.ini", []byte(c.src))
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err =\n%s\nwant it to contain\n%s", err, c.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != "x.ini" {
				t.Fatalf("err %v is not a ParseError naming x.ini", err)
			}
		})
	}
}

func TestParseReportsEveryError(t *testing.T) {
	src := "description = d\n[edit a]\nfile = /x\nkind = file\ncontent = x\n[edit b]\nfile = f\nkind = nope\n"
	_, err := Parse("x.ini", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "x.ini:3:") || !strings.Contains(err.Error(), "x.ini:8:") {
		t.Fatalf("want both errors (lines 3 and 8), got %v", err)
	}
}

// The example of PRODUCT.md, verbatim, with the inline comment of the
// brief: the contract.
func TestParseProductExample(t *testing.T) {
	src := `# patches/php-memory-limit.ini
description = PHP memory for the admin UI. pools.conf php_admin_value wins over php.ini, so both change together.
params = MEMORY_LIMIT
services = php-fpm-mailcow
restart = restart          ; or recreate (docker compose up -d SVC: needed when a mailcow.conf variable changed)

[edit pools]
file = data/conf/phpfpm/php-fpm.d/pools.conf
kind = ini
section = web-worker
key = php_admin_value[memory_limit]
value = ${MEMORY_LIMIT}

[edit php-ini]
file = data/conf/phpfpm/php-conf.d/other.ini
kind = ini
key = memory_limit
value = ${MEMORY_LIMIT}
`
	p, err := Parse("patches/php-memory-limit.ini", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "php-memory-limit" || p.Restart != RestartRestart || len(p.Edits) != 2 ||
		p.Edits[0].Section != "web-worker" || p.Edits[0].Key != "php_admin_value[memory_limit]" ||
		p.Edits[1].Section != "" || strings.Join(p.Services, ",") != "php-fpm-mailcow" {
		t.Fatalf("parsed %+v", p)
	}
}

func TestParseLiteralValues(t *testing.T) {
	src := "description = d\n[edit e]\nfile = f\nkind = line\nline = WOWorkersCount = \"20\";\nmatch = ^\\s*WOWorkersCount\\s*=\n"
	p, err := Parse("x.ini", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Edits[0].Line; got != `WOWorkersCount = "20";` {
		t.Fatalf("line = %q: quotes or ';' lost", got)
	}
}

func TestBind(t *testing.T) {
	src := "description = d\nparams = SIZE DB_PASS\n[defaults]\nSIZE = 10M\n[edit e]\nfile = f\nkind = line\nline = max ${SIZE|bytes} ${DB_PASS}\nmatch = ^max \n"
	p, err := Parse("x.ini", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		params map[string]string
		line   string
		err    error
		text   string
	}{
		{"default used", map[string]string{"DB_PASS": "hunter2hunter2"}, "max 10485760 hunter2hunter2", nil, ""},
		{"param wins over default", map[string]string{"SIZE": "1G", "DB_PASS": "x"}, "max 1073741824 x", nil, ""},
		{"unset param", nil, "", ErrParam, "x.ini:2: parameter error: DB_PASS is not set: add it under [patch x] in mcupdate.ini"},
		{"unknown param", map[string]string{"DB_PASS": "x", "SIZ": "1"}, "", ErrParam, "[patch x] sets SIZ, which the patch does not take"},
		{"bad size, secret masked", map[string]string{"SIZE": "lots", "DB_PASS": "hunter2hunter2"}, "", ErrParam, `${SIZE|bytes}: "lots"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Bind(p, c.params)
			if c.err != nil {
				if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.text) {
					t.Fatalf("err = %v, want %v containing %q", err, c.err, c.text)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error shows a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.edits[0].line != c.line {
				t.Fatalf("line = %q, want %q", b.edits[0].line, c.line)
			}
		})
	}
}

func TestBindMatchMustMatchLine(t *testing.T) {
	src := "description = d\n[edit e]\nfile = f\nkind = line\nline = enabled = false;\nmatch = ^enable\\s+=\n"
	p, err := Parse("x.ini", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Bind(p, nil); !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "x.ini:6:") || !strings.Contains(err.Error(), "idempotent") {
		t.Fatalf("err = %v", err)
	}
}

func TestToBytes(t *testing.T) {
	for in, want := range map[string]string{"104857600": "104857600", "100M": "104857600", "100m": "104857600", "50MB": "52428800", "512K": "524288", "1G": "1073741824", " 2g ": "2147483648"} {
		if got, err := toBytes(in); err != nil || got != want {
			t.Errorf("toBytes(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "0", "-1", "1T", "1.5M", "99999999999999999999G"} {
		if got, err := toBytes(in); err == nil {
			t.Errorf("toBytes(%q) = %q, want an error", in, got)
		}
	}
}

func TestResolve(t *testing.T) {
	lib, err := Library()
	if err != nil {
		t.Fatal(err)
	}
	own, err := Parse("/etc/mcupdate/patches/greylist-off.ini", []byte("description = mine\n[edit g]\nfile = data/conf/rspamd/local.d/greylist.conf\nkind = line\nline = enabled = false;\nmatch = ^enabled\nposition = end\n"))
	if err != nil {
		t.Fatal(err)
	}
	own.Origin = "/etc/mcupdate/patches/greylist-off.ini"
	t.Run("override warns", func(t *testing.T) {
		bs, warns, err := Resolve(Settings{Enabled: []string{"greylist-off", "fts-heap"}, Params: map[string]map[string]string{"fts-heap": {"FTS_HEAP": "512"}, "sogo-workers": {"WORKERS": "3"}}}, lib, map[string]*Patch{"greylist-off": own})
		if err != nil {
			t.Fatal(err)
		}
		if len(bs) != 2 || bs[0].Description != "mine" || bs[1].Params["FTS_HEAP"] != "512" {
			t.Fatalf("bound %v", bs)
		}
		w := strings.Join(warns, "\n")
		if !strings.Contains(w, "greylist-off from /etc/mcupdate/patches/greylist-off.ini replaces the shipped patch") || !strings.Contains(w, "[patch sogo-workers] has parameters but the patch is not enabled") {
			t.Fatalf("warnings: %q", w)
		}
	})
	t.Run("unknown names and unset params all reported", func(t *testing.T) {
		_, _, err := Resolve(Settings{Enabled: []string{"greylist_off", "php-memory", "fts-heap"}}, lib, nil)
		if !errors.Is(err, ErrUnknownPatch) || !errors.Is(err, ErrParam) {
			t.Fatalf("err = %v", err)
		}
		for _, want := range []string{`unknown patch "greylist_off" (did you mean greylist-off`, `unknown patch "php-memory" (did you mean php-memory-limit`, "FTS_HEAP is not set"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("err lacks %q:\n%v", want, err)
			}
		}
	})
}
