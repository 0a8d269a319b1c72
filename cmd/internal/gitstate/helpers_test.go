package gitstate

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

// fixture is a mailcow-like checkout cloned from an upstream repository,
// so it has origin, refs/remotes/origin/* and tracking config like a real
// install.
type fixture struct {
	up, dir string
	c1, c2  string // upstream master commits; v1 tags c1
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{up: filepath.Join(root, "upstream"), dir: filepath.Join(root, "mailcow")}
	gittest.Init(t, f.up)
	f.c1 = gittest.Commit(t, f.up, "release 1", map[string]string{
		"mailcow.conf.example":                  "FTS_HEAP=128\n",
		"data/conf/phpfpm/php-fpm.d/pools.conf": "[web-worker]\nphp_admin_value[memory_limit] = 512M\n",
		".gitignore":                            "mailcow.conf\n",
	})
	gittest.Git(t, f.up, "tag", "v1")
	gittest.Git(t, f.up, "branch", "nightly")
	gittest.Git(t, f.up, "branch", "legacy")
	f.c2 = gittest.Commit(t, f.up, "release 2", map[string]string{
		"data/conf/phpfpm/php-fpm.d/pools.conf": "[web-worker]\nphp_admin_value[memory_limit] = 1024M\n",
	})
	gittest.Git(t, root, "clone", "-q", f.up, f.dir)
	gittest.WriteFiles(t, f.dir, map[string]string{"mailcow.conf": "DBPASS=secret\n"})
	return f
}

func (f *fixture) git(t *testing.T, args ...string) string {
	t.Helper()
	return gittest.Git(t, f.dir, args...)
}

// snapshot hashes every regular file under root, skipping .git when
// workOnly, so a test can assert that nothing changed.
func snapshot(t *testing.T, root string, workOnly bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if workOnly && d.IsDir() && rel == ".git" {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffSnapshots(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for p, h := range before {
		if after[p] != h {
			t.Errorf("%s: %s changed or removed", what, p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s: %s appeared", what, p)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// fakeProc points the /proc seam at a directory holding processes with
// the given comm names, and restores it at the end of the test.
// fakeProc points the /proc seam at a fake one holding the processes
// comms names. A process works in repo, unless its comm ends in
// "@elsewhere" (its directory is another one) or "@env" (its directory is
// another one, its GIT_DIR is repo's .git, relative to it).
func fakeProc(t *testing.T, comms map[int]string, repo string) {
	t.Helper()
	dir := t.TempDir()
	elsewhere := t.TempDir()
	for pid, spec := range comms {
		comm, where, _ := strings.Cut(spec, "@")
		p := filepath.Join(dir, strconv.Itoa(pid))
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "comm"), []byte(comm+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cwd, env := repo, "PATH=/usr/bin\x00HOME=/root\x00"
		switch where {
		case "elsewhere":
			cwd = elsewhere
		case "env":
			rel, err := filepath.Rel(elsewhere, filepath.Join(repo, ".git"))
			if err != nil {
				t.Fatal(err)
			}
			cwd, env = elsewhere, env+"GIT_DIR="+rel+"\x00"
		}
		if err := os.Symlink(cwd, filepath.Join(p, "cwd")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "environ"), []byte(env), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Not a process: must be skipped.
	if err := os.MkdirAll(filepath.Join(dir, "sys"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := procDir
	procDir = dir
	t.Cleanup(func() { procDir = old })
}

// fixNow sets the clock seam.
func fixNow(t *testing.T, at time.Time) {
	t.Helper()
	old := now
	now = func() time.Time { return at }
	t.Cleanup(func() { now = old })
}

// makeStale writes a lock file last modified age ago.
func makeStale(t *testing.T, p string, at time.Time, age time.Duration) {
	t.Helper()
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, at.Add(-age), at.Add(-age)); err != nil {
		t.Fatal(err)
	}
}
