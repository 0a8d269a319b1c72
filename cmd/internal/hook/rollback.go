package hook

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/errlist"
	"github.com/mcupdate/mcupdate/cmd/internal/gitstate"
	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/restart"
	"github.com/mcupdate/mcupdate/cmd/internal/snapshot"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// RollbackOptions are `mcupdate rollback`'s own options.
type RollbackOptions struct {
	// ID names the update record to go back to; "" means the last update.
	ID string
	// AllowSchemaChange rolls back although the database schema version
	// differs between the two commits (the admin restores the database).
	AllowSchemaChange bool
	// NoRestart lists the compose commands instead of running them.
	NoRestart bool
}

// InitDBFile is where mailcow keeps its database schema version.
const InitDBFile = "data/web/inc/init_db.inc.php"

// BackupScript is mailcow's own backup and restore script.
const BackupScript = "helper-scripts/backup_and_restore.sh"

// ErrSchemaChange is returned when the database schema differs between the
// commits and the rollback was not allowed to cross it.
var ErrSchemaChange = errors.New("the database schema changed in this update")

// ErrNoUpdate means the state dir records no update to roll back.
var ErrNoUpdate = errors.New("no update to roll back")

// updatePaths are what update.sh itself checks out from origin before its
// "Before update" commit (its _modules, and update.sh when it replaces
// itself): not the admin's edits, so a rollback takes them from the
// pre-update commit.
var updatePaths = []string{"update.sh", "_modules"}

// rollbackPlan is what a rollback will do, found before anything changes.
type rollbackPlan struct {
	rec    state.Record
	head   string // HEAD now
	branch string // the branch to leave checked out
	// target is the pre-update commit; before the "Before update" commit
	// on top of it that holds the admin's uncommitted edits of then, "" if
	// update.sh made none. The work tree goes back to before's tree (less
	// update.sh's own files), the branch to target.
	target, before string
	revert         []gitx.Change // update.sh's own files in before, taken from target
	inTheWay       []string      // untracked files the checkout would overwrite
	changed        []string      // tracked files the rollback changes
	dirty          bool          // tracked files differ from HEAD
	gitNoop        bool          // HEAD is target on the branch: nothing to do in git
	// sameCommit: HEAD is the pre-update commit already (update.sh
	// stopped before its merge): the work tree is left as it is.
	sameCommit    bool
	already       bool // rolled back before, HEAD still there
	schemaChanged bool // the database schema differs (or cannot be compared)
}

// Rollback goes back to the state before an update: the branch to the
// recorded pre-update commit (the tip it leaves kept as a backup ref, the
// work tree's uncommitted changes too), the admin's uncommitted edits of
// then back in the work tree, the pre-update snapshot of the overrides and
// mailcow.conf restored with the current versions kept beside them, then
// `compose pull` and `up -d`. It refuses, before changing anything, when
// the database schema differs between the two commits and
// AllowSchemaChange is not set.
func Rollback(ctx context.Context, env *Env, opt RollbackOptions) (*Report, error) {
	start := env.Now()
	r := newReport("rollback", env)
	lock, err := env.State.Lock("mcupdate rollback")
	if err != nil {
		return nil, err
	}
	defer func() { _ = lock.Release() }()
	env.UI.Infof("mcupdate rollback in %s", env.MailcowDir)
	g := &gitx.Runner{Dir: env.MailcowDir, Timeout: gitTimeout}

	step := func(s Step, err error, t0 time.Time) bool {
		s.Millis = time.Since(t0).Milliseconds()
		env.print(s)
		r.add(s, err)
		return err == nil
	}
	skipRest := func(why string, names ...string) {
		for _, n := range names {
			s := Step{Name: n, Status: StatusSkipped, Message: "not rolled back: " + why}
			env.print(s)
			r.add(s, nil)
		}
	}

	t0 := time.Now()
	p, s, err := env.planRollback(ctx, g, opt.ID)
	if p != nil {
		r.Record = p.rec.ID
	}
	if !step(s, err, t0) {
		skipRest("see the update step", "database", "git", "overrides", "compose")
		env.finish(r, start)
		return r, r.Err()
	}
	if p.already {
		env.finish(r, start)
		return r, nil
	}

	t0 = time.Now()
	s, err = env.stepSchema(ctx, g, p, opt.AllowSchemaChange)
	if !step(s, err, t0) && !env.DryRun {
		skipRest("the database check refused", "git", "overrides", "compose")
		env.finish(r, start)
		return r, r.Err()
	}

	plan := restart.Plan{}
	t0 = time.Now()
	s, err = env.stepRollbackGit(ctx, g, p, plan)
	if !step(s, err, t0) && !env.DryRun {
		skipRest("git failed", "overrides", "compose")
		env.finish(r, start)
		return r, r.Err()
	}

	t0 = time.Now()
	s, restored, err := env.stepRollbackOverrides(p, plan)
	step(s, err, t0)

	t0 = time.Now()
	s, err = env.stepRollbackCompose(ctx, p, plan, restored, opt.NoRestart)
	step(s, err, t0)

	if !env.DryRun {
		t := env.Now().UTC()
		p.rec.RolledBack = &t
		if err := env.State.SaveUpdate(env.Sys, p.rec); err != nil {
			env.UI.Warnf("update record: %v", err)
		}
	}
	if opt.AllowSchemaChange && p.schemaChanged && !env.DryRun && r.Err() == nil {
		env.UI.Warnf("the code is back at %s, the database is not: restore the backup taken before the update (%s restore)", gitx.Short(p.target), BackupScript)
	}
	env.finish(r, start)
	return r, r.Err()
}

// planRollback picks the update record and reads what the rollback must
// do, changing nothing.
func (env *Env) planRollback(ctx context.Context, g *gitx.Runner, id string) (*rollbackPlan, Step, error) {
	s := Step{Name: "update"}
	fail := func(err error) (*rollbackPlan, Step, error) {
		s.Status, s.Message = StatusError, err.Error()
		return nil, s, err
	}
	st, err := gitstate.Inspect(env.MailcowDir)
	if err != nil {
		return fail(err)
	}
	if err := env.checkGitIdle(st); err != nil {
		return fail(err)
	}
	rec, err := env.pickRecord(ctx, g, id, st.Head)
	if err != nil {
		return fail(err)
	}
	if rec.MailcowDir != "" && filepath.Clean(rec.MailcowDir) != filepath.Clean(env.MailcowDir) {
		return fail(fmt.Errorf("update %s was recorded for %s, not %s", rec.ID, rec.MailcowDir, env.MailcowDir))
	}
	p := &rollbackPlan{rec: rec, head: st.Head, branch: env.rollbackBranch(rec, st)}
	s.Message = fmt.Sprintf("update %s: pre-update commit %s on %s", rec.ID, gitx.Short(rec.Commit), orDetached(rec.Branch))
	if rec.After != "" {
		s.Message += ", updated to " + gitx.Short(rec.After)
	}
	target, ok, err := g.RevParse(ctx, rec.Commit)
	if err != nil {
		return fail(err)
	}
	if !ok {
		return fail(fmt.Errorf("update %s: its pre-update commit %s is not in the repository", rec.ID, gitx.Short(rec.Commit)))
	}
	p.target = target
	if rec.RolledBack != nil && st.Head == target {
		p.already = true
		s.Status = StatusOK
		s.Message += fmt.Sprintf("; already rolled back on %s: HEAD is at %s, nothing to do", rec.RolledBack.UTC().Format(time.RFC3339), gitx.Short(target))
		return p, s, nil
	}
	if st.Head != target {
		if p.before, err = beforeInHistory(ctx, g, rec, target, st.Head); err != nil {
			return fail(err)
		}
	}
	if st.Head == target {
		// Nothing was merged: the work tree holds what the admin has,
		// and no commit tells another pre-update state. Only the branch
		// is made sure of.
		p.sameCommit = true
		p.gitNoop = !st.Detached && st.Branch == p.branch
		s.Status = StatusOK
		return p, s, nil
	}
	if p.before != "" {
		if p.revert, err = updateShFiles(ctx, g, target, p.before, st.Head); err != nil {
			return fail(err)
		}
	}
	if p.changed, p.dirty, p.inTheWay, err = env.checkoutEffects(ctx, g, st.Head, p.pre()); err != nil {
		return fail(err)
	}
	s.Status = StatusOK
	return p, s, nil
}

// checkGitIdle fails when git is in the middle of something in the
// mailcow dir (a merge, another operation, unmerged paths, a held index
// lock) or HEAD names no commit.
func (env *Env) checkGitIdle(st *gitstate.State) error {
	var blocking []string
	for _, pr := range st.Problems {
		switch pr.Kind {
		case gitstate.KindMergeInProgress, gitstate.KindOperation, gitstate.KindUnmerged, gitstate.KindIndexLock:
			blocking = append(blocking, pr.String())
		}
	}
	if len(blocking) > 0 {
		return fmt.Errorf("%s: git is in the middle of something: %s", env.MailcowDir, strings.Join(blocking, "; "))
	}
	if st.Head == "" {
		return fmt.Errorf("%s: HEAD names no commit", env.MailcowDir)
	}
	return nil
}

// rollbackBranch is the branch to leave checked out: the recorded one,
// else the current one, else [mailcow] branch, else master.
func (env *Env) rollbackBranch(rec state.Record, st *gitstate.State) string {
	for _, b := range []string{rec.Branch, st.Branch, env.Config.Branch} {
		if b != "" {
			return b
		}
	}
	return "master"
}

// beforeInHistory checks that target, the pre-update commit, is in
// head's history, and returns the "Before update" commit on top of it
// (see beforeCommit).
func beforeInHistory(ctx context.Context, g *gitx.Runner, rec state.Record, target, head string) (string, error) {
	anc, err := gitIsAncestor(ctx, g, target, head)
	if err != nil {
		return "", err
	}
	if !anc {
		return "", fmt.Errorf("update %s: its pre-update commit %s is not in the history of HEAD (%s): the branch was moved elsewhere since; nothing changed", rec.ID, gitx.Short(target), gitx.Short(head))
	}
	return beforeCommit(ctx, g, target, head)
}

// checkoutEffects reads what checking out tree over head changes: the
// tracked files it changes, whether tracked files differ from head, and
// the untracked files in its way (git checkout -f overwrites them).
func (env *Env) checkoutEffects(ctx context.Context, g *gitx.Runner, head, tree string) (changed []string, dirty bool, inTheWay []string, err error) {
	if changed, err = changedPaths(ctx, g, tree); err != nil {
		return nil, false, nil, err
	}
	diff, err := g.DiffWorkTree(ctx, head)
	if err != nil {
		return nil, false, nil, err
	}
	added, err := g.DiffTree(ctx, head, tree, "A")
	if err != nil {
		return nil, false, nil, err
	}
	for _, c := range added {
		if _, err := os.Lstat(filepath.Join(env.MailcowDir, filepath.FromSlash(c.Path))); err == nil {
			inTheWay = append(inTheWay, c.Path)
		}
	}
	return changed, len(diff) > 0, inTheWay, nil
}

// pre is the commit whose tree the work tree goes back to.
func (p *rollbackPlan) pre() string {
	if p.before != "" {
		return p.before
	}
	return p.target
}

// pickRecord returns the record id, or with id "" the last update: the
// newest record the post hook completed, or whose pre-update commit HEAD
// has moved past (an update.sh that merged and then failed before its
// post hook). A record whose update.sh stopped before the merge (the
// admin said no, or the pre hook stopped it) is no update.
func (env *Env) pickRecord(ctx context.Context, g *gitx.Runner, id, head string) (state.Record, error) {
	recs, lerr := env.State.Updates()
	if id != "" {
		for _, r := range recs {
			if r.ID == id {
				return r, nil
			}
		}
		r, err := env.State.LoadUpdate(id)
		if err != nil {
			var ids []string
			for _, r := range recs {
				ids = append(ids, r.ID)
			}
			if len(ids) > 0 {
				return r, fmt.Errorf("%w; kept: %s", err, strings.Join(ids, " "))
			}
			return r, err
		}
		return r, nil
	}
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		if r.After != "" || r.RolledBack != nil {
			return r, nil
		}
		if r.Commit == "" || r.Commit == head {
			continue
		}
		if anc, err := gitIsAncestor(ctx, g, r.Commit, head); err == nil && anc {
			return r, nil
		}
	}
	if lerr != nil {
		return state.Record{}, fmt.Errorf("%w: %v", ErrNoUpdate, lerr)
	}
	return state.Record{}, fmt.Errorf("%w: %s records none (the pre hook records each update that update.sh runs with mcupdate's hooks)", ErrNoUpdate, filepath.Join(env.State.Path, state.UpdatesDir))
}

// gitIsAncestor reports whether a is an ancestor of b (or b itself).
func gitIsAncestor(ctx context.Context, g *gitx.Runner, a, b string) (bool, error) {
	_, err := g.Output(ctx, "merge-base", "--is-ancestor", a, b)
	if err == nil {
		return true, nil
	}
	if gitx.ExitCode(err) == 1 {
		return false, nil
	}
	return false, err
}

// beforeCommit returns update.sh's "Before update" commit made on top of
// target, on the first-parent line from head, or "".
func beforeCommit(ctx context.Context, g *gitx.Runner, target, head string) (string, error) {
	out, err := g.Output(ctx, "rev-list", "--first-parent", "--reverse", "--parents", target+".."+head)
	if err != nil {
		return "", err
	}
	first, _, _ := strings.Cut(out, "\n")
	f := strings.Fields(first)
	if len(f) < 2 || f[1] != target {
		return "", nil
	}
	subject, err := g.Output(ctx, "log", "-1", "--format=%s", f[0])
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(subject, "Before update on ") || len(f) != 2 {
		return "", nil
	}
	return f[0], nil
}

// updateShFiles returns update.sh's own files in the "Before update"
// commit before: those of updatePaths that differ from target and are
// exactly what the update merged (upstream's version, checked out by
// update.sh before it committed). An admin's edit of them stays.
func updateShFiles(ctx context.Context, g *gitx.Runner, target, before, head string) ([]gitx.Change, error) {
	cs, err := g.DiffTree(ctx, target, before, "")
	if err != nil {
		return nil, err
	}
	var mine []gitx.Change
	for _, c := range cs {
		for _, u := range updatePaths {
			if c.Path == u || strings.HasPrefix(c.Path, u+"/") {
				mine = append(mine, c)
			}
		}
	}
	if len(mine) == 0 {
		return nil, nil
	}
	// The upstream merged: the second parent of the merge on top of before.
	out, err := g.Output(ctx, "rev-list", "--first-parent", "--reverse", "--parents", before+".."+head)
	if err != nil {
		return nil, err
	}
	first, _, _ := strings.Cut(out, "\n")
	f := strings.Fields(first)
	if len(f) < 3 || f[1] != before {
		return nil, nil
	}
	up := f[2]
	lsBefore, err := lsTree(ctx, g, before)
	if err != nil {
		return nil, err
	}
	lsUp, err := lsTree(ctx, g, up)
	if err != nil {
		return nil, err
	}
	var out2 []gitx.Change
	for _, c := range mine {
		if b, ok := lsBefore[c.Path]; ok && b == lsUp[c.Path] {
			out2 = append(out2, c)
		}
	}
	return out2, nil
}

// lsTree maps the paths below updatePaths in commit to their object ids.
func lsTree(ctx context.Context, g *gitx.Runner, commit string) (map[string]string, error) {
	out, err := g.Run(ctx, append([]string{"ls-tree", "-r", "-z", "--full-tree", commit, "--"}, updatePaths...)...)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, rec := range strings.Split(string(out), "\x00") {
		meta, p, ok := strings.Cut(rec, "\t")
		if !ok {
			continue
		}
		if f := strings.Fields(meta); len(f) == 3 {
			m[p] = f[0] + " " + f[2]
		}
	}
	return m, nil
}

// changedPaths lists the tracked files whose work-tree content differs
// from commit's.
func changedPaths(ctx context.Context, g *gitx.Runner, commit string) ([]string, error) {
	cs, err := g.DiffWorkTree(ctx, commit)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Path
	}
	return out, nil
}

var dbVersionRe = regexp.MustCompile(`\$db_version\s*=\s*["']([^"']+)["']`)

// dbVersion reads $db_version of mailcow's init_db.inc.php at commit; ok
// is false when the file is not there.
func dbVersion(ctx context.Context, g *gitx.Runner, commit string) (v string, ok bool, err error) {
	spec := commit + ":" + InitDBFile
	blobs, err := g.Blobs(ctx, []string{spec}, 4<<20)
	if err != nil {
		return "", false, err
	}
	b := blobs[spec]
	if b.Missing {
		return "", false, nil
	}
	m := dbVersionRe.FindSubmatch(b.Data)
	if m == nil {
		return "", true, fmt.Errorf("%s at %s: no $db_version found", InitDBFile, gitx.Short(commit))
	}
	return string(m[1]), true, nil
}

// stepSchema compares mailcow's database schema version of HEAD and the
// pre-update commit: mailcow migrates its database forward only.
func (env *Env) stepSchema(ctx context.Context, g *gitx.Runner, p *rollbackPlan, allow bool) (Step, error) {
	s := Step{Name: "database"}
	now, okNow, err1 := dbVersion(ctx, g, p.head)
	then, okThen, err2 := dbVersion(ctx, g, p.target)
	var err error
	switch {
	case !okNow && !okThen && err1 == nil && err2 == nil:
		s.Status, s.Message = StatusSkipped, fmt.Sprintf("no %s in either commit: no schema to compare", InitDBFile)
		return s, nil
	case err1 == nil && err2 == nil && okNow && okThen && now == then:
		s.Status, s.Message = StatusOK, fmt.Sprintf("schema %s before and after the update: the database needs nothing", now)
		return s, nil
	case err1 == nil && err2 == nil && okNow && okThen:
		p.schemaChanged = true
		err = fmt.Errorf("%w ($db_version %s at %s, %s now): mailcow migrates its database forward only, and the old code must not run on the new schema", ErrSchemaChange, then, gitx.Short(p.target), now)
	default:
		p.schemaChanged = true
		why := errlist.Join(err1, err2)
		if why == nil {
			why = fmt.Errorf("%s is in only one of the commits", InitDBFile)
		}
		err = fmt.Errorf("%w: cannot tell ($db_version unreadable: %v)", ErrSchemaChange, why)
	}
	if allow {
		s.Status, s.Message = StatusWarning, err.Error()+"; going on (--allow-schema-change): restore the database backup taken before the update ("+BackupScript+" restore)"
		return s, nil
	}
	s.Status, s.Message, s.Danger = StatusError, err.Error()+"; nothing changed", true
	s.Details = append(s.Details, "the database needs the backup taken before the update ("+BackupScript+" restore)")
	return s, err
}

// stepRollbackGit moves the branch back to the pre-update commit and the
// work tree to the pre-update state, keeping what it leaves under
// refs/mcupdate/backup/.
func (env *Env) stepRollbackGit(ctx context.Context, g *gitx.Runner, p *rollbackPlan, plan restart.Plan) (Step, error) {
	s := Step{Name: "git"}
	for _, c := range p.changed {
		env.planFile(plan, c)
	}
	if p.gitNoop {
		s.Status, s.Message = StatusOK, fmt.Sprintf("on branch %s at the pre-update commit %s already; work tree left as it is", p.branch, gitx.Short(p.target))
		return s, nil
	}
	if p.sameCommit {
		return env.checkoutBranchInPlace(ctx, g, p, s)
	}
	base := "refs/mcupdate/backup/" + p.branch + "-" + env.Now().UTC().Format("20060102T150405Z") + "-rollback"
	var backup string
	if p.head != p.target {
		backup = base
	}
	s.Details = append(s.Details, env.rollbackGitLines(p, base, backup)...)
	move := fmt.Sprintf("branch %s from %s back to the pre-update commit %s", p.branch, gitx.Short(p.head), gitx.Short(p.target))
	if env.DryRun {
		s.Status, s.Message = StatusChanged, "dry run: would move "+move+fmt.Sprintf(" (%s changed)", ui.Count(len(p.changed), "tracked file"))
		return s, nil
	}
	fail := func(err error) (Step, error) {
		s.Status, s.Message = StatusError, err.Error()
		if backup != "" {
			s.Details = append(s.Details, "the post-update tip stays reachable as "+backup)
		}
		return s, err
	}
	if err := env.keepBeforeCheckout(ctx, g, p, base, backup); err != nil {
		return fail(err)
	}
	if err := env.checkoutPreUpdate(ctx, g, p); err != nil {
		return fail(err)
	}
	s.Status, s.Message = StatusChanged, "moved "+move+fmt.Sprintf(" (%s changed)", ui.Count(len(p.changed), "tracked file"))
	return s, nil
}

// checkoutBranchInPlace checks the branch out at the pre-update commit,
// which HEAD is at already, leaving the index and work tree as they are;
// the branch's tip, when elsewhere, is kept before it moves.
func (env *Env) checkoutBranchInPlace(ctx context.Context, g *gitx.Runner, p *rollbackPlan, s Step) (Step, error) {
	msg := fmt.Sprintf("branch %s at the pre-update commit %s, checked out (index and work tree left as they are)", p.branch, gitx.Short(p.target))
	if env.DryRun {
		s.Status, s.Message = StatusChanged, "dry run: would check out "+msg
		return s, nil
	}
	tip, ok, err := g.RevParse(ctx, "refs/heads/"+p.branch)
	if err != nil {
		s.Status, s.Message = StatusError, err.Error()
		return s, err
	}
	if ok && tip != p.target {
		ref := "refs/mcupdate/backup/" + p.branch + "-" + env.Now().UTC().Format("20060102T150405Z") + "-rollback"
		if err := newRef(ctx, g, ref, tip); err != nil {
			s.Status, s.Message = StatusError, err.Error()
			return s, err
		}
		p.rec.Backup = ref
		s.Details = append(s.Details, fmt.Sprintf("kept the tip %s of %s as %s", gitx.Short(tip), p.branch, ref))
	}
	// HEAD does not move: checkout -B keeps every local change.
	if _, err := g.Output(ctx, "checkout", "-q", "-B", p.branch); err != nil {
		s.Status, s.Message = StatusError, err.Error()
		return s, err
	}
	s.Status, s.Message = StatusChanged, msg
	return s, nil
}

// rollbackGitLines says what the move back keeps and puts back (or, in
// a dry run, would): the post-update tip as backup (when not ""), the
// uncommitted changes under base, the untracked files in the way, the
// admin's edits of then and update.sh's own files.
func (env *Env) rollbackGitLines(p *rollbackPlan, base, backup string) []string {
	verb := func(done, would string) string {
		if env.DryRun {
			return would
		}
		return done
	}
	var lines []string
	if backup != "" {
		lines = append(lines, fmt.Sprintf("%s the post-update tip %s as %s", verb("kept", "would keep"), gitx.Short(p.head), backup))
	}
	if p.dirty {
		lines = append(lines, fmt.Sprintf("%s the uncommitted changes of tracked files as %s-worktree", verb("kept", "would keep"), base))
	}
	for _, f := range p.inTheWay {
		lines = append(lines, fmt.Sprintf("%s the untracked %s as %s%s (the pre-update commit tracks it)", verb("kept", "would keep"), f, f, NewSuffix))
	}
	if p.before != "" {
		lines = append(lines, fmt.Sprintf("%s the uncommitted edits of then (update.sh's 'Before update' commit %s) to the work tree", verb("put back", "would put back"), gitx.Short(p.before)))
	}
	for _, c := range p.revert {
		lines = append(lines, fmt.Sprintf("%s %s as at %s (update.sh had fetched it for the update)", verb("left", "would leave"), c.Path, gitx.Short(p.target)))
	}
	return lines
}

// keepBeforeCheckout keeps everything the checkout will overwrite,
// before it does: the uncommitted changes of tracked files as
// base-worktree, the post-update tip as backup (when not ""), the
// untracked files in the way beside themselves.
func (env *Env) keepBeforeCheckout(ctx context.Context, g *gitx.Runner, p *rollbackPlan, base, backup string) error {
	if p.dirty {
		wt, err := (&gitx.Runner{Dir: g.Dir, Timeout: g.Timeout, Vars: gitx.Identity}).Output(ctx, "stash", "create", "mcupdate rollback: work tree before the rollback")
		if err != nil {
			return err
		}
		if wt != "" {
			if err := newRef(ctx, g, base+"-worktree", wt); err != nil {
				return err
			}
		}
	}
	if backup != "" {
		if err := newRef(ctx, g, backup, p.head); err != nil {
			return err
		}
		p.rec.Backup = backup
	}
	for _, f := range p.inTheWay {
		if _, err := env.keepNew(f); err != nil {
			return err
		}
	}
	return nil
}

// checkoutPreUpdate moves the branch to the pre-update commit and the
// work tree to the pre-update state: the admin's edits of then
// uncommitted again, update.sh's own files as at the pre-update commit.
func (env *Env) checkoutPreUpdate(ctx context.Context, g *gitx.Runner, p *rollbackPlan) error {
	if _, err := g.Output(ctx, "checkout", "-q", "-f", "-B", p.branch, p.pre()); err != nil {
		return err
	}
	if p.before != "" {
		// The branch to the pre-update commit, the work tree stays: the
		// admin's edits of then are uncommitted again, as before.
		if _, err := g.Output(ctx, "reset", "-q", p.target); err != nil {
			return err
		}
	}
	return revertUpdateFiles(ctx, g, env, p)
}

// revertUpdateFiles takes update.sh's own files back to the pre-update
// commit's version (or removes them when it had none).
func revertUpdateFiles(ctx context.Context, g *gitx.Runner, env *Env, p *rollbackPlan) error {
	var checkout []string
	for _, c := range p.revert {
		if c.Status == 'A' {
			if err := env.Sys.Remove(filepath.Join(env.MailcowDir, filepath.FromSlash(c.Path))); err != nil {
				return err
			}
			removeEmptyParents(env.MailcowDir, path.Dir(c.Path))
			continue
		}
		checkout = append(checkout, c.Path)
	}
	if len(checkout) == 0 {
		return nil
	}
	_, err := g.Output(ctx, append([]string{"--literal-pathspecs", "checkout", "-q", p.target, "--"}, checkout...)...)
	return err
}

// removeEmptyParents removes dir and its parents below root while empty.
func removeEmptyParents(root, dir string) {
	for dir != "." && dir != "/" && dir != "" {
		if err := os.Remove(filepath.Join(root, filepath.FromSlash(dir))); err != nil {
			return
		}
		dir = path.Dir(dir)
	}
}

// newRef creates ref at hash; a ref of that name that exists already is
// never overwritten (a -2, -3 … name is taken instead).
func newRef(ctx context.Context, g *gitx.Runner, ref, hash string) error {
	name := ref
	for i := 2; ; i++ {
		_, err := g.Output(ctx, "update-ref", "-m", "mcupdate rollback", name, hash, "")
		if err == nil {
			return nil
		}
		if _, ok, rerr := g.RevParse(ctx, name); rerr != nil || !ok || i > 100 {
			return err
		}
		name = fmt.Sprintf("%s-%d", ref, i)
	}
}

// planFile adds the service that reads a changed file to plan.
func (env *Env) planFile(plan restart.Plan, rel string) {
	if rel == "docker-compose.yml" || rel == "docker-compose.override.yml" {
		return // compose up -d applies them
	}
	if svc, how, ok := restart.ServiceFor(rel); ok {
		plan.Add(svc, how)
	}
}

// stepRollbackOverrides restores the pre-update snapshot of the overrides
// and mailcow.conf; a file the update changed is kept beside it as
// FILE.mcupdate-new.
func (env *Env) stepRollbackOverrides(p *rollbackPlan, plan restart.Plan) (Step, []string, error) {
	s := Step{Name: "overrides"}
	if p.rec.SnapshotID == "" {
		s.Status, s.Message = StatusWarning, "the update recorded no snapshot: overrides and mailcow.conf stay as they are"
		return s, nil, nil
	}
	m, err := snapshot.Load(env.SnapshotStore(), p.rec.SnapshotID)
	if errors.Is(err, snapshot.ErrNotFound) {
		s.Status, s.Message = StatusWarning, fmt.Sprintf("snapshot %s is no longer kept ([snapshot] keep): overrides and mailcow.conf stay as they are", p.rec.SnapshotID)
		return s, nil, nil
	}
	if err != nil {
		s.Status, s.Message = StatusError, err.Error()
		return s, nil, err
	}
	changes, err := snapshot.Diff(m, env.MailcowDir)
	if err != nil {
		s.Status, s.Message = StatusError, err.Error()
		return s, nil, err
	}
	restore, added, keptNew, err := env.rollbackChanges(changes)
	if err != nil {
		s.Status, s.Message = StatusError, err.Error()
		return s, nil, err
	}
	if len(restore) == 0 {
		s.Status, s.Message = StatusOK, fmt.Sprintf("%s as before the update (snapshot %s)", ui.Count(len(m.Entries), "override file"), m.ID)
		for _, a := range added {
			s.Details = append(s.Details, a+": not in the snapshot (new since): left as it is")
		}
		return s, nil, nil
	}
	res, err := snapshot.Restore(env.Sys, env.SnapshotStore(), m.ID, env.MailcowDir, restore)
	if res == nil {
		s.Status, s.Message = StatusError, err.Error()
		return s, nil, err
	}
	verb := "restored"
	if env.DryRun {
		verb = "would restore"
	}
	for _, rel := range res.Restored {
		line := verb + " " + rel
		if keptNew[rel] {
			line += " (the current version kept as " + rel + NewSuffix + ")"
		}
		s.Details = append(s.Details, line)
		env.planFile(plan, rel)
	}
	for _, a := range added {
		s.Details = append(s.Details, a+": not in the snapshot (new since): left as it is")
	}
	s.Details = append(s.Details, res.Notes...)
	if err != nil {
		s.Status, s.Message = StatusError, err.Error()
		return s, res.Restored, err
	}
	s.Status, s.Message = StatusChanged, fmt.Sprintf("%s %s from the pre-update snapshot %s", verb, ui.Count(len(res.Restored), "file"), m.ID)
	return s, res.Restored, nil
}

// rollbackChanges sorts the snapshot's changed files into those to
// restore, every one missing or changed, mailcow.conf too, and those
// added since (sorted), which stay. Before a file whose content changed
// is restored, its current version is kept beside it (keepNew); keptNew
// says for which it was.
func (env *Env) rollbackChanges(changes []snapshot.Change) (restore, added []string, keptNew map[string]bool, err error) {
	keptNew = map[string]bool{}
	for _, c := range changes {
		switch c.Kind {
		case snapshot.Missing, snapshot.TypeChanged:
			restore = append(restore, c.Path)
		case snapshot.Modified:
			if c.Content {
				kept, err := env.keepNew(c.Path)
				if err != nil {
					return nil, nil, nil, err
				}
				keptNew[c.Path] = kept
			}
			restore = append(restore, c.Path)
		case snapshot.Added:
			if !strings.HasSuffix(c.Path, NewSuffix) {
				added = append(added, c.Path)
			}
		}
	}
	sort.Strings(added)
	return restore, added, keptNew, nil
}

// stepRollbackCompose pulls the images of the rolled-back compose files,
// recreates what changed (`up -d --remove-orphans`, as update.sh starts
// mailcow) and restarts the services whose files changed and that up -d
// may not have recreated. Restarts off: the commands are listed.
func (env *Env) stepRollbackCompose(ctx context.Context, p *rollbackPlan, plan restart.Plan, restored []string, noRestart bool) (Step, error) {
	s := Step{Name: "compose"}
	if p.gitNoop && len(restored) == 0 && !env.DryRun {
		s.Status, s.Message = StatusOK, "nothing rolled back: containers left as they are"
		return s, nil
	}
	cmds := [][]string{{"pull"}, {"up", "-d", "--remove-orphans"}}
	if rs := plan.Services(restart.Restart); len(rs) > 0 {
		cmds = append(cmds, append([]string{"restart"}, rs...))
	}
	words := env.Config.Compose
	if len(words) == 0 {
		words = composeWords()
	}
	var lines []string
	for _, c := range cmds {
		lines = append(lines, strings.Join(append(append([]string(nil), words...), c...), " "))
	}
	switch {
	case env.DryRun:
		s.Status, s.Message = StatusSkipped, "dry run: would run "+strings.Join(lines, "; ")
		return s, nil
	case noRestart || !env.Config.Restart:
		s.Status, s.Message = StatusSkipped, "restarts off: run yourself in "+env.MailcowDir+": "+strings.Join(lines, "; ")
		return s, nil
	}
	results, err := restart.Commands(ctx, env.MailcowDir, words, cmds)
	for _, r := range results {
		line := strings.Join(r.Args, " ")
		if !r.OK {
			line += ": FAILED: " + r.Output
		}
		s.Details = append(s.Details, line)
	}
	if err != nil {
		s.Status, s.Message = StatusError, "compose failed: "+err.Error()
		s.Details = append(s.Details, "the files are rolled back; run the rest yourself: "+strings.Join(lines[len(results)-1:], "; "))
		return s, err
	}
	s.Status, s.Message = StatusChanged, "ran "+strings.Join(lines, "; ")
	return s, nil
}
