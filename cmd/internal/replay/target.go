package replay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/hook"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/risk"
	"github.com/mcupdate/mcupdate/cmd/internal/secret"
	"github.com/mcupdate/mcupdate/cmd/internal/snapshot"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
	"github.com/mcupdate/mcupdate/cmd/internal/updatesh"
	"github.com/mcupdate/mcupdate/cmd/internal/verify"
)

// target replays one update: the pre hook's record, update.sh's git
// steps, the post hook without restarts, the risk ranking and the verify
// checks; then the verdict.
func (r *replayer) target(ctx context.Context, t ref, base string) (*Target, error) {
	start := r.now()
	tr := &Target{Ref: t.name, Commit: t.commit, Base: base, Reasons: []Reason{}, Findings: []Finding{}, Checks: []verify.Check{}}
	env := r.hookEnv()

	// The pre hook's part: the snapshot (a new one per update in a chain)
	// and the record the post hook and the risk ranking start from.
	snap, err := r.snapshotBefore(env, t, base)
	if err != nil {
		return nil, err
	}
	res, runErr := updatesh.Run(r.work, updatesh.Options{Target: t.commit, Date: r.now().UTC().Format("2006-01-02_15_04_05"), Git: &r.git.scratch, Ctx: ctx})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if res == nil {
		return nil, fmt.Errorf("update.sh's git steps to %s: %w", t.name, runErr)
	}
	// The record the pre hook writes before update.sh runs; only the
	// post hook reads it, so it is written now, with the HEAD update.sh's
	// steps started from (one git command less per target).
	head := res.Start
	if err := r.stateDir.SaveRecord(scratchSys{}, state.Record{Time: r.now(), MailcowDir: r.work, Commit: head, Branch: "master", SnapshotID: snap.ID}); err != nil {
		return nil, err
	}
	tr.Merge = Merge{Exit: res.MergeExit, Removed: res.Removed, Aborted: res.Aborted, Before: res.Before, Head: res.Head}
	if runErr != nil || res.Aborted {
		msg := "update.sh would abort the merge"
		if runErr != nil {
			msg = runErr.Error()
		}
		tr.Reasons = append(tr.Reasons, Reason{Verdict: Broken, Kind: KindMergeAborted, Message: msg + ": update.sh stops and asks the admin to move the files"})
		r.finish(tr, start)
		return tr, nil
	}

	skip, err := r.postHook(ctx, env, tr)
	if err != nil {
		return nil, err
	}
	r.riskReasons(tr)
	deleted, err := r.deletedCustomized(ctx, res, head, t.commit)
	if err != nil {
		return nil, err
	}
	tr.Reasons = append(tr.Reasons, deleted...)
	if err := r.verifyReasons(ctx, env, tr, skip); err != nil {
		return nil, err
	}
	r.finish(tr, start)
	return tr, nil
}

// snapshotBefore returns the snapshot the post hook restores from: the
// admin's, or in a chain after its first update a new one of the scratch
// install as the previous update left it.
func (r *replayer) snapshotBefore(env *hook.Env, t ref, base string) (*snapshot.Manifest, error) {
	if !r.opt.Chain || base == r.opt.From {
		return r.admin, nil
	}
	m, err := snapshot.Create(scratchSys{}, snapshot.Options{
		MailcowDir: r.work, Store: env.SnapshotStore(), Paths: r.cfg.SnapshotPaths, Dirs: r.cfg.SnapshotDirs,
		Keep: 1000, Now: r.now(),
	})
	if m == nil {
		return nil, fmt.Errorf("snapshot before %s: %w", t.name, err)
	}
	return m, nil
}

// postHook runs the post hook without restarts and adds to tr what the
// merge clobbered of the patches and the overrides it put back. It
// returns the verify checks the replay skips, with why.
func (r *replayer) postHook(ctx context.Context, env *hook.Env, tr *Target) (map[string]string, error) {
	// What the merge clobbered, before the post hook puts it back.
	var pre *patch.Result
	if len(r.bound) > 0 {
		pre, _ = patch.Apply(fsx.Check{}, r.work, r.bound, patch.ModeCheck)
	}
	_ = os.Remove(filepath.Join(r.stateDir.Path, hook.RiskFile))
	postRep, _ := hook.Post(ctx, env, hook.PostOptions{NoRestart: true})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var post *patch.Result
	if len(r.bound) > 0 {
		post, _ = patch.Apply(fsx.Check{}, r.work, r.bound, patch.ModeCheck)
	}
	tr.Reasons = append(tr.Reasons, patchReasons(pre, post)...)
	r.overridesTouched = true
	// verify's overrides check would compare the same snapshot (the
	// latest in the scratch store) with the same files again: when the
	// restore step found every file as it was and kept none, it is skipped.
	// verify's unprotected check only warns, and what a merge really
	// drops of the local edits is in the risk ranking's lost lines above:
	// a replay does not walk the tree for it again.
	// The ledger carries through a chain as on a server; its losses are
	// reported, as lost lines, at the release that drops them, not again
	// at every later one.
	skip := map[string]string{
		verify.CheckUnprotected: "the risk ranking reports the local edits the merge drops",
		verify.CheckLost:        "each loss is reported (lost-lines) at the release that drops it",
	}
	if postRep != nil {
		for _, s := range postRep.Steps {
			if s.Name == "overrides" && s.Status == hook.StatusOK {
				r.overridesTouched = false
				if len(s.Details) == 0 {
					skip[verify.CheckOverrides] = "compared by the post hook: " + s.Message
				}
			}
			if s.Name == "overrides" && s.Status == hook.StatusChanged {
				for _, d := range s.Details {
					tr.Reasons = append(tr.Reasons, Reason{Verdict: Reapplied, Kind: KindOverrideBack, Message: d})
				}
			}
		}
	}
	return skip, nil
}

// riskReasons adds the post hook's risk ranking to tr, as it kept it
// (risk.JSONReport, read back without the diffs: --keep leaves them in
// the clone): its findings, and a reason for each file whose local lines
// the merge dropped with no patch putting them back.
func (r *replayer) riskReasons(tr *Target) {
	var jr struct {
		Counts   risk.JSONCounts `json:"counts"`
		Findings []Finding       `json:"findings"`
	}
	// A file whose patch failed is reported by the patch's reasons.
	brokenPatch := map[string]bool{}
	for _, x := range tr.Reasons {
		if x.Verdict == Broken && x.Patch != "" {
			brokenPatch[x.File] = true
		}
	}
	if err := r.stateDir.ReadJSON(hook.RiskFile, &jr); err != nil {
		r.warnf("%s: no risk ranking: %v", tr.Ref, err)
		return
	}
	tr.Risk = jr.Counts
	for _, f := range jr.Findings {
		tr.Findings = append(tr.Findings, f)
		if f.Risk == risk.High.String() && len(f.Lost) > 0 && !brokenPatch[f.File] {
			tr.Reasons = append(tr.Reasons, Reason{Verdict: Broken, Kind: KindLostLines, File: f.File, Lost: f.Lost,
				Message: fmt.Sprintf("the merge dropped %d local %s of %s and no patch puts %s back", len(f.Lost), ui.Plural(len(f.Lost), "line", "lines"), f.File, ui.Plural(len(f.Lost), "it", "them"))})
		}
	}
}

// verifyReasons runs verify's checks but those in skip on the updated
// install and adds to tr the ones that did not pass, a reason for each
// failure.
func (r *replayer) verifyReasons(ctx context.Context, env *hook.Env, tr *Target, skip map[string]string) error {
	vr, _ := verify.Run(ctx, verify.Options{MailcowDir: r.work, Config: r.run, StateDir: r.stateDir.Path, DaemonJSON: env.DaemonJSON, Now: r.now(), Skip: skip})
	if err := ctx.Err(); err != nil {
		return err
	}
	if vr == nil {
		return nil
	}
	for _, c := range vr.Checks {
		if c.Status == verify.StatusOK || c.Status == verify.StatusSkipped {
			continue
		}
		tr.Checks = append(tr.Checks, c)
		if c.Status != verify.StatusFail {
			continue
		}
		switch c.Name {
		case verify.CheckPatches:
			// Reported edit by edit above.
		case verify.CheckOverrideRefs:
			tr.Reasons = append(tr.Reasons, vanished(c)...)
		default:
			tr.Reasons = append(tr.Reasons, Reason{Verdict: Broken, Kind: KindCheckFailed, Check: c.Name, Message: c.Detail})
		}
	}
	return nil
}

// finish decides the verdict, orders the reasons (BROKEN first) and hides
// mailcow.conf's secrets in every string.
func (r *replayer) finish(tr *Target, start time.Time) {
	conf, _ := os.ReadFile(filepath.Join(r.work, "mailcow.conf"))
	red := secret.NewRedactor(conf)
	var broken, back []Reason
	for _, x := range tr.Reasons {
		x.Message, x.Anchor = red.String(x.Message), red.String(x.Anchor)
		for i := range x.Lost {
			x.Lost[i] = red.String(x.Lost[i])
		}
		if x.Verdict == Broken {
			broken = append(broken, x)
		} else {
			back = append(back, x)
		}
	}
	tr.Reasons = append(broken, back...)
	if tr.Reasons == nil {
		tr.Reasons = []Reason{}
	}
	for i := range tr.Checks {
		c := &tr.Checks[i]
		c.Detail, c.Fix = red.String(c.Detail), red.String(c.Fix)
		for j := range c.Items {
			c.Items[j] = red.String(c.Items[j])
		}
	}
	switch {
	case len(broken) > 0:
		tr.Verdict = Broken
	case len(back) > 0:
		tr.Verdict = Reapplied
	default:
		tr.Verdict = OK
	}
	tr.Seconds = seconds(r.now().Sub(start))
}

// patchReasons compares the patches' state after the merge (pre) with the
// state after the post hook (post): an edit the merge undid and the post
// hook redid is REAPPLIED; an edit that still does not hold is BROKEN.
func patchReasons(pre, post *patch.Result) []Reason {
	if post == nil {
		return nil
	}
	clobbered := map[string]bool{}
	if pre != nil {
		for _, p := range pre.Patches {
			for _, e := range p.Edits {
				if e.State == patch.StateWouldChange {
					clobbered[p.Name+"\x00"+e.Edit] = true
				}
			}
		}
	}
	var out []Reason
	for _, p := range post.Patches {
		failed := ""
		for _, e := range p.Edits {
			if e.State == patch.StateAnchorMissing || e.State == patch.StateFileMissing || e.State == patch.StateFailed {
				failed = e.Edit
			}
		}
		for _, e := range p.Edits {
			x := Reason{Verdict: Broken, Patch: p.Name, Edit: e.Edit, File: e.File}
			switch e.State {
			case patch.StateAlreadyApplied:
				if !clobbered[p.Name+"\x00"+e.Edit] {
					continue
				}
				x.Verdict, x.Kind = Reapplied, KindReapplied
				x.Message = fmt.Sprintf("patch %s, edit %s: the update changed %s; the post hook re-applied it", p.Name, e.Edit, e.File)
			case patch.StateAnchorMissing:
				x.Kind = KindAnchorMissing
				var ae *patch.AnchorError
				if errors.As(e.Err, &ae) {
					x.Anchor = ae.Anchor
				}
				x.Message = errMsg(e, "anchor gone")
			case patch.StateFileMissing:
				x.Kind = KindFileMissing
				x.Message = errMsg(e, "file gone")
			case patch.StateSkipped:
				x.Kind = KindCoupledEdit
				x.Message = fmt.Sprintf("patch %s, edit %s: %s not set: edit %s of the same patch failed, and a patch applies all or none", p.Name, e.Edit, e.File, failed)
			case patch.StateWouldChange:
				x.Kind = KindEditFailed
				x.Message = fmt.Sprintf("patch %s, edit %s: %s still differs after the post hook", p.Name, e.Edit, e.File)
			case patch.StateFailed:
				x.Kind = KindEditFailed
				x.Message = errMsg(e, "failed")
			default:
				continue
			}
			out = append(out, x)
		}
		if p.Err != nil && len(p.Edits) == 0 {
			out = append(out, Reason{Verdict: Broken, Kind: KindEditFailed, Patch: p.Name, Message: oneLine(p.Err.Error())})
		}
	}
	return out
}

func errMsg(e patch.EditResult, fallback string) string {
	if e.Err == nil {
		return fallback
	}
	return oneLine(e.Err.Error())
}

// deletedCustomized finds the files the admin had changed that update.sh's conflict clean-up deleted because
// upstream deleted them: the admin's lines in them are gone.
func (r *replayer) deletedCustomized(ctx context.Context, res *updatesh.Result, head, target string) ([]Reason, error) {
	if len(res.Removed) == 0 {
		return nil, nil
	}
	// The admin's changes: from where the install and the target part
	// (the release it was at) to the install before the merge, which is
	// the "Before update" commit, or HEAD when there was nothing to
	// commit (in a chain, earlier updates committed the edits).
	if res.Before != "" {
		head = res.Before
	}
	base, err := r.git.run(ctx, r.work, "merge-base", head, target)
	if err != nil {
		return nil, err
	}
	args := append([]string{"diff", "--no-color", "--no-ext-diff", "--no-renames", "-U0", base, head, "--"}, res.Removed...)
	out, err := r.git.run(ctx, r.work, args...)
	if err != nil {
		return nil, err
	}
	lost := map[string][]string{}
	var order []string
	cur := ""
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "+++ "):
			cur = strings.TrimPrefix(strings.TrimPrefix(l, "+++ "), "b/")
			if _, ok := lost[cur]; !ok && cur != "/dev/null" {
				lost[cur] = []string{}
				order = append(order, cur)
			}
		case strings.HasPrefix(l, "--- "):
		case strings.HasPrefix(l, "+") && cur != "" && strings.TrimSpace(l[1:]) != "":
			lost[cur] = append(lost[cur], l)
		}
	}
	var reasons []Reason
	for _, f := range order {
		reasons = append(reasons, Reason{Verdict: Broken, Kind: KindFileDeleted, File: f, Lost: lost[f],
			Message: fmt.Sprintf("upstream deleted %s, which the admin changed; update.sh's conflict clean-up removed it with the admin's %d %s", f, len(lost[f]), ui.Plural(len(lost[f]), "line", "lines"))})
	}
	return reasons, nil
}

// vanished turns verify's failed override-references check into one
// reason per service; its items read "service NAME (FILE line N) is not
// in docker-compose.yml[: renamed to X?]".
func vanished(c verify.Check) []Reason {
	var out []Reason
	for _, item := range c.Items {
		x := Reason{Verdict: Broken, Kind: KindVanishedService, File: risk.OverrideFile, Message: item}
		if rest, ok := strings.CutPrefix(item, "service "); ok {
			x.Service, _, _ = strings.Cut(rest, " ")
		}
		out = append(out, x)
	}
	if len(out) == 0 {
		out = append(out, Reason{Verdict: Broken, Kind: KindVanishedService, File: risk.OverrideFile, Message: c.Detail})
	}
	return out
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
