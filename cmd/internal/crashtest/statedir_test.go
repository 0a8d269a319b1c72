package crashtest

// Issue 11, item 2, end to end: a state dir another user can write, or
// one that is a link, is refused (exit 2, with how to fix it) before
// anything is written; links planted in it are never followed.

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlantedLinksInStateDir(t *testing.T) {
	w := newWorld(t)
	w.initMailcow(nil, "[docker]\nipv6 = off\n[restart]\nenabled = off\n[patches]\nenable = fts-heap\n[patch fts-heap]\nFTS_HEAP = 1024\n")
	victim := filepath.Join(w.root, "etc", "victim")
	w.write(victim, "precious\n", 0o644)
	sticky := filepath.Join(w.root, "tmp")
	if err := os.Mkdir(sticky, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	wantVictim := func(what string) {
		t.Helper()
		if v, _ := read(victim); v.data != "precious\n" {
			t.Errorf("%s: the file the planted links lead to now holds %s", what, v)
		}
		if fi, _ := os.Stat(sticky); fi.Mode() != fs.ModeDir|fs.ModeSticky|0o777 {
			t.Errorf("%s: the sticky dir is now %v", what, fi.Mode())
		}
	}

	// A world-writable state dir with links planted in it.
	if err := os.Mkdir(w.state, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(w.state, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"lock", "last-apply.json"} {
		if err := os.Symlink(victim, filepath.Join(w.state, n)); err != nil {
			t.Fatal(err)
		}
	}
	r := w.run("apply")
	if r.code != 2 || !strings.Contains(r.stderr, "writable by group or others") || !strings.Contains(r.stderr, "chmod 700 "+w.state) {
		t.Errorf("apply with a 0777 state dir: want exit 2 saying chmod 700: %s", r)
	}
	wantVictim("0777 state dir")

	// The state dir a link to a sticky 1777 directory.
	if err := os.RemoveAll(w.state); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(sticky, w.state); err != nil {
		t.Fatal(err)
	}
	r = w.run("apply")
	if r.code != 2 || !strings.Contains(r.stderr, "is a symbolic link") {
		t.Errorf("apply with the state dir a link: want exit 2: %s", r)
	}
	if ents, _ := os.ReadDir(sticky); len(ents) != 0 {
		t.Errorf("written through the state dir link: %v", ents)
	}
	wantVictim("state dir a link")

	// A state dir as it must be, with a report name planted as a link
	// (by whoever could, before it was fixed): the report replaces it.
	if err := os.Remove(w.state); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(w.state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(w.state, "last-apply.json")); err != nil {
		t.Fatal(err)
	}
	w.mustRun("apply")
	wantVictim("report name a link")
	if fi, err := os.Lstat(filepath.Join(w.state, "last-apply.json")); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("last-apply.json: %v %v, want a regular 0600 file", fi.Mode(), err)
	}
	// And a lock planted as a link is refused, not truncated.
	if err := os.Remove(filepath.Join(w.state, "lock")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(w.state, "lock")); err != nil {
		t.Fatal(err)
	}
	r = w.run("apply")
	if r.code != 2 || !strings.Contains(r.stderr, "lock") || !strings.Contains(r.stderr, "symbolic link") {
		t.Errorf("apply with the lock a link: want exit 2: %s", r)
	}
	wantVictim("lock a link")
}
