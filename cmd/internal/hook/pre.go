package hook

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
	"github.com/mcupdate/mcupdate/cmd/internal/predict"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
)

// stepFunc runs one step. It returns the step's result and, for a failed
// step, the error.
type stepFunc func(ctx context.Context, env *Env, pre *preState) (Step, error)

// preState carries what one step learns for the next.
type preState struct {
	head       string // commit at HEAD
	branch     string
	repaired   bool // the detached HEAD was repaired
	snapshotID string
	prediction *predict.Prediction

	// What update.sh will merge, found once (see upstream); the
	// install's customizations, scanned once by the ledger step.
	up     *ledger.Upstream
	upErr  error
	upDone bool
	set    *ledger.Set

	// repo is the checkout, opened once after the git step (which may
	// repair HEAD): its runner answers tree diffs and blob reads without
	// a git process.
	repo   *gitx.Repo
	runner *gitx.Runner
}

// git returns the run's git runner: the opened repository's, or a plain
// one when it cannot be opened (git itself then says why).
func (ps *preState) git(ctx context.Context, env *Env) *gitx.Runner {
	if ps.runner == nil {
		if repo, err := gitx.Open(env.MailcowDir, gitx.Options{Ctx: ctx, Timeout: gitTimeout}); err == nil {
			ps.repo, ps.runner = repo, repo.Git()
		} else {
			env.UI.Debugf("open the repository: %v", err)
			ps.runner = &gitx.Runner{Dir: env.MailcowDir, Timeout: gitTimeout}
		}
	}
	return ps.runner
}

func (ps *preState) close() {
	if ps.repo != nil {
		_ = ps.repo.Close()
	}
}

// upstream finds, once per run, what update.sh will merge into HEAD.
func (ps *preState) upstream(ctx context.Context, env *Env) (*ledger.Upstream, error) {
	if !ps.upDone {
		ps.upDone = true
		ps.up, ps.upErr = ledger.UpstreamBase(ctx, ps.git(ctx, env), ps.head, ps.branch)
	}
	return ps.up, ps.upErr
}

// Pre runs the pre update hook. It returns the report; the error is every
// step failure (the hook went on after each), or a lock/setup error.
func Pre(ctx context.Context, env *Env) (*Report, error) {
	start := env.Now()
	r := newReport("pre", env)
	if env.Parent.Mode == ModeReadOnly {
		// update.sh --check and friends exit before changing anything:
		// write nothing, take no lock, finish fast.
		env.UI.Debugf("update.sh %s: nothing for the pre hook to do", env.Parent.Option)
		return r, nil
	}
	lock, err := env.State.Lock("mcupdate hook pre")
	if err != nil {
		return nil, err
	}
	defer func() { _ = lock.Release() }()
	if err := env.confine(); err != nil {
		return nil, err
	}

	env.UI.Infof("mcupdate pre hook in %s", env.MailcowDir)
	ps := &preState{}
	defer ps.close()
	env.stepChained(r)
	for _, f := range []stepFunc{stepGit, stepUpstream, stepLedgerPre, stepPredict, stepDaemonJSON, stepSnapshot, stepRecord} {
		t0 := time.Now()
		s, err := f(ctx, env, ps)
		s.Millis = time.Since(t0).Milliseconds()
		env.print(s)
		r.add(s, err)
	}
	if ps.repaired {
		env.UI.Printf("%s", env.UI.Yellow("The detached HEAD was repaired, but update.sh already fetched its _modules for the detached state."))
	}
	r.Prediction = ps.prediction
	env.maybeStop(r, ps)
	env.finish(r, start)
	return r, r.Err()
}

// maybeStop ends the update.sh run that started the hook when going on
// would leave mailcow down half-way (or when it picked its _modules for a
// detached HEAD we just repaired). update.sh ignores the hook's exit code,
// so the only way to stop it before it runs `docker compose down` is to
// end the process; at this point it has changed nothing.
func (env *Env) maybeStop(r *Report, ps *preState) {
	danger := r.Danger()
	if len(danger) == 0 && !ps.repaired {
		return
	}
	why := []string{}
	for _, s := range danger {
		why = append(why, s.Name+": "+s.Message)
	}
	if ps.repaired {
		why = append(why, "git: HEAD was detached and is repaired; update.sh must start again to see the branch")
	}
	u := env.UI
	switch {
	case !env.Parent.UpdateSh || env.Parent.Mode != ModeUpdate:
		return
	case env.DryRun:
		u.Warnf("dry run: would stop update.sh (pid %d): %v", env.Parent.PID, why)
		return
	case !env.Config.StopOnDanger:
		u.Warnf("update.sh goes on although: %v ([general] stop_on_danger = off)", why)
		return
	}
	for _, w := range why {
		u.Errorf("stopping update.sh before it changes anything: %s", w)
	}
	if len(danger) == 0 {
		u.Hintf("run ./update.sh again: the branch is repaired, the next run updates normally")
	} else {
		u.Hintf("fix the problems above, then run ./update.sh again (mailcow was not stopped)")
	}
	if err := syscall.Kill(env.Parent.PID, syscall.SIGTERM); err != nil {
		u.Errorf("could not stop update.sh (pid %d): %v: press Ctrl-C now", env.Parent.PID, err)
		return
	}
	r.StoppedUpdate = true
}

// stepRecord leaves the pre-update commit, branch and snapshot for the
// post hook and for diff.
func stepRecord(_ context.Context, env *Env, ps *preState) (Step, error) {
	s := Step{Name: "record"}
	if ps.head == "" {
		s.Status, s.Message = StatusSkipped, "no commit to record (git state unreadable)"
		return s, nil
	}
	if env.DryRun {
		s.Status, s.Message = StatusSkipped, fmt.Sprintf("dry run: would record %s on %s", gitx.Short(ps.head), ps.branch)
		return s, nil
	}
	rec := stateRecord(env, ps)
	rec.ID = env.State.NewRecordID(rec.Time)
	if err := env.State.SaveRecord(env.Sys, rec); err != nil {
		s.Status, s.Message = StatusError, err.Error()
		return s, err
	}
	s.Status, s.Message = StatusOK, fmt.Sprintf("pre-update commit %s on %s", gitx.Short(ps.head), orDetached(ps.branch))
	// The copy kept by ID is what `mcupdate rollback ID` reads; losing
	// it costs only that, not the update.
	if err := env.State.SaveUpdate(env.Sys, rec); err != nil {
		s.Status, s.Message = StatusWarning, s.Message+"; could not keep the record for rollback: "+err.Error()
		return s, nil
	}
	if err := env.State.PruneUpdates(state.UpdatesKept); err != nil {
		s.Details = append(s.Details, "pruning old update records: "+err.Error())
	}
	s.Message += " (update " + rec.ID + ")"
	return s, nil
}

func orDetached(b string) string {
	if b == "" {
		return "(detached HEAD)"
	}
	return b
}

func stateRecord(env *Env, ps *preState) state.Record {
	return state.Record{Time: env.Now().UTC(), MailcowDir: env.MailcowDir, Commit: ps.head, Branch: ps.branch, SnapshotID: ps.snapshotID}
}
