package gitx

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// ErrNoMergeBase means two commits share no history.
var ErrNoMergeBase = errors.New("no common history")

// RevParse resolves rev to a commit hash; ok is false when rev names no
// commit.
func (r *Runner) RevParse(ctx context.Context, rev string) (hash string, ok bool, err error) {
	if r.local() {
		if h, ok, known := r.repo.revParse(rev); known {
			return h, ok, nil
		}
	}
	out, err := r.Output(ctx, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if ExitCode(err) == 1 {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return out, true, nil
}

// AbbrevRef returns the short name of the ref rev names, as `git
// rev-parse --abbrev-ref` prints it ("origin/master" for
// "master@{upstream}").
func (r *Runner) AbbrevRef(ctx context.Context, rev string) (string, error) {
	if r.local() {
		if name, ok := r.repo.upstreamRef(rev); ok {
			if short, ok := r.repo.shorten(name); ok {
				return short, nil
			}
		}
	}
	return r.Output(ctx, "rev-parse", "--abbrev-ref", rev)
}

// MergeBase returns the best common ancestor of a and b, as `git merge`
// picks it.
func (r *Runner) MergeBase(ctx context.Context, a, b string) (string, error) {
	if r.local() {
		if base, known := r.repo.mergeBase(a, b); known {
			if base == "" {
				return "", ErrNoMergeBase
			}
			return base, nil
		}
	}
	out, err := r.Output(ctx, "merge-base", a, b)
	if ExitCode(err) == 1 && out == "" {
		return "", ErrNoMergeBase
	}
	return out, err
}

// Change is one path that differs between two trees.
type Change struct {
	// Status is git's letter: A added, D deleted, M modified, T type
	// changed.
	Status byte
	Path   string
}

// DiffTree lists the files that differ between the trees of two commits,
// recursively, without rename detection (a rename is a deletion and an
// addition), sorted by path. filter is git's --diff-filter ("" for all).
func (r *Runner) DiffTree(ctx context.Context, from, to, filter string) ([]Change, error) {
	if r.local() {
		if cs, err := r.repo.diffTree(from, to, filter); err == nil {
			return cs, nil
		}
	}
	args := []string{"diff-tree", "-r", "-z", "--no-renames", "--no-ext-diff", "--name-status"}
	if filter != "" {
		args = append(args, "--diff-filter="+filter)
	}
	out, err := r.Run(ctx, append(args, from, to)...)
	if err != nil {
		return nil, err
	}
	return parseNameStatus(out), nil
}

// Untracked returns the files below paths (each a file or a directory,
// relative to the work tree, slash-separated) that git counts as
// untracked and not ignored, sorted: what `git merge` and `git checkout`
// refuse to overwrite. A path in the index, however new, is not
// untracked.
func (r *Runner) Untracked(ctx context.Context, paths []string) ([]string, error) {
	return r.others(ctx, paths, false)
}

// Ignored returns the files below paths that are untracked and ignored by
// git's exclude rules, sorted: git overwrites those without asking.
func (r *Runner) Ignored(ctx context.Context, paths []string) ([]string, error) {
	return r.others(ctx, paths, true)
}

func (r *Runner) others(ctx context.Context, paths []string, ignored bool) ([]string, error) {
	if len(paths) == 0 || len(r.Vars) == 0 && !r.anyExists(paths) {
		// git lists only files that are there.
		return nil, nil
	}
	args := []string{"--literal-pathspecs", "ls-files", "-z", "--others", "--exclude-standard"}
	if ignored {
		args = append(args, "--ignored")
	}
	out, err := r.Run(ctx, append(append(args, "--"), paths...)...)
	if err != nil {
		return nil, err
	}
	list := splitZ(out)
	sort.Strings(list)
	return list, nil
}

// anyExists reports whether anything is at one of paths (relative to the
// work tree); an error other than "not there" counts as there, for git to
// tell.
func (r *Runner) anyExists(paths []string) bool {
	for _, p := range paths {
		_, err := os.Lstat(filepath.Join(r.Dir, filepath.FromSlash(p)))
		if err == nil || !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return true
		}
	}
	return false
}

func splitZ(b []byte) []string {
	b = bytes.TrimSuffix(b, []byte{0})
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

// DiffWorkTree lists the tracked files of the work tree (staged or not)
// that differ from the tree of commit from, as DiffTree does: what
// update.sh's "Before update" commit would hold against from. It takes no
// lock and writes nothing (git's opportunistic index refresh is off).
func (r *Runner) DiffWorkTree(ctx context.Context, from string) ([]Change, error) {
	out, err := r.Run(ctx, "--no-optional-locks", "diff", "-z", "--no-renames", "--no-ext-diff", "--name-status", from, "--")
	if err != nil {
		return nil, err
	}
	return parseNameStatus(out), nil
}

func parseNameStatus(out []byte) []Change {
	var cs []Change
	f := splitZ(out)
	for i := 0; i+1 < len(f); i += 2 {
		if f[i] == "" {
			continue
		}
		cs = append(cs, Change{Status: f[i][0], Path: f[i+1]})
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Path < cs[j].Path })
	return cs
}

// Short returns the first 12 digits of a commit hash, as messages show it.
func Short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}
