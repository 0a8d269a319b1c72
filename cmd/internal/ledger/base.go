package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
)

// ErrNoUpstream means the install has no upstream branch to compare with.
var ErrNoUpstream = errors.New("no upstream branch")

// Upstream is what update.sh merges into the install.
type Upstream struct {
	// Name is the ref ("origin/master"), Commit what it points at.
	Name, Commit string
	// Base is the upstream commit the install is based on: the merge base
	// of its HEAD and Commit.
	Base string
}

// UpstreamBase finds what update.sh merges into the install at head (the
// branch's configured upstream, as merge.defaultToUpstream picks it, else
// origin/<branch>) and the upstream commit the install is based on.
func UpstreamBase(ctx context.Context, g *gitx.Runner, head, branch string) (*Upstream, error) {
	var candidates []string
	if branch != "" {
		candidates = append(candidates, branch+"@{upstream}", "refs/remotes/origin/"+branch)
	}
	candidates = append(candidates, "refs/remotes/origin/HEAD")
	u := &Upstream{}
	for _, c := range candidates {
		h, ok, err := g.RevParse(ctx, c)
		if err != nil {
			return nil, err
		}
		if ok {
			u.Commit, u.Name = h, c
			break
		}
	}
	if u.Commit == "" {
		return nil, fmt.Errorf("%w: neither %s@{upstream} nor origin/%s is there (git fetch origin)", ErrNoUpstream, branch, branch)
	}
	if strings.HasSuffix(u.Name, "@{upstream}") {
		if name, err := g.AbbrevRef(ctx, u.Name); err == nil && name != "" {
			u.Name = name
		}
	} else {
		u.Name = strings.TrimPrefix(u.Name, "refs/remotes/")
	}
	var err error
	if u.Base, err = g.MergeBase(ctx, head, u.Commit); err != nil {
		return u, fmt.Errorf("merge base of HEAD and %s: %w", u.Name, err)
	}
	return u, nil
}
