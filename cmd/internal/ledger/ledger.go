package ledger

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
)

// FileName is the ledger's name in the state directory.
const FileName = "ledger.json"

// Schema is the version of the ledger's JSON layout.
const Schema = 1

// Status is where a customization stands.
type Status string

// Statuses. An entry is Present from the pre hook that first sees it; an
// update then gives it its Outcome; Lost and Deleted stay until the
// admin's edit is back (Present again) or acknowledged.
const (
	Present      Status = "present"
	Acknowledged Status = "acknowledged"
)

// Bad reports whether the status needs the admin.
func (s Status) Bad() bool { return Outcome(s).Bad() }

// Entry is one customization the install has, or had.
type Entry struct {
	Block
	FirstSeen time.Time `json:"first_seen"`
	Status    Status    `json:"status"`
	Since     time.Time `json:"since"`
	// Update is the update that gave the status: "FROM..TO" commits.
	Update string `json:"update,omitempty"`
	// By is the patch that put the block back, or the override file that
	// holds it.
	By string `json:"by,omitempty"`
	// Missing are the lines an update dropped.
	Missing []Line `json:"missing,omitempty"`
}

// Ledger is every customization of the install, across updates.
type Ledger struct {
	Schema int `json:"schema"`
	// Head and Base are the install's commit and its upstream base at the
	// last scan.
	Head    string    `json:"head,omitempty"`
	Base    string    `json:"base,omitempty"`
	Updated time.Time `json:"updated"`
	Entries []Entry   `json:"entries"`
}

// Load reads the ledger from the state directory; a missing one is empty.
func Load(d state.Dir) (*Ledger, error) {
	l := &Ledger{Schema: Schema}
	err := d.ReadJSON(FileName, l)
	if errors.Is(err, fs.ErrNotExist) {
		return &Ledger{Schema: Schema}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("customization ledger: %w", err)
	}
	if l.Schema != Schema {
		return nil, fmt.Errorf("customization ledger %s: schema %d, this mcupdate reads %d", FileName, l.Schema, Schema)
	}
	return l, nil
}

// Save writes the ledger atomically through sys.
func (l *Ledger) Save(d state.Dir, sys fsx.System) error {
	l.Schema = Schema
	l.sort()
	if err := d.WriteJSON(sys, FileName, l); err != nil {
		return fmt.Errorf("customization ledger: %w", err)
	}
	return nil
}

func (l *Ledger) sort() {
	sort.SliceStable(l.Entries, func(i, j int) bool {
		if l.Entries[i].File != l.Entries[j].File {
			return l.Entries[i].File < l.Entries[j].File
		}
		return false
	})
}

func (l *Ledger) index() map[string]int {
	m := make(map[string]int, len(l.Entries))
	for i, e := range l.Entries {
		m[e.ID] = i
	}
	return m
}

// Refresh is what the pre hook tells the ledger: set is every
// customization the install has now. What the admin changed or removed
// since the last update is the new truth: an entry no longer in the
// install is dropped, unless an update lost it (it stays until restored
// or acknowledged). It returns the entries seen for the first time, the
// lost ones that are back, and the number dropped.
func (l *Ledger) Refresh(set *Set, head string, now time.Time) (added, back []Entry, dropped int) {
	idx := l.index()
	seen := map[string]bool{}
	var out []Entry
	for _, b := range set.Blocks {
		if seen[b.ID] {
			continue // the same change twice in a file: one entry
		}
		seen[b.ID] = true
		e := Entry{Block: b, FirstSeen: now, Status: Present, Since: now}
		if i, ok := idx[b.ID]; ok {
			old := l.Entries[i]
			e.FirstSeen = old.FirstSeen
			if old.Status == Present {
				e.Since = old.Since
			}
			if old.Status.Bad() || old.Status == Acknowledged {
				back = append(back, e)
			}
		} else {
			added = append(added, e)
		}
		out = append(out, e)
	}
	for _, e := range l.Entries {
		switch {
		case seen[e.ID]:
		case e.Status.Bad() || e.Status == Acknowledged:
			out = append(out, e)
		default:
			dropped++
		}
	}
	l.Entries, l.Head, l.Base, l.Updated = out, head, set.Base, now
	l.sort()
	return added, back, dropped
}

// Settle records what an update (FROM..TO) did to each customization.
// Entries it did not judge keep their status.
func (l *Ledger) Settle(results []Result, update string, now time.Time) {
	idx := l.index()
	for _, r := range results {
		e := Entry{Block: r.Block, FirstSeen: now}
		if i, ok := idx[r.Block.ID]; ok {
			e.FirstSeen = l.Entries[i].FirstSeen
		}
		e.Status, e.Since, e.Update, e.By = Status(r.Outcome), now, update, r.By
		if r.Outcome.Bad() || r.Outcome == Moved {
			e.Missing = r.Missing
		}
		if i, ok := idx[r.Block.ID]; ok {
			l.Entries[i] = e
			continue
		}
		idx[e.ID] = len(l.Entries)
		l.Entries = append(l.Entries, e)
	}
	l.Updated = now
	l.sort()
}

// Open returns the entries that need the admin: lost or deleted, and not
// acknowledged.
func (l *Ledger) Open() []Entry {
	var out []Entry
	for _, e := range l.Entries {
		if e.Status.Bad() {
			out = append(out, e)
		}
	}
	return out
}

// Back reports whether a lost entry's lines are in the file again
// (content, ok=false when the file does not exist): the admin restored
// it, or a patch now protects it.
func (e *Entry) Back(content []byte, ok bool) bool {
	return ok && len(e.Block.Lost(Sums(content))) == 0
}

// ErrUnknownID is returned by Ack for an ID that names no open entry.
var ErrUnknownID = errors.New("no lost customization with that id")

// Ack acknowledges the open entries named by ids (an ID, a unique prefix
// of at least 4 characters, or FILE:ID): the admin accepts the loss, and
// verify stops failing on it. Nothing changes when one id is unknown.
func (l *Ledger) Ack(ids []string, now time.Time) ([]Entry, error) {
	var hits []int
	for _, id := range ids {
		i, err := l.find(id)
		if err != nil {
			return nil, err
		}
		hits = append(hits, i)
	}
	var out []Entry
	for _, i := range hits {
		e := &l.Entries[i]
		e.Status, e.Since = Acknowledged, now
		out = append(out, *e)
	}
	l.Updated = now
	return out, nil
}

func (l *Ledger) find(id string) (int, error) {
	file, short, hasFile := strings.Cut(id, ":")
	if !hasFile {
		short, file = id, ""
	}
	match := -1
	for i, e := range l.Entries {
		if !e.Status.Bad() || (file != "" && e.File != file) {
			continue
		}
		if e.ID == short || (len(short) >= 4 && strings.HasPrefix(e.ID, short)) {
			if match >= 0 {
				return -1, fmt.Errorf("%s: more than one lost customization starts so: give more of the id", id)
			}
			match = i
		}
	}
	if match < 0 {
		var open []string
		for _, e := range l.Open() {
			open = append(open, e.ID+" ("+e.File+")")
		}
		if len(open) == 0 {
			return -1, fmt.Errorf("%s: %w: the ledger has none", id, ErrUnknownID)
		}
		return -1, fmt.Errorf("%s: %w; lost: %s", id, ErrUnknownID, strings.Join(open, ", "))
	}
	return match, nil
}
