package replay

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/snapshot"
	"github.com/mcupdate/mcupdate/cmd/internal/verify"
)

// localState is what --local DIR brings into the replay: the install's
// edits of tracked files and its gitignored overrides. DIR is only read.
type localState struct {
	dir  string
	base string // the upstream commit the install's files are compared with
	// files are the tracked files whose content differs from base.
	files []localFile
	// The overrides: snapshot id in store.
	store, id string
	source    string // for the report: where the overrides came from
}

type localFile struct {
	path    string // relative, slash-separated
	data    []byte
	link    string // a symlink's target; data is then nil
	mode    fs.FileMode
	deleted bool
}

// readLocal reads the install in dir. Its overrides come from the last
// snapshot in adminStore when that snapshot is of dir, else from dir's
// gitignored files under the configured snapshot paths and dirs, copied
// into scratchStore.
func (r *replayer) readLocal(ctx context.Context, dir, adminStore, scratchStore string) (*localState, error) {
	abs, err := mailcowCheckout(dir)
	if err != nil {
		return nil, err
	}
	branch, err := r.localBranch(ctx, abs)
	if err != nil {
		return nil, err
	}
	cs, err := verify.FindCustomizations(abs, branch)
	if err != nil {
		return nil, inputf("--local %s: cannot read the checkout's changes: %w", abs, err)
	}
	ls := &localState{dir: abs, base: cs.Base}
	for _, c := range cs.Files {
		lf, err := readLocalFile(abs, c)
		if err != nil {
			return nil, err
		}
		ls.files = append(ls.files, lf)
	}
	if ls.store, ls.id, ls.source, err = r.localOverrides(abs, adminStore, scratchStore); err != nil {
		return nil, err
	}
	return ls, nil
}

// mailcowCheckout returns dir made absolute, after checking that it is
// a directory with a .git and a docker-compose.yml.
func mailcowCheckout(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", inputf("--local %s: %v", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", inputf("--local %s: %v", abs, fsx.UnwrapPath(err))
	}
	if !fi.IsDir() {
		return "", inputf("--local %s: not a directory", abs)
	}
	for _, need := range []string{".git", "docker-compose.yml"} {
		if _, err := os.Lstat(filepath.Join(abs, need)); err != nil {
			return "", inputf("--local %s: not a mailcow git checkout: %s: %v", abs, need, fsx.UnwrapPath(err))
		}
	}
	return abs, nil
}

// localBranch is the branch the install's files are compared on: the
// configured one, else the checkout's current one, else master.
func (r *replayer) localBranch(ctx context.Context, abs string) (string, error) {
	if r.cfg.Branch != "" {
		return r.cfg.Branch, nil
	}
	// Read-only: symbolic-ref never writes the index.
	b, err := r.git.run(ctx, abs, "symbolic-ref", "-q", "--short", "HEAD")
	if isCanceled(err) {
		return "", err
	}
	if err != nil || b == "" {
		b = "master"
	}
	return b, nil
}

// readLocalFile reads the install's version of a changed tracked file:
// its content and mode, a symlink's target, or that it is deleted.
func readLocalFile(abs string, c verify.Customization) (localFile, error) {
	lf := localFile{path: c.File, deleted: c.Deleted}
	if c.Deleted {
		return lf, nil
	}
	p := filepath.Join(abs, filepath.FromSlash(c.File))
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		lf.deleted = true
	case err != nil:
		return lf, inputf("--local %s: cannot read %s: %v", abs, c.File, fsx.UnwrapPath(err))
	case fi.Mode()&fs.ModeSymlink != 0:
		if lf.link, err = os.Readlink(p); err != nil {
			return lf, inputf("--local %s: cannot read %s: %v", abs, c.File, fsx.UnwrapPath(err))
		}
	case !fi.Mode().IsRegular():
		return lf, inputf("--local %s: %s is not a regular file", abs, c.File)
	default:
		if lf.data, err = os.ReadFile(p); err != nil {
			return lf, inputf("--local %s: cannot read %s: %v", abs, c.File, fsx.UnwrapPath(err))
		}
		lf.mode = 0o644
		if fi.Mode()&0o111 != 0 {
			lf.mode = 0o755
		}
	}
	return lf, nil
}

// localOverrides finds the install's overrides: the last snapshot in
// adminStore when it is of abs, else a copy of abs's gitignored files
// under the configured snapshot paths and dirs, made in scratchStore.
// source says, for the report, which.
func (r *replayer) localOverrides(abs, adminStore, scratchStore string) (store, id, source string, err error) {
	if m, err := snapshot.Load(adminStore, snapshot.Latest); err == nil && filepath.Clean(m.MailcowDir) == abs {
		return adminStore, m.ID, fmt.Sprintf("snapshot %s in %s", m.ID, adminStore), nil
	} else if err != nil && !errors.Is(err, snapshot.ErrNotFound) && !errors.Is(err, fs.ErrNotExist) {
		r.warnf("--local: the last snapshot in %s cannot be read (%v): copying the overrides from %s instead", adminStore, err, abs)
	}
	m, err := snapshot.Create(scratchSys{}, snapshot.Options{
		MailcowDir: abs, Store: scratchStore, Paths: r.cfg.SnapshotPaths, Dirs: r.cfg.SnapshotDirs, Now: r.now(),
	})
	if m == nil {
		return "", "", "", inputf("--local %s: cannot copy the overrides: %v", abs, err)
	}
	for _, sk := range m.Skipped {
		r.warnf("--local: override %s not copied: %s", sk.Path, sk.Reason)
	}
	return scratchStore, m.ID, fmt.Sprintf("%d gitignored files of %s", len(m.Entries), abs), nil
}

// writeTo puts the install's tracked edits into the scratch work tree.
func (ls *localState) writeTo(work string) error {
	for _, f := range ls.files {
		p := filepath.Join(work, filepath.FromSlash(f.path))
		if err := os.RemoveAll(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if f.deleted {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if f.link != "" {
			if err := os.Symlink(f.link, p); err != nil {
				return err
			}
			continue
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}
