// Package state manages mcupdate's state directory: the lock that keeps
// one run at a time, the JSON reports the hooks write, and the record the
// pre hook leaves for the post hook.
package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/errlist"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

// DefaultDir is where install.sh puts the state directory.
const DefaultDir = "/var/lib/mcupdate"

// Dir is the state directory.
type Dir struct {
	Path string
	// ReadOnly is a dry run's state dir: nothing in it is created,
	// changed or removed. Ensure creates and tightens nothing, Lock takes
	// a shared lock only on a lock file that exists and writes no holder
	// line, WriteJSON and PruneReports do nothing.
	ReadOnly bool
}

// ErrUnsafe is wrapped by the error for a state dir another user could
// plant files or links in, or replace: a link, a directory not owned by
// root (the running user), or one writable by group or others. mcupdate
// refuses it, as sshd's StrictModes refuses such a home directory.
var ErrUnsafe = errors.New("unsafe state dir")

// Ensure creates the directory 0700 (mailcow.conf copies live below it),
// refuses one another user could tamper with ([ErrUnsafe], the error
// says how to fix it), tightens 0755 or looser read bits to 0700 whatever
// the umask, and confines every later write below it to it with
// fsx.ConfinePrivate: no link at or below it is ever followed.
func (d Dir) Ensure() error {
	f, err := d.open()
	if err != nil || f == nil {
		return err
	}
	return f.Close()
}

// open is Ensure, returning the checked directory, opened without
// following a link at it; nil for a ReadOnly one that does not exist.
func (d Dir) open() (*os.File, error) {
	if _, err := os.Lstat(d.Path); errors.Is(err, fs.ErrNotExist) {
		if d.ReadOnly {
			return nil, nil
		}
		if err := os.MkdirAll(d.Path, 0o700); err != nil {
			return nil, fmt.Errorf("state dir: %w", err)
		}
	}
	f, err := openDir(d.Path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("state dir: %w", err)
	}
	if err := errlist.Join(d.checkOwner(fi), checkParents(d.Path)); err != nil {
		_ = f.Close()
		return nil, err
	}
	if fi.Mode().Perm() != 0o700 && !d.ReadOnly {
		if err := f.Chmod(0o700); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("state dir: %w", err)
		}
	}
	if err := fsx.ConfinePrivate(d.Path); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("state dir: %w", err)
	}
	if d.ReadOnly {
		return f, nil
	}
	if err := fsx.CleanTemps(d.Path); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("state dir: %w", err)
	}
	return f, nil
}

// openDir opens dir without following a link at it.
func openDir(dir string) (*os.File, error) {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err == nil {
		return os.NewFile(uintptr(fd), dir), nil
	}
	fi, lerr := os.Lstat(dir)
	switch {
	case lerr == nil && fi.Mode()&fs.ModeSymlink != 0:
		t, _ := os.Readlink(dir)
		return nil, fmt.Errorf("state dir %s is a symbolic link (to %s): %w: mcupdate never follows a link there; give the directory itself with --state-dir or MCUPDATE_STATE_DIR", dir, t, ErrUnsafe)
	case lerr == nil && !fi.IsDir():
		return nil, fmt.Errorf("state dir %s: not a directory", dir)
	}
	return nil, fmt.Errorf("state dir: %w", &fs.PathError{Op: "open", Path: dir, Err: err})
}

// checkOwner refuses a state dir not owned by the running user (root on
// a server) or writable by group or others.
func (d Dir) checkOwner(fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if euid := os.Geteuid(); int(st.Uid) != euid {
		return fmt.Errorf("state dir %s is owned by uid %d, not by uid %d running mcupdate: %w: another user could plant links in it; fix: chown %d:%d %s && chmod 700 %s", d.Path, st.Uid, euid, ErrUnsafe, euid, os.Getegid(), d.Path, d.Path)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("state dir %s is writable by group or others (mode %04o): %w: another user could plant links in it; fix: chmod 700 %s", d.Path, uint32(fi.Mode().Perm()), ErrUnsafe, d.Path)
	}
	return nil
}

// checkParents refuses a state dir whose parent directories another user
// could change (and so rename the state dir away and put their own in
// its place): each must be owned by root or the running user, and not be
// writable by group or others unless its sticky bit is set (/tmp).
func checkParents(dir string) error {
	parent, err := filepath.EvalSymlinks(filepath.Dir(dir))
	if err != nil {
		return fmt.Errorf("state dir %s: %w", dir, err)
	}
	for p := parent; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("state dir %s: %w", dir, err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if st.Uid != 0 && int(st.Uid) != os.Geteuid() {
				return fmt.Errorf("state dir %s: its parent %s is owned by uid %d: %w: that user could replace the state dir; fix: chown root %s, or choose another --state-dir", dir, p, st.Uid, ErrUnsafe, p)
			}
			if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
				return fmt.Errorf("state dir %s: its parent %s is writable by group or others (mode %04o) without the sticky bit: %w: another user could replace the state dir; fix: chmod go-w %s, or choose another --state-dir", dir, p, uint32(fi.Mode().Perm()), ErrUnsafe, p)
			}
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
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
type Lock struct {
	f        *os.File
	readOnly bool
}

// LockFile is the name of the lock in the state directory.
const LockFile = "lock"

// Lock takes the state directory's lock without waiting. what describes
// the run for the message another run shows. The lock file is opened
// relative to the checked directory and never through a link.
//
// A ReadOnly (dry run) Dir takes a shared lock, which excludes a real run
// but not another dry run, and only when the lock file exists: a flock
// writes nothing, creating the file would. Without the file it runs
// unlocked, reading only.
func (d Dir) Lock(what string) (*Lock, error) {
	dir, err := d.open()
	if err != nil {
		return nil, err
	}
	if dir == nil {
		return &Lock{readOnly: true}, nil
	}
	defer dir.Close()
	p := filepath.Join(d.Path, LockFile)
	f, err := openLock(dir, p, d.ReadOnly)
	if err != nil || f == nil {
		return &Lock{readOnly: true}, err
	}
	how := syscall.LOCK_EX
	if d.ReadOnly {
		how = syscall.LOCK_SH
	}
	err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	// A run killed while it was starting a program (git, docker) leaves
	// the lock to the child for the moment between fork and exec, the
	// descriptor being close-on-exec: when the pid on the holder line is
	// gone, give the kernel a moment to drop the lock. An empty line is a
	// holder that has not written it yet: wait for it, to name it.
	for end := time.Now().Add(deadHolderWait); errors.Is(err, syscall.EWOULDBLOCK) && holderUnknown(f) && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
		err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	}
	if err != nil {
		holder := readHolder(f)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Path: p, Holder: strings.TrimSpace(string(holder))}
		}
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	if d.ReadOnly {
		return &Lock{f: f, readOnly: true}, nil
	}
	// The holder line is informational; the flock is what excludes.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d (%s) since %s\n", os.Getpid(), what, time.Now().UTC().Format(time.RFC3339))), 0)
	return &Lock{f: f}, nil
}

// openLock opens (or creates, 0600) the lock file in the directory dir
// without following a link, and checks that it is a regular file of the
// running user's with no other name: it is truncated and written to.
// readOnly opens an existing one only, and returns nil without one.
func openLock(dir *os.File, p string, readOnly bool) (*os.File, error) {
	flags := syscall.O_RDWR | syscall.O_CREAT
	if readOnly {
		flags = syscall.O_RDONLY
	}
	fd, err := syscall.Openat(int(dir.Fd()), LockFile, flags|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0o600)
	if readOnly && errors.Is(err, syscall.ENOENT) {
		return nil, nil
	}
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("lock %s is a symbolic link: %w: not followed; remove it", p, ErrUnsafe)
	}
	if err != nil {
		return nil, fmt.Errorf("lock: %w", &fs.PathError{Op: "open", Path: p, Err: err})
	}
	f := os.NewFile(uintptr(fd), p)
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock: %w", err)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		err = fmt.Errorf("lock %s is not a regular file (%v): %w: remove it", p, fi.Mode().Type(), ErrUnsafe)
	case st != nil && int(st.Uid) != os.Geteuid():
		err = fmt.Errorf("lock %s is owned by uid %d: %w: remove it", p, st.Uid, ErrUnsafe)
	case st != nil && st.Nlink != 1:
		err = fmt.Errorf("lock %s has %d names (a hard link): %w: remove it", p, st.Nlink, ErrUnsafe)
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// deadHolderWait bounds how long Lock waits for a lock whose holder is
// gone.
const deadHolderWait = 500 * time.Millisecond

// readHolder returns the holder line of the open lock file f.
func readHolder(f *os.File) []byte {
	b := make([]byte, 512)
	n, _ := f.ReadAt(b, 0)
	return b[:n]
}

// holderUnknown reports whether the open lock file f names no pid yet,
// or one that no longer exists.
func holderUnknown(f *os.File) bool {
	b := readHolder(f)
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
	if !l.readOnly {
		_ = l.f.Truncate(0)
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// WriteJSON writes v as indented JSON to name below the directory,
// atomically and 0600; nothing for a ReadOnly (dry run) Dir.
func (d Dir) WriteJSON(sys fsx.System, name string, v any) error {
	if d.ReadOnly {
		return nil
	}
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

// ReadJSON reads name below the directory into v, not through a link. A
// missing file returns an error matching fs.ErrNotExist.
func (d Dir) ReadJSON(name string, v any) error {
	p := filepath.Join(d.Path, name)
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errors.Is(err, syscall.ELOOP) {
		return fmt.Errorf("%s is a symbolic link: not followed", p)
	}
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxJSON+1))
	_ = f.Close()
	if err != nil {
		return err
	}
	if len(data) > maxJSON {
		return fmt.Errorf("%s: larger than %d MB", p, maxJSON>>20)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// maxJSON bounds a state file read: mcupdate's own are kilobytes.
const maxJSON = 16 << 20

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

// PruneReports removes the oldest timestamped reports beyond keep;
// nothing for a ReadOnly (dry run) Dir.
func (d Dir) PruneReports(keep int) error {
	if d.ReadOnly {
		return nil
	}
	matches, err := filepath.Glob(filepath.Join(d.Path, "report-*.json"))
	if err != nil {
		return err
	}
	sort.Strings(matches) // the names sort by time
	var errs []error
	for len(matches) > max(keep, 0) {
		if err := (fsx.Real{}).Remove(matches[0]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		matches = matches[1:]
	}
	return errlist.Join(errs...)
}
