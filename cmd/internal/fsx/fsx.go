// Package fsx is the one place where mcupdate writes to disk.
//
// Every write mcupdate makes goes through a [System]. The real system writes
// atomically (temp file in the same directory, fsync, rename, fsync of the
// directory) and keeps the original's mode and owner. The other systems let
// the same code run as a dry run, which records what would change, or as a
// check, which refuses every write: verify and --dry-run are the apply path
// with a different System, never a second implementation.
package fsx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
)

// ErrWriteRefused is returned by a [CheckSystem] for every write.
var ErrWriteRefused = errors.New("write refused in check-only mode")

// System is where mcupdate's writes go.
type System interface {
	// WriteFile replaces name with data atomically. An existing file keeps
	// its mode, owner and group; a new file gets perm and the owner of the
	// process.
	WriteFile(name string, data []byte, perm fs.FileMode) error
	// Remove removes a file; a missing file is not an error.
	Remove(name string) error
	// MkdirAll creates a directory and its parents.
	MkdirAll(name string, perm fs.FileMode) error
	// Chmod changes a file's permission bits.
	Chmod(name string, perm fs.FileMode) error
	// Lchown changes a file's owner and group without following a link.
	Lchown(name string, uid, gid int) error
	// Symlink creates (or atomically replaces) name as a link to target.
	Symlink(target, name string) error
}

// Real writes to disk.
type Real struct{}

var _ System = Real{}

// WriteFile implements [System] with [WriteFileAtomic].
func (Real) WriteFile(name string, data []byte, perm fs.FileMode) error {
	return WriteFileAtomic(name, data, perm)
}

// Remove implements [System].
func (Real) Remove(name string) error {
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(filepath.Dir(name))
}

// MkdirAll implements [System].
func (Real) MkdirAll(name string, perm fs.FileMode) error { return os.MkdirAll(name, perm) }

// Chmod implements [System].
func (Real) Chmod(name string, perm fs.FileMode) error { return os.Chmod(name, perm) }

// Lchown implements [System]. Changing to the owner a file already has is
// a no-op, so unprivileged runs (tests) work on their own files.
func (Real) Lchown(name string, uid, gid int) error {
	fi, err := os.Lstat(name)
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == uid && int(st.Gid) == gid {
		return nil
	}
	return os.Lchown(name, uid, gid)
}

// Symlink implements [System]: the link is made beside name under a temp
// name and renamed over it, so name is never missing.
func (Real) Symlink(target, name string) error {
	tmp := filepath.Join(filepath.Dir(name), TempPrefix+filepath.Base(name)+"-link")
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(name))
}

// Seams overridden by tests to inject faults such as a full disk.
var (
	createTemp = os.CreateTemp
	writeTemp  = func(f *os.File, b []byte) (int, error) { return f.Write(b) }
	rename     = os.Rename
)

// TempPrefix starts the name of every temp file mcupdate creates, so a
// leftover from a killed run can be recognised and removed.
const TempPrefix = ".mcupdate-tmp-"

// WriteFileAtomic writes data to name so that name holds either its old or
// its new content at every moment, also across a crash: temp file in the
// same directory, write, fsync, chmod/chown to the original's mode and
// owner, rename, fsync of the directory. A symlink at name is followed and
// its target replaced; the link stays a link. On error the temp file is
// removed and the original is untouched.
func WriteFileAtomic(name string, data []byte, perm fs.FileMode) (err error) {
	target, err := resolveLink(name)
	if err != nil {
		return err
	}
	mode, uid, gid := perm, -1, -1
	if fi, statErr := os.Stat(target); statErr == nil {
		if !fi.Mode().IsRegular() {
			return &fs.PathError{Op: "write", Path: name, Err: errors.New("not a regular file")}
		}
		mode = fi.Mode().Perm() | fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	} else if !errors.Is(statErr, fs.ErrNotExist) {
		return statErr
	}
	dir := filepath.Dir(target)
	cleanOnce(dir)
	f, err := createTemp(dir, TempPrefix+filepath.Base(target)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	tmp := f.Name()
	// The temp stays locked until it is renamed or removed, so that
	// CleanTemps in another process never takes it for a killed run's.
	unlock := lockTemp(f)
	defer unlock()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = writeTemp(f, data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", name, err)
	}
	// Mode after chown: chown clears setuid/setgid bits.
	if uid >= 0 {
		if st, ok := statOf(f); !ok || int(st.Uid) != uid || int(st.Gid) != gid {
			if err = f.Chown(uid, gid); err != nil {
				return fmt.Errorf("write %s: keep owner %d:%d: %w", name, uid, gid, err)
			}
		}
	}
	if err = f.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: chmod: %w", name, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: close: %w", name, err)
	}
	if err = rename(tmp, target); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return syncDir(dir)
}

func statOf(f *os.File) (*syscall.Stat_t, bool) {
	fi, err := f.Stat()
	if err != nil {
		return nil, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return st, ok
}

// resolveLink follows symlinks at name (up to a limit) and returns the
// final path, which need not exist. A relative link target is resolved
// against the link's directory.
func resolveLink(name string) (string, error) {
	p := name
	for i := 0; i < 40; i++ {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return p, nil
		}
		t, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(p), t)
		}
		p = t
	}
	return "", &fs.PathError{Op: "write", Path: name, Err: errors.New("too many levels of symbolic links")}
}

// ResolveLink returns the file a write to name would replace: name itself,
// or the final target of the symlinks at name.
func ResolveLink(name string) (string, error) { return resolveLink(name) }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	// Some filesystems (and tmpfs on old kernels) reject fsync on a directory.
	if errors.Is(err, syscall.EINVAL) {
		return nil
	}
	return err
}

// lockTemp takes a flock on the temp file f through a duplicate of its
// descriptor, which outlives f.Close until the returned func runs: the
// kernel drops it when the writer dies, so a temp without it is a killed
// run's. Best effort: without the lock a concurrent CleanTemps could
// remove the temp, and the rename then fails; the original is intact.
func lockTemp(f *os.File) func() {
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return func() {}
	}
	if err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = syscall.Close(fd)
		return func() {}
	}
	return func() { _ = syscall.Close(fd) }
}

// cleaned holds a sync.Once per directory this process wrote to.
var cleaned sync.Map

// cleanOnce removes, before this process's first write to dir, the temp
// files a killed run left there: the run that finishes the job leaves
// none behind. Later writes to dir skip the scan; the Once also keeps a
// concurrent writer of this process from creating its temp mid-scan.
func cleanOnce(dir string) {
	o, _ := cleaned.LoadOrStore(dir, new(sync.Once))
	o.(*sync.Once).Do(func() { _ = CleanTemps(dir) })
}

// CleanTemps removes temp files a killed mcupdate run left in dir. A temp
// file another live run is writing (it holds its flock) is left alone.
func CleanTemps(dir string) error {
	matches, err := filepath.Glob(filepath.Join(dir, TempPrefix+"*"))
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range matches {
		if inUse(m) {
			continue
		}
		if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// inUse reports whether a live writer holds the flock of the temp file p.
func inUse(p string) bool {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	return errors.Is(syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB), syscall.EWOULDBLOCK)
}

// Change is one write a [Recorder] saw.
type Change struct {
	Op     string // "write", "remove", "mkdir", "chmod", "chown", "symlink"
	Path   string
	Data   []byte // new content, for "write"
	Perm   fs.FileMode
	Target string // for "symlink"
	UID    int
	GID    int
}

// Recorder is a [System] that writes nothing and records every write, for
// --dry-run. Reads through [Recorder.ReadFile] see the recorded content, so
// two edits of one file in a dry run compose as they would for real.
type Recorder struct {
	mu      sync.Mutex
	Changes []Change
	files   map[string][]byte
	removed map[string]bool
}

var _ System = (*Recorder)(nil)

func (r *Recorder) add(c Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Changes = append(r.Changes, c)
	if r.files == nil {
		r.files, r.removed = map[string][]byte{}, map[string]bool{}
	}
	switch c.Op {
	case "write":
		r.files[c.Path] = c.Data
		delete(r.removed, c.Path)
	case "remove":
		delete(r.files, c.Path)
		r.removed[c.Path] = true
	}
}

// ReadFile returns what name would hold after the recorded writes.
func (r *Recorder) ReadFile(name string) ([]byte, error) {
	r.mu.Lock()
	data, ok := r.files[name]
	gone := r.removed[name]
	r.mu.Unlock()
	if ok {
		return data, nil
	}
	if gone {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return os.ReadFile(name)
}

// Paths returns the sorted paths of the recorded writes.
func (r *Recorder) Paths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, c := range r.Changes {
		if !seen[c.Path] {
			seen[c.Path] = true
			out = append(out, c.Path)
		}
	}
	sort.Strings(out)
	return out
}

// WriteFile implements [System].
func (r *Recorder) WriteFile(name string, data []byte, perm fs.FileMode) error {
	r.add(Change{Op: "write", Path: name, Data: append([]byte(nil), data...), Perm: perm})
	return nil
}

// Remove implements [System].
func (r *Recorder) Remove(name string) error { r.add(Change{Op: "remove", Path: name}); return nil }

// MkdirAll implements [System].
func (r *Recorder) MkdirAll(name string, perm fs.FileMode) error {
	r.add(Change{Op: "mkdir", Path: name, Perm: perm})
	return nil
}

// Chmod implements [System].
func (r *Recorder) Chmod(name string, perm fs.FileMode) error {
	r.add(Change{Op: "chmod", Path: name, Perm: perm})
	return nil
}

// Lchown implements [System].
func (r *Recorder) Lchown(name string, uid, gid int) error {
	r.add(Change{Op: "chown", Path: name, UID: uid, GID: gid})
	return nil
}

// Symlink implements [System].
func (r *Recorder) Symlink(target, name string) error {
	r.add(Change{Op: "symlink", Path: name, Target: target})
	return nil
}

// Check is a [System] that refuses every write with [ErrWriteRefused]
// naming the path: verify runs apply through it, so a check can never
// change the server.
type Check struct{}

var _ System = Check{}

func refused(op, name string) error { return &fs.PathError{Op: op, Path: name, Err: ErrWriteRefused} }

// WriteFile implements [System].
func (Check) WriteFile(name string, _ []byte, _ fs.FileMode) error { return refused("write", name) }

// Remove implements [System].
func (Check) Remove(name string) error { return refused("remove", name) }

// MkdirAll implements [System].
func (Check) MkdirAll(name string, _ fs.FileMode) error { return refused("mkdir", name) }

// Chmod implements [System].
func (Check) Chmod(name string, _ fs.FileMode) error { return refused("chmod", name) }

// Lchown implements [System].
func (Check) Lchown(name string, _, _ int) error { return refused("chown", name) }

// Symlink implements [System].
func (Check) Symlink(_, name string) error { return refused("symlink", name) }
