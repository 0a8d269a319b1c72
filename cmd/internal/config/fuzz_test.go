package config

import (
	"errors"
	"strings"
	"testing"

	"gopkg.in/ini.v1"
)

// FuzzParse feeds admin-written mcupdate.ini text to Parse: it must never
// panic, every error must be an *Error naming the file, and a parsed
// configuration must keep its invariants.
func FuzzParse(f *testing.F) {
	f.Add([]byte("[general]\nstop_on_danger = off\nbranch = master\n"))
	f.Add([]byte("[docker]\nipv6 = yes\nfixed_cidr_v6 = fd00::/80\nversion_timeout = 3s\n"))
	f.Add([]byte("[snapshot]\npaths = mailcow.conf, a/b\ndirs = data/conf\nkeep = 3\n"))
	f.Add([]byte("[patches]\nenable = php-memory-limit fts-heap\ndir = /etc/mcupdate/patches.d\n[patch php-memory-limit]\nMEMORY_LIMIT = 2048M\n"))
	f.Add([]byte("[patch ]\nX=1\n[bogus]\nk=v\n[general]\nunknown=1\n"))
	f.Add([]byte("[restart]\nenabled = maybe\ncompose = docker-compose -p mailcow\n"))
	f.Add([]byte("[snapshot]\npaths = /etc/passwd ../x\nkeep = -1\n"))
	f.Add([]byte("a = \"\"\"\nmulti\n\"\"\"\n"))
	f.Add([]byte("[patches]\nenable = a\n[patches]\nenable = b\n"))
	f.Add([]byte("[patch x]\nA = one \\\nA = two\nA = `\nA=3`\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.ini", data)
		if c == nil {
			t.Fatal("Parse returned a nil *Config")
		}
		if err != nil {
			// Every error, joined or not, names the file.
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.ini") {
					t.Fatalf("error line %q does not name the file (error %q)", line, err)
				}
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %q is not a *config.Error", err)
			}
			return
		}
		// A repeated section or key is an error: ini.v1 would merge or
		// shadow it silently.
		if f, err := ini.LoadSources(ini.LoadOptions{AllowNonUniqueSections: true, AllowShadows: true, SpaceBeforeInlineComment: true}, data); err == nil {
			seen := map[string]bool{}
			for _, s := range f.Sections() {
				name := canonicalSection(s.Name())
				if seen[name] && s.Name() != ini.DefaultSection {
					t.Fatalf("section [%s] repeats and Parse accepted it", s.Name())
				}
				seen[name] = true
				for _, k := range s.Keys() {
					if len(k.ValueWithShadows()) > 1 && !strings.HasPrefix(k.Name(), "#") {
						t.Fatalf("[%s] %s repeats and Parse accepted it", s.Name(), k.Name())
					}
				}
			}
		}
		if c.SnapshotKeep < 1 {
			t.Fatalf("keep = %d accepted", c.SnapshotKeep)
		}
		if c.DockerTimeout <= 0 {
			t.Fatalf("version_timeout = %v accepted", c.DockerTimeout)
		}
		for _, p := range append(append([]string(nil), c.SnapshotPaths...), c.SnapshotDirs...) {
			if strings.HasPrefix(p, "/") || containsDotDot(p) {
				t.Fatalf("snapshot path %q accepted", p)
			}
		}
		for _, name := range c.Enabled {
			if name == "" || strings.ContainsAny(name, " \t,") {
				t.Fatalf("enabled patch name %q", name)
			}
		}
		for p := range c.Params {
			if p == "" {
				t.Fatal("empty patch name in Params")
			}
		}
	})
}

// TestTooManyEnabled: more patches than mcupdate handles in bounded time
// is a configuration error naming the key.
func TestTooManyEnabled(t *testing.T) {
	names := make([]string, MaxEnabled+1)
	for i := range names {
		names[i] = "p" + strings.Repeat("x", i%7) + string(rune('a'+i%26))
	}
	_, err := Parse("m.ini", []byte("[patches]\nenable = "+strings.Join(names, " ")+"\n"))
	if err == nil || !strings.Contains(err.Error(), "m.ini: [patches] enable: 1001 patches enabled, more than the 1000") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Parse("m.ini", []byte("[patches]\nenable = "+strings.Join(names[:MaxEnabled], " ")+"\n")); err != nil {
		t.Fatal(err)
	}
}
