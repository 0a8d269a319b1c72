package crashtest

// Paths and links, end to end: no patch and no snapshot manifest can make
// mcupdate write outside the mailcow dir; a symlinked mailcow.conf (and
// mailcow's .env link to it) is edited at its target, links kept.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// outsideWorld is a world with files outside the mailcow dir a bad path
// could reach, and a snapshot of 3 overrides.
func outsideWorld(t *testing.T) (w *world, elsewhere string) {
	w = newWorld(t)
	w.initMailcow(nil, "[docker]\nipv6 = off\n[restart]\nenabled = off\n")
	elsewhere = filepath.Join(w.root, "elsewhere")
	w.write(filepath.Join(elsewhere, "x.conf"), "outside\n", 0o644)
	w.write(filepath.Join(elsewhere, "o000.conf"), "outside\n", 0o644)
	return w, elsewhere
}

// outsideUnchanged fails if anything below the world but outside the
// mailcow dir and the state dir changed from before.
func snapshotTree(t *testing.T, root string, skip ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		for _, s := range skip {
			if p == s {
				return filepath.SkipDir
			}
		}
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			out[p] = string(b)
		} else if fi.Mode()&os.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			out[p] = "-> " + l
		}
		return nil
	})
	return out
}

func sameTree(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for p, v := range after {
		if b, ok := before[p]; !ok {
			t.Errorf("%s: %s created", what, p)
		} else if b != v {
			t.Errorf("%s: %s changed", what, p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s: %s removed", what, p)
		}
	}
}

func TestPatchPathsOutside(t *testing.T) {
	w, elsewhere := outsideWorld(t)
	// data/conf/evil is a link to a directory outside; data/conf/link.conf
	// a link to a file outside.
	if err := os.Symlink(elsewhere, w.path("data/conf/evil")); err != nil {
		w.write(w.path("data/conf/.keep"), "", 0o644)
		if err := os.Symlink(elsewhere, w.path("data/conf/evil")); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(elsewhere, "x.conf"), w.path("data/conf/link.conf")); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ file, why string }{
		{"../elsewhere/x.conf", "goes up a directory"},
		{"data/../../elsewhere/x.conf", "goes up a directory"},
		{filepath.Join(elsewhere, "x.conf"), "is absolute"},
		{"data/conf/evil/x.conf", "outside the mailcow"},
		{"data/conf/evil/new.conf", "outside the mailcow"},
		{"data/conf/link.conf", "outside the mailcow"},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			for _, kind := range []string{"line", "file"} {
				body := "line = evil = 1\nposition = end\ncreate = true\n"
				if kind == "file" {
					body = "content = evil\n"
				}
				w.write(filepath.Join(w.patchDir, "evil.ini"), fmt.Sprintf("description = writes outside\n[edit e]\nfile = %s\nkind = %s\n%s", c.file, kind, body), 0o644)
				w.write(w.config, fmt.Sprintf("[docker]\nipv6 = off\n[restart]\nenabled = off\n[patches]\ndir = %s\nenable = evil\n", w.patchDir), 0o600)
				before := snapshotTree(t, w.root, w.state, filepath.Join(w.dir, ".git"))
				r := w.run("apply")
				wantFailure(t, r, c.why, "evil")
				after := snapshotTree(t, w.root, w.state, filepath.Join(w.dir, ".git"))
				sameTree(t, c.file, before, after)
			}
		})
	}
}

// mailcow.conf is often a link (to /etc or a secrets mount), and .env
// always links to it; update.sh edits through the link
// (sed -i --follow-symlinks), and so does fts-heap.
func TestSymlinkedMailcowConf(t *testing.T) {
	w := newWorld(t)
	w.initMailcow(nil, "[docker]\nipv6 = off\n[restart]\nenabled = off\n[patches]\nenable = fts-heap\n[patch fts-heap]\nFTS_HEAP = 1024\n")
	real := filepath.Join(w.root, "etc", "mailcow", "mailcow.conf")
	w.write(real, "MAILCOW_HOSTNAME=mail.example.org\nDBPASS=s3cr3t\nFTS_HEAP=128\n", 0o600)
	if err := os.Remove(w.path("mailcow.conf")); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"mailcow.conf": real, ".env": "mailcow.conf"} {
		if err := os.Symlink(target, w.path(link)); err != nil {
			t.Fatal(err)
		}
	}
	r := w.mustRun("apply")
	if !strings.Contains(r.stdout, "fts-heap") {
		t.Errorf("fts-heap not applied: %s", r)
	}
	if v, _ := read(real); v.data != "MAILCOW_HOSTNAME=mail.example.org\nDBPASS=s3cr3t\nFTS_HEAP=1024\n" {
		t.Errorf("the link's target: %s", v)
	}
	for link, target := range map[string]string{"mailcow.conf": real, ".env": "mailcow.conf"} {
		got, err := os.Readlink(w.path(link))
		if err != nil || got != target {
			t.Errorf("%s: no longer a link to %s: %q, %v", link, target, got, err)
		}
	}
	if fi, err := os.Stat(real); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("target mode: %v %v", fi.Mode(), err)
	}
	noTemps(t, w, "apply through the links")
	if r := w.mustRun("verify"); r.code != 0 {
		t.Errorf("verify after apply: %s", r)
	}
}

// A hand-edited manifest cannot make snapshot restore write outside the
// mailcow dir: .., absolute paths, and a parent directory replaced by a
// link to elsewhere after the snapshot was taken.
func TestRestoreManifestOutside(t *testing.T) {
	w, elsewhere := outsideWorld(t)
	for i := 0; i < 3; i++ {
		w.write(w.path(overrideFile(i)), overrideAdmin(i), 0o640)
	}
	w.mustRun("snapshot", "create")
	ms, _ := filepath.Glob(filepath.Join(w.state, "snapshots", "2*", "manifest.json"))
	if len(ms) != 1 {
		t.Fatalf("manifests: %v", ms)
	}
	id := filepath.Base(filepath.Dir(ms[0]))
	orig, err := os.ReadFile(ms[0])
	if err != nil {
		t.Fatal(err)
	}
	// edit sets the path of the entry for o000 to p.
	edit := func(p string) {
		var m map[string]any
		if err := json.Unmarshal(orig, &m); err != nil {
			t.Fatal(err)
		}
		for _, e := range m["entries"].([]any) {
			en := e.(map[string]any)
			if en["path"] == overrideFile(0) {
				en["path"] = p
			}
		}
		b, _ := json.MarshalIndent(m, "", "  ")
		w.write(ms[0], string(b), 0o600)
	}
	for _, p := range []string{
		"../elsewhere/x.conf",
		"../../elsewhere/x.conf",
		"data/../../elsewhere/x.conf",
		filepath.Join(elsewhere, "x.conf"),
		"/" + strings.TrimPrefix(filepath.Join(elsewhere, "new.conf"), "/"),
		".git/hooks/pre-commit",
		"./data/../../elsewhere/x.conf",
	} {
		t.Run(p, func(t *testing.T) {
			edit(p)
			before := snapshotTree(t, w.root, w.state)
			r := w.run("snapshot", "restore", id)
			wantFailure(t, r, "", p)
			sameTree(t, p, before, snapshotTree(t, w.root, w.state))
		})
	}
	// The manifest as written, and override.d now a link to elsewhere.
	w.write(ms[0], string(orig), 0o600)
	od := w.path("data/conf/rspamd/override.d")
	if err := os.RemoveAll(od); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, od); err != nil {
		t.Fatal(err)
	}
	before := snapshotTree(t, w.root, w.state)
	r := w.run("snapshot", "restore", id)
	wantFailure(t, r, "leads outside the mailcow dir", "override.d")
	sameTree(t, "override.d a link to elsewhere", before, snapshotTree(t, w.root, w.state))
	// Also when only that path is asked for, and through the post hook.
	r = w.run("snapshot", "restore", id, overrideFile(0))
	wantFailure(t, r, "leads outside the mailcow dir", "override.d")
	sameTree(t, "override.d a link to elsewhere, one path", before, snapshotTree(t, w.root, w.state))
	r = w.run("hook", "post", "--no-restart")
	wantFailure(t, r, "leads outside the mailcow dir", "override.d")
	sameTree(t, "hook post with override.d a link to elsewhere", before, snapshotTree(t, w.root, w.state))
	// A link one level up, too.
	if err := os.Remove(od); err != nil {
		t.Fatal(err)
	}
	rs := w.path("data/conf/rspamd")
	if err := os.RemoveAll(rs); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, rs); err != nil {
		t.Fatal(err)
	}
	before = snapshotTree(t, w.root, w.state)
	r = w.run("snapshot", "restore", id)
	wantFailure(t, r, "leads outside the mailcow dir", "data/conf/rspamd")
	sameTree(t, "data/conf/rspamd a link to elsewhere", before, snapshotTree(t, w.root, w.state))
	r = w.run("hook", "post", "--no-restart")
	sameTree(t, "hook post with data/conf/rspamd a link to elsewhere", before, snapshotTree(t, w.root, w.state))
	t.Logf("hook post: exit %d: %s", r.code, firstError(r.stdout+r.stderr))
}

// The post hook keeps update.sh's version of an override as
// FILE.mcupdate-new: a link planted at that name is replaced, never
// written through.
func TestKeptVersionNotThroughLink(t *testing.T) {
	w, elsewhere := outsideWorld(t)
	w.write(w.path(overrideFile(0)), overrideAdmin(0), 0o640)
	w.mustRun("hook", "pre")
	w.write(w.path(overrideFile(0)), "update.sh's\n", 0o644)
	kept := w.path(overrideFile(0)) + ".mcupdate-new"
	if err := os.Symlink(filepath.Join(elsewhere, "x.conf"), kept); err != nil {
		t.Fatal(err)
	}
	before := snapshotTree(t, elsewhere)
	w.mustRun("hook", "post", "--no-restart")
	sameTree(t, "hook post with a link at .mcupdate-new", before, snapshotTree(t, elsewhere))
	fi, err := os.Lstat(kept)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("%s: not a regular file: %v", kept, err)
	}
	if v, _ := read(kept); v.data != "update.sh's\n" {
		t.Errorf("%s: %s", kept, v)
	}
	if v, _ := read(w.path(overrideFile(0))); v.data != overrideAdmin(0) {
		t.Errorf("not restored: %s", v)
	}
}
