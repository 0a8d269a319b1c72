package crashtest

// Issue 11, item 5: docker-compose.override.yml (or any override) as a
// link to a file outside the mailcow dir. mcupdate never writes outside
// the mailcow dir through such a link: the snapshot keeps the link (its
// target text), not the outside file's content; the post hook and
// snapshot restore put the link back when it is gone, with a warning,
// and never write the file it leads to. mailcow.conf is the one
// exception (TestSymlinkedMailcowConf): update.sh edits through its link.

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOverrideLinkOutside(t *testing.T) {
	w := newWorld(t)
	w.initMailcow(nil, "[docker]\nipv6 = off\n[restart]\nenabled = off\n")
	outside := filepath.Join(w.root, "etc", "compose", "override.yml")
	w.write(outside, "services: {} # the admin's, kept outside\n", 0o644)
	override := w.path("docker-compose.override.yml")
	if err := os.Remove(override); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, override); err != nil {
		t.Fatal(err)
	}
	// A link between overrides, re-pointed later to a secret elsewhere.
	secret := filepath.Join(w.root, "etc", "secret")
	w.write(secret, "root-only secret\n", 0o600)
	w.write(w.path(overrideFile(1)), overrideAdmin(1), 0o640)
	if err := os.Symlink("o001.conf", w.path(overrideFile(0))); err != nil {
		t.Fatal(err)
	}

	r := w.mustRun("hook", "pre")
	if !strings.Contains(r.stdout+r.stderr, "outside the mailcow dir: the snapshot keeps the link") {
		t.Errorf("pre hook does not say the override's content is not kept: %s", r)
	}
	ms, _ := filepath.Glob(filepath.Join(w.state, "snapshots", "2*", "manifest.json"))
	if len(ms) != 1 {
		t.Fatalf("manifests: %v", ms)
	}
	var m struct {
		Entries []map[string]any `json:"entries"`
	}
	raw, _ := os.ReadFile(ms[0])
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, e := range m.Entries {
		if e["path"] == "docker-compose.override.yml" && (e["type"] != "symlink" || e["target"] != outside || e["sha256"] != nil) {
			t.Errorf("override entry %v, want the link only", e)
		}
	}
	objs, _ := filepath.Glob(filepath.Join(w.state, "snapshots", "objects", "*"))
	for _, o := range objs {
		if b, _ := os.ReadFile(o); bytes.Contains(b, []byte("kept outside")) {
			t.Errorf("the outside file's content is in the snapshot: %s", o)
		}
	}

	wantOutside := func(what, want string) {
		t.Helper()
		if v, _ := read(outside); v.data != want {
			t.Errorf("%s: the file outside holds %s, want %q", what, v, want)
		}
		if v, _ := read(secret); v.data != "root-only secret\n" {
			t.Errorf("%s: the secret holds %s", what, v)
		}
		kept, _ := os.ReadFile(w.path(overrideFile(0)) + ".mcupdate-new")
		if bytes.Contains(kept, []byte("secret")) {
			t.Errorf("%s: the secret was copied into the mailcow dir", what)
		}
	}
	wantLink := func(what string) {
		t.Helper()
		if l, err := os.Readlink(override); err != nil || l != outside {
			t.Errorf("%s: override is %q %v, want the link to %s", what, l, err, outside)
		}
	}

	// Someone edits the outside file; another override link is
	// re-pointed at a secret: the post hook writes neither.
	w.write(outside, "services: {} # changed outside\n", 0o644)
	if err := os.Remove(w.path(overrideFile(0))); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, w.path(overrideFile(0))); err != nil {
		t.Fatal(err)
	}
	w.run("hook", "post", "--no-restart")
	wantOutside("outside file changed", "services: {} # changed outside\n")
	wantLink("outside file changed")

	// update.sh deletes the override: the link comes back, with a
	// warning; the outside file is not written.
	for _, args := range [][]string{{"hook", "post", "--no-restart"}, {"snapshot", "restore", "latest"}} {
		if err := os.Remove(override); err != nil {
			t.Fatal(err)
		}
		r := w.run(args...)
		wantOutside(strings.Join(args, " ")+" after the link was removed", "services: {} # changed outside\n")
		wantLink(strings.Join(args, " ") + " after the link was removed")
		if !strings.Contains(r.stderr, "mcupdate does not write there") {
			t.Errorf("%s: no warning that the link leads outside: %s", args, r)
		}
	}

	// update.sh replaces the link by a file: the link comes back and
	// update.sh's version is kept beside it.
	if err := os.Remove(override); err != nil {
		t.Fatal(err)
	}
	w.write(override, "services: {} # update.sh's\n", 0o644)
	w.run("hook", "post", "--no-restart")
	wantLink("link replaced by a file")
	wantOutside("link replaced by a file", "services: {} # changed outside\n")
	if v, _ := read(override + ".mcupdate-new"); v.data != "services: {} # update.sh's\n" {
		t.Errorf("update.sh's version: %s", v)
	}
	if tmps := w.temps(); len(tmps) > 0 {
		t.Errorf("temp files left: %v", tmps)
	}
}
