package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

func TestUpdates(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	// A pre-update.json of an older mcupdate: no id.
	if err := d.SaveRecord(fsx.Real{}, Record{Time: t0, Commit: "aaa", Branch: "master"}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 3; i++ {
		at := t0.Add(time.Hour)
		id := d.NewRecordID(at)
		ids = append(ids, id)
		if err := d.SaveUpdate(fsx.Real{}, Record{ID: id, Time: at, Commit: "c" + id}); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"20260501T130000Z", "20260501T130000Z-2", "20260501T130000Z-3"}; strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("ids %v, want %v", ids, want)
	}
	recs, err := d.Updates()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.ID)
	}
	if want := "20260501T120000Z 20260501T130000Z 20260501T130000Z-2 20260501T130000Z-3"; strings.Join(got, " ") != want {
		t.Errorf("Updates = %v, want %s (the legacy record first, by time)", got, want)
	}
	if !recs[0].Legacy || recs[0].Commit != "aaa" {
		t.Errorf("legacy record: %+v", recs[0])
	}
	// Saved under its id, the legacy record is listed once.
	if err := d.SaveUpdate(fsx.Real{}, recs[0]); err != nil {
		t.Fatal(err)
	}
	if recs, _ = d.Updates(); len(recs) != 4 {
		t.Errorf("%d records after saving the legacy one, want 4", len(recs))
	}

	for _, bad := range []string{"../pre-update", "latest", "", "20260501T130000Z/../x"} {
		if _, err := d.LoadUpdate(bad); !errors.Is(err, ErrNoRecord) {
			t.Errorf("LoadUpdate(%q) = %v, want ErrNoRecord", bad, err)
		}
	}
	if _, err := d.LoadUpdate("20200101T000000Z"); !errors.Is(err, ErrNoRecord) {
		t.Errorf("LoadUpdate of a missing id: %v", err)
	}
	if err := d.SaveUpdate(fsx.Real{}, Record{ID: "x/../../y"}); err == nil {
		t.Error("SaveUpdate with a bad id succeeded")
	}
	// A record file whose id does not match its name is an error.
	p := filepath.Join(d.Path, UpdatesDir, "20260501T130000Z-2.json")
	if err := os.WriteFile(p, []byte(`{"id":"20260501T130000Z-3"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.LoadUpdate("20260501T130000Z-2"); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("mismatched id: %v", err)
	}

	if err := d.PruneUpdates(2); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(d.Path, UpdatesDir))
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if want := "20260501T130000Z-2.json 20260501T130000Z-3.json"; strings.Join(left, " ") != want {
		t.Errorf("after pruning to 2: %v, want %s", left, want)
	}
	if fi, err := os.Stat(filepath.Join(d.Path, UpdatesDir)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("updates dir: %v %v", fi.Mode(), err)
	}
}
