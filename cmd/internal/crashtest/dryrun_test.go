package crashtest

// Issue 11, item 9: --dry-run writes nothing at all. apply, hook pre and
// hook post with --dry-run wrote report-*.json, replaced last-*.json and
// pruned old reports; the lock file was created. Now not one file, mode,
// mtime or directory entry changes, in the mailcow dir (.git included),
// the state dir or beside daemon.json, and a missing state dir stays
// missing.

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// stateOfTree describes every entry below root: type, mode, owner, size,
// mtime, inode, and a file's content hash or a link's target.
func stateOfTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		d := fmt.Sprintf("%v %d:%d size %d mtime %d ino %d", fi.Mode(), st.Uid, st.Gid, fi.Size(), fi.ModTime().UnixNano(), st.Ino)
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			d += fmt.Sprintf(" sha256 %x", sha256.Sum256(b))
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			d += " -> " + l
		}
		out[p] = d
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffTrees(before, after map[string]string) []string {
	var out []string
	for p, a := range after {
		if b, ok := before[p]; !ok {
			out = append(out, "created "+p)
		} else if a != b {
			out = append(out, fmt.Sprintf("changed %s: %s → %s", p, b, a))
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			out = append(out, "removed "+p)
		}
	}
	sort.Strings(out)
	return out
}

func TestDryRunWritesNothing(t *testing.T) {
	w := newWorld(t)
	w.initMailcow(nil, "[restart]\nenabled = off\n[patches]\nenable = fts-heap\n[patch fts-heap]\nFTS_HEAP = 1024\n")
	for i := 0; i < 3; i++ {
		w.write(w.path(overrideFile(i)), overrideAdmin(i), 0o640)
	}
	// A state dir as real runs leave it, with more reports than are
	// kept, so that a run that writes would prune.
	w.mustRun("hook", "pre")
	for i := 0; i < 40; i++ {
		w.write(filepath.Join(w.state, fmt.Sprintf("report-20200101T0000%02d.000Z-apply.json", i)), "{}\n", 0o600)
	}
	// Each command now has something to write: daemon.json lacks the
	// keys Docker 26 needs, fts-heap is not applied, overrides are gone.
	w.write(w.daemon, `{"log-driver": "local"}`+"\n", 0o644)
	for i := 0; i < 3; i++ {
		if err := os.Remove(w.path(overrideFile(i))); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"FAKE_DOCKER_VERSION=26.1.0"}
	cmds := [][]string{
		{"apply", "--dry-run"},
		{"hook", "pre", "--dry-run"},
		{"hook", "post", "--dry-run"},
		{"--dry-run", "snapshot", "create"},
		{"--dry-run", "snapshot", "restore", "latest"},
	}
	for _, args := range cmds {
		before := stateOfTree(t, w.root)
		r := w.runEnv(env, args...)
		if r.code > 1 {
			t.Errorf("%s", r)
		}
		if !strings.Contains(r.stdout+r.stderr, "dry run") && !strings.Contains(r.stdout+r.stderr, "would") {
			t.Errorf("%s: does not say what it would do: %s", strings.Join(args, " "), r)
		}
		for _, d := range diffTrees(before, stateOfTree(t, w.root)) {
			t.Errorf("%s: %s", strings.Join(args, " "), d)
		}
	}
	// No state dir yet: it is not created, nor is a lock.
	if err := os.RemoveAll(w.state); err != nil {
		t.Fatal(err)
	}
	for _, args := range cmds[:3] {
		before := stateOfTree(t, w.root)
		r := w.runEnv(env, args...)
		if r.code > 1 {
			t.Errorf("%s", r)
		}
		for _, d := range diffTrees(before, stateOfTree(t, w.root)) {
			t.Errorf("%s without a state dir: %s", strings.Join(args, " "), d)
		}
	}
}
