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
}

// upstream finds, once per run, what update.sh will merge into HEAD.
func (ps *preState) upstream(ctx context.Context, env *Env) (*ledger.Upstream, error) {
	if !ps.upDone {
		ps.upDone = true
		g := &gitx.Runner{Dir: env.MailcowDir, Timeout: gitTimeout}
		ps.up, ps.upErr = ledger.UpstreamBase(ctx, g, ps.head, ps.branch)
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
		s.Status, s.Message = StatusSkipped, fmt.Sprintf("dry run: would record %s on %s", short(ps.head), ps.branch)
		return s, nil
	}
	rec := stateRecord(env, ps)
	if err := env.State.SaveRecord(env.Sys, rec); err != nil {
		s.Status, s.Message = StatusError, err.Error()
		return s, err
	}
	s.Status, s.Message = StatusOK, fmt.Sprintf("pre-update commit %s on %s", short(ps.head), orDetached(ps.branch))
	return s, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
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
