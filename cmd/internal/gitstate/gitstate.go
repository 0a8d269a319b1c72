// Package gitstate inspects and repairs the git state of a mailcow checkout
// before update.sh runs its merge.
//
// # Why
//
// update.sh computes its branch with `git rev-parse --abbrev-ref HEAD` and
// later runs `git merge` with merge.defaultToUpstream=true, which needs a
// current branch with an upstream. A checkout left detached (an interrupted
// update, or the documented roll-back `git checkout <Before update commit>`)
// makes that merge fail with "fatal: No current branch"; a merge in
// progress, unmerged paths or a stale index.lock make it fail too.
//
// # What
//
// [Inspect] reads the state through gitx (a .git file, a linked worktree's
// common dir and git's safe.directory rule as git applies them) and the
// files git itself uses, without reading the history or hashing the work
// tree, and names each
// problem with the command that fixes it. [RepairDetached] does what
// `git checkout -B <branch>` does at the current commit, touching neither
// the index nor the work tree, keeps a branch tip it would orphan under
// refs/mcupdate/backup/, and sets the upstream update.sh needs. Every write
// goes through an fsx.System, so a dry run is the same code.
package gitstate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
)

// Sentinel errors; the errors this package returns wrap one of them.
var (
	// ErrNotRepo: the directory holds no git repository.
	ErrNotRepo = gitx.ErrNotRepo
	// ErrBare: the repository is bare; a mailcow checkout has a work tree.
	ErrBare = gitx.ErrBare
	// ErrUnsafe: git refuses the checkout because another user owns it
	// (safe.directory); update.sh's git commands fail the same way.
	ErrUnsafe = gitx.ErrUnsafe
	// ErrUnsupported: a repository format mcupdate cannot read.
	ErrUnsupported = gitx.ErrUnsupported
	// ErrCorruptHead: .git/HEAD is missing or holds neither a ref nor a hash.
	ErrCorruptHead = errors.New("corrupt HEAD")
	// ErrCorrupt: a ref, the index or the config cannot be read.
	ErrCorrupt = gitx.ErrCorrupt
	// ErrNoBranch: a detached HEAD cannot be repaired because no branch to
	// restore is known.
	ErrNoBranch = errors.New("no branch to restore")
	// ErrInvalidBranch: a branch name is not a valid git branch name.
	ErrInvalidBranch = errors.New("invalid branch name")
	// ErrLocked: git holds a lock file the repair would have to write
	// under.
	ErrLocked = errors.New("locked by git")
	// ErrRefused: the repair was refused because of the state of the
	// repository; see [RefusedError].
	ErrRefused = errors.New("repair refused")
)

// RepoError is an error about one file or directory of a repository.
type RepoError struct {
	Path   string // the file or directory at fault
	Err    error  // a sentinel above, or the underlying error
	Detail string // what exactly is wrong, may be empty
}

func (e *RepoError) Error() string {
	if e.Detail == "" {
		return e.Path + ": " + e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error() + ": " + e.Detail
}

func (e *RepoError) Unwrap() error { return e.Err }

// Kind names a kind of [Problem], stable for reports and tests.
type Kind string

// The problems [Inspect] reports.
const (
	KindDetached        Kind = "detached-head"
	KindHeadRefMissing  Kind = "head-ref-missing"
	KindNoUpstream      Kind = "no-upstream"
	KindMergeInProgress Kind = "merge-in-progress"
	KindOperation       Kind = "operation-in-progress"
	KindIndexLock       Kind = "index-lock"
	KindUnmerged        Kind = "unmerged-paths"
)

// Problem is one thing that would make update.sh's git steps fail: what is
// wrong and the command that fixes it.
type Problem struct {
	Kind Kind   `json:"kind"`
	What string `json:"what"`
	Fix  string `json:"fix"`
}

func (p Problem) String() string { return p.What + ": " + p.Fix }

// IndexLock describes a .git/index.lock file.
type IndexLock struct {
	Path       string        `json:"path"`
	Age        time.Duration `json:"age"`
	GitRunning bool          `json:"git_running"`
	GitPIDs    []int         `json:"git_pids,omitempty"`
}

// Upstream is the branch.<b>.remote and branch.<b>.merge of a branch.
type Upstream struct {
	Remote string `json:"remote"`
	Merge  string `json:"merge"`
}

// State is the git state of a checkout as update.sh will find it.
type State struct {
	Dir    string `json:"dir"`
	GitDir string `json:"git_dir"`
	// Branch is the current branch's short name, "" when detached.
	Branch   string `json:"branch"`
	Detached bool   `json:"detached"`
	// HeadRefMissing: HEAD names Branch but refs/heads/<Branch> does not
	// exist (git calls that an unborn branch).
	HeadRefMissing bool `json:"head_ref_missing,omitempty"`
	// Head is the hex hash of the commit HEAD resolves to, "" if none.
	Head            string `json:"head"`
	MergeInProgress bool   `json:"merge_in_progress"`
	// Operation is another operation in progress: "rebase",
	// "cherry-pick", "revert" or "bisect"; "" when none.
	Operation string     `json:"operation,omitempty"`
	IndexLock *IndexLock `json:"index_lock,omitempty"`
	// Unmerged lists the paths with index entries at a stage above 0.
	Unmerged []string `json:"unmerged,omitempty"`
	// Upstream is the current branch's upstream, nil when not configured.
	Upstream *Upstream `json:"upstream,omitempty"`
	// Problems lists what would make update.sh's git steps fail.
	Problems []Problem `json:"problems,omitempty"`
}

// OK reports whether update.sh's git steps will find nothing wrong.
func (s *State) OK() bool { return len(s.Problems) == 0 }

// Problem returns the problem of kind k and whether there is one.
func (s *State) Problem(k Kind) (Problem, bool) {
	for _, p := range s.Problems {
		if p.Kind == k {
			return p, true
		}
	}
	return Problem{}, false
}

// Seams overridden by tests.
var (
	now     = time.Now
	procDir = "/proc"
)

// repo is an opened checkout: go-git for refs, objects and config, and the
// paths of the files git itself uses.
type repo struct {
	dir string
	// gitDir holds this work tree's files (HEAD, index, MERGE_HEAD),
	// commonDir those all work trees share (refs, config); they differ
	// in a linked worktree.
	gitDir, commonDir string
	r                 *gitx.Repo
}

// open opens the repository whose work tree is dir, through gitx: a .git
// file, a linked worktree and alternates are read as git reads them, and
// a checkout git refuses (another user's, without safe.directory) is
// refused the same way. The caller closes it.
func open(dir string) (*repo, error) {
	r, err := gitx.Open(dir, gitx.Options{})
	if errors.Is(err, gitx.ErrNoHead) {
		// go-git and git say "not a repository"; the admin needs to hear
		// that this .git lost its HEAD.
		var le *gitx.LayoutError
		errors.As(err, &le)
		return nil, &RepoError{Path: le.Path, Err: ErrCorruptHead, Detail: "file is missing"}
	}
	if err != nil {
		return nil, err
	}
	l := r.Layout
	return &repo{dir: l.WorkTree, gitDir: l.GitDir, commonDir: l.CommonDir, r: r}, nil
}

func (o *repo) close() { _ = o.r.Close() }

// gitPath is where git keeps name (a ref, a reflog, a state file such as
// MERGE_HEAD): in the common dir for refs, their logs and the config,
// else in the work tree's git dir, as gitrepository-layout says.
func (o *repo) gitPath(name string) string {
	shared := false
	switch first, _, _ := strings.Cut(name, "/"); first {
	case "refs", "config", "config.lock", "packed-refs", "shallow", "info", "worktrees":
		shared = true
	case "logs":
		shared = name != "logs/HEAD"
	}
	for _, own := range []string{"refs/bisect", "refs/worktree", "refs/rewritten", "logs/refs/bisect", "logs/refs/worktree", "logs/refs/rewritten"} {
		if name == own || strings.HasPrefix(name, own+"/") {
			shared = false
		}
	}
	if shared {
		return filepath.Join(o.commonDir, filepath.FromSlash(name))
	}
	return filepath.Join(o.gitDir, filepath.FromSlash(name))
}

// head is what .git/HEAD says.
type head struct {
	ref  plumbing.ReferenceName // symbolic target, "" when detached
	hash plumbing.Hash          // when detached
}

// readHead parses .git/HEAD itself: go-git's error for garbage there does
// not say what is wrong.
func (o *repo) readHead() (head, error) {
	p := o.gitPath("HEAD")
	data, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return head{}, &RepoError{Path: p, Err: ErrCorruptHead, Detail: "file is missing"}
		}
		return head{}, &RepoError{Path: p, Err: err}
	}
	h, problem := parseHead(data)
	if problem != "" {
		return head{}, &RepoError{Path: p, Err: ErrCorruptHead, Detail: problem}
	}
	return h, nil
}

// parseHead parses the content of .git/HEAD; problem says what is wrong
// with it, "" when nothing is.
func parseHead(data []byte) (h head, problem string) {
	s := strings.TrimRight(string(data), "\r\n\t ")
	if target, ok := strings.CutPrefix(s, "ref:"); ok {
		name := plumbing.ReferenceName(strings.TrimSpace(target))
		if !strings.HasPrefix(string(name), "refs/") || name.Validate() != nil || !name.IsSafe() {
			return head{}, "invalid ref name " + quote(string(name))
		}
		return head{ref: name}, ""
	}
	if isHexHash(s) {
		return head{hash: plumbing.NewHash(s)}, ""
	}
	return head{}, fmt.Sprintf("content %s is neither \"ref: refs/…\" nor a commit hash", quote(s))
}

func isHexHash(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		// git reads upper-case hex too.
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// quote quotes s for a message, shortened so garbage cannot flood it.
func quote(s string) string {
	const max = 40
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}

// ref resolves name (loose or packed, following symbolic refs); ok is
// false when it does not exist.
func (o *repo) ref(name plumbing.ReferenceName) (h plumbing.Hash, ok bool, err error) {
	// go-git turns garbage in a loose ref into some hash without a word;
	// check the file first so the admin learns which ref is broken.
	p := o.gitPath(name.String())
	if data, err := os.ReadFile(p); err == nil {
		s := strings.TrimSpace(string(data))
		if !isHexHash(s) && !strings.HasPrefix(s, "ref: refs/") {
			return plumbing.ZeroHash, false, &RepoError{Path: p, Err: ErrCorrupt, Detail: fmt.Sprintf("content %s is neither a hash nor \"ref: refs/…\"", quote(s))}
		}
	}
	r, err := o.r.Reference(name, true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, false, nil
	}
	if err != nil {
		return plumbing.ZeroHash, false, &RepoError{Path: p, Err: ErrCorrupt, Detail: err.Error()}
	}
	return r.Hash(), true, nil
}

// rel names p for a command the admin runs in the mailcow directory.
func (o *repo) rel(p string) string {
	if r, err := filepath.Rel(o.dir, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// Inspect reports the git state of the checkout in dir and every problem
// update.sh's git steps would run into. It reads HEAD, a few refs, the
// config and the index, never the history or the work tree. A missing,
// bare or unreadable repository is an error wrapping [ErrNotRepo],
// [ErrBare], [ErrCorruptHead] or [ErrCorrupt]; everything else is a
// [Problem] in the State.
func Inspect(dir string) (*State, error) {
	o, err := open(dir)
	if err != nil {
		return nil, err
	}
	defer o.close()
	return o.inspect()
}

func (o *repo) inspect() (*State, error) {
	st := &State{Dir: o.dir, GitDir: o.gitDir}
	h, err := o.readHead()
	if err != nil {
		return nil, err
	}
	switch {
	case h.ref.IsBranch():
		st.Branch = h.ref.Short()
		hash, ok, err := o.ref(h.ref)
		if err != nil {
			return nil, err
		}
		if ok {
			st.Head = hash.String()
		} else {
			st.HeadRefMissing = true
		}
	case h.ref != "":
		// A symbolic HEAD outside refs/heads/ is no current branch to git
		// merge either.
		st.Detached = true
		if hash, ok, err := o.ref(h.ref); err != nil {
			return nil, err
		} else if ok {
			st.Head = hash.String()
		}
	default:
		st.Detached = true
		st.Head = h.hash.String()
	}

	if exists(o.gitPath("MERGE_HEAD")) {
		st.MergeInProgress = true
	}
	st.Operation = o.operation()

	lockPath := o.gitPath("index.lock")
	if fi, err := os.Stat(lockPath); err == nil {
		pids := gitProcesses(o.dir, o.gitDir)
		st.IndexLock = &IndexLock{Path: lockPath, Age: now().Sub(fi.ModTime()), GitRunning: len(pids) > 0, GitPIDs: pids}
	}
	cfg, err := o.r.Config()
	if err != nil {
		return nil, &RepoError{Path: o.gitPath("config"), Err: ErrCorrupt, Detail: err.Error()}
	}
	if st.Unmerged, err = o.unmerged(); err != nil {
		return nil, err
	}
	if st.Branch != "" {
		if b := cfg.Branches[st.Branch]; b != nil && b.Remote != "" && b.Merge != "" {
			st.Upstream = &Upstream{Remote: b.Remote, Merge: b.Merge.String()}
		}
	}
	o.problems(st)
	return st, nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// operation names a git operation other than merge left in progress; each
// of them leaves HEAD detached or the index in a state a merge refuses.
func (o *repo) operation() string {
	for _, c := range []struct{ file, op string }{
		{"rebase-merge", "rebase"},
		{"rebase-apply", "rebase"},
		{"CHERRY_PICK_HEAD", "cherry-pick"},
		{"REVERT_HEAD", "revert"},
		{"BISECT_LOG", "bisect"},
	} {
		if exists(o.gitPath(c.file)) {
			return c.op
		}
	}
	return ""
}

// unmerged reads the index directly: go-git's Worktree.Status hashes the
// whole work tree, which takes seconds on a mailcow checkout.
func (o *repo) unmerged() ([]string, error) {
	p := o.r.Layout.IndexPath()
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &RepoError{Path: p, Err: err}
	}
	var paths []string
	_, err = gitx.ScanIndex(data, func(e *gitx.IndexEntry) {
		// Entries are sorted by name then stage: a path's stages are adjacent.
		if e.Stage != 0 && (len(paths) == 0 || paths[len(paths)-1] != string(e.Name)) {
			paths = append(paths, string(e.Name))
		}
	})
	if err != nil {
		return nil, &RepoError{Path: p, Err: ErrCorrupt, Detail: err.Error()}
	}
	return paths, nil
}

// gitProcesses returns the pids of the git processes working in this
// repository, from /proc: their working directory is in its work tree or
// its git dir, or their GIT_DIR or GIT_WORK_TREE names one of them. A git
// elsewhere on the host (another checkout, a CI runner's clone) does not
// make this repository's index.lock live.
func gitProcesses(workTree, gitDir string) []int {
	ents, err := os.ReadDir(procDir)
	if err != nil {
		return nil
	}
	roots := resolvedRoots(workTree, gitDir)
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		proc := filepath.Join(procDir, e.Name())
		comm, err := os.ReadFile(filepath.Join(proc, "comm"))
		if err != nil {
			continue
		}
		c := strings.TrimSpace(string(comm))
		if c != "git" && !strings.HasPrefix(c, "git-") {
			continue
		}
		if worksIn(proc, roots) {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}

// resolvedRoots returns the paths a git process of this repository works
// in, with their links resolved as /proc shows them.
func resolvedRoots(paths ...string) []string {
	var out []string
	for _, p := range paths {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			out = append(out, r)
		}
		if a, err := filepath.Abs(p); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// worksIn reports whether the process at proc (a /proc/PID directory)
// works in one of roots: by its working directory (git -C DIR changes to
// DIR), else by the GIT_DIR or GIT_WORK_TREE it was started with,
// resolved against that directory. A process whose directory cannot be
// read is not counted: root reads every process's.
func worksIn(proc string, roots []string) bool {
	cwd, err := os.Readlink(filepath.Join(proc, "cwd"))
	if err != nil {
		return false
	}
	if within(cwd, roots) {
		return true
	}
	env, err := os.ReadFile(filepath.Join(proc, "environ"))
	if err != nil {
		return false
	}
	for _, kv := range strings.Split(string(env), "\x00") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" || k != "GIT_DIR" && k != "GIT_WORK_TREE" {
			continue
		}
		if !filepath.IsAbs(v) {
			v = filepath.Join(cwd, v)
		}
		if r, err := filepath.EvalSymlinks(v); err == nil {
			v = r
		}
		if within(filepath.Clean(v), roots) {
			return true
		}
	}
	return false
}

// within reports whether p is one of roots or below one.
func within(p string, roots []string) bool {
	for _, r := range roots {
		if p == r || strings.HasPrefix(p, r+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func (o *repo) problems(st *State) {
	add := func(k Kind, what, fix string) {
		st.Problems = append(st.Problems, Problem{Kind: k, What: what, Fix: fix})
	}
	if st.MergeInProgress {
		add(KindMergeInProgress, "a merge is in progress",
			"finish it with `git commit` or abort it with `git merge --abort`")
	}
	if st.Operation != "" {
		add(KindOperation, "a "+st.Operation+" is in progress", operationFix[st.Operation])
	}
	if len(st.Unmerged) > 0 {
		add(KindUnmerged, "unmerged paths: "+listPaths(st.Unmerged, 10),
			"resolve and `git add`, or `git reset --merge`")
	}
	if l := st.IndexLock; l != nil {
		rel := o.rel(l.Path)
		if l.GitRunning {
			add(KindIndexLock, fmt.Sprintf("%s exists (%s old) and git is running (pid %s)", rel, humanAge(l.Age), joinInts(l.GitPIDs)),
				"wait for git to finish, then run update.sh again")
		} else {
			add(KindIndexLock, fmt.Sprintf("stale %s (%s old, no git running)", rel, humanAge(l.Age)),
				"remove it with `rm "+rel+"`")
		}
	}
	switch {
	case st.HeadRefMissing:
		fix := "point HEAD at an existing branch with `git symbolic-ref HEAD refs/heads/<branch>`"
		if _, ok, _ := o.ref(plumbing.Master); ok && st.Branch != "master" {
			fix = "point HEAD at an existing branch with `git symbolic-ref HEAD refs/heads/master`"
		}
		add(KindHeadRefMissing, fmt.Sprintf("HEAD points at refs/heads/%s, which does not exist", st.Branch), fix)
	case st.Detached:
		at := gitx.Short(st.Head)
		target := "<branch>"
		if b, _, err := o.guessBranch(); err == nil {
			target = b
		}
		add(KindDetached, fmt.Sprintf("HEAD is detached at %s, so update.sh's merge fails with \"No current branch\"", at),
			"mcupdate's pre hook repairs it, or run `git checkout -B "+target+"`")
	case st.Upstream == nil:
		add(KindNoUpstream, fmt.Sprintf("branch %s has no upstream, so update.sh's merge has nothing to merge", st.Branch),
			"set it with `git branch --set-upstream-to=origin/"+st.Branch+"`")
	}
}

var operationFix = map[string]string{
	"rebase":      "finish it with `git rebase --continue` or abort it with `git rebase --abort`",
	"cherry-pick": "finish it with `git cherry-pick --continue` or abort it with `git cherry-pick --abort`",
	"revert":      "finish it with `git revert --continue` or abort it with `git revert --abort`",
	"bisect":      "end it with `git bisect reset`",
}

func listPaths(paths []string, max int) string {
	if len(paths) <= max {
		return strings.Join(paths, ", ")
	}
	return strings.Join(paths[:max], ", ") + fmt.Sprintf(" and %d more", len(paths)-max)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// humanAge prints d the way an admin reads it: "40s", "12m", "3h", "5d".
func humanAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
}
