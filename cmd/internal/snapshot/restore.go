package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/errlist"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/suggest"
)

// RestoreResult says what [Restore] did.
type RestoreResult struct {
	ID        string
	Restored  []string // paths written (content, link, mode or owner)
	Unchanged []string // paths already as in the snapshot
	Notes     []string // things a person should know, one sentence each
}

// ErrNotInSnapshot is wrapped by a [NotInSnapshotError].
var ErrNotInSnapshot = errors.New("not in the snapshot")

// NotInSnapshotError is a path asked for that the snapshot does not hold.
type NotInSnapshotError struct {
	Path    string
	ID      string
	Nearest []string // the snapshot's closest names, best first
}

func (e *NotInSnapshotError) Error() string {
	s := fmt.Sprintf("%s: %v %s", e.Path, ErrNotInSnapshot, e.ID)
	if len(e.Nearest) > 0 {
		s += "; nearest: " + strings.Join(e.Nearest, ", ")
	}
	return s
}

// Unwrap lets errors.Is find [ErrNotInSnapshot].
func (e *NotInSnapshotError) Unwrap() error { return ErrNotInSnapshot }

// Restore puts the snapshot id's files (or only paths, each a file or a
// directory prefix) back under mailcowDir, with their mode, owner and
// group. Files already as recorded are not written. Every path is checked
// before anything is written: a manifest path that is absolute, has ..,
// or whose parent directories are links leading outside mailcowDir stops
// the whole restore. An object that fails its sha256 check leaves its
// file untouched; the other files are restored and the error names it.
//
// The checks give clear errors; what keeps the writes inside is that each
// is made through a handle on the mailcow dir ([fsx.Confine]): a parent
// swapped for a link between the check and the write fails the write.
func Restore(sys fsx.System, store, id, mailcowDir string, paths []string) (*RestoreResult, error) {
	if err := fsx.Confine(mailcowDir); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	m, err := Load(store, id)
	if err != nil {
		return nil, err
	}
	sel, err := selectEntries(m, paths)
	if err != nil {
		return nil, err
	}
	root, err := filepath.EvalSymlinks(mailcowDir)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	for _, e := range sel {
		if err := checkSafe(root, mailcowDir, e.Path); err != nil {
			return nil, err
		}
	}
	r := &restorer{sys: sys, store: store, dir: mailcowDir, root: root, res: &RestoreResult{ID: m.ID}}
	var errs []error
	for _, e := range sel {
		if err := r.entry(e); err != nil {
			errs = append(errs, err)
		}
	}
	return r.res, errlist.Join(errs...)
}

func selectEntries(m *Manifest, paths []string) ([]Entry, error) {
	if len(paths) == 0 {
		return m.Entries, nil
	}
	var out []Entry
	taken := map[string]bool{}
	var errs []error
	for _, p := range paths {
		want := path.Clean(strings.TrimPrefix(filepath.ToSlash(p), "./"))
		n := 0
		for _, e := range m.Entries {
			if e.Path == want || strings.HasPrefix(e.Path, want+"/") {
				n++
				if !taken[e.Path] {
					taken[e.Path] = true
					out = append(out, e)
				}
			}
		}
		if n == 0 {
			errs = append(errs, &NotInSnapshotError{Path: p, ID: m.ID, Nearest: nearest(want, m.Entries, 3)})
		}
	}
	if len(errs) > 0 {
		return nil, errlist.Join(errs...)
	}
	sortEntries(out)
	return out, nil
}

// nearest returns up to n entry paths closest to p, as a whole path or,
// for someone who typed only a file name, by its base.
func nearest(p string, es []Entry, n int) []string {
	paths := make([]string, len(es))
	for i, e := range es {
		paths[i] = e.Path
	}
	return suggest.NearestPath(p, paths, n)
}

// CheckPath refuses rel as [Restore] does: absolute, with .., or below a
// directory link that resolves outside mailcowDir. For a write beside a
// file Restore will put back, such as the post hook's copy of update.sh's
// version.
func CheckPath(mailcowDir, rel string) error {
	root, err := filepath.EvalSymlinks(mailcowDir)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return checkSafe(root, mailcowDir, rel)
}

// checkSafe refuses rel if it could lead a write outside the mailcow dir:
// absolute, with .., or below a directory link that resolves outside
// root (the mailcow dir with its own links resolved). Missing parents are
// fine: they are created as real directories.
func checkSafe(root, mailcowDir, rel string) error {
	if err := checkRel(rel); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	comps := strings.Split(rel, "/")
	for i := 1; i < len(comps); i++ {
		d := strings.Join(comps[:i], "/")
		abs := filepath.Join(mailcowDir, filepath.FromSlash(d))
		fi, err := os.Lstat(abs)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("restore %s: %w", rel, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			res, err := filepath.EvalSymlinks(abs)
			if err != nil {
				return fmt.Errorf("restore %q: parent %s is a link that does not resolve: it may lead %w", rel, d, fsx.ErrUnsafePath)
			}
			if _, ok := inside(root, res); !ok {
				return fmt.Errorf("restore %q: parent %s is a link to %s: it leads %w", rel, d, res, fsx.ErrUnsafePath)
			}
			fi, err = os.Stat(abs)
			if err != nil {
				return fmt.Errorf("restore %s: %w", rel, err)
			}
		}
		if !fi.IsDir() {
			return fmt.Errorf("restore %s: parent %s is not a directory", rel, d)
		}
	}
	return nil
}

type restorer struct {
	sys   fsx.System
	store string
	dir   string
	root  string
	res   *RestoreResult
}

func (r *restorer) note(format string, args ...any) {
	r.res.Notes = append(r.res.Notes, fmt.Sprintf(format, args...))
}

func (r *restorer) entry(e Entry) error {
	// Checked again right before the write: an earlier entry may have
	// changed the tree.
	if err := checkSafe(r.root, r.dir, e.Path); err != nil {
		return err
	}
	abs := filepath.Join(r.dir, filepath.FromSlash(e.Path))
	var data []byte
	if e.SHA256 != "" {
		var err error
		if data, err = ReadObject(r.store, e.SHA256); err != nil {
			return fmt.Errorf("restore %s: %w", e.Path, err)
		}
	}
	cur, err := os.Lstat(abs)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("restore %s: %w", e.Path, err)
	}
	if cur != nil && cur.IsDir() {
		return fmt.Errorf("restore %s: a directory is there now; not replaced", abs)
	}
	if cur == nil {
		if err := r.sys.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			return fmt.Errorf("restore %s: %w", e.Path, err)
		}
	}
	var changed bool
	if e.Type == TypeFile {
		changed, err = r.file(e, abs, cur, data)
	} else {
		changed, err = r.link(e, abs, cur, data)
	}
	if err != nil {
		return err
	}
	if changed {
		r.res.Restored = append(r.res.Restored, e.Path)
	} else {
		r.res.Unchanged = append(r.res.Unchanged, e.Path)
	}
	return nil
}

func (r *restorer) file(e Entry, abs string, cur fs.FileInfo, data []byte) (bool, error) {
	fresh := cur == nil
	if cur != nil && !cur.Mode().IsRegular() {
		// Never write through whatever is there (a link could lead
		// anywhere): remove it, then create the file.
		if err := r.sys.Remove(abs); err != nil {
			return false, fmt.Errorf("restore %s: %w", e.Path, err)
		}
		fresh = true
	}
	changed := fresh
	if !fresh {
		old, _, err := readRegular(abs, e.Size+1)
		if err != nil || !bytes.Equal(old, data) {
			changed = true
		}
	}
	if changed {
		if err := r.sys.WriteFile(abs, data, e.Mode.FileMode()); err != nil {
			return false, fmt.Errorf("restore %s: %w", e.Path, err)
		}
	}
	metaChanged, err := r.meta(e, abs, cur, fresh, false)
	return changed || metaChanged, err
}

// meta sets mode, owner and group where they differ from cur (nil or
// replaced when fresh). Owner first: chown clears setuid and setgid, so
// the mode is set again after any chown.
func (r *restorer) meta(e Entry, abs string, cur fs.FileInfo, fresh, linkOnly bool) (bool, error) {
	uid, gid, mode := -1, -1, Mode(0)
	if !fresh {
		uid, gid = owner(cur)
		mode = ModeOf(cur.Mode())
	}
	ownerDiff := fresh || uid != e.UID || gid != e.GID
	if ownerDiff {
		if err := r.sys.Lchown(abs, e.UID, e.GID); err != nil {
			return false, fmt.Errorf("restore %s: owner %d:%d: %w", e.Path, e.UID, e.GID, err)
		}
	}
	if linkOnly {
		return ownerDiff && !fresh, nil
	}
	modeDiff := fresh || mode != e.Mode
	if modeDiff || ownerDiff {
		if err := r.sys.Chmod(abs, e.Mode.FileMode()); err != nil {
			return false, fmt.Errorf("restore %s: mode %s: %w", e.Path, e.Mode, err)
		}
	}
	return !fresh && (ownerDiff || modeDiff), nil
}

func (r *restorer) link(e Entry, abs string, cur fs.FileInfo, data []byte) (bool, error) {
	intact := false
	if cur != nil && cur.Mode()&fs.ModeSymlink != 0 {
		if t, err := os.Readlink(abs); err == nil && t == e.Target {
			intact = true
		}
	}
	changed := false
	if !intact {
		if err := r.sys.Symlink(e.Target, abs); err != nil {
			return false, fmt.Errorf("restore %s: %w", e.Path, err)
		}
		changed = true
		if !e.TargetOutside {
			if _, err := r.meta(e, abs, cur, true, true); err != nil {
				return false, err
			}
		}
	} else if !e.TargetOutside {
		if c, err := r.meta(e, abs, cur, false, true); err != nil {
			return false, err
		} else if c {
			changed = true
		}
	}
	if !e.TargetOutside {
		if changed && r.outside(abs) {
			r.note("%s: link to %s restored; that file is outside the mailcow dir and mcupdate does not write there", e.Path, e.Target)
		}
		return changed, nil
	}
	if !intact {
		// The content belongs to a file outside the mailcow dir; write it
		// only through a link the admin made, never one this run made.
		r.note("%s: link restored to %s; the content of that file (outside the mailcow dir) was not written: object %s holds it", e.Path, e.Target, e.SHA256)
		return changed, nil
	}
	if e.Path != patch.LinkedFile {
		// An older snapshot kept the content of a link leading out:
		// never written through (only mailcow.conf is, as update.sh does).
		r.note("%s: a link to %s, outside the mailcow dir: its content was not written (mcupdate writes outside the mailcow dir only through mailcow.conf's link): object %s holds it", e.Path, e.Target, e.SHA256)
		return changed, nil
	}
	target, err := fsx.ResolveLink(abs)
	if err != nil {
		return changed, fmt.Errorf("restore %s: %w", e.Path, err)
	}
	if _, err := os.Lstat(target); errors.Is(err, fs.ErrNotExist) {
		r.note("%s: link target %s is missing; its content was not written: object %s holds it", e.Path, e.Target, e.SHA256)
		return changed, nil
	}
	old, tfi, err := readRegular(target, e.Size+1)
	if err != nil || !bytes.Equal(old, data) {
		if err := r.sys.WriteFile(target, data, e.Mode.FileMode()); err != nil {
			return changed, fmt.Errorf("restore %s (through link %s): %w", target, e.Path, err)
		}
		changed = true
	}
	if tfi != nil && ModeOf(tfi.Mode()) != e.Mode {
		if err := r.sys.Chmod(target, e.Mode.FileMode()); err != nil {
			return changed, fmt.Errorf("restore %s (through link %s): mode: %w", target, e.Path, err)
		}
		changed = true
	}
	return changed, nil
}

// outside reports whether the link at abs leads outside the mailcow dir.
func (r *restorer) outside(abs string) bool {
	t, err := filepath.EvalSymlinks(abs)
	if err != nil {
		t, err = fsx.ResolveLink(abs)
		if err != nil {
			return true
		}
	}
	_, in := inside(r.root, t)
	return !in
}
