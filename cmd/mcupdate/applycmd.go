package main

import (
	"context"

	"github.com/mcupdate/mcupdate/cmd/internal/hook"
)

const applyHelp = `Re-apply the enabled patches now, outside an update, and restart only
the services whose files changed. With --dry-run, print the unified diffs
of what would change and write nothing.

With --revert, take the enabled patches' edits out instead, keeping every
other change to the same files: each patch's change to the file as it was
before mcupdate (the committed version; none for an untracked file) is
taken out of the file as it is now with a three-way merge. A file the
patches created is removed; a file where the merge conflicts, mailcow.conf
and changed modes are left as they are and named. Nothing is restarted.
install.sh --uninstall --revert runs it.`

func runApplyCmd(ctx context.Context, a *app, args []string) error {
	fs := a.flags("apply")
	noRestart := fs.Bool("no-restart", false, "restart nothing; say what needs a restart")
	revert := fs.Bool("revert", false, "take the enabled patches' edits out of the mailcow dir instead (install.sh --uninstall --revert); restarts nothing")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("apply takes no arguments")
	}
	env, err := a.hookEnv()
	if err != nil {
		return err
	}
	if *revert {
		r, err := hook.Revert(ctx, env)
		a.hookOutcome("apply --revert", r, env.State.Path, err)
		return err
	}
	r, err := hook.Apply(ctx, env, hook.PostOptions{NoRestart: *noRestart})
	a.hookOutcome("apply", r, env.State.Path, err)
	return err
}
