package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
)

// ErrNoUpstream means the install has no upstream branch to compare with.
var ErrNoUpstream = errors.New("no upstream branch")

// UpstreamBase returns the upstream commit the install at head is based
// on: the merge base of head and what update.sh merges (the branch's
// configured upstream, as merge.defaultToUpstream picks it, else
// origin/<branch>), and the name of that upstream ref.
func UpstreamBase(ctx context.Context, g *gitx.Runner, head, branch string) (base, upstream string, err error) {
	var candidates []string
	if branch != "" {
		candidates = append(candidates, branch+"@{upstream}", "refs/remotes/origin/"+branch)
	}
	candidates = append(candidates, "refs/remotes/origin/HEAD")
	var up string
	for _, c := range candidates {
		h, ok, err := g.RevParse(ctx, c)
		if err != nil {
			return "", "", err
		}
		if ok {
			up, upstream = h, c
			break
		}
	}
	if up == "" {
		return "", "", fmt.Errorf("%w: neither %s@{upstream} nor origin/%s is there (git fetch origin)", ErrNoUpstream, branch, branch)
	}
	if name, err := g.Output(ctx, "rev-parse", "--abbrev-ref", upstream); err == nil && name != "" {
		upstream = name
	}
	base, err = g.MergeBase(ctx, head, up)
	if err != nil {
		return "", "", fmt.Errorf("merge base of HEAD and %s: %w", upstream, err)
	}
	return base, upstream, nil
}
