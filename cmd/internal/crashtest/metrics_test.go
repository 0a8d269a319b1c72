package crashtest

// Issue 11, item 3: verify --prometheus FILE in a textfile directory
// another user can write.

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrometheusFileNotThroughLink(t *testing.T) {
	w := newWorld(t)
	w.initMailcow(nil, "[docker]\nipv6 = off\n[restart]\nenabled = off\n")
	victim := filepath.Join(w.root, "etc", "victim")
	w.write(victim, "precious\n", 0o600)
	textfile := filepath.Join(w.root, "textfile")
	if err := os.Mkdir(textfile, 0o777); err != nil {
		t.Fatal(err)
	}
	prom := filepath.Join(textfile, "mcupdate.prom")

	// Sticky and writable by all, as /tmp: a link planted at FILE is
	// replaced by the metrics, its target untouched.
	if err := os.Chmod(textfile, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, prom); err != nil {
		t.Fatal(err)
	}
	r := w.run("verify", "--prometheus", prom)
	if r.code > 1 {
		t.Fatalf("verify --prometheus: %s", r)
	}
	if v, _ := read(victim); v.data != "precious\n" {
		t.Errorf("the link's target now holds %s", v)
	}
	if fi, _ := os.Stat(victim); fi.Mode().Perm() != 0o600 {
		t.Errorf("the link's target is now %v", fi.Mode())
	}
	fi, err := os.Lstat(prom)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Fatalf("%s: %v %v, want a regular 0644 file", prom, fi.Mode(), err)
	}
	if v, _ := read(prom); !strings.Contains(v.data, "mcupdate_check_ok") {
		t.Errorf("%s: %s", prom, v)
	}
	if tmps := w.temps(); len(tmps) > 0 {
		t.Errorf("temp files left: %v", tmps)
	}

	// Writable by all without the sticky bit: refused, nothing written.
	if err := os.Chmod(textfile, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(prom); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, prom); err != nil {
		t.Fatal(err)
	}
	r = w.run("verify", "--prometheus", prom)
	if r.code != 2 || !strings.Contains(r.stderr, "writable by others without the sticky bit") || !strings.Contains(r.stderr, "chmod o-w "+textfile) {
		t.Errorf("verify --prometheus in a 0777 dir: want exit 2 saying chmod o-w: %s", r)
	}
	if fi, err := os.Lstat(prom); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("%s changed: %v %v", prom, fi.Mode(), err)
	}
	if v, _ := read(victim); v.data != "precious\n" {
		t.Errorf("the link's target now holds %s", v)
	}
}
