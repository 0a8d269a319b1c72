package crashtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCrashBeforeManifestRename is the one kill point of snapshot create
// a timed kill rarely hits: after the manifest's temp file was made, before
// its rename. The snapshot directory then holds only that temp; the next
// run must remove both, quietly.
func TestCrashBeforeManifestRename(t *testing.T) {
	w := newWorld(t)
	w.initMailcow(nil, "[docker]\nipv6 = off\n")
	w.mustRun("snapshot", "create")
	dead := filepath.Join(w.state, "snapshots", "20200101T000000Z")
	w.write(filepath.Join(dead, tempPrefix+"manifest.json-4242"), `{"version":1,"id":"20200101T000000Z","ent`, 0o600)
	r := w.mustRun("snapshot", "create")
	if strings.Contains(r.stderr, "prun") {
		t.Errorf("pruning failed: %s", r)
	}
	if _, err := os.Lstat(dead); !os.IsNotExist(err) {
		t.Errorf("%s left after a complete run: %v", dead, err)
	}
	if tmps := w.temps(); len(tmps) > 0 {
		t.Errorf("temp files left: %v", tmps)
	}
}
