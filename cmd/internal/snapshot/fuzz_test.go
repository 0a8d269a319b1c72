package snapshot

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/upstreamtest"
)

// upstreamDir is <repo>/../shared/upstream: real mailcow files per tag.
func upstreamDir(t *testing.T) string { t.Helper(); return upstreamtest.Dir(t) }

// TestUpstreamIgnoreRules checks, for every upstream tag's real
// .gitignore, that the snapshot holds exactly what git calls ignored and
// untracked under data/conf.
func TestUpstreamIgnoreRules(t *testing.T) {
	up := upstreamDir(t)
	tags, err := os.ReadDir(up)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{
		"data/conf/rspamd/override.d/x.conf", "data/conf/rspamd/local.d/mine.conf",
		"data/conf/rspamd/custom/my.map", "data/conf/nginx/site.custom", "data/conf/nginx/extra.conf",
		"data/conf/postfix/extra.cf", "data/conf/dovecot/extra.conf", "data/conf/dovecot/global_sieve_after",
		"data/conf/borgmatic/etc/config.yaml", "data/conf/sogo/custom-theme.js", "data/conf/postfix/new.cf",
		"data/conf/rspamd/custom/.gitkeep", "data/conf/dovecot/conf.d/fts.conf", "data/conf/nginx/site.conf",
	}
	n := 0
	for _, tag := range tags {
		ign, err := os.ReadFile(filepath.Join(up, tag.Name(), "dot.gitignore"))
		if err != nil {
			continue
		}
		n++
		t.Run(tag.Name(), func(t *testing.T) {
			dir := t.TempDir()
			gittest.Init(t, dir)
			gittest.WriteFiles(t, dir, map[string]string{".gitignore": string(ign), "data/conf/rspamd/local.d/tracked.conf": "x\n"})
			gittest.Git(t, dir, "add", "-f", ".gitignore", "data/conf/rspamd/local.d/tracked.conf")
			gittest.Git(t, dir, "commit", "-q", "-m", "upstream")
			fs := map[string]string{}
			for _, f := range files {
				fs[f] = f + "\n"
			}
			gittest.WriteFiles(t, dir, fs)
			m := mustCreate(t, fsx.Real{}, Options{MailcowDir: dir, Store: t.TempDir(), Now: t0})
			var have []string
			for _, e := range m.Entries {
				if strings.HasPrefix(e.Path, "data/conf/") {
					have = append(have, e.Path)
				}
			}
			want := strings.Fields(gittest.Git(t, dir, "ls-files", "-o", "-i", "--exclude-standard", "--", "data/conf"))
			sort.Strings(want)
			if strings.Join(have, "\n") != strings.Join(want, "\n") {
				t.Errorf("snapshot:\n%s\ngit:\n%s", strings.Join(have, "\n"), strings.Join(want, "\n"))
			}
			if len(want) < 5 {
				t.Errorf("only %d ignored files: fixture does not exercise the rules", len(want))
			}
		})
	}
	if n == 0 {
		t.Skipf("no dot.gitignore under %s", up)
	}
}

const seedSHA = "0000000000000000000000000000000000000000000000000000000000000000"

func TestParseManifest(t *testing.T) {
	head := `{"version":1,"id":"20260701T120000Z","paths":["mailcow.conf"],"dirs":["data/conf"],"entries":[`
	file := func(p string) string {
		return `{"path":"` + p + `","type":"file","mode":"0640","uid":1,"gid":1,"size":1,"sha256":"` + seedSHA + `"}`
	}
	for _, tc := range []struct {
		name, json string
		ok         bool
	}{
		{"good", head + file("mailcow.conf") + `]}`, true},
		{"no entries", head + `]}`, true},
		{"version 2", strings.Replace(head, `"version":1`, `"version":2`, 1) + `]}`, false},
		{"bad id", strings.Replace(head, `20260701T120000Z`, `../x`, 1) + `]}`, false},
		{"absolute", head + file("/etc/passwd") + `]}`, false},
		{"dotdot", head + file("a/../../b") + `]}`, false},
		{"unclean", head + file("a//b") + `]}`, false},
		{"twice", head + file("a") + "," + file("a") + `]}`, false},
		{"below a file", head + file("a") + "," + file("a/b") + `]}`, false},
		{"bad mode", head + strings.Replace(file("a"), "0640", "rw-r", 1) + `]}`, false},
		{"short sha", head + strings.Replace(file("a"), seedSHA, "00", 1) + `]}`, false},
		{"bad type", head + strings.Replace(file("a"), `"file"`, `"fifo"`, 1) + `]}`, false},
		{"link without target", head + `{"path":"l","type":"symlink","mode":"0777"}]}`, false},
		{"bad dirs", strings.Replace(head, `"data/conf"`, `"/data"`, 1) + `]}`, false},
		{"not json", `{`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseManifest("m.json", []byte(tc.json))
			if tc.ok && err != nil || !tc.ok && !errors.Is(err, ErrBadManifest) {
				t.Errorf("parseManifest = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "m.json") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

// FuzzParseManifest feeds hand-edited manifests to the loader: it must
// never panic, and whatever it accepts must be safe to restore from and
// survive a round trip.
func FuzzParseManifest(f *testing.F) {
	good := `{"version":1,"id":"20260701T120000Z","time":"2026-07-01T12:00:00Z","mailcow_dir":"/opt/mailcow-dockerized","commit":"abc",
"paths":["mailcow.conf"],"dirs":["data/conf"],
"entries":[{"path":"mailcow.conf","type":"file","mode":"0600","uid":0,"gid":0,"size":3,"sha256":"` + strings.Repeat("a", 64) + `"},
{"path":".env","type":"symlink","mode":"0777","uid":0,"gid":0,"size":12,"target":"mailcow.conf"},
{"path":"x.conf","type":"symlink","mode":"0640","uid":165536,"gid":165536,"size":3,"target":"/etc/x","target_outside":true,"sha256":"` + strings.Repeat("b", 64) + `"}],
"skipped":[{"path":"data/conf/fifo","reason":"not a regular file (named pipe)"}]}`
	for _, s := range []string{
		good,
		strings.Replace(good, `"mailcow.conf","type"`, `"../mailcow.conf","type"`, 1),
		strings.Replace(good, `"mailcow.conf","type"`, `"/etc/passwd","type"`, 1),
		strings.Replace(good, `"0600"`, `"9999"`, 1),
		strings.Replace(good, `"x.conf"`, `".env/x"`, 1),
		`{}`, `[]`, `null`, `{"version":1,"id":"20260701T120000Z","entries":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseManifest("manifest.json", data)
		if err != nil {
			if !errors.Is(err, ErrBadManifest) {
				t.Fatalf("error does not wrap ErrBadManifest: %v", err)
			}
			return
		}
		for _, e := range m.Entries {
			if err := checkRel(e.Path); err != nil {
				t.Fatalf("accepted unsafe path: %v", err)
			}
			if e.Type != TypeFile && e.Type != TypeSymlink {
				t.Fatalf("accepted type %q", e.Type)
			}
			if e.SHA256 != "" && !shaRE.MatchString(e.SHA256) {
				t.Fatalf("accepted digest %q", e.SHA256)
			}
		}
		out, err := marshalManifest(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := parseManifest("again", out)
		if err != nil {
			t.Fatalf("round trip rejected: %v\n%s", err, out)
		}
		a, _ := json.Marshal(m)
		b, _ := json.Marshal(m2)
		if string(a) != string(b) {
			t.Fatalf("round trip changed the manifest:\n%s\n%s", a, b)
		}
	})
}
