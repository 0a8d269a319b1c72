package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
)

// Where a customization lives relative to the upstream base.
const (
	InWorkTree = "work tree" // an uncommitted edit (staged or not)
	InCommit   = "committed" // a local commit such as "Before update on …"
)

// Base sources: how FindCustomizations chose the upstream commit.
const (
	BaseAfterUpdate = "after-update-merge" // second parent of an "After update" merge at HEAD
	BaseMergeBase   = "merge-base"         // merge-base of HEAD and origin/<branch>
	BaseHead        = "HEAD"               // no upstream ref: HEAD itself
)

// Customization is one tracked file whose content differs from the
// upstream commit the install is based on.
type Customization struct {
	// File is relative to the mailcow dir, slash-separated.
	File string `json:"file"`
	// Deleted is true when the file is gone from the index or the work tree.
	Deleted bool `json:"deleted,omitempty"`
	// Where is InCommit when HEAD (or the index) already differs from the
	// base, else InWorkTree.
	Where string `json:"where"`
}

// Customizations is what FindCustomizations found.
type Customizations struct {
	// Base is the upstream commit the files were compared with.
	Base       string
	BaseSource string
	Files      []Customization
	// TreeFromIndex is true when HEAD's files were taken from the index's
	// cache tree instead of reading HEAD's tree.
	TreeFromIndex bool
	// Hashed counts the work-tree files whose content had to be hashed
	// because the index's stat data did not vouch for them.
	Hashed int
}

// maxWalk bounds the commits FindCustomizations looks at to find the base
// without a full merge-base computation: update.sh leaves at most a
// "Before update" commit or two on top of an "After update" merge.
const maxWalk = 64

// FindCustomizations compares the tracked files of the checkout in dir
// with the upstream commit they were made on: the second parent of an
// "After update" merge at HEAD; else the merge-base of HEAD and
// origin/<branch>; else HEAD. It reports committed local changes (such as
// update.sh's "Before update on …" commits), staged and unstaged edits, and
// deletions. Files added locally are not reported: upstream cannot
// overwrite what it does not have.
//
// A committed edit that the work tree undoes is not reported: update.sh
// commits the work tree as it is.
//
// It is fast on a release-sized tree and never walks the history beyond a
// few commits: HEAD's tree is read once, of the base only the subtrees
// whose hashes differ from HEAD's, no blob at all; and a work-tree file is hashed only when the
// index's stat data (mtime, ctime, size, inode) does not match it, or the
// entry is racily clean, as git itself decides.
func FindCustomizations(dir, branch string) (*Customizations, error) {
	gx, err := gitx.Open(dir, gitx.Options{})
	if err != nil {
		return nil, fmt.Errorf("open git repository: %w", err)
	}
	defer gx.Close()
	repo := gx.Repository
	head, err := repo.Head()
	if err != nil {
		return nil, fmt.Errorf("%s: HEAD: %w", dir, err)
	}
	base, src, err := findBase(gx, head.Hash(), branch)
	if err != nil {
		return nil, fmt.Errorf("%s: find the upstream base of HEAD: %w", dir, err)
	}
	out := &Customizations{Base: base.String(), BaseSource: src}
	idxPath := gx.Layout.IndexPath()
	fi, err := os.Stat(idxPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", idxPath, err)
	}
	idx, err := gitx.ReadIndex(idxPath)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	indexMtime := fi.ModTime()

	// HEAD's files: from the index when its cache tree says it holds
	// exactly HEAD's tree (as after a commit or checkout), else from
	// HEAD's tree in full. Of the base only the subtrees whose hashes
	// differ from HEAD's are read.
	hc, err := repo.CommitObject(head.Hash())
	if err != nil {
		return nil, fmt.Errorf("%s: HEAD: %w", dir, err)
	}
	var headFiles map[string]plumbing.Hash
	if !indexIsTree(idx, hc.TreeHash) {
		if headFiles, err = flatten(repo, head.Hash()); err != nil {
			return nil, fmt.Errorf("%s: read tree of HEAD: %w", dir, err)
		}
	} else {
		out.TreeFromIndex = true
		headFiles = make(map[string]plumbing.Hash, len(idx.Entries))
		for _, e := range idx.Entries {
			if e.Stage == 0 && e.Mode != filemode.Submodule {
				headFiles[e.Name] = e.Hash
			}
		}
	}
	committed := map[string]baseEntry{}
	if head.Hash() != base {
		if err := diffCommits(gx, base, head.Hash(), committed); err != nil {
			return nil, fmt.Errorf("%s: compare %s with HEAD: %w", dir, base, err)
		}
	}
	if err := out.compare(dir, idx, indexMtime, headFiles, committed); err != nil {
		return nil, err
	}
	sort.Slice(out.Files, func(i, j int) bool { return out.Files[i].File < out.Files[j].File })
	return out, nil
}

// compare adds to out every tracked file whose content in the work tree
// differs from the base's (HEAD's files, but those committed records),
// and every file of the base deleted from the index or the work tree.
func (out *Customizations) compare(dir string, idx *index.Index, indexMtime time.Time, headFiles map[string]plumbing.Hash, committed map[string]baseEntry) error {
	baseHash := func(name string) (plumbing.Hash, bool) {
		if d, ok := committed[name]; ok {
			return d.hash, d.present
		}
		h, ok := headFiles[name]
		return h, ok
	}

	seen := make(map[string]bool, len(idx.Entries))
	add := func(name string, deleted bool, where string) {
		out.Files = append(out.Files, Customization{File: name, Deleted: deleted, Where: where})
	}
	// Stage 0 is a merged entry (go-git's index.Merged is 1, which is the
	// merge base's stage).
	merged := func(e *index.Entry) bool {
		return e.Stage == 0 && !e.IntentToAdd && e.Mode != filemode.Submodule
	}
	wt := worktreeHashes(dir, idx.Entries, indexMtime, func(e *index.Entry) bool {
		_, inBase := baseHash(e.Name)
		return merged(e) && inBase && !e.SkipWorktree
	})
	for i, e := range idx.Entries {
		if !merged(e) {
			continue
		}
		seen[e.Name] = true
		bh, inBase := baseHash(e.Name)
		if !inBase {
			continue // a local addition
		}
		where := InWorkTree
		if _, ok := committed[e.Name]; ok {
			where = InCommit
		}
		if e.SkipWorktree {
			if e.Hash != bh {
				add(e.Name, false, where)
			}
			continue
		}
		// What counts is the work tree: update.sh commits it as it is.
		h, hashed, gone, err := wt[i].h, wt[i].hashed, wt[i].gone, wt[i].err
		if err != nil {
			return err
		}
		if hashed {
			out.Hashed++
		}
		if gone || h != bh {
			add(e.Name, gone, where)
		}
	}
	for name := range headFiles {
		if _, ok := committed[name]; !ok && !seen[name] {
			add(name, true, InWorkTree)
		}
	}
	for name, d := range committed {
		if d.present && !seen[name] {
			add(name, true, InCommit)
		}
	}
	return nil
}

// findBase returns the newest upstream commit in head's history.
func findBase(gx *gitx.Repo, head plumbing.Hash, branch string) (plumbing.Hash, string, error) {
	repo := gx.Repository
	hc, err := repo.CommitObject(head)
	if err != nil {
		return plumbing.ZeroHash, "", err
	}
	if isAfterUpdate(hc) {
		return hc.ParentHashes[1], BaseAfterUpdate, nil
	}
	if branch == "" {
		return head, BaseHead, nil
	}
	ref, err := repo.Reference(plumbing.NewRemoteReferenceName("origin", branch), true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return head, BaseHead, nil
	}
	if err != nil {
		return plumbing.ZeroHash, "", err
	}
	up := ref.Hash()
	if up == head {
		return head, BaseMergeBase, nil
	}
	// The common shapes without a merge-base computation: upstream a
	// few first-parent steps below HEAD, or an "After update" merge there.
	c := hc
	for i := 0; i < maxWalk && len(c.ParentHashes) > 0; i++ {
		if c.Hash == up {
			return up, BaseMergeBase, nil
		}
		if isAfterUpdate(c) {
			if c.ParentHashes[1] == up {
				return up, BaseMergeBase, nil
			}
			break
		}
		if c, err = repo.CommitObject(c.ParentHashes[0]); err != nil {
			return plumbing.ZeroHash, "", err
		}
	}
	// As git merge-base answers (go-git's answer can differ where there
	// are several bases).
	mb, err := gx.MergeBase(context.Background(), head.String(), up.String())
	var le *gitx.LayoutError
	if errors.Is(err, gitx.ErrNoMergeBase) && !errors.As(err, &le) {
		return head, BaseHead, nil // unrelated histories
	}
	if err != nil {
		return plumbing.ZeroHash, "", err
	}
	return plumbing.NewHash(mb), BaseMergeBase, nil
}

func isAfterUpdate(c *object.Commit) bool {
	return len(c.ParentHashes) == 2 && strings.HasPrefix(c.Message, "After update")
}

// indexIsTree reports whether the index's cache-tree extension vouches
// that the index holds exactly tree.
func indexIsTree(idx *index.Index, tree plumbing.Hash) bool {
	if idx.Cache == nil || len(idx.Cache.Entries) == 0 {
		return false
	}
	root := idx.Cache.Entries[0]
	return root.Path == "" && root.Entries >= 0 && root.Entries == len(idx.Entries) && root.Hash == tree
}

// baseEntry is a path's blob in the base where HEAD differs from it.
type baseEntry struct {
	hash    plumbing.Hash
	present bool // false: the path is not in the base (added locally)
}

// diffCommits records in out every file path where the trees of base and
// head differ, with base's blob (gitx's tree diff: equal subtrees are
// skipped by id, so only the trees along changed paths are read).
// Submodules are left out.
func diffCommits(gx *gitx.Repo, base, head plumbing.Hash, out map[string]baseEntry) error {
	bc, err := gx.CommitObject(base)
	if err != nil {
		return err
	}
	hc, err := gx.CommitObject(head)
	if err != nil {
		return err
	}
	tcs, err := gx.DiffTrees(bc.TreeHash, hc.TreeHash)
	if err != nil {
		return err
	}
	for _, c := range tcs {
		switch {
		case !c.From.Hash.IsZero() && c.From.Mode != filemode.Submodule:
			out[c.Path] = baseEntry{hash: c.From.Hash, present: true}
		case !c.To.Hash.IsZero() && c.To.Mode != filemode.Submodule:
			out[c.Path] = baseEntry{}
		}
	}
	return nil
}

// flatten returns every blob and link of commit's tree by path. Only tree
// objects are read, never blobs.
func flatten(repo *git.Repository, commit plumbing.Hash) (map[string]plumbing.Hash, error) {
	c, err := repo.CommitObject(commit)
	if err != nil {
		return nil, err
	}
	t, err := c.Tree()
	if err != nil {
		return nil, err
	}
	out := make(map[string]plumbing.Hash, 4096)
	w := object.NewTreeWalker(t, true, nil)
	defer w.Close()
	for {
		name, e, err := w.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
		if e.Mode == filemode.Dir || e.Mode == filemode.Submodule {
			continue
		}
		out[name] = e.Hash
	}
	return out, nil
}

// worktreeHash returns the blob hash of the work-tree file of e: the
// index's own hash when its stat data vouches for the file, as git
// decides, else the hash of the content (hashed is then true). gone is true
// when the file is missing; a directory or other non-file in its place
// gives the zero hash.
func worktreeHash(dir string, e *index.Entry, indexMtime time.Time) (h plumbing.Hash, hashed, gone bool, err error) {
	p := filepath.Join(dir, filepath.FromSlash(e.Name))
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return plumbing.ZeroHash, false, true, nil
	}
	if err != nil {
		return plumbing.ZeroHash, false, false, fmt.Errorf("%s: %w", p, err)
	}
	isLink := fi.Mode()&fs.ModeSymlink != 0
	if !isLink && !fi.Mode().IsRegular() {
		return plumbing.ZeroHash, false, false, nil
	}
	if isLink == (e.Mode == filemode.Symlink) && statMatches(fi, e) && e.ModifiedAt.Before(indexMtime) {
		return e.Hash, false, false, nil
	}
	var data []byte
	if isLink {
		t, err := os.Readlink(p)
		if err != nil {
			return plumbing.ZeroHash, true, false, fmt.Errorf("%s: %w", p, err)
		}
		data = []byte(t)
	} else if data, err = os.ReadFile(p); err != nil {
		return plumbing.ZeroHash, true, false, fmt.Errorf("%s: %w", p, err)
	}
	return gitx.ObjectID(plumbing.BlobObject, data), true, false, nil
}

// worktreeHashed is worktreeHash's answer for one entry.
type worktreeHashed struct {
	h            plumbing.Hash
	hashed, gone bool
	err          error
}

// worktreeHashes is worktreeHash of every entry want takes, by index,
// on every core: the lstat of thousands of files is most of verify's
// time, and git's preload-index spreads it alike.
func worktreeHashes(dir string, es []*index.Entry, indexMtime time.Time, want func(*index.Entry) bool) []worktreeHashed {
	out := make([]worktreeHashed, len(es))
	const chunk = 64
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := min(runtime.GOMAXPROCS(0), 8, len(es)/chunk+1); w > 0; w-- {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := int(next.Add(chunk)) - chunk
				if from >= len(es) {
					return
				}
				for i := from; i < min(from+chunk, len(es)); i++ {
					if want(es[i]) {
						r := &out[i]
						r.h, r.hashed, r.gone, r.err = worktreeHash(dir, es[i], indexMtime)
					}
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// statMatches is git's ie_match_stat without the racy check: size, mtime,
// ctime and inode as the index recorded them (32 bits, as stored).
func statMatches(fi fs.FileInfo, e *index.Entry) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	if uint32(fi.Size()) != e.Size || uint32(st.Ino) != e.Inode {
		return false
	}
	if !fi.ModTime().Equal(e.ModifiedAt) {
		return false
	}
	ctime := time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec))
	return ctime.Equal(e.CreatedAt)
}
