package snapshot

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

// ignoreRules is shaped like mailcow's .gitignore (upstream dot.gitignore):
// negations before the patterns they carve out of, directory patterns,
// globs inside data/conf.
const ignoreRules = `!data/conf/nginx/site.conf
!/**/.gitkeep
data/conf/borgmatic/
data/conf/dovecot/extra.conf
data/conf/nginx/*.conf
data/conf/nginx/*.custom
data/conf/postfix/extra.cf
data/conf/rspamd/custom/*
data/conf/rspamd/local.d/*
data/conf/rspamd/override.d/*
data/web/nextcloud*/
docker-compose.override.yml
mailcow.conf
`

var t0 = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

// newMailcow builds a real git checkout shaped like a mailcow install with
// customizations, and returns its directory and a store directory.
func newMailcow(t testing.TB) (dir, store string) {
	t.Helper()
	base := t.TempDir()
	dir = filepath.Join(base, "mailcow")
	store = filepath.Join(base, "state", "snapshots")
	gittest.Init(t, dir)
	gittest.WriteFiles(t, dir, map[string]string{
		".gitignore":                             ignoreRules,
		"docker-compose.yml":                     "services: {}\n",
		"data/conf/nginx/site.conf":              "server {}\n",
		"data/conf/postfix/main.cf":              "myhostname = mx\n",
		"data/conf/rspamd/local.d/greylist.conf": "enabled = true;\n",
		"data/conf/rspamd/custom/.gitkeep":       "",
		"data/conf/sogo/.gitignore":              "*.local\n",
		"data/conf/dovecot/dovecot.conf":         "# tracked\n",
	})
	// Tracked although a pattern matches, as upstream does for local.d.
	gittest.Git(t, dir, "add", "-A")
	gittest.Git(t, dir, "add", "-f", "data/conf/rspamd/local.d/greylist.conf", "data/conf/rspamd/custom/.gitkeep", "data/conf/nginx/site.conf")
	gittest.Git(t, dir, "commit", "-q", "-m", "upstream")
	if err := os.WriteFile(filepath.Join(dir, ".git", "info", "exclude"), []byte("# mine\ndata/conf/dovecot/mine.conf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.WriteFiles(t, dir, map[string]string{
		"mailcow.conf":                               "DBPASS=secret\nMAILCOW_HOSTNAME=mx.example.org\n",
		"docker-compose.override.yml":                "services:\n  dovecot-mailcow:\n    environment: [X=1]\n",
		"data/conf/rspamd/override.d/ratelimit.conf": "rates {}\n",
		"data/conf/rspamd/local.d/mine.conf":         "mine = 1;\n",
		"data/conf/rspamd/custom/ip_wl.map":          "10.0.0.0/8\n",
		"data/conf/nginx/x.custom":                   "location /x {}\n",
		"data/conf/nginx/extra.conf":                 "# ignored by *.conf\n",
		"data/conf/postfix/extra.cf":                 "smtp_address_preference = ipv4\n",
		"data/conf/postfix/new.cf":                   "# untracked, not ignored\n",
		"data/conf/borgmatic/etc/config.yaml":        "repo: x\n",
		"data/conf/sogo/theme.local":                 "blue\n",
		"data/conf/dovecot/mine.conf":                "# excluded by info/exclude\n",
		"data/conf/rspamd/local.d/greylist.conf":     "enabled = false;\n", // tracked, edited
		"data/web/nextcloud/config.php":              "outside the configured dirs\n",
	})
	if err := os.Chmod(filepath.Join(dir, "mailcow.conf"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("mailcow.conf", filepath.Join(dir, ".env")); err != nil {
		t.Fatal(err)
	}
	return dir, store
}

func opts(dir, store string, now time.Time) Options {
	return Options{MailcowDir: dir, Store: store, Now: now, Commit: "abc123"}
}

func mustCreate(t testing.TB, sys fsx.System, o Options) *Manifest {
	t.Helper()
	m, err := Create(sys, o)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return m
}

func paths(m *Manifest) map[string]bool {
	out := map[string]bool{}
	for _, e := range m.Entries {
		out[e.Path] = true
	}
	return out
}

func objects(t testing.TB, store string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(store, ObjectsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestCreateSelectsGitignoredFiles(t *testing.T) {
	dir, store := newMailcow(t)
	m := mustCreate(t, fsx.Real{}, opts(dir, store, t0))
	got := paths(m)
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"mailcow.conf", true},
		{"docker-compose.override.yml", true},
		{"data/conf/rspamd/override.d/ratelimit.conf", true},
		{"data/conf/rspamd/local.d/mine.conf", true},
		{"data/conf/rspamd/custom/ip_wl.map", true},
		{"data/conf/nginx/x.custom", true},
		{"data/conf/nginx/extra.conf", true},
		{"data/conf/postfix/extra.cf", true},
		{"data/conf/borgmatic/etc/config.yaml", true},     // below an ignored dir
		{"data/conf/sogo/theme.local", true},              // nested .gitignore
		{"data/conf/dovecot/mine.conf", true},             // .git/info/exclude
		{"data/conf/rspamd/local.d/greylist.conf", false}, // tracked wins
		{"data/conf/rspamd/custom/.gitkeep", false},
		{"data/conf/nginx/site.conf", false}, // negated and tracked
		{"data/conf/postfix/new.cf", false},  // untracked, not ignored
		{"data/conf/postfix/main.cf", false},
		{"data/conf/sogo/.gitignore", false},
		{"data/web/nextcloud/config.php", false}, // outside the dirs
		{".env", false},                          // not configured
	} {
		t.Run(tc.path, func(t *testing.T) {
			if got[tc.path] != tc.want {
				t.Errorf("in snapshot = %v, want %v", got[tc.path], tc.want)
			}
		})
	}
	t.Run("agrees with git ls-files", func(t *testing.T) {
		out := gittest.Git(t, dir, "ls-files", "-o", "-i", "--exclude-standard", "--", "data/conf")
		want := strings.Fields(out)
		var have []string
		for p := range got {
			if strings.HasPrefix(p, "data/conf/") {
				have = append(have, p)
			}
		}
		sort.Strings(want)
		sort.Strings(have)
		if strings.Join(have, "\n") != strings.Join(want, "\n") {
			t.Errorf("snapshot under data/conf:\n%s\ngit ls-files -o -i:\n%s", strings.Join(have, "\n"), strings.Join(want, "\n"))
		}
	})
	t.Run("manifest fields", func(t *testing.T) {
		e := m.Entry("mailcow.conf")
		if e == nil || e.Type != TypeFile || e.Mode != 0o600 || e.Size != int64(len("DBPASS=secret\nMAILCOW_HOSTNAME=mx.example.org\n")) || e.SHA256 != hashOf([]byte("DBPASS=secret\nMAILCOW_HOSTNAME=mx.example.org\n")) {
			t.Errorf("mailcow.conf entry = %+v", e)
		}
		if m.ID != "20260701T120000Z" || m.Commit != "abc123" || m.MailcowDir != dir || m.Version != Version {
			t.Errorf("manifest header = %q %q %q %d", m.ID, m.Commit, m.MailcowDir, m.Version)
		}
		loaded, err := Load(store, Latest)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(m)
		b, _ := json.Marshal(loaded)
		if string(a) != string(b) {
			t.Errorf("Load(latest) differs from what Create returned:\n%s\n%s", a, b)
		}
	})
}

func TestCreateMissingConfiguredPath(t *testing.T) {
	dir, store := newMailcow(t)
	if err := os.Remove(filepath.Join(dir, "docker-compose.override.yml")); err != nil {
		t.Fatal(err)
	}
	o := opts(dir, store, t0)
	o.Dirs = []string{"data/conf", "data/nothere"}
	m := mustCreate(t, fsx.Real{}, o)
	want := map[string]string{"docker-compose.override.yml": reasonNotPresent, "data/nothere/": reasonNotPresent}
	for _, s := range m.Skipped {
		if r, ok := want[s.Path]; ok && r == s.Reason {
			delete(want, s.Path)
		}
	}
	if len(want) > 0 {
		t.Errorf("not reported as skipped: %v (skipped: %+v)", want, m.Skipped)
	}
}

func TestCreateIDCollision(t *testing.T) {
	dir, store := newMailcow(t)
	var got []string
	for i := 0; i < 3; i++ {
		got = append(got, mustCreate(t, fsx.Real{}, opts(dir, store, t0.Add(300*time.Millisecond))).ID)
	}
	want := []string{"20260701T120000Z", "20260701T120000Z-2", "20260701T120000Z-3"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("IDs = %v, want %v", got, want)
	}
	list, err := List(store)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].ID != want[2] || list[2].ID != want[0] {
		t.Errorf("List order wrong: %v", ids3(list))
	}
}

func ids3(ms []*Manifest) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestDedupAcrossSnapshots(t *testing.T) {
	dir, store := newMailcow(t)
	m1 := mustCreate(t, fsx.Real{}, opts(dir, store, t0))
	n1 := len(objects(t, store))
	unique := map[string]bool{}
	for _, e := range m1.Entries {
		if e.SHA256 != "" {
			unique[e.SHA256] = true
		}
	}
	if n1 != len(unique) {
		t.Fatalf("first snapshot: %d objects for %d distinct contents", n1, len(unique))
	}
	mustCreate(t, fsx.Real{}, opts(dir, store, t0.Add(time.Minute)))
	if n := len(objects(t, store)); n != n1 {
		t.Errorf("unchanged tree: %d objects after second snapshot, want %d", n, n1)
	}
	gittest.WriteFiles(t, dir, map[string]string{"data/conf/postfix/extra.cf": "changed\n"})
	mustCreate(t, fsx.Real{}, opts(dir, store, t0.Add(2*time.Minute)))
	if n := len(objects(t, store)); n != n1+1 {
		t.Errorf("one file changed: %d objects, want %d", n, n1+1)
	}
}

func TestPruneKeepsNewest(t *testing.T) {
	dir, store := newMailcow(t)
	for i := 0; i < 5; i++ {
		gittest.WriteFiles(t, dir, map[string]string{"data/conf/postfix/extra.cf": strings.Repeat("x", i+1)})
		o := opts(dir, store, t0.Add(time.Duration(i)*time.Hour))
		o.Keep = 2
		mustCreate(t, fsx.Real{}, o)
	}
	// A directory a killed run left without a manifest goes too.
	if err := os.Mkdir(filepath.Join(store, "20200101T000000Z"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Prune(fsx.Real{}, store, 2); err != nil {
		t.Fatal(err)
	}
	list, err := List(store)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids3(list); strings.Join(got, " ") != "20260701T160000Z 20260701T150000Z" {
		t.Errorf("kept %v", got)
	}
	if _, err := os.Stat(filepath.Join(store, "20200101T000000Z")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("incomplete snapshot dir not pruned: %v", err)
	}
	refs := map[string]bool{}
	for _, m := range list {
		for _, e := range m.Entries {
			if e.SHA256 != "" {
				refs[e.SHA256] = true
			}
		}
	}
	objs := objects(t, store)
	for _, o := range objs {
		if !refs[o] {
			t.Errorf("object %s kept though no manifest refers to it", o)
		}
	}
	if len(objs) != len(refs) {
		t.Errorf("%d objects, %d referenced", len(objs), len(refs))
	}
}

func TestPruneKeepsObjectsOfBrokenManifest(t *testing.T) {
	dir, store := newMailcow(t)
	m1 := mustCreate(t, fsx.Real{}, opts(dir, store, t0))
	sha := m1.Entry("data/conf/postfix/extra.cf").SHA256
	// Hand-broken manifest: still names the object.
	p := filepath.Join(store, m1.ID, ManifestFile)
	if err := os.WriteFile(p, []byte(`{"version":1,"entries":[{"sha256":"`+sha+`"`), 0o600); err != nil {
		t.Fatal(err)
	}
	gittest.WriteFiles(t, dir, map[string]string{"data/conf/postfix/extra.cf": "new\n"})
	o := opts(dir, store, t0.Add(time.Hour))
	o.Keep = 1
	mustCreate(t, fsx.Real{}, o)
	if _, err := os.Stat(objectPath(store, sha)); err != nil {
		t.Errorf("object named only by a broken manifest was pruned: %v", err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Errorf("broken manifest removed: %v", err)
	}
	if _, err := List(store); !errors.Is(err, ErrBadManifest) {
		t.Errorf("List error = %v, want ErrBadManifest", err)
	}
}

func TestStorePermissionsIgnoreUmask(t *testing.T) {
	for _, mask := range []int{0o000, 0o022, 0o077} {
		t.Run(fs.FileMode(mask).String(), func(t *testing.T) {
			dir, store := newMailcow(t)
			old := syscall.Umask(mask)
			defer syscall.Umask(old)
			mustCreate(t, fsx.Real{}, opts(dir, store, t0))
			n := 0
			err := filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				fi, err := d.Info()
				if err != nil {
					return err
				}
				want := fs.FileMode(0o600)
				if d.IsDir() {
					want = 0o700
				}
				if fi.Mode().Perm() != want {
					t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
				}
				n++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n < 5 {
				t.Fatalf("walked only %d paths", n)
			}
		})
	}
}

func TestCreateDryRunWritesNothing(t *testing.T) {
	dir, store := newMailcow(t)
	rec := &fsx.Recorder{}
	m := mustCreate(t, rec, opts(dir, store, t0))
	if _, err := os.Stat(store); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dry run created the store: %v", err)
	}
	want := filepath.Join(store, m.ID, ManifestFile)
	last := rec.Changes[len(rec.Changes)-1]
	if last.Op != "write" || last.Path != want {
		t.Errorf("last recorded write = %s %s, want the manifest %s", last.Op, last.Path, want)
	}
}

func TestUnreadableFilesAreSkipped(t *testing.T) {
	dir, store := newMailcow(t)
	if err := syscall.Mkfifo(filepath.Join(dir, "data/conf/rspamd/override.d/fifo.conf"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "data/conf/nginx/sock.custom"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	noOpen := filepath.Join(dir, "data/conf/postfix/extra.cf")
	noRead := filepath.Join(dir, "data/conf/nginx/x.custom")
	origOpen, origRead := openFile, readAll
	t.Cleanup(func() { openFile, readAll = origOpen, origRead })
	openFile = func(name string) (*os.File, error) {
		if name == noOpen {
			return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EACCES}
		}
		return origOpen(name)
	}
	readAll = func(r io.Reader) ([]byte, error) {
		if lr, ok := r.(*io.LimitedReader); ok {
			if f, ok := lr.R.(*os.File); ok && f.Name() == noRead {
				return nil, &fs.PathError{Op: "read", Path: noRead, Err: syscall.EIO}
			}
		}
		return origRead(r)
	}
	m := mustCreate(t, fsx.Real{}, opts(dir, store, t0))
	skipped := map[string]string{}
	for _, s := range m.Skipped {
		skipped[s.Path] = s.Reason
	}
	for _, tc := range []struct{ path, reason string }{
		{"data/conf/postfix/extra.cf", "permission denied"},
		{"data/conf/nginx/x.custom", "input/output error"},
		{"data/conf/rspamd/override.d/fifo.conf", "named pipe"},
		{"data/conf/nginx/sock.custom", "socket"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if !strings.Contains(skipped[tc.path], tc.reason) {
				t.Errorf("skip reason %q, want it to mention %q", skipped[tc.path], tc.reason)
			}
			if m.Entry(tc.path) != nil {
				t.Errorf("unreadable file has an entry")
			}
		})
	}
	if m.Entry("mailcow.conf") == nil {
		t.Errorf("readable files were not snapshotted")
	}
}

func TestTooLargeIsSkipped(t *testing.T) {
	dir, store := newMailcow(t)
	o := opts(dir, store, t0)
	o.MaxSize = 20
	m := mustCreate(t, fsx.Real{}, o)
	if m.Entry("mailcow.conf") != nil {
		t.Errorf("file over MaxSize snapshotted")
	}
	if m.Entry("data/conf/nginx/x.custom") == nil {
		t.Errorf("small file not snapshotted")
	}
}

// fullDisk fails the object write of the content full with ENOSPC,
// leaving a partial temp file as a crashed write might; other writes go
// through.
type fullDisk struct {
	fsx.Real
	full string
}

func (d *fullDisk) WriteFile(name string, data []byte, perm fs.FileMode) error {
	if filepath.Base(filepath.Dir(name)) == ObjectsDir && string(data) == d.full {
		_ = os.WriteFile(filepath.Join(filepath.Dir(name), fsx.TempPrefix+"partial"), data[:len(data)/2], 0o600)
		return &fs.PathError{Op: "write", Path: name, Err: syscall.ENOSPC}
	}
	return d.Real.WriteFile(name, data, perm)
}

func TestFullDiskLeavesStoreIntact(t *testing.T) {
	dir, store := newMailcow(t)
	prev := mustCreate(t, fsx.Real{}, opts(dir, store, t0))
	before := objects(t, store)
	// New content for three files, so the second snapshot writes objects.
	gittest.WriteFiles(t, dir, map[string]string{
		"data/conf/nginx/x.custom":                   "new 1\n",
		"data/conf/postfix/extra.cf":                 "new 2\n",
		"data/conf/rspamd/override.d/ratelimit.conf": "new 3\n",
	})
	_, err := Create(&fullDisk{full: "new 2\n"}, opts(dir, store, t0.Add(time.Hour)))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Create error = %v, want ENOSPC", err)
	}
	if !strings.Contains(err.Error(), "data/conf/postfix/extra.cf") {
		t.Errorf("error does not name the file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(store, "20260701T130000Z")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("failed snapshot left its directory: %v", err)
	}
	if after := objects(t, store); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("objects after failure:\n%v\nbefore:\n%v", after, before)
	}
	list, err := List(store)
	if err != nil || len(list) != 1 || list[0].ID != prev.ID {
		t.Errorf("List after failure = %v, %v; want only %s", ids3(list), err, prev.ID)
	}
	if _, err := Restore(fsx.Check{}, store, Latest, dir, []string{"mailcow.conf"}); err != nil {
		t.Errorf("previous snapshot no longer restorable: %v", err)
	}
}

func TestConfiguredSymlinks(t *testing.T) {
	t.Run("inside", func(t *testing.T) {
		dir, store := newMailcow(t)
		if err := os.Mkdir(filepath.Join(dir, "conf"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "mailcow.conf"), filepath.Join(dir, "conf/real.conf")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("conf/real.conf", filepath.Join(dir, "mailcow.conf")); err != nil {
			t.Fatal(err)
		}
		o := opts(dir, store, t0)
		o.Paths = []string{"mailcow.conf", ".env"}
		m := mustCreate(t, fsx.Real{}, o)
		for _, tc := range []struct {
			path   string
			typ    EntryType
			target string
		}{
			{"mailcow.conf", TypeSymlink, "conf/real.conf"},
			{".env", TypeSymlink, "mailcow.conf"},
			{"conf/real.conf", TypeFile, ""},
		} {
			e := m.Entry(tc.path)
			if e == nil || e.Type != tc.typ || e.Target != tc.target || e.TargetOutside {
				t.Errorf("%s: entry %+v, want %s → %q", tc.path, e, tc.typ, tc.target)
			}
		}
	})
	t.Run("outside", func(t *testing.T) {
		dir, store := newMailcow(t)
		outside := filepath.Join(t.TempDir(), "mailcow.conf")
		if err := os.WriteFile(outside, []byte("DBPASS=elsewhere\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, "mailcow.conf")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(dir, "mailcow.conf")); err != nil {
			t.Fatal(err)
		}
		m := mustCreate(t, fsx.Real{}, opts(dir, store, t0))
		e := m.Entry("mailcow.conf")
		if e == nil || e.Type != TypeSymlink || !e.TargetOutside || e.Target != outside || e.Mode != 0o640 || e.SHA256 != hashOf([]byte("DBPASS=elsewhere\n")) {
			t.Fatalf("entry %+v", e)
		}
		// update.sh's sed --follow-symlinks edits the target; restore
		// writes the content back through the admin's link.
		if err := os.WriteFile(outside, []byte("DBPASS=elsewhere\nFTS_HEAP=128\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		ch, err := Diff(m, dir)
		if err != nil {
			t.Fatal(err)
		}
		if c := find(ch, "mailcow.conf"); c.Kind != Modified || !c.Content {
			t.Errorf("Diff: %+v", c)
		}
		res, err := Restore(fsx.Real{}, store, m.ID, dir, []string{"mailcow.conf"})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(outside); string(got) != "DBPASS=elsewhere\n" || len(res.Restored) != 1 {
			t.Errorf("outside target after restore: %q, result %+v", got, res)
		}
	})
}

func find(cs []Change, p string) Change {
	for _, c := range cs {
		if c.Path == p {
			return c
		}
	}
	return Change{Path: p, Kind: "absent from Diff"}
}

// A configured path other than mailcow.conf that is a link leading out
// of the mailcow dir: the snapshot keeps the link and says so; restore
// never writes the file it leads to, also from an older manifest that
// holds that file's content.
func TestOverrideLinkOutside(t *testing.T) {
	dir, store := newMailcow(t)
	outside := filepath.Join(t.TempDir(), "override.yml")
	if err := os.WriteFile(outside, []byte("services: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "docker-compose.override.yml")
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	m := mustCreate(t, fsx.Real{}, opts(dir, store, t0))
	e := m.Entry("docker-compose.override.yml")
	if e == nil || e.Type != TypeSymlink || e.Target != outside || e.TargetOutside || e.SHA256 != "" {
		t.Fatalf("entry %+v, want the link only", e)
	}
	if len(m.Skipped) != 1 || m.Skipped[0].Path != "docker-compose.override.yml" || !strings.Contains(m.Skipped[0].Reason, "keeps the link, not that file's content") {
		t.Errorf("skipped %+v", m.Skipped)
	}
	// An older manifest with the content of the file outside.
	conf := m.Entry("mailcow.conf").SHA256
	editManifest(t, store, m.ID, func(mm map[string]any) {
		for _, e := range mm["entries"].([]any) {
			if en := e.(map[string]any); en["path"] == "docker-compose.override.yml" {
				en["target_outside"], en["sha256"] = true, conf
			}
		}
	})
	for _, removed := range []bool{false, true} {
		if removed {
			if err := os.Remove(link); err != nil {
				t.Fatal(err)
			}
		}
		res, err := Restore(fsx.Real{}, store, m.ID, dir, []string{"docker-compose.override.yml"})
		if err != nil {
			t.Fatal(err)
		}
		if got := readString(t, outside); got != "services: {}\n" {
			t.Errorf("the file outside now holds %q", got)
		}
		if l, err := os.Readlink(link); err != nil || l != outside {
			t.Errorf("link %q, %v", l, err)
		}
		if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "was not written") {
			t.Errorf("notes %q", res.Notes)
		}
	}
}

// Issue 11 (minor): IDs sort strictly by creation. More than keep
// snapshots in one second: pruning freed the ID without a suffix, the
// next snapshot took it, sorted oldest and was pruned at once, so the
// pre hook's record named a deleted snapshot. Also when the clock goes
// back, a new snapshot sorts after every one in the store.
func TestCreateIDsSortByCreation(t *testing.T) {
	dir, store := newMailcow(t)
	o := opts(dir, store, t0)
	o.Keep = 10
	var prev string
	for i := 0; i < 25; i++ {
		if i == 20 {
			o.Now = t0.Add(-time.Hour) // the clock went back
		}
		m := mustCreate(t, fsx.Real{}, o)
		if prev != "" && !idLess(prev, m.ID) {
			t.Errorf("snapshot %d: ID %s does not sort after %s", i+1, m.ID, prev)
		}
		prev = m.ID
		if _, err := Load(store, m.ID); err != nil {
			t.Fatalf("snapshot %d (%s) is gone right after Create: %v", i+1, m.ID, err)
		}
		if latest, err := Load(store, Latest); err != nil || latest.ID != m.ID {
			t.Fatalf("snapshot %d: latest is %v, %v; want %s", i+1, latest, err, m.ID)
		}
	}
	list, err := List(store)
	if err != nil || len(list) != 10 {
		t.Fatalf("List: %d snapshots, %v", len(list), err)
	}
}
