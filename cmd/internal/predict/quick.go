package predict

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
)

// The common case needs no merge: when upstream's changes since the
// upstream base and the install's (committed and not) touch no common
// path, no directory one side removed and no file that decides how git
// reads files, `git merge -Xtheirs` has nothing to resolve: it is clean,
// and every file of its result is upstream's where upstream changed it and
// the install's (its "Before update" commit's) everywhere else. quick
// builds exactly those files in the scratch work tree, without a git
// process, and the patches and ledger.JudgeSet then run as on the merged
// scratch. Where any of that is in doubt it returns ok false and Run
// makes the scratch merge.

// quick predicts without the scratch merge where the merge is clean by
// construction; ok is false when it cannot tell, and Run then merges.
func quick(ctx context.Context, opt Options, scratch string) (_ *Prediction, ok bool, err error) {
	if !plainInstall(opt) {
		return nil, false, nil
	}
	repo, set := opt.Repo, opt.Set
	g := repo.Git()
	up, err := g.DiffTree(ctx, opt.Base, opt.Upstream, "")
	if err != nil {
		return nil, false, nil
	}
	head, err := g.DiffTree(ctx, opt.Base, opt.Head, "")
	if err != nil {
		return nil, false, nil
	}
	ours := map[string]byte{} // what update.sh's Before update commit changes against the base
	for _, c := range set.Changes {
		ours[c.Path] = c.Status
	}
	theirs := map[string]bool{}
	for _, c := range up {
		theirs[c.Path] = true
	}
	if !disjoint(repo, opt, ours, up) {
		return nil, false, nil
	}
	before, known := uncommitted(repo, opt, ours, head)
	if !known {
		return nil, false, nil
	}
	files := sparseFiles(set, opt.Patches)
	// Attributes (eol, filters) change what git stores and checks out:
	// none may apply to a file read or written here.
	for _, f := range append(files, keysOf(ours)...) {
		if attributed(repo, opt, f) {
			return nil, false, nil
		}
	}
	work := filepath.Join(scratch, "work")
	merged := map[string][]byte{}
	for _, f := range files {
		data, mode, present, ok := mergedFile(repo, opt, f, ours, theirs)
		if !ok {
			return nil, false, nil
		}
		if !present {
			continue
		}
		merged[f] = data
		dst := filepath.Join(work, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return nil, false, err
		}
		perm := os.FileMode(0o644)
		if mode == filemode.Executable {
			perm = 0o755
		}
		if err := os.WriteFile(dst, data, perm); err != nil {
			return nil, false, err
		}
	}
	if err := os.MkdirAll(work, 0o700); err != nil {
		return nil, false, err
	}
	p := &Prediction{Upstream: opt.Upstream, UpstreamBase: opt.Base, Before: before}
	p.PatchErrors = applyPatches(opt, work)
	p.Results, err = ledger.JudgeSet(set, func(file string) (ledger.Files, error) {
		data, ok := merged[file]
		return versions(opt, work, file, data, ok && int64(len(data)) <= ledger.MaxFileBytes)
	})
	if err != nil {
		return nil, false, err
	}
	return p, true, nil
}

// plainInstall reports whether the install's work tree can be read here
// as git add reads it: the caller gave its repository and its changes
// against the upstream base, and no git configuration or index flag makes
// git store a file otherwise than as its bytes.
func plainInstall(opt Options) bool {
	repo, set := opt.Repo, opt.Set
	if repo == nil || set == nil || set.Mine != "" || opt.Base == "" || set.Base != opt.Base {
		return false
	}
	for _, c := range set.Changes {
		if c.Status != 'A' && c.Status != 'M' && c.Status != 'D' {
			return false // a type change: a link, a submodule
		}
	}
	return plainConfig(repo.Layout, opt.Env) && plainIndex(repo.Layout)
}

// plainIndex reports whether the install's index is merged and has no
// entry git trusts over the work tree or leaves out of it
// (assume-unchanged, skip-worktree, intent-to-add).
func plainIndex(l *gitx.Layout) bool {
	data, err := os.ReadFile(l.IndexPath())
	if err != nil {
		return false
	}
	plain := true
	_, err = gitx.ScanIndex(data, func(e *gitx.IndexEntry) {
		if e.Stage != 0 || e.AssumeValid || e.SkipWorktree || e.IntentToAdd {
			plain = false
		}
	})
	return err == nil && plain
}

// disjoint reports whether the merge of upstream's changes up into the
// install's (ours, path → git's status letter) can only be clean, with no
// rename git could follow into the other side's files: no path both
// changed; no path that is a file on one side and a directory on the
// other; no file added into a directory the other side removed (git
// would move it where the directory went); no .gitattributes changed.
func disjoint(repo *gitx.Repo, opt Options, ours map[string]byte, up []gitx.Change) bool {
	theirDirs := map[string]bool{} // the directories upstream's changes are in
	for _, c := range up {
		if path.Base(c.Path) == ".gitattributes" {
			return false
		}
		if _, ok := ours[c.Path]; ok {
			return false
		}
		for d := path.Dir(c.Path); d != "."; d = path.Dir(d) {
			theirDirs[d] = true
		}
	}
	oursDeleted := map[string]bool{} // directories the install deleted files in
	for p, st := range ours {
		if path.Base(p) == ".gitattributes" || theirDirs[p] {
			return false
		}
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if st == 'D' {
				oursDeleted[d] = true
			}
		}
	}
	theirs := map[string]bool{}
	for _, c := range up {
		theirs[c.Path] = true
	}
	seen := map[string]bool{}
	for p := range ours {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if theirs[d] {
				return false // a file upstream changed where the install has a directory
			}
			if seen[d] {
				continue
			}
			seen[d] = true
			// A directory upstream removed may have been renamed.
			inBase, err := isDir(repo, opt.Base, d)
			if err != nil {
				return false
			}
			if !inBase {
				continue
			}
			inUp, err := isDir(repo, opt.Upstream, d)
			if err != nil || !inUp {
				return false
			}
		}
	}
	for _, c := range up {
		if c.Status != 'A' {
			continue
		}
		for d := path.Dir(c.Path); d != "."; d = path.Dir(d) {
			if oursDeleted[d] {
				return false // the install may have moved that directory
			}
		}
	}
	return true
}

// isDir reports whether the tree of rev has a directory at p.
func isDir(repo *gitx.Repo, rev, p string) (bool, error) {
	_, mode, found, err := repo.Entry(rev, p)
	return found && mode == filemode.Dir, err
}

// uncommitted reports whether update.sh's `git add -u; git commit -am`
// would make a "Before update" commit: whether the work tree's tracked
// files (ours: their changes against the base) differ from HEAD's
// (head: HEAD's changes against the base). known is false where only
// git can tell.
func uncommitted(repo *gitx.Repo, opt Options, ours map[string]byte, head []gitx.Change) (dirty, known bool) {
	if len(head) != len(ours) {
		return true, true
	}
	for _, c := range head {
		st, ok := ours[c.Path]
		if !ok {
			return true, true // one of the two differs from the base there, the other not
		}
		h, mode, found, err := repo.Entry(opt.Head, c.Path)
		if err != nil {
			return false, false
		}
		if st == 'D' || !found {
			if st != 'D' || found {
				return true, true
			}
			continue
		}
		fi, err := os.Lstat(filepath.Join(opt.Dir, filepath.FromSlash(c.Path)))
		if err != nil || !fi.Mode().IsRegular() || (mode != filemode.Regular && mode != filemode.Executable) {
			return false, false
		}
		if (fi.Mode()&0o111 != 0) != (mode == filemode.Executable) {
			return false, false
		}
		data, err := os.ReadFile(filepath.Join(opt.Dir, filepath.FromSlash(c.Path)))
		if err != nil {
			return false, false
		}
		if gitx.ObjectID(plumbing.BlobObject, data) != h {
			return true, true
		}
	}
	return false, true
}

// mergedFile is file in the merge's result: upstream's where upstream
// changed it, else the Before update commit's (the work tree's where the
// install changed it, else the base's). ok is false for what git would
// check out otherwise than as a plain file (a link, a directory).
func mergedFile(repo *gitx.Repo, opt Options, file string, ours map[string]byte, theirs map[string]bool) (data []byte, mode filemode.FileMode, present, ok bool) {
	if st, changed := ours[file]; changed && !theirs[file] {
		if st == 'D' {
			return nil, 0, false, true
		}
		p := filepath.Join(opt.Dir, filepath.FromSlash(file))
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
			return nil, 0, false, false
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, 0, false, false
		}
		mode = filemode.Regular
		if fi.Mode()&0o111 != 0 {
			mode = filemode.Executable
		}
		return data, mode, true, true
	}
	rev := opt.Base
	if theirs[file] {
		rev = opt.Upstream
	}
	h, mode, found, err := repo.Entry(rev, file)
	switch {
	case err != nil:
		return nil, 0, false, false
	case !found:
		return nil, 0, false, true
	case mode != filemode.Regular && mode != filemode.Executable && mode != filemode.Deprecated:
		return nil, 0, false, false
	}
	blobs, err := repo.Git().Blobs(context.Background(), []string{h.String()}, 1<<40)
	if err != nil || blobs[h.String()].Missing {
		return nil, 0, false, false
	}
	return blobs[h.String()].Data, mode, true, true
}

// attributed reports whether a git attributes file may apply to file: a
// .gitattributes in its directory or one above (in the work tree, HEAD or
// upstream), or the repository's info/attributes.
func attributed(repo *gitx.Repo, opt Options, file string) bool {
	if _, err := os.Lstat(filepath.Join(repo.Layout.CommonDir, "info", "attributes")); !errors.Is(err, fs.ErrNotExist) {
		return true
	}
	for d := path.Dir(file); ; d = path.Dir(d) {
		a := ".gitattributes"
		if d != "." {
			a = d + "/" + a
		}
		if _, err := os.Lstat(filepath.Join(opt.Dir, filepath.FromSlash(a))); !errors.Is(err, fs.ErrNotExist) {
			return true
		}
		for _, rev := range []string{opt.Head, opt.Upstream} {
			if _, _, found, err := repo.Entry(rev, a); err != nil || found {
				return true
			}
		}
		if d == "." {
			return false
		}
	}
}

// plainConfig reports whether no git configuration the install's git add
// reads could make it store a file otherwise than as its bytes (eol
// conversion, filters, an attributes file, file modes or links not
// trusted, case folding), nor include another file that might.
func plainConfig(l *gitx.Layout, env []string) bool {
	if env == nil {
		env = os.Environ()
	}
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	if vars["GIT_CONFIG_PARAMETERS"] != "" || vars["GIT_CONFIG_COUNT"] != "" {
		return false
	}
	files := []string{filepath.Join(l.CommonDir, "config"), filepath.Join(l.GitDir, "config.worktree")}
	if g, ok := vars["GIT_CONFIG_GLOBAL"]; ok {
		files = append(files, g)
	} else {
		if h := vars["HOME"]; h != "" {
			files = append(files, filepath.Join(h, ".gitconfig"), filepath.Join(h, ".config", "git", "config"))
		}
		if x := vars["XDG_CONFIG_HOME"]; x != "" {
			files = append(files, filepath.Join(x, "git", "config"))
		}
	}
	if b, _ := strconv.ParseBool(vars["GIT_CONFIG_NOSYSTEM"]); !b {
		sys := "/etc/gitconfig"
		if s, ok := vars["GIT_CONFIG_SYSTEM"]; ok {
			sys = s
		}
		files = append(files, sys)
	}
	for _, f := range files {
		if f == "" || f == os.DevNull {
			continue
		}
		data, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false
		}
		if !plainConfigText(string(data)) {
			return false
		}
	}
	return true
}

// plainConfigText is plainConfig for one file's text: it looks for the
// names, not at what they are set to, except for the settings git init
// writes (filemode, symlinks, ignorecase), which must keep git's defaults.
func plainConfigText(s string) bool {
	s = strings.ToLower(s)
	for _, w := range []string{"autocrlf", "eol", "safecrlf", "filter", "attributesfile", "include", "checkroundtripencoding", "precomposeunicode", "sparsecheckout", "worktreeconfig"} {
		if strings.Contains(s, w) {
			return false
		}
	}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.ContainsAny(line[:1], "[#;") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			v = "true" // a name alone is true
		}
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"`)
		want, ok := map[string]bool{"filemode": true, "symlinks": true, "ignorecase": false}[k]
		if !ok {
			continue
		}
		if b, ok := gitBool(v); !ok || b != want {
			return false
		}
	}
	return true
}

// gitBool reads a boolean as git does.
func gitBool(v string) (value, ok bool) {
	switch v {
	case "true", "yes", "on", "1":
		return true, true
	case "false", "no", "off", "0", "":
		return false, true
	}
	return false, false
}

func keysOf(m map[string]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
