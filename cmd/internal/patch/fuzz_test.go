package patch

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/secret"
	"github.com/mcupdate/mcupdate/patches"
)

// fuzzEdit binds a one-edit patch with parameter P; nil when the fuzzer's
// value is one Bind rightly refuses.
func fuzzEdit(t *testing.T, keys, p string) *boundEdit {
	t.Helper()
	pt, err := Parse("f.ini", []byte("description = d\nparams = P\n[edit e]\nfile = f\n"+keys))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Bind(pt, map[string]string{"P": p})
	if err != nil {
		return nil
	}
	return b.edits[0]
}

// checkOutside fails when out differs from in other than in lines target
// says belong to the edit. The last line of in may gain an end of line
// when something was appended after it.
func checkOutside(t *testing.T, in, out string, target func(string) bool) {
	t.Helper()
	keep := func(s string) []string {
		var ls []string
		for _, l := range splitLines(s) {
			if !target(body(l)) {
				ls = append(ls, l)
			}
		}
		return ls
	}
	a, b := keep(in), keep(out)
	if len(a) != len(b) {
		t.Fatalf("untouched lines differ:\nin  %q\nout %q", in, out)
	}
	for i := range a {
		if a[i] == b[i] {
			continue
		}
		last := i == len(a)-1 && strings.HasSuffix(in, a[i]) && eolOf(a[i]) == ""
		rest := strings.TrimPrefix(b[i], a[i])
		if !last || !strings.HasPrefix(b[i], a[i]) || rest != "\n" && rest != "\r\n" {
			t.Fatalf("line %d changed: %q -> %q\nin  %q\nout %q", i, a[i], b[i], in, out)
		}
	}
}

// fuzzEditor runs the shared properties: no panic, nothing outside the
// target changes, idempotent on its own output.
func fuzzEditor(t *testing.T, be *boundEdit, in string, target func(string) bool) {
	t.Helper()
	out, err := edit(in, be)
	if err != nil {
		return
	}
	checkOutside(t, in, out, target)
	again, err := edit(out, be)
	if err != nil || again != out {
		t.Fatalf("not idempotent: %v\nin    %q\nout   %q\nagain %q", err, in, out, again)
	}
}

var fuzzSeeds = []string{
	"",
	"[web-worker]\npm.max_children = 50\nphp_admin_value[memory_limit] = 512M\n",
	"a=1\r\n[s]\r\nk = v\r\n",
	"FTS_HEAP=128\n# c\nFTS_HEAP=\"1\" # x",
	"soft_reject_on_timeout = true;\nlocal_addrs = x;",
	"# BEGIN mcupdate f/e\nold\n# END mcupdate f/e\n",
	"k\n[s\n=\n\r\r\n[s]]\nk=",
}

func FuzzEditINI(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "2048M", true)
	}
	f.Fuzz(func(t *testing.T, in, p string, add bool) {
		keys := "kind = ini\nsection = s\nkey = k\nvalue = ${P}\n"
		if add {
			keys += "missing = add\n"
		}
		be := fuzzEdit(t, keys, p)
		if be == nil {
			return
		}
		fuzzEditor(t, be, in, func(l string) bool {
			k, _, _, ok := iniKeyAt(l)
			return ok && k == "k"
		})
	})
}

func FuzzEditEnv(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "1024", false)
	}
	f.Fuzz(func(t *testing.T, in, p string, add bool) {
		keys := "kind = env\nkey = FTS_HEAP\nvalue = ${P}\n"
		if add {
			keys += "missing = add\n"
		}
		be := fuzzEdit(t, keys, p)
		if be == nil {
			return
		}
		re := regexp.MustCompile(`^\s*(export\s+)?FTS_HEAP=`)
		fuzzEditor(t, be, in, re.MatchString)
	})
}

func FuzzEditLine(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "[a, b]", true)
	}
	f.Fuzz(func(t *testing.T, in, p string, after bool) {
		keys := "kind = line\nline = local_addrs = ${P};\nmatch = ^\\s*local_addrs\\s*=\n"
		if after {
			keys += "after = ^soft_reject\n"
		} else {
			keys += "position = end\n"
		}
		be := fuzzEdit(t, keys, p)
		if be == nil {
			return
		}
		fuzzEditor(t, be, in, be.match.MatchString)
	})
}

func FuzzEditBlock(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "1.2.3.4 5.6.7.8")
	}
	f.Fuzz(func(t *testing.T, in, p string) {
		be := fuzzEdit(t, "kind = block\nposition = end\ncontent = \"\"\"\n${P|lines}\n\"\"\"\n", p)
		if be == nil {
			return
		}
		out, err := edit(in, be)
		if err != nil {
			return
		}
		// Everything outside the block is kept: cut the block out of both.
		begin, end := blockMarkers("#", "f", "e")
		cut := func(s string) string {
			var ls []string
			inside := false
			for _, l := range splitLines(s) {
				switch strings.TrimSpace(body(l)) {
				case begin:
					inside = true
					continue
				case end:
					inside = false
					continue
				}
				if !inside {
					ls = append(ls, l)
				}
			}
			return strings.Join(ls, "")
		}
		if a, b := cut(in), cut(out); a != b && a+"\n" != b && a+"\r\n" != b {
			t.Fatalf("outside the block changed:\nin  %q\nout %q", in, out)
		}
		again, err := edit(out, be)
		if err != nil || again != out {
			t.Fatalf("not idempotent: %v\nout   %q\nagain %q", err, out, again)
		}
	})
}

func FuzzParse(f *testing.F) {
	lib, err := fsSources()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range lib {
		f.Add(s)
	}
	f.Add("description = d\n[edit e]\nfile = f\nkind = block\nposition = end\ncontent = \"\"\"\na\n\"\"\"\n")
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse("f.ini", []byte(src))
		if err != nil {
			return
		}
		params := map[string]string{}
		for _, n := range p.Params {
			params[n] = "1M"
		}
		b, err := Bind(p, params)
		if err != nil {
			return
		}
		for _, e := range b.edits {
			if e.Kind == KindMode {
				continue
			}
			if err := fsx.CheckRel(e.File); err != nil {
				t.Fatalf("unsafe path accepted: %q", e.File)
			}
			_, _ = edit("a = 1\n[s]\nk = v\n", e)
		}
	})
}

// fsSources returns the shipped patch sources.
func fsSources() ([]string, error) {
	ents, err := patches.FS.ReadDir(".")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		b, err := patches.FS.ReadFile(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, string(b))
	}
	return out, nil
}

// FuzzShellLines: shellLines never panics, gives one answer per line,
// names a line of the file when it refuses it, and a file it accepts
// becomes one it refuses when a lone quote is added on a new line.
func FuzzShellLines(f *testing.F) {
	for _, c := range shellCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		inside, err := shellLines(in)
		if err != nil {
			if !errors.Is(err, ErrShellQuoting) {
				t.Fatalf("error %v is not ErrShellQuoting", err)
			}
			var n int
			if _, serr := fmt.Sscanf(err.Error(), "line %d:", &n); serr != nil || n < 1 || n > len(splitLines(in)) {
				t.Fatalf("error %q names no line of the %d", err, len(splitLines(in)))
			}
			return
		}
		if len(inside) != len(splitLines(in)) {
			t.Fatalf("%d answers for %d lines", len(inside), len(splitLines(in)))
		}
		if len(inside) > 0 && inside[0] {
			t.Fatal("the first line starts inside a word")
		}
		if _, err := shellLines(in + "\n'"); err == nil {
			t.Fatalf("%q with a lone quote added is accepted", in)
		}
	})
}

// FuzzParamType: a [types] declaration and a value never make parseType
// or checkValue panic; an accepted number is within the declared range; a
// secret parameter's value is never in the message.
func FuzzParamType(f *testing.F) {
	f.Add("size 32M..64G", "MEMORY_LIMIT", "2048M")
	f.Add("mb 32..65536", "FTS_HEAP", "abc")
	f.Add("count 1..", "MAX_CHILDREN", "0")
	f.Add("cidr-list", "IPS", "192.0.2.0/24, 2001:db8::1")
	f.Add("text", "DB_PASS", "s3cr3t\x00")
	f.Add("count ..10", "API_TOKEN", "t0ken-value-99")
	f.Fuzz(func(t *testing.T, spec, name, v string) {
		typ, err := parseType(spec)
		if err != nil {
			return
		}
		err = typ.checkValue(name, v)
		if err != nil {
			if secret.IsName(name) && len(v) >= 4 && strings.Contains(err.Error(), strconv.Quote(v)[1:len(strconv.Quote(v))-1]) && !strings.Contains(typ.Spec, v) {
				t.Fatalf("the error %q shows the secret %q", err, v)
			}
			return
		}
		if strings.IndexByte(v, 0) >= 0 || len(v) > MaxParamLen {
			t.Fatalf("%q accepted as %s", v, typ.Spec)
		}
		if typ.numeric() {
			n, err := typ.number(v)
			if err != nil || typ.HasMin && n < typ.Min || typ.HasMax && n > typ.Max {
				t.Fatalf("%q accepted as %s: %d, %v", v, typ.Spec, n, err)
			}
			if m, err := typ.number(typ.show(n)); err != nil || m != n {
				t.Fatalf("show(%d) = %q reads back as %d, %v", n, typ.show(n), m, err)
			}
		}
	})
}

// The readers find exactly what the editors find: every key ReadINI or
// ReadEnv returns is one the ini or env edit of that key sets.
func FuzzReadINI(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Add("[web-worker]\npm.max_children = 50 ; x\nphp_admin_value[memory_limit] = \"1G\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		lines := len(splitLines(in))
		last := 0
		for _, s := range ReadINI([]byte(in)) {
			if s.Line <= last || s.Line > lines || s.Key == "" {
				t.Fatalf("setting %+v after line %d of %d", s, last, lines)
			}
			last = s.Line
			be := &boundEdit{Edit: &Edit{Kind: KindINI, Section: s.Section, Key: s.Key}, value: "v"}
			if _, err := editINI(in, be); err != nil {
				t.Fatalf("ReadINI found %+v, the editor: %v", s, err)
			}
		}
	})
}

func FuzzReadEnv(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Add("FTS_HEAP=128\nexport A='x y' # c\n")
	f.Fuzz(func(t *testing.T, in string) {
		lines := len(splitLines(in))
		last := 0
		for _, s := range ReadEnv([]byte(in)) {
			if s.Line <= last || s.Line > lines || !isShellName(s.Key) {
				t.Fatalf("setting %+v after line %d of %d", s, last, lines)
			}
			last = s.Line
			be := &boundEdit{Edit: &Edit{Kind: KindEnv, Key: s.Key}, value: "v"}
			if _, err := editEnv(in, be); err != nil && !errors.Is(err, ErrShellQuoting) && !errors.Is(err, errEnvQuote) {
				t.Fatalf("ReadEnv found %+v, the editor: %v", s, err)
			}
		}
	})
}
