package gitx

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// errAskGit means the Repo leaves a query to git.
var errAskGit = errors.New("left to git")

// treeOf returns the tree a revision names (a commit's, a tag's target's,
// or a tree itself), as git peels rev^{tree}.
func (r *Repo) treeOf(rev string) (plumbing.Hash, error) {
	h, err := r.Resolve(rev)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	for i := 0; i < 10; i++ {
		t, b, err := r.object(h)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		switch t {
		case plumbing.TreeObject:
			return h, nil
		case plumbing.CommitObject:
			c, err := object.DecodeCommit(r.Storer, &memObject{h: h, t: t, b: b})
			if err != nil {
				return plumbing.ZeroHash, err
			}
			return c.TreeHash, nil
		case plumbing.TagObject:
			tag, err := object.DecodeTag(r.Storer, &memObject{h: h, t: t, b: b})
			if err != nil {
				return plumbing.ZeroHash, err
			}
			h = tag.Target
		default:
			return plumbing.ZeroHash, fmt.Errorf("%w: %s names a %s", ErrUnknownRevision, rev, t)
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("%w: %s: tags nested too deep", ErrUnknownRevision, rev)
}

// entries reads a tree's entries.
func (r *Repo) entries(h plumbing.Hash) ([]object.TreeEntry, error) {
	t, b, err := r.object(h)
	if err != nil {
		return nil, err
	}
	if t != plumbing.TreeObject {
		return nil, fmt.Errorf("%w: %s is a %s, not a tree", errCorrupt, h, t)
	}
	tree, err := object.DecodeTree(r.Storer, &memObject{h: h, t: t, b: b})
	if err != nil {
		return nil, err
	}
	return tree.Entries, nil
}

// diffTree is `git diff-tree -r --no-renames --name-status` read from
// the repository: the trees are compared entry by entry, descending only
// where subtree ids differ.
func (r *Repo) diffTree(from, to, filter string) ([]Change, error) {
	for _, c := range filter {
		if !strings.ContainsRune("ADMT", c) {
			return nil, errAskGit
		}
	}
	ft, err := r.treeOf(from)
	if err != nil {
		return nil, err
	}
	tt, err := r.treeOf(to)
	if err != nil {
		return nil, err
	}
	var out []Change
	add := func(c TreeChange) {
		if filter == "" || strings.IndexByte(filter, c.Status) >= 0 {
			out = append(out, Change{Status: c.Status, Path: c.Path})
		}
	}
	if err := r.diffTrees(ft, tt, "", add); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// TreeChange is one path that differs between two trees, with its
// entry on each side (a zero Hash where the path is absent there).
type TreeChange struct {
	Status   byte // A, D, M or T, as in Change
	Path     string
	From, To object.TreeEntry
}

// DiffTrees compares two trees by id (the zero hash is the empty tree)
// as `git diff-tree -r --no-renames` does, without a git process: entry
// by entry, descending only where subtree ids differ, a file and a
// directory of one name being a deletion and additions. Every blob, link
// and submodule that differs is returned, sorted by path. It is the one
// tree diff mcupdate has.
func (r *Repo) DiffTrees(from, to plumbing.Hash) ([]TreeChange, error) {
	var out []TreeChange
	if err := r.diffTrees(from, to, "", func(c TreeChange) { out = append(out, c) }); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func (r *Repo) diffTrees(from, to plumbing.Hash, prefix string, add func(TreeChange)) error {
	if from == to {
		return nil
	}
	var fe, te []object.TreeEntry
	var err error
	if !from.IsZero() {
		if fe, err = r.entries(from); err != nil {
			return err
		}
	}
	if !to.IsZero() {
		if te, err = r.entries(to); err != nil {
			return err
		}
	}
	// A file and a directory of the same name are two entries to git.
	type key struct {
		name string
		dir  bool
	}
	old := make(map[key]object.TreeEntry, len(fe))
	for _, e := range fe {
		old[key{e.Name, e.Mode == filemode.Dir}] = e
	}
	seen := make(map[key]bool, len(te))
	for _, e := range te {
		k := key{e.Name, e.Mode == filemode.Dir}
		seen[k] = true
		o, had := old[k]
		p := prefix + e.Name
		switch {
		case k.dir && had:
			if err := r.diffTrees(o.Hash, e.Hash, p+"/", add); err != nil {
				return err
			}
		case k.dir:
			if err := r.diffTrees(plumbing.ZeroHash, e.Hash, p+"/", add); err != nil {
				return err
			}
		case !had:
			add(TreeChange{Status: 'A', Path: p, To: e})
		case o.Hash == e.Hash && o.Mode == e.Mode:
		case kind(o.Mode) != kind(e.Mode):
			add(TreeChange{Status: 'T', Path: p, From: o, To: e})
		default:
			add(TreeChange{Status: 'M', Path: p, From: o, To: e})
		}
	}
	for _, o := range fe {
		k := key{o.Name, o.Mode == filemode.Dir}
		if seen[k] {
			continue
		}
		if k.dir {
			if err := r.diffTrees(o.Hash, plumbing.ZeroHash, prefix+o.Name+"/", add); err != nil {
				return err
			}
			continue
		}
		add(TreeChange{Status: 'D', Path: prefix + o.Name, From: o})
	}
	return nil
}

// kind is what git's 'T' status compares: a file (whatever its
// executable bit), a symlink or a submodule.
func kind(m filemode.FileMode) int {
	switch m {
	case filemode.Symlink:
		return 1
	case filemode.Submodule:
		return 2
	}
	return 0
}

// blobs is `git cat-file --batch` of specs ("REV:PATH" or an id) read
// from the repository; a spec only git reads (":PATH" of the index, a
// relative path) leaves the whole query to git.
func (r *Repo) blobs(specs []string, max int64) (map[string]Blob, error) {
	out := make(map[string]Blob, len(specs))
	trees := map[string]plumbing.Hash{}
	for _, spec := range specs {
		var h plumbing.Hash
		rev, path, hasPath := strings.Cut(spec, ":")
		switch {
		case !hasPath && fullHash.MatchString(spec):
			h = plumbing.NewHash(spec)
		case !hasPath:
			var err error
			if h, err = r.Resolve(spec); err != nil {
				return nil, errAskGit
			}
		case rev == "" || path == "" || strings.HasPrefix(path, "./") || strings.HasPrefix(path, "../"):
			return nil, errAskGit
		default:
			root, ok := trees[rev]
			if !ok {
				var err error
				if root, err = r.treeOf(rev); err != nil {
					return nil, errAskGit
				}
				trees[rev] = root
			}
			var found bool
			var err error
			if h, found, err = r.lookup(root, path); err != nil {
				return nil, err
			}
			if !found {
				out[spec] = Blob{Missing: true}
				continue
			}
		}
		_, b, err := r.object(h)
		if errors.Is(err, plumbing.ErrObjectNotFound) && !hasPath {
			out[spec] = Blob{Missing: true}
			continue
		}
		if err != nil {
			return nil, err
		}
		blob := Blob{Size: int64(len(b))}
		if blob.Size <= max {
			// A copy: the store may keep b as a delta base. Never nil,
			// as git's answer: nil is a blob over the limit.
			blob.Data = append(make([]byte, 0, len(b)), b...)
		}
		out[spec] = blob
	}
	return out, nil
}

// lookup finds path in the tree root; found is false when there is no
// such entry.
func (r *Repo) lookup(root plumbing.Hash, path string) (h plumbing.Hash, found bool, err error) {
	h = root
	names := strings.Split(strings.Trim(path, "/"), "/")
	for i, name := range names {
		es, err := r.entries(h)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		found = false
		for _, e := range es {
			if e.Name == name && (i == len(names)-1 || e.Mode == filemode.Dir) {
				h, found = e.Hash, true
				break
			}
		}
		if !found {
			return plumbing.ZeroHash, false, nil
		}
	}
	return h, true, nil
}

// Entry returns the id and mode of the entry at path in the tree of rev
// (a commit, a tag or a tree), read from the repository; found is false
// when the tree has no such entry.
func (r *Repo) Entry(rev, path string) (h plumbing.Hash, mode filemode.FileMode, found bool, err error) {
	h, err = r.treeOf(rev)
	if err != nil {
		return plumbing.ZeroHash, 0, false, err
	}
	mode = filemode.Dir
	for _, name := range strings.Split(strings.Trim(path, "/"), "/") {
		if mode != filemode.Dir {
			return plumbing.ZeroHash, 0, false, nil
		}
		es, err := r.entries(h)
		if err != nil {
			return plumbing.ZeroHash, 0, false, err
		}
		found = false
		for _, e := range es {
			if e.Name == name {
				h, mode, found = e.Hash, e.Mode, true
				break
			}
		}
		if !found {
			return plumbing.ZeroHash, 0, false, nil
		}
	}
	return h, mode, true, nil
}
