package hook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/restart"
	"github.com/mcupdate/mcupdate/cmd/internal/snapshot"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// NewSuffix is appended to the name of the version update.sh left of an
// override file the post hook put the admin's version back over (the idea
// of dpkg's .dpkg-dist): neither version is ever destroyed.
const NewSuffix = ".mcupdate-new"

// PostOptions are the post hook's and apply's own options.
type PostOptions struct {
	NoRestart bool
	// Validate runs the configuration checks in a dry run too
	// (apply --dry-run --validate).
	Validate bool
}

// Post runs the post update hook: restore lost override files, re-apply
// the patches, restart only the services whose files changed, print the
// risk diff.
func Post(ctx context.Context, env *Env, opt PostOptions) (*Report, error) {
	start := env.Now()
	r := newReport("post", env)
	lock, err := env.State.Lock("mcupdate hook post")
	if err != nil {
		return nil, err
	}
	defer func() { _ = lock.Release() }()
	if err := env.confine(); err != nil {
		return nil, err
	}

	env.UI.Infof("mcupdate post hook in %s", env.MailcowDir)
	rec, haveRec, recErr := env.State.LoadRecord()
	if recErr != nil {
		env.UI.Warnf("pre-update record: %v", recErr)
	}
	env.stepChained(r)
	plan := restart.Plan{}
	s, err := env.stepRestore(rec, haveRec, plan)
	if pruned, perr := env.pruneKeptNew(start); perr != nil || len(pruned) > 0 {
		verb := "removed"
		if env.DryRun {
			verb = "would remove"
		}
		for _, p := range pruned {
			s.Details = append(s.Details, fmt.Sprintf("%s %s: kept from an update older than the newest %d ([snapshot] keep)", verb, p, max(env.Config.SnapshotKeep, 1)))
		}
		if perr != nil {
			s.Details = append(s.Details, perr.Error())
		}
	}
	env.print(s)
	r.add(s, err)

	base := clonePlan(plan)
	s, pres, err := env.stepPatches(plan)
	env.print(s)
	r.add(s, err)

	env.runValidate(ctx, r, plan, base, pres, opt)

	s, err = env.stepRestart(ctx, plan, opt.NoRestart)
	env.print(s)
	r.add(s, err)

	rr, s, err := env.stepRisk(rec.Commit, rec.SnapshotID, env.failedPatches(pres))
	env.print(s)
	r.add(s, err)

	s, err = env.stepLedgerPost(rr)
	env.print(s)
	r.add(s, err)

	if haveRec && rec.ID != "" {
		r.Record = rec.ID
		env.completeRecord(ctx, rec.ID)
	}
	env.finish(r, start)
	return r, r.Err()
}

// Apply re-applies the patches and restarts what changed, outside an
// update.
func Apply(ctx context.Context, env *Env, opt PostOptions) (*Report, error) {
	start := env.Now()
	r := newReport("apply", env)
	lock, err := env.State.Lock("mcupdate apply")
	if err != nil {
		return nil, err
	}
	defer func() { _ = lock.Release() }()
	if err := env.confine(); err != nil {
		return nil, err
	}
	plan := restart.Plan{}
	s, pres, err := env.stepPatches(plan)
	env.print(s)
	r.add(s, err)
	env.runValidate(ctx, r, plan, restart.Plan{}, pres, opt)
	s, err = env.stepRestart(ctx, plan, opt.NoRestart)
	env.print(s)
	r.add(s, err)
	env.finish(r, start)
	return r, r.Err()
}

// runValidate runs the validate step, timed, and records it unless it
// had nothing to do.
func (env *Env) runValidate(ctx context.Context, r *Report, plan, base restart.Plan, pres *patch.Result, opt PostOptions) {
	t0 := time.Now()
	s, err := env.stepValidate(ctx, r, plan, base, pres, opt.Validate)
	if errors.Is(err, errSkipStep) {
		return
	}
	s.Millis = time.Since(t0).Milliseconds()
	env.print(s)
	r.add(s, err)
}

func clonePlan(p restart.Plan) restart.Plan {
	out := restart.Plan{}
	for svc, m := range p {
		out[svc] = m
	}
	return out
}

// stepRestore compares the pre-update snapshot with the files now: a
// missing file is restored; a changed one (update.sh or the merge changed
// it) gets the admin's version back and update.sh's is kept beside it as
// FILE.mcupdate-new; mailcow.conf is the exception: update.sh adds and
// migrates keys in it, so its version stays and the risk diff shows the
// change, secrets redacted.
func (env *Env) stepRestore(rec state.Record, haveRec bool, plan restart.Plan) (Step, error) {
	s := Step{Name: "overrides"}
	id := snapshot.Latest
	if haveRec && rec.SnapshotID != "" {
		id = rec.SnapshotID
	}
	m, err := snapshot.Load(env.SnapshotStore(), id)
	if err != nil {
		if errors.Is(err, snapshot.ErrNotFound) {
			s.Status, s.Message = StatusWarning, "no snapshot to compare with: did the pre hook run? (mcupdate snapshot list)"
			return s, nil
		}
		s.Status, s.Message = StatusError, err.Error()
		return s, err
	}
	changes, err := snapshot.Diff(m, env.MailcowDir)
	if err != nil {
		s.Status, s.Message = StatusError, err.Error()
		return s, err
	}
	restore, kept, keptNew, err := env.sortChanges(changes)
	if err != nil {
		s.Status, s.Message = StatusError, err.Error()
		return s, err
	}
	for _, k := range kept {
		s.Details = append(s.Details, k+": changed by update.sh (it adds and migrates keys): kept; the risk diff shows the change")
	}
	if len(restore) == 0 {
		s.Status, s.Message = StatusOK, fmt.Sprintf("%s as before the update (snapshot %s)", ui.Count(len(m.Entries), "override file"), m.ID)
		return s, nil
	}
	res, err := snapshot.Restore(env.Sys, env.SnapshotStore(), m.ID, env.MailcowDir, restore)
	if res == nil {
		s.Status, s.Message = StatusError, err.Error()
		return s, err
	}
	verb := "restored"
	if env.DryRun {
		verb = "would restore"
	}
	for _, p := range res.Restored {
		line := verb + " " + p
		if keptNew[p] {
			line += " (update.sh's version kept as " + p + NewSuffix + ")"
		}
		s.Details = append(s.Details, line)
		planRestored(plan, p)
	}
	s.Details = append(s.Details, res.Notes...)
	for _, n := range res.Notes {
		env.UI.Warnf("%s", n)
	}
	if err != nil {
		s.Status, s.Message = StatusError, err.Error()
		return s, err
	}
	s.Status, s.Message = StatusChanged, fmt.Sprintf("%s %s lost or changed by the update (snapshot %s)", verb, ui.Count(len(res.Restored), "override file"), m.ID)
	return s, nil
}

// sortChanges sorts the snapshot's changed files into those to restore
// and those kept as update.sh left them (mailcow.conf). Before a changed
// file is restored, update.sh's version is kept beside it (keepNew);
// keptNew says for which it was.
func (env *Env) sortChanges(changes []snapshot.Change) (restore, kept []string, keptNew map[string]bool, err error) {
	keptNew = map[string]bool{}
	for _, c := range changes {
		switch c.Kind {
		case snapshot.Missing:
			restore = append(restore, c.Path)
		case snapshot.TypeChanged, snapshot.Modified:
			if c.Kind == snapshot.Modified && c.Path == "mailcow.conf" {
				kept = append(kept, c.Path)
				continue
			}
			if c.Kind == snapshot.TypeChanged || c.Content {
				// update.sh's version, when it is a file, is kept.
				ok, err := env.keepNew(c.Path)
				if err != nil {
					return nil, nil, nil, err
				}
				keptNew[c.Path] = ok
			}
			restore = append(restore, c.Path)
		}
	}
	return restore, kept, keptNew, nil
}

// planRestored adds to plan the restart a restored override file needs:
// every service recreated for the compose override, else its service's.
func planRestored(plan restart.Plan, p string) {
	if p == "docker-compose.override.yml" {
		plan.Add(restart.All, restart.Recreate)
	} else if svc, how, ok := restart.ServiceFor(p); ok {
		plan.Add(svc, how)
	}
}

// keepNew saves the current (update.sh's) version of rel beside it as
// rel.mcupdate-new before the admin's version is restored over it. Only a
// regular file is kept, read without following a link: a link's content
// is wherever it leads, possibly outside the mailcow dir, and must not be
// copied into it. It reports whether it kept one.
func (env *Env) keepNew(rel string) (bool, error) {
	// Checked as Restore checks its paths: a parent directory that is
	// now a link to elsewhere must not take this write out of the
	// mailcow dir (the write itself goes through a handle on it).
	if err := snapshot.CheckPath(env.MailcowDir, rel); err != nil {
		return false, err
	}
	p := filepath.Join(env.MailcowDir, filepath.FromSlash(rel))
	data, fi, err := readRegularNoFollow(p)
	if err != nil {
		return false, fmt.Errorf("keep update.sh's version of %s: %w", rel, err)
	}
	if fi == nil {
		return false, nil
	}
	kept := p + NewSuffix
	// Never write through a link (or anything else) at the kept name.
	if cur, err := os.Lstat(kept); err == nil && !cur.Mode().IsRegular() {
		if err := env.Sys.Remove(kept); err != nil {
			return false, fmt.Errorf("keep update.sh's version of %s: %w", rel, err)
		}
	}
	// With update.sh's mode, owner and group: an older kept copy's must
	// not win, so they are set after the write too (owner first: chown
	// clears setuid and setgid).
	mode := fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	if err := env.Sys.WriteFile(kept, data, mode); err != nil {
		return false, fmt.Errorf("keep update.sh's version of %s: %w", rel, err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if err := env.Sys.Lchown(kept, int(st.Uid), int(st.Gid)); err != nil {
			return false, fmt.Errorf("keep update.sh's version of %s: owner: %w", rel, err)
		}
	}
	if err := env.Sys.Chmod(kept, mode); err != nil {
		return false, fmt.Errorf("keep update.sh's version of %s: mode: %w", rel, err)
	}
	return true, nil
}

// readRegularNoFollow reads p if it is a regular file, without following
// a link at it; fi is nil for anything else.
func readRegularNoFollow(p string) (data []byte, fi fs.FileInfo, err error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, nil, err
	}
	if data, err = io.ReadAll(f); err != nil {
		return nil, nil, err
	}
	return data, fi, nil
}

// completeRecord marks the update record id as completed with the commit
// update.sh left at HEAD, so that `mcupdate rollback` knows which records
// are updates that happened. A failure is a warning: it costs only the
// default choice of rollback.
func (env *Env) completeRecord(ctx context.Context, id string) {
	if env.DryRun {
		return
	}
	rec, err := env.State.LoadUpdate(id)
	if err != nil {
		env.UI.Warnf("update record: %v", err)
		return
	}
	g := &gitx.Runner{Dir: env.MailcowDir, Timeout: gitTimeout}
	head, ok, err := g.RevParse(ctx, "HEAD")
	if err != nil || !ok {
		env.UI.Warnf("update record %s: HEAD after the update: %v", id, err)
		return
	}
	t := env.Now().UTC()
	rec.After, rec.Completed = head, &t
	if err := env.State.SaveUpdate(fsx.Real{}, rec); err != nil {
		env.UI.Warnf("update record: %v", err)
	}
}
