package replay

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
)

// git runs the git CLI for a replay through gitx's runner: every command
// gets ctx, and when the replay is interrupted the command's whole
// process group is killed (git clone forks index-pack and remote
// helpers), so nothing is left running in a scratch directory that is
// about to be removed. A failure is a *gitx.Error with the upstream URL's
// password hidden.
type git struct {
	// scratch runs in the scratch clone: no system or user git
	// configuration (a CI runner's merge.ff=only or commit.gpgsign must
	// not change update.sh's merge) and a fixed identity, as root on a
	// mailcow server has.
	scratch gitx.Runner
	// clone runs the one clone from the upstream: the user's
	// configuration stays, for credentials, proxies and insteadOf.
	clone gitx.Runner
}

func newGit(base []string, secret func(string) string) *git {
	return &git{
		scratch: gitx.Runner{Env: base, Isolated: true, Redact: secret},
		clone:   gitx.Runner{Env: base, Redact: secret},
	}
}

// run runs git in dir with the scratch clone's settings and returns its
// trimmed stdout.
func (g *git) run(ctx context.Context, dir string, args ...string) (string, error) {
	r := g.scratch
	r.Dir = dir
	return r.Output(ctx, args...)
}

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
