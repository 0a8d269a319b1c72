package main

import (
	"context"

	"github.com/mcupdate/mcupdate/cmd/internal/hook"
)

const applyHelp = `Re-apply the enabled patches now, outside an update, and restart only
the services whose files changed. With --dry-run, print the unified diffs
of what would change and write nothing.

Before a service is restarted, its own checker tests the new
configuration inside its running container (postfix check, rspamadm
configtest, doveconf, php-fpm -t, nginx -t, unbound-checkconf; [validate]
in mcupdate.ini). A service whose checker rejects it is not restarted:
the patches that changed its files are rolled back, the last applied
first, until the checker accepts it, and apply exits 1. A checker that
cannot run (container down, command missing) is reported and the service
restarted as without it. With --dry-run the checks run only with
--validate: a dry run writes nothing the containers read, so a check
sees the new version only of the file it takes on standard input
(postfix's extra.cf, php-fpm's pools.conf, unbound.conf) and the step
names every other changed file it could not see.

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
	validate := fs.Bool("validate", false, "run the services' configuration checks also with --dry-run, and when [validate] enabled = off")
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
	if *revert && *validate {
		return usagef("--validate does not go with --revert: a revert restarts nothing")
	}
	if *revert {
		r, err := hook.Revert(ctx, env)
		a.hookOutcome("apply --revert", r, env.State.Path, err)
		return err
	}
	r, err := hook.Apply(ctx, env, hook.PostOptions{NoRestart: *noRestart, Validate: *validate})
	a.hookOutcome("apply", r, env.State.Path, err)
	return err
}
