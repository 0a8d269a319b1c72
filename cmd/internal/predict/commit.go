package predict

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
)

// beforeUpdateHere is beforeUpdate without a git process, for a plain
// install (see plainInstall): the Before update commit's tree is the
// upstream base's with the work tree's changes against it (the ledger
// scan's), written into the scratch object directory as git add -u,
// write-tree and commit-tree would write it. known is false where only
// git can make it.
func beforeUpdateHere(ctx context.Context, opt Options, scratchObjects string) (commit string, known bool, err error) {
	if !plainInstall(opt) {
		return "", false, nil
	}
	repo := opt.Repo
	head, err := repo.Git().DiffTree(ctx, opt.Base, opt.Head, "")
	if err != nil {
		return "", false, nil
	}
	ours := map[string]byte{}
	for _, c := range opt.Set.Changes {
		ours[c.Path] = c.Status
	}
	dirty, known := uncommitted(repo, opt, ours, head)
	if !known {
		return "", false, nil
	}
	if !dirty {
		return opt.Head, true, nil
	}
	changes := map[string]*treeFile{}
	for p, st := range ours {
		if attributed(repo, opt, p) {
			return "", false, nil
		}
		if st == 'D' {
			changes[p] = nil
			continue
		}
		full := filepath.Join(opt.Dir, filepath.FromSlash(p))
		fi, err := os.Lstat(full)
		if err != nil || !fi.Mode().IsRegular() {
			return "", false, nil
		}
		data, err := os.ReadFile(full)
		if err != nil {
			return "", false, nil
		}
		f := &treeFile{data: data, mode: filemode.Regular}
		if fi.Mode()&0o111 != 0 {
			f.mode = filemode.Executable
		}
		changes[p] = f
	}
	base, err := repo.ResolveCommit(opt.Base)
	if err != nil {
		return "", false, nil
	}
	w := objectWriter{dir: scratchObjects}
	tree, _, ok, err := w.tree(repo, base.TreeHash, "", changes)
	if err != nil || !ok {
		return "", ok, err
	}
	// What the scratch's commit-tree writes: the isolated identity, now.
	now := time.Now()
	who := fmt.Sprintf("mcupdate <mcupdate@localhost> %d %s", now.Unix(), now.Format("-0700"))
	c := fmt.Sprintf("tree %s\nparent %s\nauthor %s\ncommitter %s\n\nBefore update\n", tree, opt.Head, who, who)
	h, err := w.write(plumbing.CommitObject, []byte(c))
	if err != nil {
		return "", false, err
	}
	return h.String(), true, nil
}

// treeFile is a file of a tree being written.
type treeFile struct {
	data []byte
	mode filemode.FileMode
}

// objectWriter writes loose objects into an object directory.
type objectWriter struct{ dir string }

// tree writes the tree h (the zero hash for none) at prefix with changes
// (path → the file, nil to remove it) made below it, as write-tree
// writes an index: directories left empty are left out. empty reports a
// tree with no entries; ok is false where a change is not a plain file
// change (a file where a directory stays, a link or submodule to keep).
func (w objectWriter) tree(repo *gitx.Repo, h plumbing.Hash, prefix string, changes map[string]*treeFile) (_ plumbing.Hash, empty, ok bool, err error) {
	entries := map[string]object.TreeEntry{}
	if !h.IsZero() {
		t, err := repo.TreeObject(h)
		if err != nil {
			return plumbing.ZeroHash, false, false, err
		}
		for _, e := range t.Entries {
			entries[e.Name] = e
		}
	}
	files := map[string]*treeFile{}
	dirs := map[string]map[string]*treeFile{} // name → its changes, by full path
	for p, f := range changes {
		rest, found := strings.CutPrefix(p, prefix)
		if !found {
			continue
		}
		name, _, isDir := strings.Cut(rest, "/")
		if !isDir {
			files[name] = f
			continue
		}
		if dirs[name] == nil {
			dirs[name] = map[string]*treeFile{}
		}
		dirs[name][p] = f
	}
	for name, sub := range dirs {
		var from plumbing.Hash
		if e, had := entries[name]; had && e.Mode == filemode.Dir {
			from = e.Hash
		} else if had {
			// A file where the changes make a directory: it must go.
			if f, gone := files[name]; !gone || f != nil {
				return plumbing.ZeroHash, false, false, nil
			}
		}
		th, subEmpty, ok, err := w.tree(repo, from, prefix+name+"/", sub)
		if err != nil || !ok {
			return plumbing.ZeroHash, false, ok, err
		}
		switch {
		case !subEmpty:
			entries[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: th}
		case !from.IsZero():
			delete(entries, name)
		}
	}
	for name, f := range files {
		if e, had := entries[name]; had && e.Mode == filemode.Dir {
			if f == nil {
				continue // the file that stood here went; a directory took its place
			}
			return plumbing.ZeroHash, false, false, nil // a file where a directory stays
		}
		if f == nil {
			delete(entries, name)
			continue
		}
		bh, err := w.write(plumbing.BlobObject, f.data)
		if err != nil {
			return plumbing.ZeroHash, false, false, err
		}
		entries[name] = object.TreeEntry{Name: name, Mode: f.mode, Hash: bh}
	}
	if len(entries) == 0 && prefix != "" {
		return plumbing.ZeroHash, true, true, nil
	}
	list := make([]object.TreeEntry, 0, len(entries))
	for _, e := range entries {
		list = append(list, e)
	}
	// git's order: a directory's name sorts as if it ended in a slash.
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(list, func(i, j int) bool { return key(list[i]) < key(list[j]) })
	var b bytes.Buffer
	for _, e := range list {
		b.WriteString(strconv.FormatUint(uint64(e.Mode), 8))
		b.WriteByte(' ')
		b.WriteString(e.Name)
		b.WriteByte(0)
		b.Write(e.Hash[:])
	}
	th, err := w.write(plumbing.TreeObject, b.Bytes())
	return th, len(list) == 0, true, err
}

// write stores an object loose, as git does, and returns its id.
func (w objectWriter) write(t plumbing.ObjectType, data []byte) (plumbing.Hash, error) {
	h := gitx.ObjectID(t, data)
	hx := h.String()
	p := filepath.Join(w.dir, hx[:2], hx[2:])
	if _, err := os.Stat(p); err == nil {
		return h, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return h, err
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	fmt.Fprintf(zw, "%s %d\x00", t, len(data))
	zw.Write(data)
	if err := zw.Close(); err != nil {
		return h, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return h, err
	}
	return h, os.WriteFile(p, z.Bytes(), 0o400)
}
