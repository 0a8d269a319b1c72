package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/errlist"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

// UpdatesDir holds one record per pre hook run that prepared an update
// (updates/<ID>.json), so that `mcupdate rollback ID` can go back to the
// state before any of the kept updates, not only the last one.
const UpdatesDir = "updates"

// UpdatesKept is how many records stay in UpdatesDir.
const UpdatesKept = 30

var recordIDRe = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z(-[1-9][0-9]{0,5})?$`)

// ValidRecordID reports whether id has the shape of a record ID
// (20260101T120000Z, -2, -3 … within one second), so an ID from the
// command line can never name a path outside the state dir.
func ValidRecordID(id string) bool { return recordIDRe.MatchString(id) }

// NewRecordID returns an unused record ID for time t.
func (d Dir) NewRecordID(t time.Time) string {
	base := t.UTC().Format("20060102T150405Z")
	for i := 1; ; i++ {
		id := base
		if i > 1 {
			id = base + "-" + strconv.Itoa(i)
		}
		if _, err := os.Lstat(d.updatePath(id)); errors.Is(err, fs.ErrNotExist) {
			return id
		}
	}
}

func (d Dir) updatePath(id string) string {
	return filepath.Join(d.Path, UpdatesDir, id+".json")
}

// SaveUpdate writes r (which must have an ID) to the update records.
func (d Dir) SaveUpdate(sys fsx.System, r Record) error {
	if !ValidRecordID(r.ID) {
		return fmt.Errorf("update record: bad id %q", r.ID)
	}
	if err := sys.MkdirAll(filepath.Join(d.Path, UpdatesDir), 0o700); err != nil {
		return err
	}
	return d.WriteJSON(sys, filepath.Join(UpdatesDir, r.ID+".json"), r)
}

// ErrNoRecord is wrapped when an update record asked for is not kept.
var ErrNoRecord = errors.New("no such update record")

// LoadUpdate reads the record id.
func (d Dir) LoadUpdate(id string) (Record, error) {
	var r Record
	if !ValidRecordID(id) {
		return r, fmt.Errorf("%q: %w (an id looks like 20260101T120000Z)", id, ErrNoRecord)
	}
	err := d.ReadJSON(filepath.Join(UpdatesDir, id+".json"), &r)
	if errors.Is(err, fs.ErrNotExist) {
		return r, fmt.Errorf("%s: %w in %s", id, ErrNoRecord, filepath.Join(d.Path, UpdatesDir))
	}
	if err == nil && r.ID != id {
		err = fmt.Errorf("%s: the record says its id is %q", d.updatePath(id), r.ID)
	}
	return r, err
}

// Updates returns the kept update records, oldest first. A pre-update
// record written before records had IDs (pre-update.json alone) is
// returned too, with an ID made from its time, so that an install
// updated by an older mcupdate can still be rolled back once.
func (d Dir) Updates() ([]Record, error) {
	ents, err := os.ReadDir(filepath.Join(d.Path, UpdatesDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var out []Record
	var errs []error
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !ValidRecordID(id) || !e.Type().IsRegular() {
			continue
		}
		r, err := d.LoadUpdate(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	if rec, ok, err := d.LoadRecord(); err == nil && ok && rec.ID == "" && rec.Commit != "" {
		rec.ID = rec.Time.UTC().Format("20060102T150405Z")
		rec.Legacy = true
		known := false
		for _, r := range out {
			known = known || r.ID == rec.ID
		}
		if !known {
			out = append(out, rec)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return recordIDLess(out[i].ID, out[j].ID) })
	return out, errlist.Join(errs...)
}

func recordIDLess(a, b string) bool {
	key := func(id string) (string, int) {
		base, seq, ok := strings.Cut(id, "-")
		if !ok {
			return base, 1
		}
		n, _ := strconv.Atoi(seq)
		return base, n
	}
	ab, an := key(a)
	bb, bn := key(b)
	if ab != bb {
		return ab < bb
	}
	return an < bn
}

// PruneUpdates removes the oldest update records beyond keep.
func (d Dir) PruneUpdates(keep int) error {
	ents, err := os.ReadDir(filepath.Join(d.Path, UpdatesDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var ids []string
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok && ValidRecordID(id) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return recordIDLess(ids[i], ids[j]) })
	var errs []error
	for len(ids) > max(keep, 0) {
		if err := os.Remove(d.updatePath(ids[0])); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		ids = ids[1:]
	}
	return errlist.Join(errs...)
}
