package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/proc"
)

// git runs the git CLI for a replay. Every command gets ctx: when the
// replay is interrupted, the command's whole process group is killed
// (git clone forks index-pack and remote helpers), so nothing is left
// running in a scratch directory that is about to be removed.
type git struct {
	// env is the environment of commands in the scratch clone: no system
	// or user git configuration (a CI runner's merge.ff=only or
	// commit.gpgsign must not change update.sh's merge) and a fixed
	// identity, as root on a mailcow server has.
	env []string
	// cloneEnv is the environment of the one clone from the upstream: the
	// user's configuration stays, for credentials, proxies and insteadOf.
	cloneEnv []string
	// secret hides the upstream URL's password in messages.
	secret func(string) string
}

// locationVars point git at another repository; a replay started from a
// git hook (GIT_DIR set) must still work in its own scratch clone.
var locationVars = []string{"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
	"GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_PREFIX"}

func newGit(base []string, secret func(string) string) *git {
	if base == nil {
		base = os.Environ()
	}
	var clean []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, v := range locationVars {
			drop = drop || k == v
		}
		if !drop {
			clean = append(clean, kv)
		}
	}
	cloneEnv := append(append([]string(nil), clean...), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	env := append(append([]string(nil), cloneEnv...),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=moo", "GIT_AUTHOR_EMAIL=moo@cow.moo",
		"GIT_COMMITTER_NAME=moo", "GIT_COMMITTER_EMAIL=moo@cow.moo")
	return &git{env: env, cloneEnv: cloneEnv, secret: secret}
}

// run runs git in dir and returns its trimmed stdout; a failure carries
// the command, the directory and git's stderr.
func (g *git) run(ctx context.Context, dir string, args ...string) (string, error) {
	return g.runEnv(ctx, g.env, dir, args...)
}

func (g *git) runEnv(ctx context.Context, env []string, dir string, args ...string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	cmd := proc.Command(ctx, "git", args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctxErr := ctx.Err(); ctxErr != nil && err != nil {
		return "", ctxErr
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		where := ""
		if dir != "" {
			where = " in " + dir
		}
		return "", &GitError{Args: g.secret(strings.Join(args, " ")) + where, Stderr: g.secret(msg), Err: err}
	}
	return strings.TrimSpace(stdout.String()), nil
}

// GitError is a git command that failed, with what it printed.
type GitError struct {
	Args   string // the command line after "git", and where it ran
	Stderr string
	Err    error
}

func (e *GitError) Error() string {
	if e.Stderr == "" {
		return fmt.Sprintf("git %s: %v", e.Args, e.Err)
	}
	return fmt.Sprintf("git %s: %v: %s", e.Args, e.Err, e.Stderr)
}

func (e *GitError) Unwrap() error { return e.Err }

// urlSecret returns a function hiding the password of an upstream URL
// such as https://user:token@host/repo wherever it appears.
func urlSecret(upstream string) func(string) string {
	u, err := url.Parse(upstream)
	if err != nil || u.User == nil {
		return func(s string) string { return s }
	}
	pass, ok := u.User.Password()
	if !ok || pass == "" {
		return func(s string) string { return s }
	}
	return func(s string) string { return strings.ReplaceAll(s, pass, "xxxxx") }
}

// isCanceled reports whether err is the context's cancellation.
func isCanceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
