package hook

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/mcupdate/mcupdate/cmd/internal/risk"
)

// errUntrackedInTheWay is the danger stepUpstream reports.
var errUntrackedInTheWay = errors.New("untracked files in the way of the update")

// stepUpstream looks at what update.sh is about to merge: update.sh has
// fetched origin/<branch> (for its _modules) before the pre hook runs. A
// file upstream adds that exists here untracked makes git refuse the
// merge; update.sh then stops with mailcow already down (a real merge),
// or commits the file and silently does not update (a fast-forward).
func stepUpstream(_ context.Context, env *Env, ps *preState) (Step, error) {
	s := Step{Name: "upstream"}
	if ps.branch == "" || ps.head == "" {
		s.Status, s.Message = StatusSkipped, "no branch to compare with its upstream"
		return s, nil
	}
	repo, err := git.PlainOpen(env.MailcowDir)
	if err != nil {
		s.Status, s.Message = StatusSkipped, "cannot open the repository: "+err.Error()
		return s, nil
	}
	upRef, err := repo.Reference(plumbing.NewRemoteReferenceName("origin", ps.branch), true)
	if err != nil {
		s.Status, s.Message = StatusSkipped, fmt.Sprintf("no origin/%s fetched yet", ps.branch)
		return s, nil
	}
	if upRef.Hash().String() == ps.head {
		s.Status, s.Message = StatusOK, fmt.Sprintf("up to date with origin/%s", ps.branch)
		return s, nil
	}
	added, err := risk.AddedFiles(env.MailcowDir, plumbing.NewHash(ps.head), upRef.Hash())
	if err != nil {
		s.Status, s.Message = StatusSkipped, "compare with upstream: "+err.Error()
		return s, nil
	}
	var inTheWay []string
	for _, p := range added {
		if _, err := os.Lstat(filepath.Join(env.MailcowDir, filepath.FromSlash(p))); err == nil {
			inTheWay = append(inTheWay, p)
		}
	}
	// git overwrites ignored files silently (they are expendable to it);
	// the snapshot keeps the admin's copy. Only the others stop the merge.
	ignored := checkIgnored(env.MailcowDir, inTheWay)
	var blocking []string
	for _, p := range inTheWay {
		if ignored[p] {
			s.Details = append(s.Details, fmt.Sprintf("%s: gitignored here, now tracked upstream: the merge overwrites it; the post hook restores yours from the snapshot", p))
			continue
		}
		blocking = append(blocking, p)
	}
	inTheWay = blocking
	if len(inTheWay) == 0 && len(s.Details) > 0 {
		s.Status, s.Message = StatusWarning, fmt.Sprintf("origin/%s starts tracking files that are gitignored here", ps.branch)
		return s, nil
	}
	if len(inTheWay) == 0 {
		s.Status, s.Message = StatusOK, fmt.Sprintf("origin/%s (%s) adds no file that exists here untracked", ps.branch, short(upRef.Hash().String()))
		return s, nil
	}
	s.Status, s.Danger = StatusError, true
	what := fmt.Sprintf("%d files that exist here untracked: git merge refuses to overwrite them", len(inTheWay))
	if len(inTheWay) == 1 {
		what = "1 file that exists here untracked: git merge refuses to overwrite it"
	}
	s.Message = fmt.Sprintf("origin/%s adds %s", ps.branch, what)
	s.Details = append(inTheWay, s.Details...)
	s.Details = append(s.Details, "move them out of the mailcow dir (and back, or into an override, after the update), then run ./update.sh again")
	return s, fmt.Errorf("%w: %s", errUntrackedInTheWay, strings.Join(inTheWay, ", "))
}

// checkIgnored asks git which of paths its ignore rules match (the real
// git: the rules have corner cases a reimplementation gets wrong).
func checkIgnored(dir string, paths []string) map[string]bool {
	cmd := exec.Command("git", "check-ignore", "--no-index", "--stdin")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(strings.Join(paths, "\n") + "\n")
	out, _ := cmd.Output() // exit 1: none ignored
	m := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			m[l] = true
		}
	}
	return m
}
