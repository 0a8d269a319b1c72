// Package updatesh runs exactly the git steps mailcow's update.sh runs to
// update an install, with the real git (go-git has no 3-way merge with
// -Xtheirs -Xpatience), for the demo, replay and tests:
//
//	git add -u
//	git commit -am "Before update on DATE"
//	git merge -Xtheirs -Xpatience -m "After update on DATE" [TARGET]
//	exit 128 → update.sh aborts ("move your files")
//	exit 1   → rm the UD/DU files, git add -A, git commit, git checkout .
package updatesh

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// Result is what one run did.
type Result struct {
	// Start is HEAD when the run began.
	Start string `json:"start"`
	// Before is the "Before update" commit, "" when there were no local
	// changes to commit (the merge is then a fast-forward).
	Before string `json:"before,omitempty"`
	// Head is HEAD after the run.
	Head string `json:"head"`
	// MergeExit is git merge's exit code: 0, 1 (conflicts update.sh
	// resolved by deleting files) or 128 (update.sh aborts).
	MergeExit int `json:"merge_exit"`
	// Removed lists the files update.sh's conflict clean-up deleted
	// (modify/delete conflicts: "UD"/"DU" in git status).
	Removed []string `json:"removed,omitempty"`
	// Aborted is true when update.sh would stop here (exit 128 or another
	// merge failure) and leave the install as it is.
	Aborted bool `json:"aborted,omitempty"`
	// Output is git merge's output.
	Output string `json:"output,omitempty"`
}

// ErrAborted is returned when update.sh would give up on the merge.
var ErrAborted = errors.New("update.sh would abort the merge")

// Options tune a run.
type Options struct {
	// Target is what to merge; "" merges the branch's upstream as
	// update.sh does (merge.defaultToUpstream), after `git fetch origin`.
	Target string
	// Date stamps the commit messages as update.sh does
	// (2026-05-01_12_00_00).
	Date string
	// Env is the environment for git; nil means os.Environ(). Ignored
	// when Git is set.
	Env []string
	// Git is the runner whose settings (environment, isolation, secret
	// hiding) the steps use, in dir; nil means one with Env.
	Git *gitx.Runner
	// Committed says the work tree holds nothing to commit (the caller
	// made the "Before update" commit itself): the run starts at the
	// merge.
	Committed bool
	// Ctx stops the run when it is cancelled: the running git command's
	// whole process group is killed (a merge forks helpers), no further
	// step runs, and Run returns the context's error. nil means
	// context.Background().
	Ctx context.Context
}

// Run performs update.sh's git steps in dir.
func Run(dir string, opt Options) (*Result, error) {
	g := runner{ctx: opt.Ctx, dir: dir, r: gitx.Runner{Env: opt.Env}}
	if opt.Git != nil {
		g.r = *opt.Git
	}
	g.r.Dir = dir
	if g.ctx == nil {
		g.ctx = context.Background()
	}
	res := &Result{}
	start, err := g.out("rev-parse", "HEAD")
	if err != nil {
		return nil, err
	}
	res.Start = start
	if !opt.Committed {
		if _, err := g.out("add", "-u"); err != nil {
			return nil, err
		}
		// update.sh ignores the commit's failure (nothing to commit).
		if _, err := g.out("commit", "-q", "-am", "Before update on "+opt.Date); err == nil {
			res.Before, _ = g.out("rev-parse", "HEAD")
		}
	}
	if _, err := g.out("config", "merge.defaultToUpstream", "true"); err != nil {
		return nil, err
	}
	args := []string{"merge", "-Xtheirs", "-Xpatience", "-m", "After update on " + opt.Date}
	if opt.Target != "" {
		args = append(args, opt.Target)
	} else if _, err := g.out("fetch", "-q", "origin"); err != nil {
		return nil, err
	}
	out, code, err := g.run(args...)
	res.MergeExit, res.Output = code, out
	switch {
	case err != nil && code < 0: // git did not run, or the context stopped it
		return nil, err
	case code == 0:
	case code == 1:
		status, err := g.out("status", "--porcelain")
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(status, "\n") {
			if len(line) > 3 && (strings.HasPrefix(line, "UD") || strings.HasPrefix(line, "DU")) {
				p := strings.TrimSpace(line[3:])
				res.Removed = append(res.Removed, p)
				if err := os.Remove(filepath.Join(dir, p)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return nil, err
				}
			}
		}
		if _, err := g.out("add", "-A"); err != nil {
			return nil, err
		}
		if _, err := g.out("commit", "-q", "-m", "After update on "+opt.Date); err != nil {
			if ctxErr := g.ctx.Err(); ctxErr != nil {
				return nil, ctxErr
			}
			res.Aborted = true
			return res, fmt.Errorf("%w: the conflict clean-up commit failed: %v", ErrAborted, err)
		}
		if _, err := g.out("checkout", "."); err != nil {
			return nil, err
		}
	default:
		res.Aborted = true
		_, _, _ = g.run("merge", "--abort")
		return res, fmt.Errorf("%w: git merge exited %d: %s", ErrAborted, code, ui.FirstLines(out, 3))
	}
	res.Head, err = g.out("rev-parse", "HEAD")
	return res, err
}

// runner runs the steps' git commands through gitx: in git's own process
// group, killed whole when the context ends (a SIGINT to mcupdate alone
// must stop git and the helpers it forked).
type runner struct {
	ctx context.Context
	dir string
	r   gitx.Runner
}

// run returns combined output and the exit code (-1 when git did not run
// or was stopped by the context, whose error is then returned).
func (g runner) run(args ...string) (string, int, error) {
	out, code, err := g.r.Combined(g.ctx, args...)
	if ctxErr := g.ctx.Err(); ctxErr != nil && err != nil {
		return out, -1, ctxErr
	}
	return out, code, err
}

// out runs git and returns its trimmed output; the error carries it.
func (g runner) out(args ...string) (string, error) {
	out, _, err := g.run(args...)
	if err != nil && g.ctx.Err() != nil {
		return "", err
	}
	if err != nil {
		// A *gitx.Error: the command, the directory, the exit status and
		// what git printed, secrets hidden.
		return "", err
	}
	return strings.TrimSpace(out), nil
}
