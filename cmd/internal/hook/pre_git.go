package hook

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/gitstate"
	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
)

// stepGit repairs a detached HEAD (update.sh's merge fails on it with
// "fatal: No current branch") and reports, with the command to run, what
// it must not repair by itself: a merge in progress, an unmerged index, a
// stale index.lock.
func stepGit(_ context.Context, env *Env, ps *preState) (Step, error) {
	s := Step{Name: "git"}
	st, err := gitstate.Inspect(env.MailcowDir)
	if err != nil {
		s.Status, s.Message, s.Danger = StatusError, err.Error(), true
		if h := gitx.Hint(err); h != "" {
			s.Details = append(s.Details, h)
		}
		return s, err
	}
	ps.head, ps.branch = st.Head, st.Branch
	if st.Detached {
		rep, err := gitstate.RepairDetached(env.MailcowDir, gitstate.RepairOptions{
			Branch: env.Config.Branch, DryRun: env.DryRun, Now: env.Now(), System: env.Sys,
		})
		if err != nil {
			s.Status, s.Message, s.Danger = StatusError, "HEAD is detached and could not be repaired: "+err.Error(), true
			var refused *gitstate.RefusedError
			if errors.As(err, &refused) {
				s.Message = "HEAD is detached: " + err.Error()
			}
			return s, err
		}
		s.Status = StatusChanged
		if env.DryRun {
			s.Message = fmt.Sprintf("dry run: would check out branch %s at %s (%s)", rep.Branch, gitx.Short(rep.Head), rep.Source)
		} else {
			s.Message = fmt.Sprintf("repaired detached HEAD: branch %s set to %s and checked out (%s); working tree untouched", rep.Branch, gitx.Short(rep.Head), rep.Source)
			ps.repaired = true
			ps.branch = rep.Branch
		}
		s.Details = append(s.Details, rep.Actions...)
		if rep.Backup != "" {
			env.UI.Warnf("the old tip of %s (%s) was not in HEAD's history: kept as %s", rep.Branch, gitx.Short(rep.OldTip), rep.Backup)
		}
		// The other problems were found before the repair; a detached HEAD
		// is the only one the repair removes.
		for _, p := range st.Problems {
			if p.Kind != gitstate.KindDetached && p.Kind != gitstate.KindNoUpstream {
				s.Details = append(s.Details, p.String())
			}
		}
		return s, nil
	}
	if len(st.Problems) == 0 {
		s.Status, s.Message = StatusOK, fmt.Sprintf("on branch %s at %s", st.Branch, gitx.Short(st.Head))
		if st.Upstream != nil {
			s.Message += fmt.Sprintf(", tracking %s", st.Upstream.Remote+"/"+strings.TrimPrefix(st.Upstream.Merge, "refs/heads/"))
		}
		return s, nil
	}
	s.Status = StatusError
	var msgs []string
	for _, p := range st.Problems {
		s.Details = append(s.Details, p.String())
		msgs = append(msgs, p.What)
	}
	s.Message = fmt.Sprintf("on branch %s: %s", orDetached(st.Branch), joinSemi(msgs))
	s.Danger = true
	return s, fmt.Errorf("%s: %s", env.MailcowDir, joinSemi(msgs))
}

func joinSemi(ss []string) string { return strings.Join(ss, "; ") }
