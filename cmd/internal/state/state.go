// Package state manages mcupdate's state directory: the lock that keeps
// one run at a time, the JSON reports the hooks write, and the record the
// pre hook leaves for the post hook.
package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

// DefaultDir is where install.sh puts the state directory.
const DefaultDir = "/var/lib/mcupdate"

// Dir is the state directory.
type Dir struct{ Path string }

// Ensure creates the directory 0700 (mailcow.conf copies live below it)
// and tightens it if it is looser, whatever the umask.
func (d Dir) Ensure() error {
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	fi, err := os.Stat(d.Path)
	if err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("state dir %s: not a directory", d.Path)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(d.Path, 0o700); err != nil {
			return fmt.Errorf("state dir: %w", err)
		}
	}
	return fsx.CleanTemps(d.Path)
}

// ErrLocked means another mcupdate run holds the lock.
var ErrLocked = errors.New("another mcupdate run holds the lock")

// LockedError says who holds the lock.
type LockedError struct {
	Path   string
	Holder string // "pid 123 (mcupdate hook pre) since 2026-…", or "" if unknown
}

func (e *LockedError) Error() string {
	if e.Holder == "" {
		return fmt.Sprintf("%s: %v", e.Path, ErrLocked)
	}
	return fmt.Sprintf("%s: %v: %s", e.Path, ErrLocked, e.Holder)
}

func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Lock is a held lock; Release it when done. The kernel releases a flock
// when its holder dies, so a killed run never leaves a stale lock.
type Lock struct{ f *os.File }

// Lock takes the state directory's lock without waiting. what describes
// the run for the message another run shows.
func (d Dir) Lock(what string) (*Lock, error) {
	if err := d.Ensure(); err != nil {
		return nil, err
	}
	p := filepath.Join(d.Path, "lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	// A run killed while it was starting a program (git, docker) leaves
	// the lock to the child for the moment between fork and exec, the
	// descriptor being close-on-exec: when the pid on the holder line is
	// gone, give the kernel a moment to drop the lock. An empty line is a
	// holder that has not written it yet: wait for it, to name it.
	for end := time.Now().Add(deadHolderWait); errors.Is(err, syscall.EWOULDBLOCK) && holderUnknown(p) && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err != nil {
		holder, _ := os.ReadFile(p)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Path: p, Holder: strings.TrimSpace(string(holder))}
		}
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	// The holder line is informational; the flock is what excludes.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d (%s) since %s\n", os.Getpid(), what, time.Now().UTC().Format(time.RFC3339))), 0)
	return &Lock{f: f}, nil
}

// deadHolderWait bounds how long Lock waits for a lock whose holder is
// gone.
const deadHolderWait = 500 * time.Millisecond

// holderUnknown reports whether the lock file at p names no pid yet, or
// one that no longer exists.
func holderUnknown(p string) bool {
	b, err := os.ReadFile(p)
	if err != nil {
		return false
	}
	var pid int
	if _, err := fmt.Sscanf(string(b), "pid %d ", &pid); err != nil || pid <= 0 {
		return len(bytes.TrimSpace(b)) == 0
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// Release gives the lock up.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := l.f.Close()
	l.f = nil
	return err
}

// WriteJSON writes v as indented JSON to name below the directory,
// atomically and 0600.
func (d Dir) WriteJSON(sys fsx.System, name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(d.Path, name)
	if err := sys.WriteFile(p, append(data, '\n'), 0o600); err != nil {
		return err
	}
	return nil
}

// ReadJSON reads name below the directory into v. A missing file returns
// an error matching fs.ErrNotExist.
func (d Dir) ReadJSON(name string, v any) error {
	p := filepath.Join(d.Path, name)
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// Record is what the pre hook leaves for the post hook and for diff, and
// what `mcupdate rollback` goes back to: the pre-update commit, branch
// and snapshot of one update.
type Record struct {
	// ID names the record (20260101T120000Z) in UpdatesDir; "" in a
	// pre-update.json written by an older mcupdate.
	ID         string    `json:"id,omitempty"`
	Time       time.Time `json:"time"`
	MailcowDir string    `json:"mailcow_dir"`
	Commit     string    `json:"commit"`
	Branch     string    `json:"branch"`
	SnapshotID string    `json:"snapshot_id,omitempty"`
	// After is HEAD when the post hook ran: the update completed.
	After     string     `json:"after,omitempty"`
	Completed *time.Time `json:"completed,omitempty"`
	// RolledBack is when `mcupdate rollback` went back to Commit, and
	// Backup the ref that keeps the tip it left.
	RolledBack *time.Time `json:"rolled_back,omitempty"`
	Backup     string     `json:"backup,omitempty"`
	// Legacy marks a record found only as pre-update.json (no ID).
	Legacy bool `json:"-"`
}

// RecordFile is the name of the pre hook's record in the state directory.
const RecordFile = "pre-update.json"

// SaveRecord writes the pre-update record.
func (d Dir) SaveRecord(sys fsx.System, r Record) error { return d.WriteJSON(sys, RecordFile, r) }

// LoadRecord reads the pre-update record; ok is false when there is none.
func (d Dir) LoadRecord() (r Record, ok bool, err error) {
	err = d.ReadJSON(RecordFile, &r)
	if errors.Is(err, fs.ErrNotExist) {
		return r, false, nil
	}
	return r, err == nil, err
}

// ReportName returns the file name of a report of kind ("pre", "post",
// "apply") written at t; reports sort by time.
func ReportName(kind string, t time.Time) string {
	return "report-" + t.UTC().Format("20060102T150405.000Z") + "-" + kind + ".json"
}

// LastReportName is the stable name of the newest report of a kind.
func LastReportName(kind string) string { return "last-" + kind + ".json" }

// PID is the current process id as a string, for messages.
func PID() string { return strconv.Itoa(os.Getpid()) }

// PruneReports removes the oldest timestamped reports beyond keep.
func (d Dir) PruneReports(keep int) error {
	matches, err := filepath.Glob(filepath.Join(d.Path, "report-*.json"))
	if err != nil {
		return err
	}
	sort.Strings(matches) // the names sort by time
	var errs []error
	for len(matches) > max(keep, 0) {
		if err := os.Remove(matches[0]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		matches = matches[1:]
	}
	return errors.Join(errs...)
}
