package snapshot

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

const remapped = 165536 // userns-remap owner of mailcow files

func stat(t *testing.T, p string) (fs.FileMode, int, int) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := owner(fi)
	return fi.Mode(), uid, gid
}

func readString(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRestore(t *testing.T) {
	asRoot := os.Geteuid() == 0
	dir, store := newMailcow(t)
	extra := filepath.Join(dir, "data/conf/postfix/extra.cf")
	over := filepath.Join(dir, "data/conf/rspamd/override.d/ratelimit.conf")
	for _, p := range []string{extra, over} {
		if err := os.Chmod(p, 0o640); err != nil {
			t.Fatal(err)
		}
		if asRoot {
			if err := os.Chown(p, remapped, remapped); err != nil {
				t.Fatal(err)
			}
		}
	}
	m := mustCreate(t, fsx.Real{}, opts(dir, store, t0))
	wantOver := readString(t, over)
	wantExtra := readString(t, extra)
	wantEnv := "mailcow.conf"

	// What update.sh and friends do: delete, rewrite, chmod, relink.
	damage := func(t *testing.T) {
		t.Helper()
		if err := os.Remove(extra); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if err := os.WriteFile(over, []byte("upstream\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(over, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, ".env")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("elsewhere", filepath.Join(dir, ".env")); err != nil {
			t.Fatal(err)
		}
	}
	check := func(t *testing.T, p, content string) {
		t.Helper()
		if got := readString(t, p); got != content {
			t.Errorf("%s: content %q, want %q", p, got, content)
		}
		mode, uid, gid := stat(t, p)
		if mode.Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640", p, mode)
		}
		if asRoot && (uid != remapped || gid != remapped) {
			t.Errorf("%s: owner %d:%d, want %d:%d", p, uid, gid, remapped, remapped)
		}
	}

	t.Run("all", func(t *testing.T) {
		damage(t)
		res, err := Restore(fsx.Real{}, store, m.ID, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		check(t, extra, wantExtra)
		check(t, over, wantOver)
		if len(res.Restored) != 2 {
			t.Errorf("restored %v, want the two damaged files", res.Restored)
		}
		if len(res.Unchanged) != len(m.Entries)-2 {
			t.Errorf("unchanged %d, want %d", len(res.Unchanged), len(m.Entries)-2)
		}
		// Nothing left to do the second time.
		res, err = Restore(fsx.Check{}, store, m.ID, dir, nil)
		if err != nil || len(res.Restored) != 0 {
			t.Errorf("second restore through a write-refusing system: %v, restored %v", err, res.Restored)
		}
	})

	t.Run("link", func(t *testing.T) {
		o := opts(dir, store, t0)
		o.Paths = []string{".env"}
		o.Dirs = []string{}
		if err := os.Remove(filepath.Join(dir, ".env")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(wantEnv, filepath.Join(dir, ".env")); err != nil {
			t.Fatal(err)
		}
		ml := mustCreate(t, fsx.Real{}, o)
		damage(t)
		if _, err := Restore(fsx.Real{}, store, ml.ID, dir, nil); err != nil {
			t.Fatal(err)
		}
		if got, err := os.Readlink(filepath.Join(dir, ".env")); err != nil || got != wantEnv {
			t.Errorf(".env links to %q (%v), want %q", got, err, wantEnv)
		}
		// extra.cf was not in this snapshot: still gone.
		if _, err := os.Stat(extra); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("file outside the snapshot restored: %v", err)
		}
	})

	t.Run("subset", func(t *testing.T) {
		damage(t)
		res, err := Restore(fsx.Real{}, store, m.ID, dir, []string{"./data/conf/postfix/extra.cf"})
		if err != nil {
			t.Fatal(err)
		}
		check(t, extra, wantExtra)
		if got := readString(t, over); got != "upstream\n" {
			t.Errorf("path not asked for was restored: %q", got)
		}
		if strings.Join(res.Restored, " ") != "data/conf/postfix/extra.cf" {
			t.Errorf("restored %v", res.Restored)
		}
		// A directory prefix selects what is below it.
		if _, err := Restore(fsx.Real{}, store, m.ID, dir, []string{"data/conf/rspamd"}); err != nil {
			t.Fatal(err)
		}
		check(t, over, wantOver)
	})

	t.Run("not in snapshot", func(t *testing.T) {
		_, err := Restore(fsx.Real{}, store, m.ID, dir, []string{"data/conf/postfix/extra.conf"})
		var nis *NotInSnapshotError
		if !errors.As(err, &nis) || !errors.Is(err, ErrNotInSnapshot) {
			t.Fatalf("error %v, want a NotInSnapshotError", err)
		}
		if len(nis.Nearest) == 0 || nis.Nearest[0] != "data/conf/postfix/extra.cf" {
			t.Errorf("nearest %v, want data/conf/postfix/extra.cf first", nis.Nearest)
		}
		if !strings.Contains(err.Error(), "data/conf/postfix/extra.conf") {
			t.Errorf("error does not name the path: %v", err)
		}
	})

	t.Run("unknown id", func(t *testing.T) {
		for _, id := range []string{"20990101T000000Z", "../../etc", ""} {
			if _, err := Restore(fsx.Real{}, store, id, dir, nil); !errors.Is(err, ErrNotFound) {
				t.Errorf("Restore(%q) = %v, want ErrNotFound", id, err)
			}
		}
	})
}

func TestRestoreReplacesLinkWithFile(t *testing.T) {
	dir, store := newMailcow(t)
	m := mustCreate(t, fsx.Real{}, opts(dir, store, t0))
	outside := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(outside, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "data/conf/postfix/extra.cf")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, p); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(fsx.Real{}, store, m.ID, dir, []string{"data/conf/postfix/extra.cf"}); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, outside); got != "keep\n" {
		t.Errorf("restore wrote through a link: outside file now %q", got)
	}
	if mode, _, _ := stat(t, p); !mode.IsRegular() {
		t.Errorf("%s is %v, want a regular file", p, mode)
	}
}

// editManifest rewrites snapshot id's manifest with edit applied, as an
// admin with an editor might.
func editManifest(t *testing.T, store, id string, edit func(m map[string]any)) {
	t.Helper()
	p := filepath.Join(store, id, ManifestFile)
	var m map[string]any
	if err := json.Unmarshal([]byte(readString(t, p)), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreRefusesPathsLeavingTheMailcowDir(t *testing.T) {
	outside := t.TempDir()
	for _, tc := range []struct {
		name  string
		path  string
		setup func(t *testing.T, dir string)
		want  error
	}{
		{"absolute", filepath.Join(outside, "x"), nil, ErrBadManifest},
		{"dotdot", "data/../../x", nil, ErrBadManifest},
		{"dotdot clean", "../x", nil, ErrBadManifest},
		{"into .git", ".git/hooks/post-merge", nil, ErrBadManifest},
		{"parent links outside", "data/conf/evil/x", func(t *testing.T, dir string) {
			if err := os.Symlink(outside, filepath.Join(dir, "data/conf/evil")); err != nil {
				t.Fatal(err)
			}
		}, fsx.ErrUnsafePath},
		{"grandparent links outside", "data/conf/evil2/sub/x", func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(outside, "sub"), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, filepath.Join(dir, "data/conf/evil2")); err != nil {
				t.Fatal(err)
			}
		}, fsx.ErrUnsafePath},
		{"parent link dangling", "data/conf/gone/x", func(t *testing.T, dir string) {
			if err := os.Symlink("/nonexistent/mcupdate", filepath.Join(dir, "data/conf/gone")); err != nil {
				t.Fatal(err)
			}
		}, fsx.ErrUnsafePath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, store := newMailcow(t)
			m := mustCreate(t, fsx.Real{}, opts(dir, store, t0))
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			editManifest(t, store, m.ID, func(mm map[string]any) {
				es := mm["entries"].([]any)
				es[0].(map[string]any)["path"] = tc.path
			})
			// The extra.cf deletion shows nothing else was written either.
			if err := os.Remove(filepath.Join(dir, "data/conf/postfix/extra.cf")); err != nil {
				t.Fatal(err)
			}
			_, err := Restore(fsx.Real{}, store, m.ID, dir, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error does not name %q: %v", tc.path, err)
			}
			if ents, _ := os.ReadDir(outside); len(ents) > 1 || len(ents) == 1 && ents[0].Name() != "sub" {
				t.Errorf("something was written outside: %v", ents)
			}
			if _, err := os.Stat(filepath.Join(dir, "data/conf/postfix/extra.cf")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a refused restore wrote other files")
			}
		})
	}
	t.Run("entry below a link entry", func(t *testing.T) {
		dir, store := newMailcow(t)
		o := opts(dir, store, t0)
		o.Paths = []string{"mailcow.conf", ".env"}
		m := mustCreate(t, fsx.Real{}, o)
		editManifest(t, store, m.ID, func(mm map[string]any) {
			es := mm["entries"].([]any)
			es[1].(map[string]any)["path"] = ".env/x"
		})
		if _, err := Restore(fsx.Real{}, store, m.ID, dir, nil); !errors.Is(err, ErrBadManifest) {
			t.Errorf("error %v, want ErrBadManifest", err)
		}
	})
	t.Run("link inside the mailcow dir is fine", func(t *testing.T) {
		dir, store := newMailcow(t)
		m := mustCreate(t, fsx.Real{}, opts(dir, store, t0))
		pf := filepath.Join(dir, "data/conf/postfix")
		if err := os.Rename(pf, filepath.Join(dir, "data/conf/postfix-real")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("postfix-real", pf); err != nil {
			t.Fatal(err)
		}
		gittest.WriteFiles(t, dir, map[string]string{"data/conf/postfix-real/extra.cf": "changed\n"})
		if _, err := Restore(fsx.Real{}, store, m.ID, dir, []string{"data/conf/postfix/extra.cf"}); err != nil {
			t.Fatal(err)
		}
		if got := readString(t, filepath.Join(dir, "data/conf/postfix-real/extra.cf")); got != "smtp_address_preference = ipv4\n" {
			t.Errorf("got %q", got)
		}
	})
}

func TestCorruptObject(t *testing.T) {
	dir, store := newMailcow(t)
	m := mustCreate(t, fsx.Real{}, opts(dir, store, t0))
	e := m.Entry("data/conf/postfix/extra.cf")
	obj := objectPath(store, e.SHA256)
	if err := os.WriteFile(obj, []byte("bit rot\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadObject(store, e.SHA256); !errors.Is(err, ErrCorruptObject) {
		t.Errorf("ReadObject error %v, want ErrCorruptObject", err)
	}
	gittest.WriteFiles(t, dir, map[string]string{
		"data/conf/postfix/extra.cf": "update.sh was here\n",
		"data/conf/nginx/x.custom":   "update.sh was here\n",
	})
	res, err := Restore(fsx.Real{}, store, m.ID, dir, nil)
	var ce *CorruptObjectError
	if !errors.As(err, &ce) || ce.Path != obj {
		t.Fatalf("error %v, want a CorruptObjectError naming %s", err, obj)
	}
	if !strings.Contains(err.Error(), "data/conf/postfix/extra.cf") {
		t.Errorf("error does not name the file: %v", err)
	}
	if got := readString(t, filepath.Join(dir, "data/conf/postfix/extra.cf")); got != "update.sh was here\n" {
		t.Errorf("file of the corrupt object was written: %q", got)
	}
	if got := readString(t, filepath.Join(dir, "data/conf/nginx/x.custom")); got != "location /x {}\n" {
		t.Errorf("other files not restored: %q (result %+v)", got, res)
	}
	// The next snapshot repairs the object instead of trusting it.
	gittest.WriteFiles(t, dir, map[string]string{"data/conf/postfix/extra.cf": "smtp_address_preference = ipv4\n"})
	mustCreate(t, fsx.Real{}, opts(dir, store, t0.Add(1)))
	if _, err := ReadObject(store, e.SHA256); err != nil {
		t.Errorf("object not repaired by the next snapshot: %v", err)
	}
	if _, err := ReadObject(store, "../../etc/passwd"); !errors.Is(err, ErrBadManifest) {
		t.Errorf("ReadObject of a non-digest: %v", err)
	}
}

func TestDiff(t *testing.T) {
	dir, store := newMailcow(t)
	o := opts(dir, store, t0)
	o.Paths = []string{"mailcow.conf", ".env", "docker-compose.override.yml"}
	if err := os.Remove(filepath.Join(dir, "docker-compose.override.yml")); err != nil {
		t.Fatal(err)
	}
	m := mustCreate(t, fsx.Real{}, o)
	gittest.WriteFiles(t, dir, map[string]string{
		"mailcow.conf":                         "DBPASS=secret\nMAILCOW_HOSTNAME=mx.example.org\nFTS_HEAP=128\n",
		"data/conf/rspamd/override.d/new.conf": "added\n",
		"docker-compose.override.yml":          "services: {}\n",
		"data/conf/postfix/new.cf":             "not ignored, never added\n",
	})
	if err := os.Chmod(filepath.Join(dir, "data/conf/nginx/x.custom"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "data/conf/postfix/extra.cf")); err != nil {
		t.Fatal(err)
	}
	sl := filepath.Join(dir, "data/conf/sogo/theme.local")
	if err := os.Remove(sl); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("x", sl); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, ".env")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("mailcow.conf.new", filepath.Join(dir, ".env")); err != nil {
		t.Fatal(err)
	}
	changes, err := Diff(m, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path          string
		kind          ChangeKind
		content, meta bool
	}{
		{"mailcow.conf", Modified, true, false},
		{"data/conf/nginx/x.custom", Modified, false, true},
		{"data/conf/postfix/extra.cf", Missing, false, false},
		{"data/conf/sogo/theme.local", TypeChanged, false, false},
		{".env", Modified, true, false},
		{"data/conf/rspamd/override.d/ratelimit.conf", Unchanged, false, false},
		{"data/conf/rspamd/override.d/new.conf", Added, false, false},
		{"docker-compose.override.yml", Added, false, false},
		{"data/conf/postfix/new.cf", "absent from Diff", false, false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			c := find(changes, tc.path)
			if c.Kind != tc.kind || c.Content != tc.content || c.Meta != tc.meta {
				t.Errorf("got %+v, want %s content=%v meta=%v", c, tc.kind, tc.content, tc.meta)
			}
		})
	}
	if c := find(changes, "data/conf/nginx/x.custom"); !strings.Contains(c.Detail, "mode 0600, was 0644") {
		t.Errorf("detail %q", c.Detail)
	}
}

func TestLoad(t *testing.T) {
	dir, store := newMailcow(t)
	if _, err := Load(store, Latest); !errors.Is(err, ErrNotFound) {
		t.Errorf("empty store: %v", err)
	}
	mustCreate(t, fsx.Real{}, opts(dir, store, t0))
	m2 := mustCreate(t, fsx.Real{}, opts(dir, store, t0.Add(61e9)))
	for _, tc := range []struct {
		id, want string
		err      error
	}{
		{Latest, m2.ID, nil},
		{"20260701T120000Z", "20260701T120000Z", nil},
		{"20260701T120000Z-2", "", ErrNotFound},
		{"garbage", "", ErrNotFound},
	} {
		t.Run(tc.id, func(t *testing.T) {
			m, err := Load(store, tc.id)
			if !errors.Is(err, tc.err) || err == nil && m.ID != tc.want {
				t.Errorf("Load = %v, %v; want %s, %v", m, err, tc.want, tc.err)
			}
		})
	}
	// A manifest copied to another ID's directory is not that snapshot.
	if err := os.MkdirAll(filepath.Join(store, "20300101T000000Z"), 0o700); err != nil {
		t.Fatal(err)
	}
	data := readString(t, filepath.Join(store, m2.ID, ManifestFile))
	if err := os.WriteFile(filepath.Join(store, "20300101T000000Z", ManifestFile), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(store, Latest); !errors.Is(err, ErrBadManifest) {
		t.Errorf("latest is a mismatched manifest: %v, want ErrBadManifest", err)
	}
}
