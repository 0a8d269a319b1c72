package fsx_test

// A full disk (ENOSPC), a read-only filesystem (EROFS) and a denied write
// (EACCES), injected at each of the atomic write's steps (create the
// temp, write it, rename it) under every package that writes through
// fsx.Real: each failure is an error naming the file, the original is
// intact, and no temp file is left. cmd/internal/crashtest does the
// same on a real full tmpfs, a read-only remount and chattr +i.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/daemonjson"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/snapshot"
)

var (
	faultOps    = []string{"create", "write", "rename"}
	faultErrnos = []syscall.Errno{syscall.ENOSPC, syscall.EROFS, syscall.EACCES}
)

// eachFault runs f for every op and errno, with the fault armed from the
// nth write on (sticky) by f itself through arm.
func eachFault(t *testing.T, f func(t *testing.T, arm func(nth int64, sticky bool) func(), errno syscall.Errno)) {
	for _, op := range faultOps {
		for _, errno := range faultErrnos {
			t.Run(op+"/"+errnoName(errno), func(t *testing.T) {
				f(t, func(nth int64, sticky bool) func() { return fsx.Fault(op, nth, sticky, errno) }, errno)
			})
		}
	}
}

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.ENOSPC:
		return "ENOSPC"
	case syscall.EROFS:
		return "EROFS"
	case syscall.EACCES:
		return "EACCES"
	}
	return fmt.Sprint(int(e))
}

// noTempsBelow fails for every fsx temp file below root.
func noTempsBelow(t *testing.T, root string) {
	t.Helper()
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), fsx.TempPrefix) {
			t.Errorf("temp file left: %s", p)
		}
		return nil
	})
}

func mustWrite(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o640); err != nil {
		t.Fatal(err)
	}
}

func content(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "(absent)"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantErr(t *testing.T, err error, errno syscall.Errno, names ...string) {
	t.Helper()
	if !errors.Is(err, errno) {
		t.Fatalf("error %v, want %s", err, errnoName(errno))
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not name %s", err, n)
		}
	}
}

func TestFaultWriteFileAtomic(t *testing.T) {
	eachFault(t, func(t *testing.T, arm func(int64, bool) func(), errno syscall.Errno) {
		dir := t.TempDir()
		p := filepath.Join(dir, "mailcow.conf")
		mustWrite(t, p, "DBPASS=old\n")
		defer arm(1, true)()
		wantErr(t, fsx.WriteFileAtomic(p, []byte("DBPASS=new\n"), 0o600), errno, p)
		if got := content(t, p); got != "DBPASS=old\n" {
			t.Errorf("original now %q", got)
		}
		noTempsBelow(t, dir)
	})
}

// mailcowRepo is a git checkout with ignored overrides.
func mailcowRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mailcow")
	mustWrite(t, filepath.Join(dir, ".gitignore"), "mailcow.conf\ndata/conf/rspamd/override.d/*\n")
	cmd := exec.Command("git", "init", "-q", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	for rel, data := range files {
		mustWrite(t, filepath.Join(dir, filepath.FromSlash(rel)), data)
	}
	return dir
}

var overrides = map[string]string{
	"mailcow.conf":                       "DBPASS=admin\n",
	"data/conf/rspamd/override.d/a.conf": "a admin\n",
	"data/conf/rspamd/override.d/b.conf": "b admin\n",
	"data/conf/rspamd/override.d/c.conf": "c admin\n",
}

// A snapshot that cannot be written leaves the store as it was: the
// earlier snapshot whole, no new manifest, no temp, no new object.
func TestFaultSnapshotCreate(t *testing.T) {
	eachFault(t, func(t *testing.T, arm func(int64, bool) func(), errno syscall.Errno) {
		dir := mailcowRepo(t, overrides)
		store := filepath.Join(t.TempDir(), "snapshots")
		opt := snapshot.Options{MailcowDir: dir, Store: store, Now: time.Unix(1_800_000_000, 0)}
		if _, err := snapshot.Create(fsx.Real{}, opt); err != nil {
			t.Fatal(err)
		}
		objs := func() []string {
			es, _ := os.ReadDir(filepath.Join(store, snapshot.ObjectsDir))
			var n []string
			for _, e := range es {
				n = append(n, e.Name())
			}
			return n
		}
		before := objs()
		for rel := range overrides {
			mustWrite(t, filepath.Join(dir, rel), "changed "+rel+"\n")
		}
		// Each of the 5 writes (4 objects, the manifest) fails in turn.
		for nth := int64(1); nth <= 5; nth++ {
			opt.Now = opt.Now.Add(time.Second)
			undo := arm(nth, true)
			m, err := snapshot.Create(fsx.Real{}, opt)
			undo()
			if m != nil {
				t.Fatalf("write %d failing: snapshot %s taken", nth, m.ID)
			}
			wantErr(t, err, errno, store)
			t.Logf("write %d failing: %v", nth, err)
			ms, lerr := snapshot.List(store)
			if lerr != nil || len(ms) != 1 {
				t.Fatalf("write %d failing: %d snapshots (%v), want the earlier one", nth, len(ms), lerr)
			}
			if got := objs(); fmt.Sprint(got) != fmt.Sprint(before) {
				t.Errorf("write %d failing: objects %v, want %v", nth, got, before)
			}
			noTempsBelow(t, store)
		}
	})
}

// A restore that cannot write leaves the file it failed on as it was;
// the ones before it are restored whole.
func TestFaultSnapshotRestore(t *testing.T) {
	eachFault(t, func(t *testing.T, arm func(int64, bool) func(), errno syscall.Errno) {
		dir := mailcowRepo(t, overrides)
		store := filepath.Join(t.TempDir(), "snapshots")
		if _, err := snapshot.Create(fsx.Real{}, snapshot.Options{MailcowDir: dir, Store: store}); err != nil {
			t.Fatal(err)
		}
		for nth := int64(1); nth <= 4; nth++ {
			for rel := range overrides {
				mustWrite(t, filepath.Join(dir, rel), "update.sh's "+rel+"\n")
			}
			undo := arm(nth, true)
			_, err := snapshot.Restore(fsx.Real{}, store, snapshot.Latest, dir, nil)
			undo()
			if err == nil {
				t.Fatalf("write %d failing: restore succeeded", nth)
			}
			wantErr(t, err, errno)
			t.Logf("write %d failing: %v", nth, err)
			failed := 0
			for rel, admin := range overrides {
				switch got := content(t, filepath.Join(dir, rel)); got {
				case admin:
				case "update.sh's " + rel + "\n":
					failed++
					if !strings.Contains(err.Error(), rel) {
						t.Errorf("error %q does not name %s", err, rel)
					}
				default:
					t.Errorf("%s: %q, neither version", rel, got)
				}
			}
			if failed == 0 {
				t.Errorf("write %d failing: every file restored", nth)
			}
			noTempsBelow(t, dir)
		}
	})
}

const twoFilePatch = `description = two files, all or none
[edit one]
file = data/conf/one.ini
kind = ini
section = s
key = k
value = new
[edit two]
file = data/conf/two.conf
kind = line
line = added = yes
position = end
`

// A patch whose first write fails writes nothing. When a later write
// fails once, the earlier one is rolled back: all or none. When the disk
// stays full the rollback cannot write either; every file is still
// whole, one version or the other, and the error names both.
func TestFaultPatchesApply(t *testing.T) {
	p, err := patch.Parse("two.ini", []byte(twoFilePatch))
	if err != nil {
		t.Fatal(err)
	}
	b, err := patch.Bind(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	const oneOld, twoOld = "[s]\nk = old\n", "# two\n"
	eachFault(t, func(t *testing.T, arm func(int64, bool) func(), errno syscall.Errno) {
		for _, tc := range []struct {
			nth    int64
			sticky bool
		}{{1, true}, {2, false}, {2, true}} {
			dir := t.TempDir()
			one, two := filepath.Join(dir, "data/conf/one.ini"), filepath.Join(dir, "data/conf/two.conf")
			mustWrite(t, one, oneOld)
			mustWrite(t, two, twoOld)
			undo := arm(tc.nth, tc.sticky)
			_, err := patch.Apply(fsx.Real{}, dir, []*patch.Bound{b}, patch.ModeApply)
			undo()
			name := fmt.Sprintf("write %d failing (sticky %v)", tc.nth, tc.sticky)
			if err == nil {
				t.Fatalf("%s: apply succeeded", name)
			}
			wantErr(t, err, errno)
			t.Logf("%s: %v", name, err)
			gotOne, gotTwo := content(t, one), content(t, two)
			if gotTwo != twoOld {
				t.Errorf("%s: two.conf %q, want it untouched", name, gotTwo)
			}
			switch {
			case gotOne == oneOld:
			case tc.nth == 2 && tc.sticky && gotOne == "[s]\nk = new\n":
				// The rollback could not write: named in the error.
				if !strings.Contains(err.Error(), "restoring "+one) {
					t.Errorf("%s: error %q does not say one.ini could not be restored", name, err)
				}
			default:
				t.Errorf("%s: one.ini %q", name, gotOne)
			}
			failedFile := "one.ini"
			if tc.nth == 2 {
				failedFile = "two.conf"
			}
			if !strings.Contains(err.Error(), failedFile) {
				t.Errorf("%s: error %q does not name %s", name, err, failedFile)
			}
			noTempsBelow(t, dir)
		}
	})
}

// daemon.json: a failed backup writes nothing; a failed write of the
// file itself leaves it as it was and its backup whole.
func TestFaultDaemonJSONFix(t *testing.T) {
	const orig = `{"log-driver": "local"}` + "\n"
	eachFault(t, func(t *testing.T, arm func(int64, bool) func(), errno syscall.Errno) {
		for nth := int64(1); nth <= 2; nth++ {
			dir := t.TempDir()
			p := filepath.Join(dir, "daemon.json")
			mustWrite(t, p, orig)
			undo := arm(nth, true)
			res, err := daemonjson.Fix(fsx.Real{}, p, daemonjson.RequirementsFor(28, "fd00:dead:beef:c0::/80"), time.Now())
			undo()
			if res != nil {
				t.Fatalf("write %d failing: Fix succeeded: %+v", nth, res)
			}
			wantErr(t, err, errno, p)
			t.Logf("write %d failing: %v", nth, err)
			if got := content(t, p); got != orig {
				t.Errorf("write %d failing: daemon.json %q", nth, got)
			}
			baks, _ := filepath.Glob(p + ".mcupdate-*.bak")
			if nth == 1 && len(baks) != 0 {
				t.Errorf("backup failed, yet backups %v", baks)
			}
			for _, bk := range baks {
				if got := content(t, bk); got != orig {
					t.Errorf("backup %s: %q", bk, got)
				}
			}
			noTempsBelow(t, dir)
		}
	})
}
