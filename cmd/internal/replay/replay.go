// Package replay rehearses mailcow updates in a scratch clone, so that an
// admin learns in CI, not on the production server at night, that the next
// release breaks a customization: what `mcupdate replay` runs.
//
// # What one replay does
//
//  1. One clone of the upstream (a URL or a path) into a scratch directory;
//     every target is replayed in that one clone, so objects are fetched
//     and stored once.
//  2. The admin's state at FROM: branch master at FROM, tracking
//     origin/master; with Local, the install's edits of tracked files
//     (its work tree against its upstream commit) and its gitignored
//     overrides (its last snapshot, else a copy); then the enabled patches,
//     applied with the patch engine. A patch whose file is not in that
//     state (mailcow.conf without Local) is left out, with a warning; one
//     that does not apply at FROM is an input error.
//  3. Per target, exactly update.sh's git steps (updatesh.Run: "Before
//     update" commit, merge -Xtheirs -Xpatience, the exit-1 clean-up, the
//     128 abort), then the post hook without restarts (hook.Post in a
//     scratch state dir), the risk ranking and the verify checks (never the
//     daemon.json check: no Docker in a replay).
//  4. Chain walks FROM → T1 → T2 … in the one install, as an admin updating
//     every release does; otherwise each target starts again from the
//     admin's state at FROM.
//
// The scratch directory is removed at the end, also when the context is
// cancelled (git commands are killed with their process group first),
// unless Keep.
//
// # Verdicts
//
// Every target gets one, with its reasons (see [Reason]):
//
//	OK         the update changes nothing the admin customized
//	REAPPLIED  upstream clobbered a patched file and the patch restored it
//	           (or the post hook restored an override): fine, worth knowing
//	BROKEN     update.sh would abort the merge; a patch's anchor or file is
//	           gone, or one of its coupled edits could not be completed; a
//	           local change the merge dropped that no patch puts back; a
//	           customized file deleted upstream; an override naming a
//	           service docker-compose.yml no longer has; any other verify
//	           check that fails
//
// Risk findings (HIGH, MEDIUM) are listed with each target but do not
// decide its verdict beyond the rules above.
package replay

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/hook"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/risk"
	"github.com/mcupdate/mcupdate/cmd/internal/secret"
	"github.com/mcupdate/mcupdate/cmd/internal/snapshot"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
	"github.com/mcupdate/mcupdate/cmd/internal/verify"
)

// Options says what to replay.
type Options struct {
	// Upstream is the mailcow repository: a URL or a path.
	Upstream string
	// From is the release the admin is at (tag, branch or commit).
	From string
	// To lists the targets; Tags selects them instead: the tags matching
	// the glob (path.Match syntax) that are newer than From, oldest first.
	To   []string
	Tags string
	// Chain replays the targets one after the other in one install.
	Chain bool
	// Local is an install whose tracked edits and overrides join the
	// admin's state; it is only read.
	Local string
	// StateDir is the admin's state directory, read for Local's last
	// snapshot; "" for none.
	StateDir string
	// Config is the admin's configuration: enabled patches, own patch
	// dir, snapshot paths and dirs.
	Config *config.Config
	// TempDir is where the scratch directory is made; "" means
	// os.TempDir() ($TMPDIR).
	TempDir string
	// Keep leaves the scratch directory in place (Report.Scratch).
	Keep bool
	// Env is the environment for git; nil means os.Environ().
	Env []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// UI gets progress lines and warnings; nil prints nothing. With
	// UI.Verbose the post hook's own output is shown too.
	UI *ui.UI
	// Progress, when set, is called as each target starts and ends
	// (done=false, then true): a seam for tests that interrupt a replay.
	Progress func(target string, done bool)
}

// Schema is the version of the report's JSON form; it changes only when a
// field is removed or changes meaning.
const Schema = 1

// Verdict is a target's outcome.
type Verdict string

// The verdicts, from best to worst.
const (
	OK        Verdict = "OK"
	Reapplied Verdict = "REAPPLIED"
	Broken    Verdict = "BROKEN"
)

// Reason kinds, stable: scripts read them from the JSON.
const (
	KindReapplied       = "reapplied"         // REAPPLIED: patch, edit, file
	KindOverrideBack    = "override-restored" // REAPPLIED: file
	KindMergeAborted    = "merge-aborted"     // BROKEN: message (git's output)
	KindAnchorMissing   = "anchor-missing"    // BROKEN: patch, edit, file, anchor
	KindFileMissing     = "file-missing"      // BROKEN: patch, edit, file
	KindEditFailed      = "edit-failed"       // BROKEN: patch, edit, file, message
	KindCoupledEdit     = "coupled-edit"      // BROKEN: patch, edit, file: not applied because a sibling edit failed
	KindLostLines       = "lost-lines"        // BROKEN: file, lost
	KindFileDeleted     = "file-deleted"      // BROKEN: file, lost (the admin's lines in it)
	KindVanishedService = "vanished-service"  // BROKEN: file, service
	KindCheckFailed     = "check-failed"      // BROKEN: check, message
)

// Report is the result of one replay. Its JSON form (schema 1):
//
//	{
//	  "schema": 1,
//	  "upstream": "https://github.com/mailcow/mailcow-dockerized",  // password hidden
//	  "from": {"ref": "2026-01", "commit": "…"},
//	  "mode": "direct" | "chain",
//	  "local": "/opt/mailcow-dockerized",          // omitted without --local
//	  "overrides": "where the overrides came from", // omitted without --local
//	  "left_out": ["fts-heap"],                    // patches not replayed (file not in the state)
//	  "warnings": ["…"],
//	  "targets": [{
//	    "ref": "2026-03", "commit": "…", "base": "2026-01",  // base: where the merge started
//	    "verdict": "OK" | "REAPPLIED" | "BROKEN",
//	    "reasons": [{"verdict": "BROKEN"|"REAPPLIED", "kind": "anchor-missing", "patch": "…",
//	                 "edit": "…", "file": "…", "anchor": "…", "service": "…", "check": "…",
//	                 "lost": ["+line"], "message": "one line"}],   // empty fields omitted
//	    "merge": {"exit": 0|1|128, "removed": ["…"], "aborted": false, "before": "…", "head": "…"},
//	    "risk": {"high": 0, "medium": 0, "low": 0},
//	    "findings": [{"risk": "HIGH"|"MEDIUM", "file": "…", "reason": "…", "lost": ["…"], "diff_file": "…"}],
//	    "checks": [{"name": "…", "status": "warn"|"fail", "detail": "…", "fix": "…", "items": ["…"]}],
//	    "seconds": 0.12
//	  }],
//	  "counts": {"ok": 1, "reapplied": 1, "broken": 2},
//	  "ok": false,                                   // true when no target is BROKEN
//	  "scratch": "/tmp/mcupdate-replay-…",           // only when kept
//	  "seconds": 1.5
//	}
//
// Every string has passed through a redactor built from the replayed
// mailcow.conf.
type Report struct {
	Schema    int      `json:"schema"`
	Upstream  string   `json:"upstream"`
	From      RefInfo  `json:"from"`
	Mode      string   `json:"mode"`
	Local     string   `json:"local,omitempty"`
	Overrides string   `json:"overrides,omitempty"`
	LeftOut   []string `json:"left_out,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Targets   []Target `json:"targets"`
	Counts    Counts   `json:"counts"`
	OK        bool     `json:"ok"`
	Scratch   string   `json:"scratch,omitempty"`
	Seconds   float64  `json:"seconds"`
}

// RefInfo is a ref as given and the commit it names.
type RefInfo struct {
	Ref    string `json:"ref"`
	Commit string `json:"commit"`
}

// Counts counts the targets per verdict.
type Counts struct {
	OK        int `json:"ok"`
	Reapplied int `json:"reapplied"`
	Broken    int `json:"broken"`
}

// Target is one replayed update.
type Target struct {
	Ref      string          `json:"ref"`
	Commit   string          `json:"commit"`
	Base     string          `json:"base"`
	Verdict  Verdict         `json:"verdict"`
	Reasons  []Reason        `json:"reasons"`
	Merge    Merge           `json:"merge"`
	Risk     risk.JSONCounts `json:"risk"`
	Findings []Finding       `json:"findings"`
	Checks   []verify.Check  `json:"checks"`
	Seconds  float64         `json:"seconds"`
}

// Finding is a HIGH or MEDIUM finding of the risk ranking (see
// risk.JSONFinding; the diffs are left out).
type Finding struct {
	Risk     string   `json:"risk"`
	File     string   `json:"file"`
	Reason   string   `json:"reason"`
	Lost     []string `json:"lost,omitempty"`
	DiffFile string   `json:"diff_file,omitempty"`
}

// Merge is what update.sh's git steps did.
type Merge struct {
	Exit    int      `json:"exit"`
	Removed []string `json:"removed,omitempty"`
	Aborted bool     `json:"aborted,omitempty"`
	Before  string   `json:"before,omitempty"`
	Head    string   `json:"head,omitempty"`
}

// Reason is one thing behind a verdict.
type Reason struct {
	Verdict Verdict  `json:"verdict"`
	Kind    string   `json:"kind"`
	Patch   string   `json:"patch,omitempty"`
	Edit    string   `json:"edit,omitempty"`
	File    string   `json:"file,omitempty"`
	Anchor  string   `json:"anchor,omitempty"`
	Service string   `json:"service,omitempty"`
	Check   string   `json:"check,omitempty"`
	Lost    []string `json:"lost,omitempty"`
	Message string   `json:"message"`
}

// InputError is a problem with what the replay was asked to do: an
// unknown ref, an unreachable upstream, an unreadable --local install, a
// patch that does not apply at From. The command exits 2 on it.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputf(format string, a ...any) error { return &InputError{fmt.Errorf(format, a...)} }

// ErrInterrupted wraps the context's error when a replay is cancelled.
var ErrInterrupted = errors.New("replay interrupted")

// scratchSys writes into the scratch clone. Owners are not replayed: a
// snapshot taken as root holds uid 165536 (userns-remap), which a CI
// runner cannot chown to, and ownership decides no verdict.
type scratchSys struct{ fsx.Real }

func (scratchSys) Lchown(string, int, int) error { return nil }

// replayer is one replay's state.
type replayer struct {
	opt           Options
	cfg           *config.Config // the admin's
	run           *config.Config // what the replayed hooks see: no restarts, no daemon.json, left-out patches off
	git           *git
	ui            *ui.UI
	now           func() time.Time
	upstreamShown string
	scratch       string
	work          string // the install's work tree
	stateDir      state.Dir
	bound         []*patch.Bound
	local         *localState
	from          ref
	admin         *snapshot.Manifest // the admin's overrides at From, for direct mode
	// overridesTouched is set when a post hook's restore step did more
	// than compare: the next direct target must put the overrides back.
	overridesTouched bool
	report           *Report
}

// Run replays the update from opt.From to every target and returns the
// report. The error is an *InputError for bad input, wraps ErrInterrupted
// when ctx was cancelled, and is otherwise a failure of the replay itself
// (git, the disk); a BROKEN target is not an error.
func Run(ctx context.Context, opt Options) (_ *Report, err error) {
	r, err := newReplayer(opt)
	if err != nil {
		return nil, err
	}
	opt = r.opt
	start := r.now()
	upstream, err := absUpstream(opt.Upstream)
	if err != nil {
		return nil, err
	}

	if r.scratch, err = os.MkdirTemp(opt.TempDir, "mcupdate-replay-"); err != nil {
		return nil, fmt.Errorf("scratch directory: %w", err)
	}
	defer func() {
		if opt.Keep {
			r.report.Scratch = r.scratch
			return
		}
		if rmErr := os.RemoveAll(r.scratch); rmErr != nil && err == nil {
			err = fmt.Errorf("remove the scratch directory: %w", rmErr)
		}
	}()
	defer func() {
		if err != nil && isCanceled(err) && !errors.Is(err, ErrInterrupted) {
			err = fmt.Errorf("%w: %w", ErrInterrupted, err)
		}
	}()
	r.work = filepath.Join(r.scratch, "mailcow")
	r.stateDir = state.Dir{Path: filepath.Join(r.scratch, "state")}
	if err := os.MkdirAll(r.stateDir.Path, 0o700); err != nil {
		return nil, err
	}

	targets, err := r.cloneAndResolve(ctx, upstream)
	if err != nil {
		return nil, err
	}
	if opt.Local != "" {
		if err := r.useLocal(ctx); err != nil {
			return nil, err
		}
	}
	if err := r.buildAdmin(ctx); err != nil {
		return nil, err
	}
	if err := r.replayAll(ctx, targets); err != nil {
		return nil, err
	}
	r.report.OK = r.report.Counts.Broken == 0
	r.report.Seconds = seconds(r.now().Sub(start))
	return r.report, nil
}

// newReplayer checks opt and fills in its defaults, and starts the
// report.
func newReplayer(opt Options) (*replayer, error) {
	if opt.Config == nil {
		opt.Config = config.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	u := opt.UI
	if u == nil {
		u = ui.Discard()
	}
	if err := checkOptions(opt); err != nil {
		return nil, err
	}
	secret := urlSecret(opt.Upstream)
	r := &replayer{opt: opt, cfg: opt.Config, ui: u, now: opt.Now, git: newGit(opt.Env, secret), upstreamShown: secret(opt.Upstream)}
	r.report = &Report{Schema: Schema, Upstream: r.upstreamShown, Mode: "direct", Targets: []Target{}}
	if opt.Chain {
		r.report.Mode = "chain"
	}
	return r, nil
}

// absUpstream makes an upstream that is a local directory absolute; a
// URL is left as it is.
func absUpstream(upstream string) (string, error) {
	fi, statErr := os.Stat(upstream)
	if statErr != nil || !fi.IsDir() {
		return upstream, nil
	}
	abs, err := filepath.Abs(upstream)
	if err != nil {
		return "", inputf("--upstream %s: %v", upstream, err)
	}
	return abs, nil
}

// cloneAndResolve clones upstream into the scratch install and resolves
// the start (--from, into the report) and the targets.
func (r *replayer) cloneAndResolve(ctx context.Context, upstream string) ([]ref, error) {
	if err := r.clone(ctx, upstream); err != nil {
		return nil, err
	}
	refs, err := r.readRefs(ctx)
	if err != nil {
		return nil, err
	}
	if r.from, err = r.resolve(ctx, refs, r.opt.From, "--from"); err != nil {
		return nil, err
	}
	r.report.From = RefInfo{Ref: r.opt.From, Commit: r.from.commit}
	return r.targets(ctx, refs)
}

// checkOptions refuses a replay that names no upstream, no start or no
// targets, or targets two ways.
func checkOptions(opt Options) error {
	switch {
	case opt.Upstream == "":
		return inputf("--upstream is required")
	case opt.From == "":
		return inputf("--from is required")
	case len(opt.To) > 0 && opt.Tags != "":
		return inputf("--to and --tags exclude each other")
	case len(opt.To) == 0 && opt.Tags == "":
		return inputf("name the targets: --to REF[,REF...] or --tags GLOB")
	}
	return nil
}

// clone makes the scratch install: a clone of upstream without a
// checkout, set up as update.sh expects master to track origin.
func (r *replayer) clone(ctx context.Context, upstream string) error {
	r.ui.Infof("cloning %s", r.upstreamShown)
	if _, err := r.git.clone.Run(ctx, "clone", "--no-checkout", "-q", "--", upstream, r.work); err != nil {
		if isCanceled(err) {
			return err
		}
		return inputf("--upstream %s: cannot clone: %v", r.upstreamShown, gitMessage(err))
	}
	for _, kv := range [][2]string{{"gc.auto", "0"}, {"branch.master.remote", "origin"}, {"branch.master.merge", "refs/heads/master"}} {
		if _, err := r.git.run(ctx, r.work, "config", kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// useLocal reads the --local install (its edits and overrides, from the
// admin's snapshots when there is a state dir) and refuses one based on
// another release than --from.
func (r *replayer) useLocal(ctx context.Context) error {
	adminStore := ""
	if r.opt.StateDir != "" {
		adminStore = filepath.Join(r.opt.StateDir, "snapshots")
	}
	var err error
	if r.local, err = r.readLocal(ctx, r.opt.Local, adminStore, filepath.Join(r.stateDir.Path, "snapshots")); err != nil {
		return err
	}
	r.report.Local, r.report.Overrides = r.local.dir, r.local.source
	if r.local.base != "" && r.local.base != r.from.commit {
		// Replaying the install's files from another release would
		// judge edits it does not have: refuse, naming its real base.
		real := gitx.Short(r.local.base)
		if tag, err := r.git.run(ctx, r.work, "describe", "--tags", "--exact-match", r.local.base); err == nil && tag != "" {
			real = tag + " (" + gitx.Short(r.local.base) + ")"
		}
		return inputf("--local %s is based on upstream %s, not on --from %s (%s): run the replay with --from %s", r.local.dir, real, r.opt.From, gitx.Short(r.from.commit), strings.Fields(real)[0])
	}
	return nil
}

// replayAll replays the update to each target in turn, from From or, in a
// chain, from the last target whose merge went through, and counts the
// verdicts.
func (r *replayer) replayAll(ctx context.Context, targets []ref) error {
	base := r.opt.From
	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !r.opt.Chain && len(r.report.Targets) > 0 {
			if err := r.reset(ctx); err != nil {
				return err
			}
		}
		if r.opt.Progress != nil {
			r.opt.Progress(t.name, false)
		}
		r.ui.Infof("replaying %s → %s", base, t.name)
		tr, err := r.target(ctx, t, base)
		if err != nil {
			return err
		}
		r.report.Targets = append(r.report.Targets, *tr)
		switch tr.Verdict {
		case OK:
			r.report.Counts.OK++
		case Reapplied:
			r.report.Counts.Reapplied++
		case Broken:
			r.report.Counts.Broken++
		}
		if r.opt.Progress != nil {
			r.opt.Progress(t.name, true)
		}
		if r.opt.Chain && !tr.Merge.Aborted {
			base = t.name
		}
	}
	return nil
}

// targets resolves --to or --tags.
func (r *replayer) targets(ctx context.Context, refs *refTable) ([]ref, error) {
	if r.opt.Tags != "" {
		return r.matchTags(ctx, refs, r.opt.Tags, r.from)
	}
	var out []ref
	var newer map[string]bool
	for _, name := range r.opt.To {
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, inputf("--to: empty ref in the list")
		}
		t, err := r.resolve(ctx, refs, name, "--to")
		if err != nil {
			return nil, err
		}
		if t.commit == r.from.commit {
			return nil, inputf("--to %s is --from %s itself: nothing to update", name, r.opt.From)
		}
		if newer == nil {
			if newer, err = r.containing(ctx, r.from.commit); err != nil {
				return nil, err
			}
		}
		if t.full != "" && !newer[t.full] {
			return nil, inputf("--to %s does not contain --from %s: a replay rehearses updates, not downgrades", name, r.opt.From)
		}
		out = append(out, t)
	}
	return out, nil
}

// buildAdmin puts the admin's state on top of From and snapshots its
// overrides (the pre hook's snapshot).
func (r *replayer) buildAdmin(ctx context.Context) error {
	if err := r.checkoutFrom(ctx); err != nil {
		return err
	}
	if r.local != nil {
		if err := r.local.writeTo(r.work); err != nil {
			return fmt.Errorf("--local: copy the tracked edits: %w", err)
		}
		res, err := snapshot.Restore(scratchSys{}, r.local.store, r.local.id, r.work, nil)
		if res == nil || err != nil {
			return inputf("--local %s: restore the overrides (%s): %v", r.local.dir, r.local.source, err)
		}
	}
	if err := r.bindPatches(); err != nil {
		return err
	}
	m, err := snapshot.Create(scratchSys{}, snapshot.Options{
		MailcowDir: r.work, Store: filepath.Join(r.stateDir.Path, "snapshots"),
		Paths: r.cfg.SnapshotPaths, Dirs: r.cfg.SnapshotDirs, Keep: 1000, Commit: r.from.commit, Now: r.now(),
	})
	if m == nil {
		return fmt.Errorf("snapshot of the replayed overrides: %w", err)
	}
	r.admin = m
	return nil
}

func (r *replayer) checkoutFrom(ctx context.Context) error {
	if _, err := r.git.run(ctx, r.work, "checkout", "-q", "-f", "-B", "master", r.from.commit, "--"); err != nil {
		return err
	}
	return nil
}

// bindPatches loads the enabled patches and applies them at From. A patch
// whose file the replayed state does not have (a gitignored file such as
// mailcow.conf, without --local) is left out with a warning; any other
// failure at From is the admin's to fix first.
func (r *replayer) bindPatches() error {
	run := *r.cfg
	run.IPv6, run.Restart = false, false
	run.Enabled = append([]string(nil), r.cfg.Enabled...)
	r.run = &run
	if len(run.Enabled) == 0 {
		return nil
	}
	env := r.hookEnv()
	bound, warnings, err := env.LoadPatches()
	for _, w := range warnings {
		r.warnf("%s", w)
	}
	if err != nil {
		return &InputError{err}
	}
	res, err := patch.Apply(scratchSys{}, r.work, bound, patch.ModeApply)
	if res == nil {
		return fmt.Errorf("apply the patches at %s: %w", r.opt.From, err)
	}
	left := map[string]bool{}
	var problems []string
	for _, p := range res.Patches {
		for _, e := range p.Edits {
			switch e.State {
			case patch.StateFileMissing:
				if !left[p.Name] {
					left[p.Name] = true
					r.report.LeftOut = append(r.report.LeftOut, p.Name)
					r.warnf("patch %s left out: edit %s needs %s, which the replayed state does not have (a gitignored file: pass --local, or keep it as an own patch of kind file)", p.Name, e.Edit, e.File)
				}
			case patch.StateAnchorMissing, patch.StateFailed:
				msg := fmt.Sprintf("patch %s, edit %s: %s", p.Name, e.Edit, e.State)
				if e.Err != nil {
					msg = e.Err.Error()
				}
				problems = append(problems, msg)
			}
		}
	}
	if len(problems) > 0 {
		return inputf("the enabled patches do not apply at --from %s, the release the admin is at: %s", r.opt.From, strings.Join(problems, "; "))
	}
	if len(left) > 0 {
		run.Enabled = run.Enabled[:0]
		for _, name := range r.cfg.Enabled {
			if !left[name] {
				run.Enabled = append(run.Enabled, name)
			}
		}
		kept := bound[:0]
		for _, b := range bound {
			if !left[b.Name] {
				kept = append(kept, b)
			}
		}
		bound = kept
	}
	r.bound = bound
	return nil
}

// reset brings the install back to the admin's state at From for the next
// direct target: From's tracked files, the local edits, the overrides as
// they were, the patches.
func (r *replayer) reset(ctx context.Context) error {
	if err := r.checkoutFrom(ctx); err != nil {
		return err
	}
	if r.local != nil {
		if err := r.local.writeTo(r.work); err != nil {
			return fmt.Errorf("--local: copy the tracked edits: %w", err)
		}
	}
	if err := r.resetOverrides(ctx); err != nil {
		return err
	}
	if len(r.bound) > 0 {
		if res, err := patch.Apply(scratchSys{}, r.work, r.bound, patch.ModeApply); res == nil || err != nil {
			return fmt.Errorf("re-apply the patches at %s: %w", r.opt.From, err)
		}
	}
	return nil
}

// resetOverrides puts the gitignored files back as they were at From.
// Only the post hook's restore step changes them (a merge leaves ignored
// files alone, and the patches write the same content again), so a
// target whose restore step found nothing needs nothing here: the walk
// of the snapshot dirs is skipped.
func (r *replayer) resetOverrides(ctx context.Context) error {
	if !r.overridesTouched {
		return nil
	}
	r.overridesTouched = false
	// update.sh's versions the restore kept beside the admin's
	// (FILE.mcupdate-new), where no ignore rule covers them.
	if _, err := r.git.run(ctx, r.work, "clean", "-fdq"); err != nil {
		return err
	}
	changes, err := snapshot.Diff(r.admin, r.work)
	if err != nil {
		return err
	}
	var restore []string
	for _, c := range changes {
		switch c.Kind {
		case snapshot.Added:
			if err := os.Remove(filepath.Join(r.work, filepath.FromSlash(c.Path))); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		case snapshot.Missing, snapshot.Modified, snapshot.TypeChanged:
			restore = append(restore, c.Path)
		}
	}
	if len(restore) > 0 {
		if _, err := snapshot.Restore(scratchSys{}, filepath.Join(r.stateDir.Path, "snapshots"), r.admin.ID, r.work, restore); err != nil {
			return err
		}
	}
	return nil
}

func (r *replayer) hookEnv() *hook.Env {
	hu := ui.Discard()
	if r.ui.Verbose {
		hu = r.ui
	}
	conf, _ := os.ReadFile(filepath.Join(r.work, "mailcow.conf"))
	return &hook.Env{
		MailcowDir: r.work, Config: r.run, State: r.stateDir, DaemonJSON: filepath.Join(r.scratch, "no-daemon.json"),
		Sys: scratchSys{}, UI: hu, Now: r.now, Secrets: secret.NewRedactor(conf),
	}
}

func (r *replayer) warnf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	r.report.Warnings = append(r.report.Warnings, msg)
	r.ui.Warnf("%s", msg)
}

func seconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

// gitMessage is a git failure's own words, without the command line.
func gitMessage(err error) string {
	var ge *gitx.Error
	if errors.As(err, &ge) {
		return ge.Message()
	}
	return err.Error()
}
