// Package predict computes, before update.sh touches anything, what its
// merge will do to the install's customizations.
//
// The pre hook runs after update.sh fetched upstream and before it asks
// "Are you sure?", stops mailcow and merges. predict makes update.sh's own
// steps in a scratch repository that borrows the install's objects
// (alternates) and checks out only the files that matter (sparse): the
// "Before update" commit of the uncommitted edits (built with a scratch
// index and object directory: the install's index and objects are never
// written), then `git merge -Xtheirs -Xpatience` of the fetched upstream,
// with update.sh's answer to conflicts, then the enabled patches, as the
// post hook will apply them. Each customization is then judged by
// ledger.Judge, the post hook's own judgement: the prediction and the
// post hook's report come from one implementation.
package predict

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
	"github.com/mcupdate/mcupdate/cmd/internal/updatesh"
)

// Options say what to predict.
type Options struct {
	// Dir is the install (a git work tree); only read.
	Dir string
	// Head is the install's HEAD commit, Upstream the commit update.sh
	// will merge (the fetched origin/<branch>).
	Head, Upstream string
	// Patches are the enabled patches, bound to their parameters.
	Patches []*patch.Bound
	// Redact hides secrets in the lines kept for display.
	Redact func(string) string
	// TempDir holds the scratch repository; "" means os.TempDir().
	TempDir string
	// Env is the environment for git; nil means os.Environ().
	Env []string
	// Set is the install's customizations against the upstream base,
	// when the caller has them already (the pre hook's ledger step);
	// nil scans.
	Set *ledger.Set
	// Repo is the install's repository, opened by the caller, and Base
	// the merge base of Head and Upstream. With a Set scanned from the
	// work tree against Base they let Run answer without the scratch
	// merge where the merge cannot touch what the install changed (the
	// common case, see quick); without them Run always merges.
	Repo *gitx.Repo
	Base string

	// merge makes Run always make the scratch merge, gitBefore makes
	// it make the Before update commit with git (tests compare the ways).
	merge, gitBefore bool
}

// Prediction is what update.sh's merge will do.
type Prediction struct {
	// Upstream is the commit merged; UpstreamBase the upstream commit the
	// customizations were made on.
	Upstream     string `json:"upstream"`
	UpstreamBase string `json:"upstream_base"`
	// Before is true when update.sh will commit uncommitted edits first.
	Before bool `json:"before_update_commit"`
	// MergeExit is git merge's exit code, Aborted whether update.sh would
	// give up (it then stops with mailcow down), Removed the files its
	// conflict clean-up deletes.
	MergeExit int      `json:"merge_exit"`
	Aborted   bool     `json:"aborted,omitempty"`
	Removed   []string `json:"removed,omitempty"`
	// Results is each customization's predicted outcome.
	Results []ledger.Result `json:"customizations"`
	// PatchErrors are the enabled patches that will fail after the merge.
	PatchErrors []string `json:"patch_errors,omitempty"`
}

// Losses returns the customizations the update will lose.
func (p *Prediction) Losses() []ledger.Result {
	var out []ledger.Result
	for _, r := range p.Results {
		if r.Outcome.Bad() {
			out = append(out, r)
		}
	}
	return out
}

// Run predicts the merge. It changes nothing in the install: every object
// and index it writes is in its scratch directory, removed at the end.
func Run(ctx context.Context, opt Options) (_ *Prediction, err error) {
	scratch, err := os.MkdirTemp(opt.TempDir, "mcupdate-predict-")
	if err != nil {
		return nil, fmt.Errorf("scratch dir: %w", err)
	}
	defer func() {
		if rmErr := os.RemoveAll(scratch); rmErr != nil && err == nil {
			err = fmt.Errorf("remove scratch dir: %w", rmErr)
		}
	}()
	if !opt.merge {
		if p, ok, err := quick(ctx, opt, scratch); ok || err != nil {
			return p, err
		}
	}
	// Where the install's index and objects are, as git finds them (a
	// .git file, commondir, alternates), without a git process.
	layout, err := gitx.Discover(opt.Dir)
	if err != nil {
		return nil, err
	}
	objects := filepath.Join(layout.CommonDir, "objects")
	work := filepath.Join(scratch, "work")
	// Isolated: the host's ~/.gitconfig must not change update.sh's merge
	// (merge.ff=only); no automatic maintenance in a repository about to
	// be removed.
	sg := &gitx.Runner{Dir: work, Env: opt.Env, Isolated: true, Vars: []string{
		"GIT_CONFIG_COUNT=2", "GIT_CONFIG_KEY_0=maintenance.auto", "GIT_CONFIG_VALUE_0=false",
		"GIT_CONFIG_KEY_1=gc.auto", "GIT_CONFIG_VALUE_1=0",
	}}
	if err := os.Mkdir(work, 0o700); err != nil {
		return nil, err
	}
	// No template: nothing to copy, no sample hooks.
	if ok, err := initScratch(work); err != nil {
		return nil, err
	} else if !ok {
		if _, err := sg.Run(ctx, "init", "-q", "--template=", "-b", "mcupdate-predict"); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(work, ".git", "objects", "info"), 0o700); err != nil {
		return nil, err
	}
	scratchObjects := filepath.Join(work, ".git", "objects")
	if err := os.WriteFile(filepath.Join(scratchObjects, "info", "alternates"), []byte(objects+"\n"), 0o600); err != nil {
		return nil, err
	}

	p := &Prediction{Upstream: opt.Upstream}
	var ours string
	known := false
	if !opt.gitBefore {
		ours, known, err = beforeUpdateHere(ctx, opt, scratchObjects)
	}
	if err == nil && !known {
		ours, err = beforeUpdate(ctx, opt, sg, filepath.Join(layout.GitDir, "index"), scratch, scratchObjects, objects)
	}
	if err != nil {
		return nil, fmt.Errorf("the Before update commit update.sh would make: %w", err)
	}
	p.Before = ours != opt.Head
	// The Before update commit's only parent is HEAD: its merge base
	// with upstream is HEAD's, when the caller knows that.
	if p.UpstreamBase = opt.Base; p.UpstreamBase == "" {
		if p.UpstreamBase, err = sg.MergeBase(ctx, ours, opt.Upstream); err != nil {
			return nil, err
		}
	}
	set := opt.Set
	if set == nil || set.Base != p.UpstreamBase {
		if set, err = ledger.Scan(ctx, sg, p.UpstreamBase, ours, opt.Redact); err != nil {
			return nil, err
		}
	}
	if err := checkout(ctx, sg, ours, sparseFiles(set, opt.Patches)); err != nil {
		return nil, err
	}
	res, err := updatesh.Run(work, updatesh.Options{Target: opt.Upstream, Date: "prediction", Git: sg, Ctx: ctx, Committed: true})
	if res != nil {
		p.MergeExit, p.Aborted, p.Removed = res.MergeExit, res.Aborted, res.Removed
	}
	if p.Aborted {
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	p.PatchErrors = applyPatches(opt, work)
	// The merge's files, read in process from the scratch repository
	// (its new objects and the install's), else by git.
	read := sg
	if sr, err := gitx.Open(work, gitx.Options{Ctx: ctx, Env: opt.Env}); err == nil {
		defer sr.Close()
		read = sr.Git()
	}
	p.Results, err = ledger.JudgeSet(set, func(file string) (ledger.Files, error) {
		blobs, err := read.Blobs(ctx, []string{"HEAD:" + file}, ledger.MaxFileBytes)
		if err != nil {
			return ledger.Files{}, err
		}
		b := blobs["HEAD:"+file]
		return versions(opt, work, file, b.Data, !b.Missing && b.Data != nil)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// initScratch makes work a new repository as `git init --template= -b
// mcupdate-predict` makes it, without a git process, where git's probes of
// the file system (file modes kept, symbolic links, case) find what git
// assumes; ok is false, and nothing is left, where they do not: git init
// then writes what it finds.
func initScratch(work string) (ok bool, err error) {
	gitDir := filepath.Join(work, ".git")
	for _, d := range []string{"objects/info", "objects/pack", "refs/heads", "refs/tags"} {
		if err := os.MkdirAll(filepath.Join(gitDir, filepath.FromSlash(d)), 0o755); err != nil {
			return false, err
		}
	}
	if err := os.WriteFile(filepath.Join(gitDir, "HEAD"), []byte("ref: refs/heads/mcupdate-predict\n"), 0o644); err != nil {
		return false, err
	}
	cfg := filepath.Join(gitDir, "config")
	if err := os.WriteFile(cfg, []byte("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n"), 0o644); err != nil {
		return false, err
	}
	probe := func() bool {
		// The executable bit is kept.
		if os.Chmod(cfg, 0o755) != nil {
			return false
		}
		fi, err := os.Lstat(cfg)
		if err != nil || fi.Mode().Perm()&0o100 == 0 || os.Chmod(cfg, 0o644) != nil {
			return false
		}
		// Links can be made.
		link := filepath.Join(gitDir, "tXXXXXX")
		if os.Symlink("testing", link) != nil || os.Remove(link) != nil {
			return false
		}
		// Names are case sensitive.
		_, err = os.Lstat(filepath.Join(gitDir, "CoNfIg"))
		return errors.Is(err, fs.ErrNotExist)
	}
	if probe() {
		return true, nil
	}
	return false, os.RemoveAll(gitDir)
}

// beforeUpdate returns the commit update.sh's `git add -u; git commit -am`
// would make of the install's uncommitted edits, or head when there are
// none. It runs git in the install with a copy of its index and the
// scratch object directory: the install's own index and objects are
// untouched.
func beforeUpdate(ctx context.Context, opt Options, sg *gitx.Runner, index, scratch, scratchObjects, objects string) (string, error) {
	tmpIndex := filepath.Join(scratch, "index.before-update")
	data, err := os.ReadFile(index)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.WriteFile(tmpIndex, data, 0o600); err != nil {
		return "", err
	}
	// The copy keeps the index's mtime: git compares the content of an
	// entry written in the index's last second ("racily clean") instead
	// of trusting its stat data, and a new mtime would hide an edit made
	// then.
	if fi, err := os.Stat(index); err == nil {
		if err := os.Chtimes(tmpIndex, fi.ModTime(), fi.ModTime()); err != nil {
			return "", err
		}
	}
	redirected := &gitx.Runner{Dir: opt.Dir, Env: opt.Env, Vars: []string{
		"GIT_INDEX_FILE=" + tmpIndex,
		"GIT_OBJECT_DIRECTORY=" + scratchObjects,
		"GIT_ALTERNATE_OBJECT_DIRECTORIES=" + objects,
	}}
	if _, err := redirected.Run(ctx, "add", "-u"); err != nil {
		return "", err
	}
	tree, err := redirected.Output(ctx, "write-tree")
	if err != nil {
		return "", err
	}
	headTree, err := sg.Output(ctx, "rev-parse", opt.Head+"^{tree}")
	if err != nil {
		return "", err
	}
	if tree == headTree {
		return opt.Head, nil
	}
	return sg.Output(ctx, "commit-tree", tree, "-p", opt.Head, "-m", "Before update")
}

// sparseFiles are the files the scratch work tree needs: the customized
// ones, and those the enabled patches edit.
func sparseFiles(set *ledger.Set, ps []*patch.Bound) []string {
	seen := map[string]bool{}
	var out []string
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for _, f := range set.Files() {
		add(f)
	}
	for _, b := range ps {
		for _, f := range b.Files() {
			add(f)
		}
	}
	return out
}

// checkout puts the scratch branch at ours and checks out only files.
// The scratch repository is new and its own: its branch and config are
// written as files, without a git process each.
func checkout(ctx context.Context, sg *gitx.Runner, ours string, files []string) error {
	gitDir := filepath.Join(sg.Dir, ".git")
	if err := os.MkdirAll(filepath.Join(gitDir, "refs", "heads"), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(gitDir, "refs", "heads", "mcupdate-predict"), []byte(ours+"\n"), 0o600); err != nil {
		return err
	}
	cfg, err := os.OpenFile(filepath.Join(gitDir, "config"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = cfg.WriteString("[core]\n\tsparseCheckout = true\n")
	if cerr := cfg.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(gitDir, "info"), 0o700); err != nil {
		return err
	}
	var pat strings.Builder
	for _, f := range files {
		pat.WriteString("/" + sparseEscape(f) + "\n")
	}
	if pat.Len() == 0 {
		pat.WriteString("/.mcupdate-nothing\n") // an empty pattern list checks out everything
	}
	if err := os.WriteFile(filepath.Join(gitDir, "info", "sparse-checkout"), []byte(pat.String()), 0o600); err != nil {
		return err
	}
	_, err = sg.Run(ctx, "read-tree", "-mu", "HEAD")
	return err
}

// sparseEscape quotes the characters gitignore-style patterns treat
// specially, so that a pattern names exactly one path.
func sparseEscape(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`\*?[]!# `, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// applyPatches applies the enabled patches to the merged scratch files, as
// the post hook will. The files a patch edits that git does not track
// (postfix extra.cf, mailcow.conf) are copied from the install first.
func applyPatches(opt Options, work string) []string {
	if len(opt.Patches) == 0 {
		return nil
	}
	for _, b := range opt.Patches {
		for _, f := range b.Files() {
			dst := filepath.Join(work, filepath.FromSlash(f))
			if _, err := os.Lstat(dst); err == nil {
				continue
			}
			data, err := os.ReadFile(filepath.Join(opt.Dir, filepath.FromSlash(f)))
			if err != nil {
				continue
			}
			if os.MkdirAll(filepath.Dir(dst), 0o700) == nil {
				_ = os.WriteFile(dst, data, 0o600)
			}
		}
	}
	res, err := patch.Apply(scratchSys{}, work, opt.Patches, patch.ModeApply)
	var out []string
	if res != nil {
		for _, pr := range res.Patches {
			if pr.Err != nil {
				out = append(out, pr.Name+": "+ui.FirstLine(pr.Err.Error()))
			}
		}
	}
	if len(out) == 0 && err != nil {
		out = append(out, ui.FirstLine(err.Error()))
	}
	return out
}

// scratchSys writes into the scratch work tree; owners are not kept there.
type scratchSys struct{ fsx.Real }

func (scratchSys) Lchown(string, int, int) error { return nil }

// versions are a customized file's versions after the predicted update:
// the merge result (merged, when mergedOK), the file after the patches,
// and its override as the post hook will have restored it (the
// install's own).
func versions(opt Options, work, file string, merged []byte, mergedOK bool) (ledger.Files, error) {
	var f ledger.Files
	if mergedOK {
		f.Merged, f.MergedOK = merged, true
	}
	if data, err := os.ReadFile(filepath.Join(work, filepath.FromSlash(file))); err == nil {
		f.Now, f.NowOK = data, true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return f, err
	}
	if ovr := ledger.OverrideFor(file); ovr != "" {
		if data, err := os.ReadFile(filepath.Join(work, filepath.FromSlash(ovr))); err == nil {
			f.Override, f.OverrideName = data, ovr
		} else if data, err := os.ReadFile(filepath.Join(opt.Dir, filepath.FromSlash(ovr))); err == nil {
			f.Override, f.OverrideName = data, ovr
		}
	}
	var names []string
	for _, b := range opt.Patches {
		for _, pf := range b.Files() {
			if pf == file {
				names = append(names, b.Name)
			}
		}
	}
	if len(names) > 0 {
		f.Patch = "patch " + strings.Join(names, " or ")
	}
	return f, nil
}
