package gitstate

import (
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
)

// RepairOptions configures [RepairDetached].
type RepairOptions struct {
	// Branch is the branch to restore, from mcupdate.ini; "" picks the
	// branch HEAD last left according to the reflog, else master.
	Branch string
	// DryRun computes and reports everything and writes nothing.
	DryRun bool
	// Now stamps the backup ref and the reflog entries; zero means now.
	Now time.Time
	// System receives the writes; nil means [fsx.Real], or a fresh
	// [fsx.Recorder] with DryRun.
	System fsx.System
}

// Repair is what [RepairDetached] did, or with DryRun would do.
type Repair struct {
	// Changed is false when HEAD was not detached: nothing to do.
	Changed bool `json:"changed"`
	DryRun  bool `json:"dry_run,omitempty"`
	// Branch is the branch HEAD now points at; Source says why this one
	// ([SourceConfig], [SourceReflog] or [SourceMaster]).
	Branch string `json:"branch,omitempty"`
	Source string `json:"source,omitempty"`
	// Head is the commit the branch now points at.
	Head string `json:"head,omitempty"`
	// OldTip is where the branch pointed before, "" if it did not exist.
	OldTip string `json:"old_tip,omitempty"`
	// Backup is the ref keeping OldTip when it is not an ancestor of Head,
	// "" when no commit would have been orphaned.
	Backup string `json:"backup,omitempty"`
	// UpstreamSet: branch.<Branch>.remote/merge were missing and set.
	UpstreamSet bool      `json:"upstream_set,omitempty"`
	Upstream    *Upstream `json:"upstream,omitempty"`
	// Actions says in words what changed, one line each.
	Actions []string `json:"actions,omitempty"`
	// Writes lists the files written (with DryRun: that would be).
	Writes []string `json:"writes,omitempty"`
	// State is the state found before the repair.
	State *State `json:"state"`
}

// RefusedError is returned when the repository is in a state where moving
// refs would confuse the admin more than it helps.
type RefusedError struct {
	Dir      string
	Problems []Problem
}

func (e *RefusedError) Error() string {
	s := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s[i] = p.String()
	}
	return fmt.Sprintf("%s: %s: %s", e.Dir, ErrRefused, strings.Join(s, "; "))
}

func (e *RefusedError) Unwrap() error { return ErrRefused }

// Reflog identity when the repository config names no user.
const (
	reflogName  = "mcupdate"
	reflogEmail = "mcupdate@localhost"
)

// ancestorSlack is how far committer clocks may disagree before the
// ancestry walk gives up early. Giving up means "not an ancestor", which
// only costs a backup ref that was not needed.
const ancestorSlack = 24 * time.Hour

// RepairDetached points a detached HEAD at a branch again, as `git checkout
// -B <branch>` at the current commit would, without touching the index or
// the work tree, so update.sh's merge finds a current branch with an
// upstream. A branch tip that is not an ancestor of HEAD is kept as
// refs/mcupdate/backup/<branch>-<UTC time>. HEAD not detached is a no-op
// (Changed false). A merge, rebase or other operation in progress, unmerged
// paths or a running git make it refuse with a [*RefusedError].
func RepairDetached(dir string, opt RepairOptions) (*Repair, error) {
	o, err := open(dir)
	if err != nil {
		return nil, err
	}
	defer o.close()
	st, err := o.inspect()
	if err != nil {
		return nil, err
	}
	res := &Repair{State: st, DryRun: opt.DryRun}
	if !st.Detached {
		return res, nil
	}
	if refused := blocking(st); len(refused) > 0 {
		return nil, &RefusedError{Dir: dir, Problems: refused}
	}
	if st.Head == "" {
		return nil, &RepoError{Path: o.gitPath("HEAD"), Err: ErrCorruptHead, Detail: "detached HEAD resolves to no commit"}
	}
	sys := opt.System
	switch {
	case opt.DryRun:
		sys = &fsx.Recorder{}
	case sys == nil:
		sys = fsx.Real{}
	}
	p, err := o.planRepair(opt, st, res)
	if err != nil {
		return nil, err
	}
	w := &writer{sys: sys, res: res}
	if err := o.writeRepair(w, p); err != nil {
		return nil, err
	}
	if w.err != nil {
		return res, w.err
	}
	return res, nil
}

// repairPlan is what RepairDetached writes.
type repairPlan struct {
	branch    string
	ref       plumbing.ReferenceName
	head      plumbing.Hash
	oldTip    plumbing.Hash
	hadBranch bool
	// backup keeps oldTip when it is not an ancestor of head; "" for none.
	backup plumbing.ReferenceName
	up     *Upstream
	// cfgAdd are the lines of the branch's config section to add: its
	// missing upstream.
	cfgAdd      []string
	name, email string // the reflog's identity
	logAll      bool   // core.logAllRefUpdates: create a missing reflog
	t           time.Time
}

// planRepair decides what the repair writes, fills res with it, and
// checks git's locks on those files; it writes nothing.
func (o *repo) planRepair(opt RepairOptions, st *State, res *Repair) (*repairPlan, error) {
	p := &repairPlan{t: opt.Now, head: plumbing.NewHash(st.Head)}
	if p.t.IsZero() {
		p.t = now()
	}
	var source string
	var err error
	if p.branch, source, err = o.repairBranch(opt.Branch); err != nil {
		return nil, err
	}
	res.Changed, res.Branch, res.Source, res.Head = true, p.branch, source, st.Head
	p.ref = plumbing.NewBranchReferenceName(p.branch)
	if wt := o.checkedOutElsewhere(p.ref); wt != "" {
		return nil, &RepoError{Path: o.dir, Err: ErrRefused,
			Detail: fmt.Sprintf("branch %s is checked out in the worktree %s, and git checkout -B refuses to take it from there too; name this checkout's own branch in the [general] section of mcupdate.ini (branch = …)", p.branch, wt)}
	}

	if p.oldTip, p.hadBranch, err = o.ref(p.ref); err != nil {
		return nil, err
	}
	if p.hadBranch {
		res.OldTip = p.oldTip.String()
		if p.oldTip != p.head && !o.isAncestor(p.oldTip, p.head) {
			if p.backup, err = o.backupName(p.branch, p.oldTip, p.t); err != nil {
				return nil, err
			}
			res.Backup = p.backup.String()
		}
	}

	cfg, err := o.r.Config()
	if err != nil {
		return nil, &RepoError{Path: o.gitPath("config"), Err: ErrCorrupt, Detail: err.Error()}
	}
	if p.up, p.cfgAdd, err = o.repairUpstream(cfg, p.branch, p.ref); err != nil {
		return nil, err
	}
	res.UpstreamSet = len(p.cfgAdd) > 0
	if p.up.Remote != "" && p.up.Merge != "" {
		res.Upstream = p.up
	}
	if err := o.checkRepairLocks(p); err != nil {
		return nil, err
	}
	p.name, p.email = reflogName, reflogEmail
	if cfg.User.Name != "" && cfg.User.Email != "" {
		p.name, p.email = cfg.User.Name, cfg.User.Email
	}
	p.logAll = !strings.EqualFold(cfg.Raw.Section("core").Option("logallrefupdates"), "false")
	return p, nil
}

// repairBranch returns the branch to point HEAD at and why that one: the
// configured one, else the one the reflog says HEAD left.
func (o *repo) repairBranch(configured string) (branch, source string, err error) {
	if configured == "" {
		return o.guessBranch()
	}
	if err := validBranch(configured); err != nil {
		return "", "", fmt.Errorf("branch from [general] branch: %w", err)
	}
	return configured, SourceConfig, nil
}

// repairUpstream returns the branch's upstream, and the config lines that
// set what is missing of it to origin's branch of the same name (when
// origin has one, or is a remote), as git checkout -B --track would.
func (o *repo) repairUpstream(cfg *config.Config, branch string, ref plumbing.ReferenceName) (*Upstream, []string, error) {
	up := &Upstream{}
	if b := cfg.Branches[branch]; b != nil {
		up.Remote, up.Merge = b.Remote, b.Merge.String()
	}
	if up.Remote != "" && up.Merge != "" {
		return up, nil, nil
	}
	_, originBranch, err := o.ref(plumbing.NewRemoteReferenceName("origin", branch))
	if err != nil {
		return nil, nil, err
	}
	if !originBranch && cfg.Remotes["origin"] == nil {
		return up, nil, nil
	}
	var add []string
	if up.Remote == "" {
		up.Remote = "origin"
		add = append(add, "remote = origin")
	}
	if up.Merge == "" {
		up.Merge = ref.String()
		add = append(add, "merge = "+ref.String())
	}
	return up, add, nil
}

// checkRepairLocks honours git's locks on what the repair writes: a git
// holding one would overwrite or be confused by the write.
func (o *repo) checkRepairLocks(p *repairPlan) error {
	locks := []string{o.gitPath("HEAD.lock"), o.refPath(p.ref) + ".lock"}
	if len(p.cfgAdd) > 0 {
		locks = append(locks, o.gitPath("config.lock"))
	}
	for _, l := range locks {
		if exists(l) {
			return &RepoError{Path: l, Err: ErrLocked, Detail: "another git command may be running; if none is, remove it with `rm " + o.rel(l) + "`"}
		}
	}
	return nil
}

// writeRepair makes p's writes through w. Order matters for a crash
// half-way: the old tip is kept before the branch moves, and HEAD is
// written last, so a rerun starts from a state it understands and
// finishes the job. A write's error stays in w; the error returned is a
// config file that cannot be read.
func (o *repo) writeRepair(w *writer, p *repairPlan) error {
	res := w.res
	short := gitx.Short(res.Head)
	if p.backup != "" {
		w.write(o.refPath(p.backup), []byte(p.oldTip.String()+"\n"))
		w.action("kept the old tip %s of %s as %s (it is not an ancestor of HEAD)", gitx.Short(res.OldTip), p.branch, p.backup)
	}
	if !p.hadBranch || p.oldTip != p.head {
		w.write(o.refPath(p.ref), []byte(res.Head+"\n"))
		msg := "mcupdate: repair detached HEAD: created " + p.branch + " at " + short
		old := plumbing.ZeroHash
		if p.hadBranch {
			old = p.oldTip
			msg = "mcupdate: repair detached HEAD: reset " + p.branch + " from " + gitx.Short(res.OldTip) + " to " + short
			w.action("moved branch %s from %s to %s", p.branch, gitx.Short(res.OldTip), short)
		} else {
			w.action("created branch %s at %s", p.branch, short)
		}
		w.appendLog(o.logPath(p.ref.String()), p.logAll, reflogLine(old, p.head, p.name, p.email, p.t, msg))
	}
	if len(p.cfgAdd) > 0 {
		cp := o.gitPath("config")
		data, err := os.ReadFile(cp)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return &RepoError{Path: cp, Err: err}
		}
		if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
			data = append(data, '\n')
		}
		data = append(data, "[branch \""+p.branch+"\"]\n\t"+strings.Join(p.cfgAdd, "\n\t")+"\n"...)
		w.write(cp, data)
		w.action("set the upstream of %s to %s %s", p.branch, p.up.Remote, p.up.Merge)
	}
	w.write(o.gitPath("HEAD"), []byte("ref: "+p.ref.String()+"\n"))
	w.appendLog(o.logPath("HEAD"), true, reflogLine(p.head, p.head, p.name, p.email, p.t,
		"mcupdate: repair detached HEAD: moving from "+res.Head+" to "+p.branch))
	w.action("pointed HEAD at %s (index and work tree untouched)", p.branch)
	return nil
}

// checkedOutElsewhere returns the work tree of another worktree of the
// repository whose HEAD is ref, or "": git refuses to check out a branch
// two work trees share.
func (o *repo) checkedOutElsewhere(ref plumbing.ReferenceName) string {
	type wt struct{ gitDir, dir string }
	all := []wt{{o.commonDir, filepath.Dir(o.commonDir)}}
	if ents, err := os.ReadDir(filepath.Join(o.commonDir, "worktrees")); err == nil {
		for _, e := range ents {
			g := filepath.Join(o.commonDir, "worktrees", e.Name())
			dir := g
			if data, err := os.ReadFile(filepath.Join(g, "gitdir")); err == nil {
				dir = filepath.Dir(strings.TrimSpace(string(data)))
			}
			all = append(all, wt{g, dir})
		}
	}
	for _, w := range all {
		if filepath.Clean(w.gitDir) == filepath.Clean(o.gitDir) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(w.gitDir, "HEAD"))
		if err != nil {
			continue
		}
		if h, problem := parseHead(data); problem == "" && h.ref == ref {
			return w.dir
		}
	}
	return ""
}

// blocking returns the problems that make a repair refuse.
func blocking(st *State) []Problem {
	var out []Problem
	for _, p := range st.Problems {
		switch p.Kind {
		case KindMergeInProgress, KindOperation, KindUnmerged:
			out = append(out, p)
		case KindIndexLock:
			if st.IndexLock.GitRunning {
				out = append(out, p)
			}
		}
	}
	return out
}

func (o *repo) refPath(n plumbing.ReferenceName) string { return o.gitPath(n.String()) }

func (o *repo) logPath(ref string) string { return o.gitPath("logs/" + ref) }

// backupName returns refs/mcupdate/backup/<branch>-<UTC time>, with a
// counter when a backup of another tip was made in the same second.
func (o *repo) backupName(branch string, tip plumbing.Hash, t time.Time) (plumbing.ReferenceName, error) {
	base := "refs/mcupdate/backup/" + branch + "-" + t.UTC().Format("20060102T150405Z")
	for i := 1; ; i++ {
		n := plumbing.ReferenceName(base)
		if i > 1 {
			n = plumbing.ReferenceName(fmt.Sprintf("%s-%d", base, i))
		}
		h, ok, err := o.ref(n)
		if err != nil {
			return "", err
		}
		if !ok || h == tip {
			return n, nil
		}
	}
}

// isAncestor reports whether a is an ancestor of (or equal to) b. It walks
// back from b newest first and stops below a's commit time minus
// [ancestorSlack], so it does not read the whole history. An unreadable
// commit counts as "not an ancestor": the caller then keeps a backup.
func (o *repo) isAncestor(a, b plumbing.Hash) bool {
	ca, err := o.r.CommitObject(a)
	if err != nil {
		return false
	}
	cb, err := o.r.CommitObject(b)
	if err != nil {
		return false
	}
	cutoff := ca.Committer.When.Add(-ancestorSlack)
	q := &commitQueue{cb}
	seen := map[plumbing.Hash]bool{b: true}
	for q.Len() > 0 {
		c := heap.Pop(q).(*object.Commit)
		if c.Hash == a {
			return true
		}
		if c.Committer.When.Before(cutoff) {
			continue
		}
		for _, p := range c.ParentHashes {
			if seen[p] {
				continue
			}
			seen[p] = true
			pc, err := o.r.CommitObject(p)
			if err != nil {
				return false
			}
			heap.Push(q, pc)
		}
	}
	return false
}

// commitQueue is a max-heap of commits by committer time.
type commitQueue []*object.Commit

func (q commitQueue) Len() int           { return len(q) }
func (q commitQueue) Less(i, j int) bool { return q[i].Committer.When.After(q[j].Committer.When) }
func (q commitQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *commitQueue) Push(x any)        { *q = append(*q, x.(*object.Commit)) }
func (q *commitQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

// writer does a repair's writes through the System and stops at the first
// error, so the steps read in order.
type writer struct {
	sys fsx.System
	res *Repair
	err error
}

func (w *writer) action(format string, a ...any) {
	if w.err == nil {
		w.res.Actions = append(w.res.Actions, fmt.Sprintf(format, a...))
	}
}

func (w *writer) write(p string, data []byte) {
	if w.err != nil {
		return
	}
	if err := w.sys.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.err = fmt.Errorf("repair detached HEAD: %w", err)
		return
	}
	if err := w.sys.WriteFile(p, data, 0o644); err != nil {
		w.err = fmt.Errorf("repair detached HEAD: %w", err)
		return
	}
	w.res.Writes = append(w.res.Writes, p)
}

// appendLog appends line to the reflog p; create says whether a missing
// reflog is created (core.logAllRefUpdates), as git does.
func (w *writer) appendLog(p string, create bool, line string) {
	if w.err != nil {
		return
	}
	data, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !create {
			return
		}
	case err != nil:
		w.err = fmt.Errorf("repair detached HEAD: reflog %s: %w", p, err)
		return
	}
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		data = append(data, '\n')
	}
	w.write(p, append(data, line...))
}
