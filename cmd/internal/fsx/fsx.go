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
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/mcupdate/mcupdate/cmd/internal/errlist"
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

// Real writes to disk. Every operation is made relative to a handle on a
// directory (os.Root), never by a path checked first and used later:
//
//   - below a directory given to [Confine] (the mailcow dir): a handle on
//     that directory; links are followed while they stay inside it, and a
//     write one would take outside fails with [ErrOutside];
//   - below a directory given to [ConfinePrivate] (the state dir): a handle
//     on that directory, and no link is followed at all;
//   - elsewhere (daemon.json, a metrics file): a handle on the name's own
//     directory.
//
// Outside a [Confine]d directory a link at the name written is replaced,
// never followed: a caller that means to write a link's target (a
// symlinked mailcow.conf, daemon.json) resolves it first with
// [ResolveLink], explicitly.
type Real struct{}

var _ System = Real{}

// WriteFile implements [System] with [WriteFileAtomic].
func (Real) WriteFile(name string, data []byte, perm fs.FileMode) error {
	return WriteFileAtomic(name, data, perm)
}

// Remove implements [System]: a link is removed, not its target.
func (Real) Remove(name string) error {
	t, err := locate(name)
	if err != nil {
		return err
	}
	defer t.Close()
	d, base, err := t.parent()
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if d != t.root {
		defer d.Close()
	}
	if err := d.Remove(base); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &fs.PathError{Op: "remove", Path: name, Err: UnwrapPath(escapeErr(name, err))}
	}
	return syncDir(d)
}

// MkdirAll implements [System].
func (Real) MkdirAll(name string, perm fs.FileMode) error {
	c, rel, err := where(name)
	if err != nil {
		return err
	}
	if c.policy == policyDir {
		// Below no confined directory: an admin's path such as
		// /etc/docker, created as os.MkdirAll does.
		return os.MkdirAll(name, perm)
	}
	t, err := locate(name)
	if err != nil {
		return err
	}
	defer t.Close()
	if c.policy == policyPrivate {
		return t.mkdirNoLinks(rel, perm)
	}
	if err := t.root.MkdirAll(rel, perm&fs.ModePerm); err != nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: UnwrapPath(escapeErr(name, err))}
	}
	return nil
}

// mkdirNoLinks creates rel and its parents below a private root, refusing
// a link on the way.
func (t *target) mkdirNoLinks(rel string, perm fs.FileMode) error {
	if rel == "." {
		return nil
	}
	p := ""
	for _, comp := range strings.Split(rel, string(filepath.Separator)) {
		p = filepath.Join(p, comp)
		fi, err := t.root.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			if err := t.root.Mkdir(p, perm&fs.ModePerm); err != nil && !errors.Is(err, fs.ErrExist) {
				return &fs.PathError{Op: "mkdir", Path: t.name, Err: UnwrapPath(err)}
			}
			fi, err = t.root.Lstat(p)
		}
		if err != nil {
			return &fs.PathError{Op: "mkdir", Path: t.name, Err: UnwrapPath(escapeErr(t.name, err))}
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return &fs.PathError{Op: "mkdir", Path: filepath.Join(t.c.dir, p), Err: ErrLink}
		}
		if !fi.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: filepath.Join(t.c.dir, p), Err: syscall.ENOTDIR}
		}
	}
	return nil
}

// Chmod implements [System]. Below a private directory a link is not
// followed: changing one is an error.
func (Real) Chmod(name string, perm fs.FileMode) error {
	t, err := locate(name)
	if err != nil {
		return err
	}
	defer t.Close()
	if t.c.policy != policyTree {
		if fi, err := t.root.Lstat(t.rel); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return &fs.PathError{Op: "chmod", Path: name, Err: ErrLink}
		}
	}
	if err := t.root.Chmod(t.rel, perm); err != nil {
		return &fs.PathError{Op: "chmod", Path: name, Err: UnwrapPath(escapeErr(name, err))}
	}
	return nil
}

// Lchown implements [System]. Changing to the owner a file already has is
// a no-op, so unprivileged runs (tests) work on their own files.
func (Real) Lchown(name string, uid, gid int) error {
	t, err := locate(name)
	if err != nil {
		return err
	}
	defer t.Close()
	fi, err := t.root.Lstat(t.rel)
	if err != nil {
		return &fs.PathError{Op: "lchown", Path: name, Err: UnwrapPath(escapeErr(name, err))}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == uid && int(st.Gid) == gid {
		return nil
	}
	if err := t.root.Lchown(t.rel, uid, gid); err != nil {
		return &fs.PathError{Op: "lchown", Path: name, Err: UnwrapPath(escapeErr(name, err))}
	}
	return nil
}

// Symlink implements [System]: the link is made beside name under a temp
// name and renamed over it, so name is never missing. A link (or file) at
// name is replaced, not followed.
func (Real) Symlink(target, name string) error {
	t, err := locate(name)
	if err != nil {
		return err
	}
	defer t.Close()
	d, base, err := t.parent()
	if err != nil {
		return err
	}
	if d != t.root {
		defer d.Close()
	}
	tmp := TempPrefix + base + "-link"
	_ = d.Remove(tmp)
	if err := d.Symlink(target, tmp); err != nil {
		return &fs.PathError{Op: "symlink", Path: name, Err: UnwrapPath(err)}
	}
	if err := d.Rename(tmp, base); err != nil {
		_ = d.Remove(tmp)
		return &fs.PathError{Op: "symlink", Path: name, Err: UnwrapPath(err)}
	}
	return syncDir(d)
}

// UnwrapPath returns the cause an *fs.PathError or *os.LinkError in err
// carries, without its operation and path, for a message that names the
// path itself; err when there is neither. An escape from a confined tree
// ([ErrOutside]) stays whole: its path is the one that escaped.
func UnwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && !errors.Is(err, ErrOutside) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// Seams overridden by tests to inject faults such as a full disk. Each
// works in the directory handle of the write.
var (
	createTemp = createTempIn
	writeTemp  = func(f *os.File, b []byte) (int, error) { return f.Write(b) }
	rename     = func(dir *os.Root, from, to string) error { return dir.Rename(from, to) }
)

// createTempIn creates a new file in dir named pattern with the "*"
// replaced by a random string, as os.CreateTemp does, but relative to the
// handle: O_EXCL, so neither a file nor a link already there is opened.
func createTempIn(dir *os.Root, pattern string) (*os.File, error) {
	prefix, suffix, _ := strings.Cut(pattern, "*")
	for try := 0; ; try++ {
		name := prefix + strconv.FormatUint(uint64(rand.Uint32()), 10) + suffix
		f, err := dir.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_CLOEXEC, 0o600)
		if errors.Is(err, fs.ErrExist) && try < 10000 {
			continue
		}
		return f, err
	}
}

// TempPrefix starts the name of every temp file mcupdate creates, so a
// leftover from a killed run can be recognised and removed.
const TempPrefix = ".mcupdate-tmp-"

// WriteFileAtomic writes data to name so that name holds either its old or
// its new content at every moment, also across a crash: temp file in the
// same directory (O_EXCL), write, fsync, chmod/chown to the original's
// mode and owner, rename, fsync of the directory; all of it relative to
// one handle on that directory (see [Real] for which directory and which
// links). A link at name is replaced, never followed, except inside a
// [Confine]d directory, where one that stays inside is followed and its
// target replaced. On error the temp file is removed and the original is
// untouched.
func WriteFileAtomic(name string, data []byte, perm fs.FileMode) (err error) {
	t, err := locate(name)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, UnwrapPath(err))
	}
	defer t.Close()
	if err := t.resolveFinal(); err != nil {
		return err
	}
	d, base, err := t.parent()
	if err != nil {
		return fmt.Errorf("write %s: %w", name, UnwrapPath(err))
	}
	if d != t.root {
		defer d.Close()
	}
	mode, uid, gid := perm, -1, -1
	if fi, statErr := d.Lstat(base); statErr == nil {
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			// Replaced: neither its target's mode nor owner is taken.
		case !fi.Mode().IsRegular():
			return &fs.PathError{Op: "write", Path: name, Err: errors.New("not a regular file")}
		default:
			mode = fi.Mode().Perm() | fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				uid, gid = int(st.Uid), int(st.Gid)
			}
		}
	} else if !errors.Is(statErr, fs.ErrNotExist) {
		return fmt.Errorf("write %s: %w", name, UnwrapPath(statErr))
	}
	cleanOnce(d)
	f, err := createTemp(d, TempPrefix+base+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	tmp := filepath.Base(f.Name())
	// The temp stays locked until it is renamed or removed, so that
	// CleanTemps in another process never takes it for a killed run's.
	unlock := lockTemp(f)
	defer unlock()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = d.Remove(tmp)
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
	if err = rename(d, tmp, base); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return syncDir(d)
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

// ResolveLink returns the file a link at name leads to: name itself, or
// the final target of the symlinks at name. For the callers that mean to
// write a link's target; [Real] never follows one on its own outside a
// [Confine]d directory.
func ResolveLink(name string) (string, error) { return resolveLink(name) }

// ResolveLink is [ResolveLink], for writers that take a System.
func (Real) ResolveLink(name string) (string, error) { return resolveLink(name) }

// ResolveLink is [ResolveLink].
func (*Recorder) ResolveLink(name string) (string, error) { return resolveLink(name) }

// ResolveLink is [ResolveLink].
func (Check) ResolveLink(name string) (string, error) { return resolveLink(name) }

func syncDir(d *os.Root) error {
	f, err := d.Open(".")
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
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

// cleanOnce removes, before this process's first write to the directory
// d, the temp files a killed run left there: the run that finishes the
// job leaves none behind. Later writes to it skip the scan; the Once also
// keeps a concurrent writer of this process from creating its temp
// mid-scan.
func cleanOnce(d *os.Root) {
	o, _ := cleaned.LoadOrStore(d.Name(), new(sync.Once))
	o.(*sync.Once).Do(func() { _ = cleanTempsIn(d) })
}

// CleanTemps removes temp files a killed mcupdate run left in dir. A temp
// file another live run is writing (it holds its flock) is left alone.
func CleanTemps(dir string) error {
	d, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer d.Close()
	return cleanTempsIn(d)
}

// Temps lists the temp files a killed mcupdate run left in dir (those no
// live run holds), for a check to report; it removes nothing.
func Temps(dir string) ([]string, error) {
	d, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := staleTemps(d)
	for i, n := range names {
		names[i] = filepath.Join(dir, n)
	}
	return names, err
}

func staleTemps(d *os.Root) ([]string, error) {
	f, err := d.Open(".")
	if err != nil {
		return nil, err
	}
	names, err := f.Readdirnames(-1)
	_ = f.Close()
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, TempPrefix) && !inUse(d, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func cleanTempsIn(d *os.Root) error {
	names, err := staleTemps(d)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if err := d.Remove(n); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errlist.Join(errs...)
}

// inUse reports whether a live writer holds the flock of the temp file
// name in d. A link is never opened.
func inUse(d *os.Root, name string) bool {
	if fi, err := d.Lstat(name); err != nil || !fi.Mode().IsRegular() {
		return false
	}
	f, err := d.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
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
