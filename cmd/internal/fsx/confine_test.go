package fsx

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A directory below a confined one that flips between a real directory
// and a link to elsewhere while mcupdate writes below it: no write, temp
// file, link or directory ever lands outside (a check of the path
// followed by a write by path did, in 19 of 300 restores).
func TestConfinedWritesNeverLeaveUnderRace(t *testing.T) {
	base := t.TempDir()
	dir, outside := filepath.Join(base, "mailcow"), filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(dir, "data", "real"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := Confine(dir); err != nil {
		t.Fatal(err)
	}
	flip := filepath.Join(dir, "data", "conf")
	// 300 flips, each state held 0 to 400µs; the writes go on until the
	// last flip.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 300; i++ {
			_ = os.RemoveAll(flip)
			if i%2 == 0 {
				_ = os.Symlink(outside, flip)
			} else {
				_ = os.Mkdir(flip, 0o755)
			}
			time.Sleep(time.Duration(i*7919%401) * time.Microsecond)
		}
	}()
	var sys Real
	var rounds, wrote int
	for running := true; running; rounds++ {
		select {
		case <-done:
			running = false
		default:
		}
		p := filepath.Join(flip, "override.conf")
		if sys.WriteFile(p, []byte("admin\n"), 0o644) == nil {
			wrote++
		}
		_ = sys.MkdirAll(filepath.Join(flip, "sub", "dir"), 0o755)
		_ = sys.Symlink("override.conf", filepath.Join(flip, "link.conf"))
		_ = sys.Chmod(p, 0o600)
		_ = sys.Remove(filepath.Join(flip, "sub", "dir"))
	}
	ents, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("written outside the confined dir: %s", e.Name())
	}
	if wrote == 0 {
		t.Errorf("no write went through: the race was not exercised")
	}
	t.Logf("300 flips, %d rounds of writes: %d wrote the file", rounds, wrote)
}

// A link that leads out of a confined directory is never written
// through: at the name, as a directory on the way, absolute or relative.
func TestConfinedLinkOutside(t *testing.T) {
	base := t.TempDir()
	dir, outside := filepath.Join(base, "mailcow"), filepath.Join(base, "outside")
	for _, d := range []string{dir, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "f"), []byte("outside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Confine(dir); err != nil {
		t.Fatal(err)
	}
	mustSymlink(t, filepath.Join(outside, "f"), filepath.Join(dir, "abs"))
	mustSymlink(t, "../outside/f", filepath.Join(dir, "rel"))
	mustSymlink(t, outside, filepath.Join(dir, "absdir"))
	mustSymlink(t, "../outside", filepath.Join(dir, "reldir"))
	for _, name := range []string{"abs", "rel", "absdir/f", "reldir/f", "reldir/new"} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, filepath.FromSlash(name))
			err := WriteFileAtomic(p, []byte("evil\n"), 0o644)
			if !errors.Is(err, ErrOutside) {
				t.Errorf("WriteFileAtomic: %v, want ErrOutside", err)
			}
			if err == nil || !strings.Contains(err.Error(), p) {
				t.Errorf("error %v does not name %s", err, p)
			}
			wantContent(t, filepath.Join(outside, "f"), "outside\n")
			if _, err := os.Lstat(filepath.Join(outside, "new")); err == nil {
				t.Error("created outside")
			}
		})
	}
	if err := (Real{}).Chmod(filepath.Join(dir, "absdir", "f"), 0o600); !errors.Is(err, ErrOutside) {
		t.Errorf("Chmod through a link out: %v", err)
	}
	if err := (Real{}).MkdirAll(filepath.Join(dir, "reldir", "x"), 0o755); !errors.Is(err, ErrOutside) {
		t.Errorf("MkdirAll through a link out: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(outside, "f")); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode changed outside: %v", fi.Mode())
	}
	if _, err := os.Lstat(filepath.Join(outside, "x")); err == nil {
		t.Error("directory created outside")
	}
}

// Below a private directory no link is followed: one at the name is
// replaced, one on the way is an error, and so is the directory itself
// replaced by a link after it was confined.
func TestConfinePrivate(t *testing.T) {
	base := t.TempDir()
	dir, outside := filepath.Join(base, "state"), filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(dir, "snapshots"), outside} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "f"), []byte("outside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ConfinePrivate(dir); err != nil {
		t.Fatal(err)
	}
	// A link at the name, even one that stays inside, is replaced.
	inside := filepath.Join(dir, "lock")
	if err := os.WriteFile(inside, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"last-apply.json": filepath.Join(outside, "f"), "last-pre.json": "lock"} {
		p := filepath.Join(dir, name)
		mustSymlink(t, target, p)
		if err := WriteFileAtomic(p, []byte("{}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s: not replaced by a file: %v", name, err)
		}
	}
	wantContent(t, filepath.Join(outside, "f"), "outside\n")
	wantContent(t, inside, "")
	// A link as a directory on the way, even to inside.
	mustSymlink(t, "snapshots", filepath.Join(dir, "snaps"))
	for _, err := range []error{
		WriteFileAtomic(filepath.Join(dir, "snaps", "x"), nil, 0o600),
		Real{}.MkdirAll(filepath.Join(dir, "snaps", "y"), 0o700),
		Real{}.Chmod(filepath.Join(dir, "last-pre.json", "..", "snaps"), 0o700),
	} {
		if !errors.Is(err, ErrLink) {
			t.Errorf("write below a link in a private dir: %v, want ErrLink", err)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "snapshots")); len(ents) != 0 {
		t.Errorf("written through the link: %v", ents)
	}
	// The directory itself replaced by a link.
	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	mustSymlink(t, outside, dir)
	err := WriteFileAtomic(filepath.Join(dir, "report.json"), []byte("{}\n"), 0o600)
	if !errors.Is(err, ErrLink) {
		t.Errorf("write to a private dir now a link: %v, want ErrLink", err)
	}
	if _, err := os.Lstat(filepath.Join(outside, "report.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("written through the link: %v", err)
	}
	// ... or by another directory.
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "report.json"), []byte("{}\n"), 0o600); err == nil || !strings.Contains(err.Error(), "replaced since it was checked") {
		t.Errorf("write to a replaced private dir: %v", err)
	}
}
