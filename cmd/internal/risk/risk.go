// Package risk turns what mailcow's update.sh merged into a short, ranked
// list of what the admin must look at, instead of `git diff HEAD~1`.
//
// # Why
//
// update.sh commits the admin's edits to tracked files ("Before update on
// DATE") and merges upstream with -Xtheirs, which resolves every
// conflicting hunk in favour of upstream without a word. The admin's
// mem_limit below dovecot-mailcow's image: line, or an rspamd local_addrs
// edit, is then simply gone. Analyze finds such losses, and the other
// places where an update and a customization meet, and ranks them:
//
//   - HIGH: a local hunk the merge dropped (and no patch put back), a file
//     an enabled patch edits changed upstream, an override shadowing
//     what upstream just changed, an override naming a service that no
//     longer exists, a customized file deleted upstream.
//   - MEDIUM: compose services added or removed, image, port and volume
//     changes, mailcow.conf keys added, removed or changed by update.sh,
//     a dns list set in both compose files.
//   - LOW: everything else, counted per directory.
//
// # Secrets
//
// Every string in a Report has passed through a secret.Redactor that
// learned mailcow.conf (old and new) and every file the analysis read, so
// no output form shows a password: not a value of mailcow.conf, not a
// relay password in postfix's main.cf, not a SOGo bind password.
package risk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/mcupdate/mcupdate/cmd/internal/compose"
	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
	"github.com/mcupdate/mcupdate/cmd/internal/secret"
	"github.com/mcupdate/mcupdate/cmd/internal/settings"
	"github.com/mcupdate/mcupdate/cmd/internal/udiff"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// Risk ranks a finding.
type Risk int

// The risks, lowest first.
const (
	Low Risk = iota
	Medium
	High
)

func (r Risk) String() string {
	switch r {
	case High:
		return "HIGH"
	case Medium:
		return "MEDIUM"
	}
	return "LOW"
}

// MarshalText writes the risk as HIGH, MEDIUM or LOW.
func (r Risk) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// BaseSource says how the pre-update commit was found.
type BaseSource string

// The ways Analyze finds the base, in the order it tries them.
const (
	// SourceExplicit is the revision the caller named (--base).
	SourceExplicit BaseSource = "explicit"
	// SourceMerge is the first parent of the "After update" merge at HEAD.
	SourceMerge BaseSource = "merge"
	// SourceBeforeCommit is HEAD itself, a "Before update" commit: the
	// merge found nothing new (or did not run), so nothing was merged.
	SourceBeforeCommit BaseSource = "before-update-commit"
	// SourceRecorded is the commit the pre hook recorded.
	SourceRecorded BaseSource = "recorded"
	// SourceOrigHead is ORIG_HEAD, which git sets before a merge, also a
	// fast-forward one.
	SourceOrigHead BaseSource = "ORIG_HEAD"
	// SourceParent is HEAD~1, the last resort: after a fast-forward it
	// is upstream's own previous commit, not the pre-update state.
	SourceParent BaseSource = "HEAD~1"
)

// Commit-message prefixes update.sh writes.
const (
	BeforePrefix = "Before update on"
	AfterPrefix  = "After update"
)

// Well-known paths.
const (
	ComposeFile  = "docker-compose.yml"
	OverrideFile = "docker-compose.override.yml"
	ConfFile     = "mailcow.conf"
)

// ErrNoBase means no pre-update commit could be found.
var ErrNoBase = errors.New("no pre-update commit found")

// maxDiffBytes is the largest blob Analyze diffs or reads for lost hunks;
// mailcow's config files are far smaller, and a diff of a larger file
// would not be read anyway.
const maxDiffBytes = 4 << 20

// Options says what to analyze.
type Options struct {
	// Dir is the mailcow directory (a git work tree).
	Dir string
	// Base is a revision to compare against, overriding the search.
	Base string
	// Recorded is the commit the pre hook recorded, or "".
	Recorded string
	// PatchedFiles holds the paths (relative to Dir, slash-separated)
	// the enabled patches edit.
	PatchedFiles map[string]bool
	// PatchNames optionally names, per path, the enabled patches that
	// edit it ("php-memory-limit"), for messages.
	PatchNames map[string]string
	// FailedPatches maps the files of the patches that could not be
	// applied to what failed ("patch php-memory-limit: section
	// [web-worker]: anchor missing"): HIGH findings.
	FailedPatches map[string]string
	// OldMailcowConf is mailcow.conf as it was before the update (from
	// the pre-update snapshot: it is not tracked); nil skips the
	// comparison.
	OldMailcowConf []byte
	// Redactor hides secrets; nil builds one from Dir/mailcow.conf and
	// OldMailcowConf. Either way it also learns every file the analysis
	// reads.
	Redactor *secret.Redactor
	// Full makes the diffs of every changed file with the analysis, for
	// a full rendering, while the repository is open.
	Full bool
}

// Finding is one thing the admin should look at.
type Finding struct {
	Risk Risk
	// File is the path the finding is about, relative to the mailcow
	// directory.
	File   string
	Reason string
	// Lost are the local lines the merge dropped, diff-style: "+line" is
	// a line the admin added that is gone, "-line" one the admin removed
	// that is back.
	Lost []string
	// Diff is the unified diff of DiffFile from the base to HEAD; set on
	// HIGH findings only.
	Diff string
	// DiffFile is the file Diff is of, which for an override is the file
	// it shadows.
	DiffFile string
	// UpstreamDiff is, for a lost customization, upstream's own change of
	// the file (from the upstream commit the install was based on to the
	// one merged): with Lost (the admin's lines) and Diff (what the merge
	// made of the admin's version) the three sides of the merge.
	UpstreamDiff string

	// upstream makes Diff show upstream's own change of the file (from
	// the commit the admin's edits were made on), not base to HEAD.
	upstream bool
}

// Report is the risk diff of one update. Its strings are redacted.
type Report struct {
	// Base, Head and Before are commit hashes; Before is "" when there
	// was no "Before update" commit (no local edits, fast-forward).
	Base       string
	BaseSource BaseSource
	Head       string
	Before     string
	// Findings are ordered by risk (highest first), then file.
	Findings []Finding
	// Low counts the other changed files per area (see [Area]).
	Low map[string]int
	// UpstreamBase is the upstream commit the customizations were made
	// on ("" when nothing was merged); Custom is what the update did to
	// each of them (redacted).
	UpstreamBase string
	Custom       []ledger.Result
	// Upstream is the upstream commit the update merged ("" when nothing
	// was merged).
	Upstream string

	src *source // for Full rendering
}

// Count returns the number of findings of risk r; for Low, the number of
// files counted in Low.
func (r *Report) Count(risk Risk) int {
	n := 0
	if risk == Low {
		for _, c := range r.Low {
			n += c
		}
		return n
	}
	for _, f := range r.Findings {
		if f.Risk == risk {
			n++
		}
	}
	return n
}

// source keeps what Render needs to diff files on demand.
type source struct {
	dir      string
	changes  []change
	redactor *secret.Redactor
	diffs    map[string]string // made with the analysis (Options.Full)
}

type change struct {
	path     string
	from, to plumbing.Hash // ZeroHash when absent
}

// Analyze computes the risk diff of the update in opt.Dir.
func Analyze(opt Options) (*Report, error) {
	gx, err := openRepo(opt.Dir)
	if err != nil {
		return nil, err
	}
	defer gx.Close()
	a := &analysis{opt: opt, repo: gx.Repository, gx: gx}
	var pf *prefetch
	defer func() {
		// What runs beside the analysis reads the repository: it ends
		// before it closes.
		if a.prefetch != nil && pf == nil {
			<-a.prefetch
		}
		if a.parsed != nil {
			<-a.parsed
		}
	}()
	if err := a.run(); err != nil {
		return nil, err
	}
	r := a.report()
	if a.prefetch != nil {
		pf = <-a.prefetch
		if r.src.diffs, err = r.src.fullDiffs(gx, r.Base, r.Head, shownDiffs(r.Findings), pf); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// openRepo opens the repository in dir through gitx, the way git opens
// it (a .git file, a linked worktree, alternates, shallow and partial
// clones), with objects read from the packs in place: go-git's default
// storage indexes a whole pack before its first read and reopens it for
// every object, which made the risk diff several times slower than `git
// diff`, and reads no object borrowed through alternates.
func openRepo(dir string) (*gitx.Repo, error) {
	r, err := gitx.Open(dir, gitx.Options{})
	if err != nil {
		// gitx's errors name the directory or file at fault.
		return nil, fmt.Errorf("open git repository: %w", err)
	}
	return r, nil
}

type analysis struct {
	opt  Options
	repo *git.Repository
	gx   *gitx.Repo

	head, base, before *object.Commit
	source             BaseSource
	headTree, baseTree *object.Tree
	changes            []change
	changed            map[string]change
	findings           []Finding
	red                *secret.Redactor
	upstreamBase       string // merge-base of the pre-update commit and what was merged
	upstream           string // the commit merged
	trees              map[string]*object.Tree
	custom             []ledger.Result  // every customization's outcome
	prefetch           <-chan *prefetch // the full diffs being made (Options.Full)
	parsed             <-chan []parsedCompose
	parsedDone         []parsedCompose
}

// parsedCompose is a compose file parsed beside the analysis.
type parsedCompose struct {
	label string
	data  []byte
	f     *compose.File
	err   error
}

// startParse parses, in the background, the compose files composeChecks
// will read: docker-compose.yml at the base and at HEAD when the update
// changed it, and the override and the work tree's compose file.
func (a *analysis) startParse() <-chan []parsedCompose {
	type src struct {
		label string
		h     plumbing.Hash
		file  string
	}
	var srcs []src
	if c, ok := a.changed[ComposeFile]; ok {
		srcs = append(srcs, src{label: ComposeFile + " (base)", h: c.from}, src{label: ComposeFile + " (HEAD)", h: c.to})
	}
	srcs = append(srcs, src{label: OverrideFile, file: OverrideFile}, src{label: ComposeFile, file: ComposeFile})
	ch := make(chan []parsedCompose, 1)
	go func() {
		var out []parsedCompose
		for _, s := range srcs {
			var data []byte
			var err error
			switch {
			case s.file != "":
				data, err = os.ReadFile(filepath.Join(a.opt.Dir, s.file))
			case !s.h.IsZero():
				var b *object.Blob
				if b, err = a.repo.BlobObject(s.h); err == nil && b.Size <= maxDiffBytes {
					var rd io.ReadCloser
					if rd, err = b.Reader(); err == nil {
						data, err = io.ReadAll(rd)
						rd.Close()
					}
				}
			}
			if s.label == OverrideFile && errors.Is(err, os.ErrNotExist) {
				break // no override: the work tree's compose file is not compared
			}
			if err != nil || data == nil {
				continue
			}
			p := parsedCompose{label: s.label, data: data}
			p.f, p.err = compose.Parse(s.label, data)
			out = append(out, p)
		}
		ch <- out
	}()
	return ch
}

// parse is compose.Parse, answered by the background parse where it read
// the same bytes.
func (a *analysis) parse(label string, data []byte) (*compose.File, error) {
	if a.parsed != nil {
		a.parsedDone = <-a.parsed
		a.parsed = nil
	}
	for _, p := range a.parsedDone {
		if p.label == label && bytes.Equal(p.data, data) {
			return p.f, p.err
		}
	}
	return compose.Parse(label, data)
}

func (a *analysis) run() error {
	if err := a.resolveBase(); err != nil {
		return err
	}
	var err error
	if a.headTree, err = a.head.Tree(); err != nil {
		return fmt.Errorf("tree of HEAD %s: %w", a.head.Hash, err)
	}
	if a.baseTree, err = a.base.Tree(); err != nil {
		return fmt.Errorf("tree of base %s: %w", a.base.Hash, err)
	}
	a.changes, err = diffTrees(a.gx, a.baseTree, a.headTree)
	if err != nil {
		return fmt.Errorf("diff %s..%s: %w", gitx.Short(a.base.Hash.String()), gitx.Short(a.head.Hash.String()), err)
	}
	a.changed = make(map[string]change, len(a.changes))
	for _, c := range a.changes {
		a.changed[c.path] = c
	}
	// What is slow and needs nothing of the analysis runs beside it, on
	// the other core: the compose files' parse, and with Full every
	// file's diff.
	a.parsed = a.startParse()
	if a.opt.Full && len(a.changes) > 0 {
		a.prefetch = startPrefetch(a.gx, a.base.Hash.String(), a.head.Hash.String(), a.changes)
	}

	currentConf, err := os.ReadFile(filepath.Join(a.opt.Dir, ConfFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", ConfFile, err)
	}
	a.red = a.opt.Redactor
	if a.red == nil {
		a.red = secret.NewRedactor(currentConf, a.opt.OldMailcowConf)
	}

	if err := a.lostHunks(); err != nil {
		return err
	}
	if err := a.patched(); err != nil {
		return err
	}
	if err := a.shadows(); err != nil {
		return err
	}
	if err := a.composeChecks(); err != nil {
		return err
	}
	if a.opt.OldMailcowConf != nil && currentConf != nil {
		a.confKeys(a.opt.OldMailcowConf, currentConf)
	}
	return a.attachDiffs()
}

// diffTrees lists the files whose content or mode differs between two
// trees, from gitx's tree diff; a submodule counts as absent, and a path
// that is a file on one side and a directory on the other is a deleted
// file and added files, or the reverse.
func diffTrees(gx *gitx.Repo, from, to *object.Tree) ([]change, error) {
	var fh, th plumbing.Hash
	if from != nil {
		fh = from.Hash
	}
	if to != nil {
		th = to.Hash
	}
	tcs, err := gx.DiffTrees(fh, th)
	if err != nil {
		return nil, err
	}
	out := make([]change, 0, len(tcs))
	for _, c := range tcs {
		f, t := blobOf(c.From), blobOf(c.To)
		if f != t || (!f.IsZero() && !t.IsZero() && c.From.Mode != c.To.Mode) {
			out = append(out, change{path: c.Path, from: f, to: t})
		}
	}
	return out, nil
}

// blobOf is an entry's blob (or link), zero for a submodule or none.
func blobOf(e object.TreeEntry) plumbing.Hash {
	if e.Mode == filemode.Submodule {
		return plumbing.ZeroHash
	}
	return e.Hash
}

func (a *analysis) resolveBase() error {
	var err error
	a.head, err = a.commit("HEAD")
	if err != nil {
		return fmt.Errorf("resolve HEAD: %w", err)
	}
	switch {
	case a.opt.Base != "":
		if a.base, err = a.commit(a.opt.Base); err != nil {
			return fmt.Errorf("resolve --base %s: %w", a.opt.Base, err)
		}
		a.source = SourceExplicit
	case a.head.NumParents() >= 2 && strings.HasPrefix(a.head.Message, AfterPrefix):
		if a.base, err = a.head.Parent(0); err != nil {
			return fmt.Errorf("first parent of %s: %w", gitx.Short(a.head.Hash.String()), err)
		}
		a.source = SourceMerge
	case strings.HasPrefix(a.head.Message, BeforePrefix):
		a.base, a.source = a.head, SourceBeforeCommit
	default:
		if a.opt.Recorded != "" {
			if c, err := a.commit(a.opt.Recorded); err == nil {
				a.base, a.source = c, SourceRecorded
			}
		}
		if a.base == nil {
			if c, err := a.commit("ORIG_HEAD"); err == nil {
				a.base, a.source = c, SourceOrigHead
			}
		}
		if a.base == nil {
			if a.head.NumParents() == 0 {
				return fmt.Errorf("HEAD %s has no parent, no recorded commit and no ORIG_HEAD: %w", gitx.Short(a.head.Hash.String()), ErrNoBase)
			}
			if a.base, err = a.head.Parent(0); err != nil {
				return fmt.Errorf("parent of %s: %w", gitx.Short(a.head.Hash.String()), err)
			}
			a.source = SourceParent
		}
	}
	if strings.HasPrefix(a.base.Message, BeforePrefix) && a.base.NumParents() > 0 {
		a.before = a.base
	}
	return nil
}

// commit resolves rev as git does: go-git's ResolveRevision answers
// "reference not found" for a commit it cannot read.
func (a *analysis) commit(rev string) (*object.Commit, error) {
	return a.gx.ResolveCommit(rev)
}

func (a *analysis) add(f Finding) {
	f.File = a.red.String(f.File)
	f.Reason = a.red.String(f.Reason)
	for i, l := range f.Lost {
		f.Lost[i] = a.red.String(l)
	}
	a.findings = append(a.findings, f)
}

// blob reads a blob, or returns nil for the zero hash.
func (a *analysis) blob(h plumbing.Hash) ([]byte, error) {
	if h.IsZero() {
		return nil, nil
	}
	b, err := a.repo.BlobObject(h)
	if err != nil {
		return nil, err
	}
	if b.Size > maxDiffBytes {
		return nil, fmt.Errorf("blob %s is %d bytes, more than %d", h, b.Size, maxDiffBytes)
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	data, err := io.ReadAll(rd)
	a.learn(data)
	return data, err
}

// learn makes the analysis hide the secrets set in a file it read, in
// every finding (report redacts them all again at the end).
func (a *analysis) learn(b []byte) {
	if a.red != nil || len(b) > 0 {
		a.red = a.red.Learn(b)
	}
}

func (a *analysis) treeFile(t *object.Tree, p string) ([]byte, bool, error) {
	e, err := t.FindEntry(p)
	if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !e.Mode.IsFile() {
		return nil, false, nil
	}
	b, err := a.blob(e.Hash)
	return b, err == nil, err
}

// current returns what a file holds now: the working tree, where the post
// hook re-applied the patches, else HEAD's version.
func (a *analysis) current(p string) ([]byte, bool, error) {
	b, err := os.ReadFile(filepath.Join(a.opt.Dir, filepath.FromSlash(p)))
	if err == nil {
		a.learn(b)
		return b, true, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("read %s: %w", p, err)
	}
	b, ok, err := a.treeFile(a.headTree, p)
	if err != nil {
		return nil, false, fmt.Errorf("read %s at HEAD: %w", p, err)
	}
	return b, ok, nil
}

// lostHunks judges every customization the install had before the
// update, not only this run's "Before update" commit: update.sh commits an
// edit once, and every later merge can drop it just the same. The
// customizations are the difference between the upstream base (merge-base
// of the pre-update commit and what was merged) and the pre-update commit;
// each is classified three-way against the merge result and the file now
// (ledger.Classify), the one judgement the post hook, diff, verify and
// replay share.
func (a *analysis) lostHunks() error {
	if a.base.Hash == a.head.Hash {
		return nil // nothing was merged
	}
	upstream := a.head.Hash
	if a.head.NumParents() >= 2 && a.head.ParentHashes[0] == a.base.Hash {
		upstream = a.head.ParentHashes[1]
	}
	ctx := context.Background()
	// The open repository's runner: its tree diffs and blob reads are
	// answered from the repository, without a git process each.
	g := a.gx.Git()
	ub, err := g.MergeBase(ctx, a.base.Hash.String(), upstream.String())
	if errors.Is(err, gitx.ErrNoMergeBase) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("upstream base of %s: %w", gitx.Short(a.base.Hash.String()), err)
	}
	a.upstreamBase, a.upstream = ub, upstream.String()
	set, results, err := ledger.Judge(ctx, g, ub, a.base.Hash.String(), a.red.String, a.versions)
	if err != nil {
		return fmt.Errorf("customizations of %s: %w", gitx.Short(a.base.Hash.String()), err)
	}
	a.custom = results
	byFile := map[string][]ledger.Result{}
	for _, r := range results {
		byFile[r.Block.File] = append(byFile[r.Block.File], r)
	}
	for _, file := range set.Files() {
		a.customFinding(file, byFile[file])
	}
	return nil
}

// versions reads what classifying a customized file needs.
func (a *analysis) versions(file string) (ledger.Files, error) {
	var f ledger.Files
	var err error
	if f.Merged, f.MergedOK, err = a.treeFile(a.headTree, file); err != nil {
		return f, fmt.Errorf("read %s at HEAD: %w", file, err)
	}
	if f.Now, f.NowOK, err = a.current(file); err != nil {
		return f, err
	}
	if ovr := ledger.OverrideFor(file); ovr != "" {
		if ob, ok, err := a.current(ovr); err == nil && ok {
			f.Override, f.OverrideName = ob, ovr
		}
	}
	if a.opt.PatchedFiles[file] {
		f.Patch = "an enabled patch"
		if n := a.opt.PatchNames[file]; n != "" {
			f.Patch = "patch " + n
		}
	}
	return f, nil
}

// customFinding turns one file's outcomes into at most one finding: HIGH
// for lines lost or a file deleted upstream, MEDIUM for lines that now
// stand only in the file's override.
func (a *analysis) customFinding(file string, rs []ledger.Result) {
	var lost, moved []string
	deleted, ovr := false, ""
	for _, r := range rs {
		switch r.Outcome {
		case ledger.Deleted:
			deleted = true
		case ledger.Lost:
			for _, l := range r.Missing {
				lost = append(lost, l.String())
			}
		case ledger.Moved:
			ovr = r.By
			for _, l := range r.Missing {
				moved = append(moved, l.String())
			}
		}
	}
	switch {
	case deleted:
		a.add(Finding{Risk: High, File: file, Reason: "customized file was deleted upstream: your changes to it are gone"})
	case len(lost) > 0:
		a.add(Finding{Risk: High, File: file, Lost: lost,
			Reason: fmt.Sprintf("local change dropped by the merge: %d %s of your customizations not in the file", len(lost), ui.Plural(len(lost), "line", "lines"))})
	case len(moved) > 0:
		a.add(Finding{Risk: Medium, File: file, Lost: moved,
			Reason: fmt.Sprintf("local change dropped by the merge, but %s, which overrides it, has the same %s", ovr, ui.Plural(len(moved), "line", "lines"))})
	}
}

// patched judges the files the enabled patches edit that the update
// changed, setting by setting: upstream changing other settings of a file
// whose patch was re-applied needs nothing from the admin (it is counted
// with the other changed files); upstream changing the value of a setting
// the patch (or the admin) sets is MEDIUM, with upstream's old and new
// value and the admin's; upstream removing such a setting, deleting the
// file, or the patch failing is HIGH.
func (a *analysis) patched() error {
	for _, c := range a.changes {
		if !a.opt.PatchedFiles[c.path] || a.opt.FailedPatches[c.path] != "" {
			continue
		}
		who := "an enabled patch"
		if n := a.opt.PatchNames[c.path]; n != "" {
			who = "patch " + n
		}
		if c.to.IsZero() {
			a.add(Finding{Risk: High, File: c.path, DiffFile: c.path, upstream: true,
				Reason: "upstream deleted this file, which " + who + " edits: the patch has nothing to edit now"})
			continue
		}
		if err := a.settingChanges(c.path, c.path, who); err != nil {
			return err
		}
	}
	for _, file := range sortedKeys(a.opt.FailedPatches) {
		a.add(Finding{Risk: High, File: file, DiffFile: file, upstream: true, Reason: a.opt.FailedPatches[file]})
	}
	return nil
}

// shadows judges the override files whose base file the update changed,
// setting by setting: an override setting upstream changed the default of
// is MEDIUM (yours still wins), one upstream removed is HIGH (check that
// it still does anything). docker-compose.override.yml is judged per
// service in composeChecks.
func (a *analysis) shadows() error {
	for _, c := range a.changes {
		ovr := ledger.OverrideFor(c.path)
		if ovr == "" || !a.exists(ovr) {
			continue
		}
		if err := a.settingChanges(c.path, ovr, ovr); err != nil {
			return err
		}
	}
	return nil
}

// settingChanges compares upstream's change of file (from the upstream
// commit the install was based on to the one merged) with the settings
// the admin's version of setFile sets (the file itself after the patches,
// or its override), and reports each setting both touch.
func (a *analysis) settingChanges(file, setFile, who string) error {
	if !settings.Known(file) {
		return nil
	}
	old, _, err := a.upstreamFile(a.upstreamBase, file)
	if err != nil {
		return err
	}
	newb, newOK, err := a.upstreamFile(a.upstream, file)
	if err != nil {
		return err
	}
	up := settings.Diff(settings.Parse(file, old), settings.Parse(file, newb))
	if len(up) == 0 {
		return nil
	}
	cur, ok, err := a.current(setFile)
	if err != nil || !ok {
		return err
	}
	mine := settings.Parse(setFile, cur)
	upNew := settings.Parse(file, newb)
	var removed, changed []string
	for _, name := range sortedKeys(up) {
		ch := up[name]
		m, sets := mine[name]
		if !sets {
			continue
		}
		// Where the admin's value is upstream's new one, the two agree:
		// nothing to look at.
		if u, ok := upNew[name]; ok && u.Value == m.Value {
			continue
		}
		switch {
		case ch.Removed || !newOK:
			removed = append(removed, fmt.Sprintf("%s (was %s; yours %s, line %d)", name, orNone(ch.Old), m.Value, m.Line))
		default:
			changed = append(changed, fmt.Sprintf("%s upstream %s → %s, yours %s", name, orNone(ch.Old), orNone(ch.New), m.Value))
		}
	}
	if setFile == file {
		if len(removed) > 0 {
			a.add(Finding{Risk: High, File: file, DiffFile: file, upstream: true,
				Reason: fmt.Sprintf("upstream removed %s that %s sets: %s; check where the release keeps it now", ui.Plural(len(removed), "a setting", "settings"), who, strings.Join(removed, "; "))})
		}
		if len(changed) > 0 {
			a.add(Finding{Risk: Medium, File: file, Reason: fmt.Sprintf("%s (%s)", strings.Join(changed, "; "), who)})
		}
		return nil
	}
	if len(removed) > 0 {
		a.add(Finding{Risk: High, File: setFile, DiffFile: file, upstream: true,
			Reason: fmt.Sprintf("upstream removed %s this file overrides from %s: %s; check it still has an effect", ui.Plural(len(removed), "a setting", "settings"), file, strings.Join(removed, "; "))})
	}
	if len(changed) > 0 {
		a.add(Finding{Risk: Medium, File: setFile,
			Reason: fmt.Sprintf("overrides settings upstream changed in %s: %s", file, strings.Join(changed, "; "))})
	}
	return nil
}

// upstreamFile reads file at commit rev ("" for none).
func (a *analysis) upstreamFile(rev, file string) ([]byte, bool, error) {
	if rev == "" {
		return nil, false, nil
	}
	t, err := a.treeOf(rev)
	if err != nil {
		return nil, false, err
	}
	return a.treeFile(t, file)
}

func (a *analysis) treeOf(rev string) (*object.Tree, error) {
	if a.trees == nil {
		a.trees = map[string]*object.Tree{}
	}
	if t, ok := a.trees[rev]; ok {
		return t, nil
	}
	c, err := a.repo.CommitObject(plumbing.NewHash(rev))
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", gitx.Short(rev), err)
	}
	t, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("tree of %s: %w", gitx.Short(rev), err)
	}
	a.trees[rev] = t
	return t, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (a *analysis) exists(p string) bool {
	if _, err := os.Stat(filepath.Join(a.opt.Dir, filepath.FromSlash(p))); err == nil {
		return true
	}
	_, err := a.headTree.FindEntry(p)
	return err == nil
}

func (a *analysis) composeChecks() error {
	c, changed := a.changed[ComposeFile]
	var oldF, newF *compose.File
	var newb []byte
	if changed {
		var err error
		if oldF, newF, newb, err = a.composeVersions(c); err != nil {
			return err
		}
	}
	ovrb, err := os.ReadFile(filepath.Join(a.opt.Dir, OverrideFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", OverrideFile, err)
	}
	ovr, err := a.parse(OverrideFile, ovrb)
	if err != nil {
		a.add(Finding{Risk: High, File: OverrideFile, Reason: "does not parse, docker compose will refuse it: " + err.Error()})
		return nil
	}
	// What compose merges the override with is the working tree's file.
	curb, ok, err := a.current(ComposeFile)
	if err != nil {
		return err
	}
	if !ok {
		return nil
	}
	// Parsed above already when the work tree's file is HEAD's (no
	// patch edits it), as after most updates.
	cur := newF
	if cur == nil || !bytes.Equal(curb, newb) {
		cur, err = a.parse(ComposeFile, curb)
	}
	if err != nil {
		a.add(Finding{Risk: High, File: ComposeFile, Reason: "does not parse: " + err.Error()})
		return nil
	}
	for _, name := range ovr.Names() {
		a.overrideService(name, ovr.Services[name], cur, oldF, newF, changed)
	}
	return nil
}

// composeVersions reads and parses the compose file before and after the
// update, and adds the findings of its service changes. A version that
// does not parse is itself the finding and comes back nil: the other
// checks then have nothing to stand on.
func (a *analysis) composeVersions(c change) (oldF, newF *compose.File, newb []byte, err error) {
	oldb, err := a.blob(c.from)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read %s at %s: %w", ComposeFile, gitx.Short(a.base.Hash.String()), err)
	}
	if newb, err = a.blob(c.to); err != nil {
		return nil, nil, nil, fmt.Errorf("read %s at %s: %w", ComposeFile, gitx.Short(a.head.Hash.String()), err)
	}
	if oldF, err = a.parse(ComposeFile+" (base)", oldb); err != nil {
		a.add(Finding{Risk: Medium, File: ComposeFile, Reason: "cannot compare services: " + err.Error()})
		oldF = nil
	}
	if newF, err = a.parse(ComposeFile+" (HEAD)", newb); err != nil {
		a.add(Finding{Risk: High, File: ComposeFile, DiffFile: ComposeFile, Reason: "compose file at HEAD does not parse: " + err.Error()})
		newF = nil
	}
	if oldF != nil && newF != nil {
		a.serviceChanges(oldF, newF)
	}
	return oldF, newF, newb, nil
}

// overrideService judges one service of the override against the compose
// file compose merges it with (cur) and what the update changed under it
// (oldF → newF; nil when not known).
func (a *analysis) overrideService(name string, o *compose.Service, cur, oldF, newF *compose.File, changed bool) {
	base := cur.Services[name]
	if base == nil {
		if o.HasImage {
			return // a service of the admin's own, complete in itself
		}
		why := "is not in " + ComposeFile
		if oldF != nil && oldF.Services[name] != nil {
			why = "was removed or renamed in " + ComposeFile + " by this update"
		}
		a.add(Finding{Risk: High, File: OverrideFile, DiffFile: diffFileIf(changed, ComposeFile),
			Reason: fmt.Sprintf("service %s (line %d) %s: the override now defines a broken partial service", name, o.Line, why)})
		return
	}
	if compose.AppendsDNS(base, o) {
		a.add(Finding{Risk: Medium, File: OverrideFile,
			Reason: fmt.Sprintf("service %s (line %d) sets dns, and %s does too: compose concatenates the lists, it does not replace them", name, o.Line, ComposeFile)})
	}
	if oldF == nil || newF == nil {
		return
	}
	if was, now := oldF.Services[name], newF.Services[name]; was != nil && now != nil {
		a.shadowedDefaults(name, o, was, now)
	}
}

// shadowedDefaults adds a finding when upstream changed defaults of a
// service under keys the override sets: the override's keys still win
// (compose merges them over the base), the new defaults are not used.
func (a *analysis) shadowedDefaults(name string, o, was, now *compose.Service) {
	var keys []string
	for k := range o.Keys {
		if was.Keys[k] != now.Keys[k] {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return
	}
	sort.Strings(keys)
	var vals []string
	for _, k := range keys {
		switch k {
		case "image":
			vals = append(vals, fmt.Sprintf("image upstream %s → %s, yours %s", orNone(was.Image), orNone(now.Image), orNone(o.Image)))
		case "mem_limit":
			vals = append(vals, fmt.Sprintf("mem_limit upstream %s → %s, yours %s", orNone(was.MemLimit), orNone(now.MemLimit), orNone(o.MemLimit)))
		default:
			vals = append(vals, k+" changed upstream")
		}
	}
	a.add(Finding{Risk: Medium, File: OverrideFile,
		Reason: fmt.Sprintf("service %s: %s; the override sets it", name, strings.Join(vals, "; "))})
}

func diffFileIf(ok bool, p string) string {
	if ok {
		return p
	}
	return ""
}

func (a *analysis) serviceChanges(oldF, newF *compose.File) {
	for _, name := range newF.Names() {
		if oldF.Services[name] == nil {
			img := newF.Services[name].Image
			a.add(Finding{Risk: Medium, File: ComposeFile, Reason: fmt.Sprintf("new service %s (image %s)", name, orNone(img))})
		}
	}
	var images []string
	for _, name := range oldF.Names() {
		was, now := oldF.Services[name], newF.Services[name]
		if now == nil {
			a.add(Finding{Risk: Medium, File: ComposeFile, Reason: fmt.Sprintf("service %s removed", name)})
			continue
		}
		if was.Image != now.Image {
			images = append(images, fmt.Sprintf("%s %s", strings.TrimSuffix(name, "-mailcow"), imageTag(now.Image)))
		}
		var what []string
		if d := listDelta("ports", was.Ports, now.Ports); d != "" {
			what = append(what, d)
		}
		if d := listDelta("volumes", was.Volumes, now.Volumes); d != "" {
			what = append(what, d)
		}
		if len(what) > 0 {
			a.add(Finding{Risk: Medium, File: ComposeFile, Reason: fmt.Sprintf("service %s: %s", name, strings.Join(what, "; "))})
		}
	}
	// Image bumps are every release's routine: one line for all of them.
	if len(images) > 0 {
		a.add(Finding{Risk: Medium, File: ComposeFile, Reason: fmt.Sprintf("%s: %s", ui.Plural(len(images), "1 image updated", fmt.Sprintf("%d images updated", len(images))), strings.Join(images, ", "))})
	}
}

// imageTag is an image's tag ("1.71"), or the image when it has none.
func imageTag(img string) string {
	if i := strings.LastIndexByte(img, ':'); i >= 0 && !strings.Contains(img[i:], "/") {
		return img[i+1:]
	}
	return orNone(img)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// listDelta describes what was added to and removed from a list, or ""
// when it has the same entries.
func listDelta(what string, was, now []string) string {
	in := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	wm, nm := in(was), in(now)
	var parts []string
	for _, s := range now {
		if !wm[s] {
			parts = append(parts, "+"+s)
		}
	}
	for _, s := range was {
		if !nm[s] {
			parts = append(parts, "-"+s)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return what + " " + strings.Join(parts, " ")
}

func (a *analysis) confKeys(oldConf, curConf []byte) {
	was, wasOrder := confKeys(oldConf)
	now, nowOrder := confKeys(curConf)
	show := func(k, v string) string {
		if secret.IsName(k) {
			return k + "=" + secret.Redacted
		}
		return k + "=" + v
	}
	for _, k := range nowOrder {
		v, had := was[k]
		switch {
		case !had:
			a.add(Finding{Risk: Medium, File: ConfFile, Reason: "key added by the update: " + show(k, now[k])})
		case v != now[k]:
			if secret.IsName(k) {
				a.add(Finding{Risk: Medium, File: ConfFile, Reason: "value changed by the update: " + k})
			} else {
				a.add(Finding{Risk: Medium, File: ConfFile, Reason: fmt.Sprintf("value changed by the update: %s (was %s)", show(k, now[k]), v)})
			}
		}
	}
	for _, k := range wasOrder {
		if _, ok := now[k]; !ok {
			a.add(Finding{Risk: Medium, File: ConfFile, Reason: "key removed by the update: " + show(k, was[k])})
		}
	}
}

// attachDiffs sets the diff of every HIGH finding that has a file to
// show.
func (a *analysis) attachDiffs() error {
	for i := range a.findings {
		f := &a.findings[i]
		if f.Risk != High {
			continue
		}
		if f.DiffFile == "" {
			if _, ok := a.changed[f.File]; ok {
				f.DiffFile = f.File
			}
		}
		c, ok := a.changed[f.DiffFile]
		if !ok {
			f.DiffFile = ""
			continue
		}
		if f.upstream {
			c = a.upstreamChange(c)
		}
		d, err := a.diff(c)
		if err != nil {
			return err
		}
		f.Diff = d
		if len(f.Lost) > 0 && !f.upstream && a.upstreamBase != "" {
			if f.UpstreamDiff, err = a.diff(a.upstreamChange(c)); err != nil {
				return err
			}
		}
	}
	return nil
}

// upstreamChange returns c as upstream made it: from the upstream commit
// the admin's edits were made on (the Before update commit's parent)
// rather than from the admin's version, so a patched file's diff shows
// what upstream changed, not the admin's value going away.
func (a *analysis) upstreamChange(c change) change {
	if a.upstreamBase != "" && a.upstream != "" {
		if from, err := a.treeOf(a.upstreamBase); err == nil {
			if to, err := a.treeOf(a.upstream); err == nil {
				c.from, c.to = entryHash(from, c.path), entryHash(to, c.path)
				return c
			}
		}
	}
	if a.before == nil {
		return c
	}
	parent, err := a.before.Parent(0)
	if err != nil {
		return c
	}
	t, err := parent.Tree()
	if err != nil {
		return c
	}
	e, err := t.FindEntry(c.path)
	if err != nil {
		c.from = plumbing.ZeroHash
		return c
	}
	c.from = e.Hash
	return c
}

func entryHash(t *object.Tree, p string) plumbing.Hash {
	e, err := t.FindEntry(p)
	if err != nil || !e.Mode.IsFile() {
		return plumbing.ZeroHash
	}
	return e.Hash
}

func (a *analysis) diff(c change) (string, error) {
	return diffChange(a.repo, a.red, c)
}

func diffChange(repo *git.Repository, red *secret.Redactor, c change) (string, error) {
	return prepareChange(repo, c).text(red)
}

// prepared is a change's diff before redaction: what diffChange needs
// of the repository, made apart from (concurrently with) the analysis
// whose Redactor hides its secrets.
type prepared struct {
	final   string           // a text to show as it is (binary, too large)
	diff    string           // else the unified diff,
	learned *secret.Redactor // with the secrets both versions set
	err     error
}

// prepareChange reads and diffs both versions of c.
func prepareChange(repo *git.Repository, c change) prepared {
	read := func(h plumbing.Hash) ([]byte, error) {
		if h.IsZero() {
			return nil, nil
		}
		b, err := repo.BlobObject(h)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", c.path, err)
		}
		if b.Size > maxDiffBytes {
			return nil, errTooLarge
		}
		rd, err := b.Reader()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", c.path, err)
		}
		defer rd.Close()
		data, err := io.ReadAll(rd)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", c.path, err)
		}
		return data, nil
	}
	oldName, newName := "a/"+c.path, "b/"+c.path
	if c.from.IsZero() {
		oldName = "/dev/null"
	}
	if c.to.IsZero() {
		newName = "/dev/null"
	}
	oldb, err := read(c.from)
	if err == nil {
		var newb []byte
		newb, err = read(c.to)
		if err == nil {
			if isBinary(oldb) || isBinary(newb) {
				return prepared{final: fmt.Sprintf("Binary files %s and %s differ\n", oldName, newName)}
			}
			// Context lines too: both versions' secrets are hidden.
			return prepared{diff: udiff.Unified(oldName, newName, string(oldb), string(newb)), learned: secret.NewRedactor(oldb, newb)}
		}
	}
	if errors.Is(err, errTooLarge) {
		return prepared{final: fmt.Sprintf("--- %s\n+++ %s\n(larger than %d bytes, diff not shown)\n", oldName, newName, maxDiffBytes)}
	}
	return prepared{err: err}
}

// text is the diff with the secrets red and both versions set hidden.
func (p prepared) text(red *secret.Redactor) (string, error) {
	switch {
	case p.err != nil:
		return "", p.err
	case p.final != "":
		return p.final, nil
	}
	return red.Join(p.learned).String(p.diff), nil
}

var errTooLarge = errors.New("too large to diff")

func isBinary(b []byte) bool {
	n := min(len(b), 8000)
	return strings.IndexByte(string(b[:n]), 0) >= 0
}

func (a *analysis) report() *Report {
	// Hide in every finding what files read after it was added set.
	for i := range a.findings {
		f := &a.findings[i]
		f.File, f.Reason, f.Diff = a.red.String(f.File), a.red.String(f.Reason), a.red.String(f.Diff)
		for j, l := range f.Lost {
			f.Lost[j] = a.red.String(l)
		}
	}
	sort.SliceStable(a.findings, func(i, j int) bool {
		fi, fj := a.findings[i], a.findings[j]
		if fi.Risk != fj.Risk {
			return fi.Risk > fj.Risk
		}
		return fi.File < fj.File
	})
	named := map[string]bool{}
	for _, f := range a.findings {
		named[f.File] = true
		if f.DiffFile != "" {
			named[f.DiffFile] = true
		}
	}
	low := map[string]int{}
	for _, c := range a.changes {
		if !named[c.path] {
			low[a.red.String(Area(c.path))]++
		}
	}
	r := &Report{
		Base: a.base.Hash.String(), BaseSource: a.source, Head: a.head.Hash.String(),
		Findings: a.findings, Low: low, UpstreamBase: a.upstreamBase, Upstream: a.upstream, Custom: a.custom,
		src: &source{dir: a.opt.Dir, changes: a.changes, redactor: a.red},
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	if a.before != nil {
		r.Before = a.before.Hash.String()
	}
	return r
}

// Area is where a changed file counts in the LOW summary: the top-level
// directory, data's second level (data/web, data/conf), or "." for the
// files at the top.
func Area(p string) string {
	parts := strings.SplitN(p, "/", 3)
	switch {
	case len(parts) == 1:
		return "."
	case parts[0] == "data" && len(parts) == 3:
		return "data/" + parts[1]
	}
	return parts[0]
}
