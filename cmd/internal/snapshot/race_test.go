package snapshot

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

// Issue 11, item 4: a parent directory of an override flipping between a
// link to elsewhere and a real directory while snapshot restore runs.
// Restore checked the parent, then wrote (and created its temp) by path,
// so a flip between the two put the file or its temp outside the mailcow
// dir (19 of 300 runs). Every write is now made through a handle on the
// mailcow dir: nothing lands outside, whatever the timing.
func TestRestoreRaceNeverWritesOutside(t *testing.T) {
	dir, store := newMailcow(t)
	outside := filepath.Join(filepath.Dir(dir), "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	od := filepath.Join(dir, "data/conf/rspamd/override.d")
	for _, n := range []string{"a.conf", "b.conf", "c.conf", "d.conf"} {
		if err := os.WriteFile(filepath.Join(od, n), []byte(n+" admin\n"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	m := mustCreate(t, fsx.Real{}, opts(dir, store, t0))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 300; i++ {
			_ = os.RemoveAll(od)
			if i%2 == 0 {
				_ = os.Symlink(outside, od)
			} else {
				_ = os.Mkdir(od, 0o755)
			}
			time.Sleep(time.Duration(i*7919%401) * time.Microsecond)
		}
	}()
	runs, restored := 0, 0
	for running := true; running; runs++ {
		select {
		case <-done:
			running = false
		default:
		}
		res, _ := Restore(fsx.Real{}, store, m.ID, dir, []string{"data/conf/rspamd/override.d"})
		if res != nil {
			restored += len(res.Restored)
		}
	}
	ents, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("restore wrote outside the mailcow dir: %s", e.Name())
	}
	if restored == 0 {
		t.Error("no file was restored: the race was not exercised")
	}
	t.Logf("300 flips, %d restores, %d files restored", runs, restored)
}
