package hook

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
)

// errUntrackedInTheWay is the danger stepUpstream reports.
var errUntrackedInTheWay = errors.New("untracked files in the way of the update")

// stepUpstream looks at what update.sh is about to merge: update.sh has
// fetched origin/<branch> (for its _modules) before the pre hook runs. A
// file the merge adds where the work tree has an untracked, not ignored
// file makes git refuse the merge; update.sh then stops with mailcow
// already down (a real merge), or commits the file and silently does not
// update (a fast-forward).
//
// It reproduces git's refusal, not an approximation of it: update.sh
// first commits every tracked change and everything staged ("Before
// update"), so a file in the index is never in the way (update.sh stages
// its _modules itself when it crosses the 2025-08 modules split), and the
// merge adds only what upstream added or changed since the merge base. A
// false stop is as bad as a missed one: when git cannot answer, the step
// warns and lets update.sh go on.
func stepUpstream(ctx context.Context, env *Env, ps *preState) (Step, error) {
	s := Step{Name: "upstream"}
	if ps.branch == "" || ps.head == "" {
		s.Status, s.Message = StatusSkipped, "no branch to compare with its upstream"
		return s, nil
	}
	g := ps.git(ctx, env)
	u, err := ps.upstream(ctx, env)
	switch {
	case errors.Is(err, ledger.ErrNoUpstream):
		s.Status, s.Message = StatusSkipped, fmt.Sprintf("no origin/%s fetched yet", ps.branch)
		return s, nil
	case u != nil && errors.Is(err, gitx.ErrNoMergeBase):
		// git refuses to merge unrelated histories whatever the work tree
		// holds; update.sh alone would stop there too.
		s.Status, s.Message = StatusWarning, fmt.Sprintf("%s shares no history with HEAD: git merge will refuse it", u.Name)
		return s, nil
	case err != nil:
		return unsure(s, "find what update.sh merges", err), nil
	case u.Commit == ps.head:
		s.Status, s.Message = StatusOK, fmt.Sprintf("up to date with %s", u.Name)
		return s, nil
	}
	upstream, up := u.Name, u.Commit
	adds, err := mergeAdds(ctx, g, ps.head, up, u.Base)
	if err != nil {
		return unsure(s, "compare with "+upstream, err), nil
	}
	inTheWay, err := g.Untracked(ctx, queryPaths(env.MailcowDir, adds))
	if err != nil {
		return unsure(s, "ask git for untracked files", err), nil
	}
	inTheWay = within(inTheWay, adds)
	// git overwrites ignored files silently (they are expendable to it);
	// the snapshot keeps the admin's copy.
	ignored, err := g.Ignored(ctx, adds)
	if err != nil {
		env.UI.Debugf("upstream: ask git for ignored files: %v", err)
	}
	for _, p := range within(ignored, adds) {
		s.Details = append(s.Details, fmt.Sprintf("%s: gitignored here, now tracked upstream: the merge overwrites it; the post hook restores yours from the snapshot", p))
	}
	switch {
	case len(inTheWay) == 0 && len(s.Details) > 0:
		s.Status, s.Message = StatusWarning, fmt.Sprintf("%s starts tracking files that are gitignored here", upstream)
		return s, nil
	case len(inTheWay) == 0:
		s.Status, s.Message = StatusOK, fmt.Sprintf("%s (%s) adds no file that exists here untracked", upstream, gitx.Short(up))
		return s, nil
	}
	s.Status, s.Danger = StatusError, true
	what := fmt.Sprintf("%d files that exist here untracked: git merge refuses to overwrite them", len(inTheWay))
	if len(inTheWay) == 1 {
		what = "1 file that exists here untracked: git merge refuses to overwrite it"
	}
	s.Message = fmt.Sprintf("%s adds %s", upstream, what)
	s.Details = append(append([]string(nil), inTheWay...), s.Details...)
	s.Details = append(s.Details, "move them out of the mailcow dir (and back, or into an override, after the update), then run ./update.sh again")
	return s, fmt.Errorf("%w: %s", errUntrackedInTheWay, strings.Join(inTheWay, ", "))
}

// unsure ends the step with a warning: a check that cannot tell must not
// stop update.sh.
func unsure(s Step, what string, err error) Step {
	s.Status, s.Message = StatusWarning, fmt.Sprintf("cannot tell whether the merge will go through: %s: %v", what, err)
	return s
}

// mergeAdds returns the files a merge of up into head creates in the work
// tree: those up has and head has not, less those upstream has not
// touched since the merge base (the merge keeps head's side of them:
// absent).
func mergeAdds(ctx context.Context, g *gitx.Runner, head, up, base string) ([]string, error) {
	added, err := g.DiffTree(ctx, head, up, "A")
	if err != nil || len(added) == 0 {
		return nil, err
	}
	touched := map[string]bool{}
	if base != head {
		cs, err := g.DiffTree(ctx, base, up, "")
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			touched[c.Path] = true
		}
	}
	var out []string
	for _, c := range added {
		if base == head || touched[c.Path] {
			out = append(out, c.Path)
		}
	}
	return out, nil
}

// queryPaths returns the paths to ask git about: each added file (a
// directory there holding untracked files is in the way too) and each of
// its parents that is a file or link in the work tree (git must replace
// it by a directory).
func queryPaths(dir string, adds []string) []string {
	out := append([]string(nil), adds...)
	seen := map[string]bool{}
	for _, p := range adds {
		for d := path.Dir(p); d != "." && !seen[d]; d = path.Dir(d) {
			seen[d] = true
			if fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(d))); err == nil && !fi.IsDir() {
				out = append(out, d)
			}
		}
	}
	return out
}

// within keeps the files of list that stand where a file of adds goes: the
// same path, below it (a directory in the way) or above it (a file where
// a directory must go).
func within(list, adds []string) []string {
	set := map[string]bool{}
	for _, p := range adds {
		set[p] = true
	}
	var out []string
	for _, f := range list {
		hit := set[f]
		for d := path.Dir(f); !hit && d != "."; d = path.Dir(d) {
			hit = set[d]
		}
		if !hit {
			prefix := f + "/"
			for _, p := range adds {
				if strings.HasPrefix(p, prefix) {
					hit = true
					break
				}
			}
		}
		if hit {
			out = append(out, f)
		}
	}
	return out
}

// gitTimeout bounds each git command of a hook step: a hung git (a lock on
// a network file system) must not hold update.sh forever.
const gitTimeout = 60 * time.Second
