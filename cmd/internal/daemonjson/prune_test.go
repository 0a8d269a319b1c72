package daemonjson

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

// Fix's backups of daemon.json are pruned to the newest keep, ordered by
// time then counter; nothing else beside daemon.json is touched.
func TestPruneBackups(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "daemon.json")
	write(t, p, "{}\n", 0o644)
	var names []string
	for _, n := range []string{
		"20250101T000000Z", "20250101T000000Z-2", "20250101T000000Z-10",
		"20250102T000000Z", "20260101T000000Z", "20260101T000001Z",
	} {
		names = append(names, "daemon.json.mcupdate-"+n+".bak")
	}
	others := []string{"daemon.json.bak", "other.json.mcupdate-20200101T000000Z.bak", "daemon.json.mcupdate-2020.bak", "daemon.json.mcupdate-20200101T000000Z.bak.orig"}
	for _, n := range append(append([]string(nil), names...), others...) {
		write(t, filepath.Join(dir, n), n, 0o600)
	}
	// A link with a backup's name is not Fix's: left alone.
	link := filepath.Join(dir, "daemon.json.mcupdate-20000101T000000Z.bak")
	if err := os.Symlink("daemon.json", link); err != nil {
		t.Fatal(err)
	}
	rec := &fsx.Recorder{}
	removed, err := PruneBackups(rec, p, 3)
	if err != nil || len(removed) != 3 || len(rec.Paths()) != 3 {
		t.Fatalf("dry run: %v %v %v", removed, rec.Paths(), err)
	}
	removed, err = PruneBackups(fsx.Real{}, p, 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range removed {
		got = append(got, filepath.Base(r))
	}
	if want := strings.Join(names[:3], " "); strings.Join(got, " ") != want {
		t.Errorf("removed %v, want %s", got, want)
	}
	for _, n := range append(append(names[3:], others...), filepath.Base(link), "daemon.json") {
		if _, err := os.Lstat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if removed, err := PruneBackups(fsx.Real{}, p, 3); err != nil || len(removed) != 0 {
		t.Errorf("second prune: %v %v", removed, err)
	}
}
