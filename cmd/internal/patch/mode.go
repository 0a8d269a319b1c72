package patch

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

// KindMode sets the permissions or owner of a file or, recursively, a
// directory tree; it changes no content.
const KindMode Kind = "mode"

func init() { register(KindMode, modeKind{}) }

type modeKind struct{}

// ownerValue is a mode edit's owner: UID or UID:GID.
var ownerValue = regexp.MustCompile(`^([0-9]+)(?::([0-9]+))?$`)

func (modeKind) keys() []string { return []string{"mode", "owner", "recursive"} }

func (modeKind) parse(e *Edit, s *editSection) {
	e.Recursive = s.boolean("recursive")
	_, hasMode := s.get("mode")
	o, hasOwner := s.get("owner")
	if !hasMode && !hasOwner {
		s.errorf("", "kind mode needs mode, owner or both")
	}
	if m, ok := s.perm("mode", "0775"); ok {
		e.Perm, e.HasPerm = m, true
	}
	if hasOwner {
		m := ownerValue.FindStringSubmatch(o)
		if m == nil {
			s.errorf("owner", "owner = %q: want UID or UID:GID (numbers: names differ inside the containers)", o)
		} else {
			e.UID, _ = strconv.Atoi(m[1])
			if m[2] != "" {
				e.GID, _ = strconv.Atoi(m[2])
			}
		}
	}
}

func (modeKind) check(*boundEdit, *binding) {}

// apply is never called: [Apply] plans a mode edit's changes instead.
func (modeKind) apply(_ string, be *boundEdit) (string, error) {
	return "", fmt.Errorf("%w: kind %q", ErrSyntax, be.Kind)
}

func (modeKind) plan(abs string, be *boundEdit) ([]modeOp, error) { return planModes(abs, be) }

// modeOp is one chmod or chown of a mode edit, with what to restore.
type modeOp struct {
	path           string
	chmod, chown   bool
	perm, oldPerm  fs.FileMode
	uid, gid       int
	oldUID, oldGID int
}

func (o modeOp) do(w Writer) error {
	// chown first: it clears setuid and setgid bits.
	if o.chown {
		if err := w.Lchown(o.path, o.uid, o.gid); err != nil {
			return err
		}
	}
	if o.chmod {
		return w.Chmod(o.path, o.perm)
	}
	return nil
}

func (o modeOp) undo(w Writer) error {
	var errs []error
	if o.chown {
		errs = append(errs, w.Lchown(o.path, o.oldUID, o.oldGID))
	}
	if o.chmod {
		errs = append(errs, w.Chmod(o.path, o.oldPerm))
	}
	return joinErrs(errs)
}

const permMask = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// planModes lists the chmod and chown a mode edit needs. Recursively,
// directories get mode and files get it without the execute bits (as
// chmod's X does); symlinks are left alone, so nothing outside is reached.
func planModes(abs string, be *boundEdit) ([]modeOp, error) {
	fi, err := lstat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrFileMissing
	}
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("path %w: it is a symlink; name its target", fsx.ErrUnsafePath)
	}
	var ops []modeOp
	visit := func(p string, fi fs.FileInfo) {
		op := modeOp{path: p, oldPerm: fi.Mode() & permMask, oldUID: -1, oldGID: -1}
		if be.HasPerm {
			want := fsx.FileMode(be.Perm)
			if !fi.IsDir() {
				want &^= 0o111
			}
			if fi.Mode()&permMask != want {
				op.chmod, op.perm = true, want
			}
		}
		if be.UID >= 0 {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				op.oldUID, op.oldGID = int(st.Uid), int(st.Gid)
				gid := be.GID
				if gid < 0 {
					gid = int(st.Gid)
				}
				if int(st.Uid) != be.UID || int(st.Gid) != gid {
					op.chown, op.uid, op.gid = true, be.UID, gid
				}
			}
		}
		if op.chmod || op.chown {
			ops = append(ops, op)
		}
	}
	if !be.Recursive || !fi.IsDir() {
		visit(abs, fi)
		return ops, nil
	}
	err = walkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		visit(p, fi)
		return nil
	})
	return ops, err
}

// describeModes renders mode changes for people, a line each, like a diff.
func describeModes(root string, ops []modeOp) string {
	var b strings.Builder
	for i, op := range ops {
		if i == 20 {
			fmt.Fprintf(&b, "... and %d more\n", len(ops)-i)
			break
		}
		rel, err := filepath.Rel(root, op.path)
		if err != nil {
			rel = op.path
		}
		if op.chmod {
			fmt.Fprintf(&b, "chmod %s %04o -> %04o\n", rel, fsx.UnixMode(op.oldPerm), fsx.UnixMode(op.perm))
		}
		if op.chown {
			fmt.Fprintf(&b, "chown %s %d:%d -> %d:%d\n", rel, op.oldUID, op.oldGID, op.uid, op.gid)
		}
	}
	return b.String()
}
