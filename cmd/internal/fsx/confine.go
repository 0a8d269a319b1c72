package fsx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// ErrOutside is wrapped by the error of a write that a link or ".." would
// take out of the directory confining it.
var ErrOutside = errors.New("leads outside the directory it is confined to")

// ErrLink is wrapped by the error of a write below a private directory
// that meets a symbolic link: none is followed there.
var ErrLink = errors.New("is a symbolic link: not followed")

// policy is how the writes below a directory are confined.
type policy int

const (
	// policyDir is a write below no confined directory: made relative to
	// a handle on the name's own directory; a link at the name is
	// replaced, never followed.
	policyDir policy = iota
	// policyTree (Confine): made relative to a handle on the confined
	// directory; links are followed while they stay inside it.
	policyTree
	// policyPrivate (ConfinePrivate): made relative to a handle on the
	// confined directory, which must still be the directory that was
	// confined; no link is followed, a link at the name is replaced.
	policyPrivate
)

// confinement is one confined directory.
type confinement struct {
	dir      string // absolute and clean
	policy   policy
	dev, ino uint64 // policyPrivate: the directory when it was confined
}

var (
	confMu   sync.RWMutex
	confined = map[string]confinement{}
)

// Confine makes every later write of a [Real] (and of every System that
// writes through one) to a name below dir go through a handle on dir
// (os.Root): a link, a ".." or a directory swapped for a link in the
// middle of a write cannot take it outside dir. Links inside dir are
// followed as long as they stay inside; a write they would lead out of
// dir fails with [ErrOutside]. mcupdate confines the mailcow dir this way
// before it writes there, so the rule holds for every package that
// writes into it, whatever path it computed.
func Confine(dir string) error { return confine(dir, policyTree) }

// ConfinePrivate is [Confine] for a directory nobody but mcupdate may
// change (the state dir): no link at or below dir is ever followed (a
// link at a name written is replaced, a link as a directory on the way is
// an error wrapping [ErrLink]), and a write fails when dir is no longer
// the directory it was when confined.
func ConfinePrivate(dir string) error { return confine(dir, policyPrivate) }

func confine(dir string, p policy) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	c := confinement{dir: abs, policy: p}
	if p == policyPrivate {
		st, err := dirIdentity(abs)
		if err != nil {
			return err
		}
		c.dev, c.ino = uint64(st.Dev), st.Ino
	}
	confMu.Lock()
	defer confMu.Unlock()
	if old, ok := confined[abs]; ok && old.policy == policyPrivate && p == policyTree {
		return nil // never loosened
	}
	confined[abs] = c
	return nil
}

// dirIdentity opens dir without following a link at it and returns its
// stat.
func dirIdentity(dir string) (*syscall.Stat_t, error) {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENOTDIR) {
			if fi, lerr := os.Lstat(dir); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
				return nil, &fs.PathError{Op: "open", Path: dir, Err: ErrLink}
			}
		}
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: dir, Err: err}
	}
	return &st, nil
}

// where returns the confinement of name and name relative to its
// directory. A name below no confined directory gets policyDir on its
// own directory.
func where(name string) (confinement, string, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return confinement{}, "", err
	}
	var best confinement
	found := false
	confMu.RLock()
	for d, c := range confined {
		if (abs == d || strings.HasPrefix(abs, d+string(filepath.Separator)) || d == "/") && len(d) >= len(best.dir) {
			best, found = c, true
		}
	}
	confMu.RUnlock()
	if !found {
		return confinement{dir: filepath.Dir(abs), policy: policyDir}, filepath.Base(abs), nil
	}
	rel, err := filepath.Rel(best.dir, abs)
	if err != nil {
		return confinement{}, "", err
	}
	return best, rel, nil
}

// open returns a handle on the confined directory.
func (c confinement) open() (*os.Root, error) {
	if c.policy == policyPrivate {
		// Opened without following a link, and checked to be the
		// directory that was confined.
		st, err := dirIdentity(c.dir)
		if err != nil {
			return nil, err
		}
		if uint64(st.Dev) != c.dev || st.Ino != c.ino {
			return nil, &fs.PathError{Op: "open", Path: c.dir, Err: errors.New("replaced since it was checked: not written")}
		}
	}
	return os.OpenRoot(c.dir)
}

// escapeErr turns os.Root's refusal of a path that leaves it into an
// error wrapping ErrOutside.
func escapeErr(name string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Err != nil && pe.Err.Error() == "path escapes from parent" {
		return &fs.PathError{Op: pe.Op, Path: name, Err: ErrOutside}
	}
	return err
}

// target is where one operation lands: a handle on the confined
// directory (or the name's directory) and the name relative to it.
type target struct {
	c    confinement
	root *os.Root
	rel  string
	name string // as the caller gave it, for errors
}

// locate opens the handle for an operation on name.
func locate(name string) (*target, error) {
	c, rel, err := where(name)
	if err != nil {
		return nil, err
	}
	root, err := c.open()
	if err != nil {
		return nil, err
	}
	t := &target{c: c, root: root, rel: rel, name: name}
	if c.policy == policyPrivate {
		if err := t.noLinksOnTheWay(); err != nil {
			root.Close()
			return nil, err
		}
	}
	return t, nil
}

func (t *target) Close() { _ = t.root.Close() }

// noLinksOnTheWay refuses a link as a directory between a private root
// and the name: os.Root would follow one that stays inside.
func (t *target) noLinksOnTheWay() error {
	dir := filepath.Dir(t.rel)
	if dir == "." {
		return nil
	}
	p := ""
	for _, comp := range strings.Split(dir, string(filepath.Separator)) {
		p = filepath.Join(p, comp)
		fi, err := t.root.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return escapeErr(t.name, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return &fs.PathError{Op: "write", Path: filepath.Join(t.c.dir, p), Err: ErrLink}
		}
	}
	return nil
}

// resolveFinal follows a link at the name while it stays inside a tree
// root (policyTree only; elsewhere a link at the name is replaced). A
// link that leads out is an error wrapping ErrOutside.
func (t *target) resolveFinal() error {
	if t.c.policy != policyTree {
		return nil
	}
	for i := 0; i < 40; i++ {
		fi, err := t.root.Lstat(t.rel)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return escapeErr(t.name, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return nil
		}
		l, err := t.root.Readlink(t.rel)
		if err != nil {
			return escapeErr(t.name, err)
		}
		var next string
		if filepath.IsAbs(l) {
			r, err := filepath.Rel(t.c.dir, filepath.Clean(l))
			if err != nil {
				return &fs.PathError{Op: "write", Path: t.name, Err: ErrOutside}
			}
			next = r
		} else {
			next = filepath.Join(filepath.Dir(t.rel), l)
		}
		if next == ".." || strings.HasPrefix(next, ".."+string(filepath.Separator)) || filepath.IsAbs(next) {
			return &fs.PathError{Op: "write", Path: t.name, Err: fmt.Errorf("link to %s: %w", l, ErrOutside)}
		}
		t.rel = next
	}
	return &fs.PathError{Op: "write", Path: t.name, Err: errors.New("too many levels of symbolic links")}
}

// parent opens a handle on the directory holding the name, and returns
// it with the name's base. The caller closes it unless it is t.root.
func (t *target) parent() (*os.Root, string, error) {
	dir, base := filepath.Dir(t.rel), filepath.Base(t.rel)
	if t.rel == "." || base == ".." {
		return nil, "", &fs.PathError{Op: "write", Path: t.name, Err: errors.New("not a file name")}
	}
	if dir == "." {
		return t.root, base, nil
	}
	d, err := t.root.OpenRoot(dir)
	if err != nil {
		return nil, "", escapeErr(t.name, err)
	}
	return d, base, nil
}
