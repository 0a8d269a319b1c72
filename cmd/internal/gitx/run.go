// Package gitx is mcupdate's one way to the git CLI. update.sh drives the
// git CLI, so whatever git does in a checkout is the truth mcupdate must
// agree with; where go-git cannot answer faithfully or fast, the answer
// comes from here.
//
// # Running git
//
// [Runner] runs git in one directory: in its own process group, killed
// whole when the context ends (git forks index-pack and remote helpers),
// with a bounded wait for its output pipes, an environment without the
// variables that would point it at another repository, and git's messages
// in English (LC_ALL=C) so that they can be matched. A failure is an
// [*Error] carrying the command, the directory, the exit code and git's
// stderr. [Runner.Start] keeps a git running for requests (`git cat-file
// --batch`).
//
// # Reading a repository
//
// [Open] opens a checkout the way git does ([Discover]): .git as a
// directory or a "gitdir:" file (a submodule, --separate-git-dir), the
// commondir of a linked worktree, alternates (absolute and relative,
// recursively), packed refs, a shallow clone's boundary, a partial
// clone's promisor remote, and git's safe.directory rule. The [Repo] it
// returns is go-git's Repository over objects read by this package: pack
// indexes are searched in place instead of decoded whole, delta chains
// are resolved by offset, and an object a partial clone lacks is asked of
// `git cat-file --batch`, which fetches it. What is missing anyway is a
// [*MissingObjectError] that names the layout and what to do. [ReadIndex]
// and [ScanIndex] are the one reader of .git/index.
package gitx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// waitDelay bounds how long a killed git may keep its output pipes open.
const waitDelay = 5 * time.Second

// locationVars point git at another repository than the one in Dir. A
// hook started from inside a git hook (GIT_DIR set) must still read the
// mailcow checkout.
var locationVars = map[string]bool{
	"GIT_DIR": true, "GIT_WORK_TREE": true, "GIT_INDEX_FILE": true, "GIT_OBJECT_DIRECTORY": true,
	"GIT_ALTERNATE_OBJECT_DIRECTORIES": true, "GIT_COMMON_DIR": true, "GIT_NAMESPACE": true, "GIT_PREFIX": true,
	"GIT_CEILING_DIRECTORIES": true, "GIT_DISCOVERY_ACROSS_FILESYSTEM": true,
}

// Runner runs the git CLI in one directory. The zero value runs in the
// current directory with the process's environment.
type Runner struct {
	// Dir is where git runs.
	Dir string
	// Env is the base environment; nil means os.Environ(). Variables
	// that point git at another repository are always dropped.
	Env []string
	// Isolated ignores the system and global git configuration and sets
	// a fixed identity: for scratch repositories whose merges must be
	// update.sh's whatever the host's ~/.gitconfig says (merge.ff=only,
	// commit.gpgsign).
	Isolated bool
	// Timeout bounds one command; 0 means only the context does.
	Timeout time.Duration
	// Redact hides secrets (a password in a remote URL) in errors.
	Redact func(string) string
	// Vars are set last, after the scrubbing: a caller that means to
	// point git elsewhere (GIT_INDEX_FILE, GIT_OBJECT_DIRECTORY) says so
	// here.
	Vars []string

	// repo is the opened repository of Dir when the runner is a Repo's
	// ([Repo.Git]): queries that only read objects (DiffTree, Blobs) are
	// then answered from it, without a git process.
	repo *Repo
}

// local reports whether r's queries may be answered by its Repo: it runs
// in the Repo's work tree and nothing points git elsewhere.
func (r *Runner) local() bool {
	return r.repo != nil && r.Dir == r.repo.Layout.WorkTree && len(r.Vars) == 0
}

// Identity is who commits in an isolated runner: root on a mailcow server
// has no git identity, and update.sh commits as whatever git makes of it.
var Identity = []string{
	"GIT_AUTHOR_NAME=mcupdate", "GIT_AUTHOR_EMAIL=mcupdate@localhost",
	"GIT_COMMITTER_NAME=mcupdate", "GIT_COMMITTER_EMAIL=mcupdate@localhost",
}

// getenv reads key from the base environment git runs with.
func (r *Runner) getenv(key string) string {
	if r.Env == nil {
		return os.Getenv(key)
	}
	for i := len(r.Env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(r.Env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// environ returns the environment git runs with.
func (r *Runner) environ() []string {
	base := r.Env
	if base == nil {
		base = os.Environ()
	}
	env := make([]string, 0, len(base)+8)
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if locationVars[k] || k == "LC_ALL" || k == "GIT_TERMINAL_PROMPT" {
			continue
		}
		if r.Isolated && (k == "GIT_CONFIG_NOSYSTEM" || k == "GIT_CONFIG_GLOBAL" || strings.HasPrefix(k, "GIT_AUTHOR_") || strings.HasPrefix(k, "GIT_COMMITTER_")) {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "LC_ALL=C", "GIT_TERMINAL_PROMPT=0")
	if r.Isolated {
		env = append(env, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
		env = append(env, Identity...)
	}
	return append(env, r.Vars...)
}

// Error is a git command that failed, with what it printed.
type Error struct {
	Args     []string // after "git"
	Dir      string
	ExitCode int // -1 when git did not run to an exit
	Stderr   string
	Err      error
	redact   func(string) string
}

func (e *Error) Error() string {
	red := e.redact
	if red == nil {
		red = func(s string) string { return s }
	}
	s := "git " + red(strings.Join(e.Args, " "))
	if e.Dir != "" {
		s += " in " + e.Dir
	}
	s += ": " + red(e.Err.Error())
	if e.Stderr != "" {
		s += ": " + red(e.Stderr)
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Message is git's own words (its stderr, else the failure), without the
// command line, with secrets hidden.
func (e *Error) Message() string {
	red := e.redact
	if red == nil {
		red = func(s string) string { return s }
	}
	if e.Stderr != "" {
		return red(e.Stderr)
	}
	return red(e.Err.Error())
}

// ExitCode returns the exit code of the git command behind err, or -1.
func ExitCode(err error) int {
	var ge *Error
	if errors.As(err, &ge) {
		return ge.ExitCode
	}
	return -1
}

// Call is one git command: its arguments, optional stdin, and where its
// stdout goes (nil: collected and returned).
type Call struct {
	Args   []string
	Stdin  io.Reader
	Stdout io.Writer
}

// Run runs git with args and returns its stdout, not trimmed.
func (r *Runner) Run(ctx context.Context, args ...string) ([]byte, error) {
	var out bytes.Buffer
	err := r.Do(ctx, Call{Args: args, Stdout: &out})
	return out.Bytes(), err
}

// Output runs git with args and returns its stdout with surrounding space
// trimmed.
func (r *Runner) Output(ctx context.Context, args ...string) (string, error) {
	b, err := r.Run(ctx, args...)
	return strings.TrimSpace(string(b)), err
}

// Combined runs git with args and returns its stdout and stderr together,
// as a terminal shows them, and the exit code (-1 when git did not exit
// by itself). err is non-nil for a non-zero exit too.
func (r *Runner) Combined(ctx context.Context, args ...string) (string, int, error) {
	var b bytes.Buffer
	err := r.do(ctx, Call{Args: args, Stdout: &b}, &b)
	if err != nil {
		return b.String(), ExitCode(err), err
	}
	return b.String(), 0, nil
}

// Do runs one git command.
func (r *Runner) Do(ctx context.Context, c Call) error {
	var stderr bytes.Buffer
	return r.do(ctx, c, &stderr)
}

func (r *Runner) do(ctx context.Context, c Call, stderr *bytes.Buffer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	cmd := r.command(ctx, c.Args)
	cmd.Stdin = c.Stdin
	cmd.Stdout = c.Stdout
	if cmd.Stdout == nil {
		cmd.Stdout = io.Discard
	}
	cmd.Stderr = stderr
	return r.failure(ctx, c.Args, cmd.Run(), stderr.String())
}

// command is git with args in r.Dir, in its own process group that ctx
// kills whole.
func (r *Runner) command(ctx context.Context, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir, cmd.Env = r.Dir, r.environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	return cmd
}

// failure turns what running args returned into an *Error, or nil.
func (r *Runner) failure(ctx context.Context, args []string, err error, stderr string) error {
	if err == nil {
		return nil
	}
	ge := &Error{Args: args, Dir: r.Dir, ExitCode: -1, Stderr: strings.TrimSpace(stderr), Err: err, redact: r.Redact}
	if ctxErr := ctx.Err(); ctxErr != nil {
		ge.Err = ctxErr
		if errors.Is(ctxErr, context.DeadlineExceeded) && r.Timeout > 0 {
			ge.Err = fmt.Errorf("no answer within %v: %w", r.Timeout, ctxErr)
		}
		return ge
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ge.ExitCode = ee.ExitCode()
	}
	return ge
}

// Proc is a git command that keeps running, fed through Stdin and read
// through Stdout, such as `git cat-file --batch`.
type Proc struct {
	Stdin  io.WriteCloser
	Stdout io.Reader
	cmd    *exec.Cmd
	ctx    context.Context
	cancel context.CancelFunc
	stderr *lockedBuffer
	r      *Runner
	args   []string
}

// Start starts git with args and returns at once. Runner.Timeout does not
// apply: the process lives until [Proc.Close] or ctx ends.
func (r *Runner) Start(ctx context.Context, args ...string) (*Proc, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &Proc{ctx: ctx, cancel: cancel, stderr: &lockedBuffer{}, r: r, args: args}
	p.cmd = r.command(ctx, args)
	p.cmd.Stderr = p.stderr
	var err error
	if p.Stdin, err = p.cmd.StdinPipe(); err != nil {
		cancel()
		return nil, err
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	p.Stdout = out
	if err := p.cmd.Start(); err != nil {
		cancel()
		return nil, r.failure(ctx, args, err, "")
	}
	return p, nil
}

// Stderr is what the process printed on stderr so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// Kill stops the process group at once.
func (p *Proc) Kill() { p.cancel() }

// Close ends the input, waits for the process and returns its failure.
func (p *Proc) Close() error {
	_ = p.Stdin.Close()
	err := p.cmd.Wait()
	defer p.cancel()
	if p.ctx.Err() != nil && err != nil {
		// Killed on purpose: not git's failure.
		return nil
	}
	return p.r.failure(p.ctx, p.args, err, p.stderr.String())
}

// lockedBuffer is a buffer exec writes to from its own goroutine while
// another reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
