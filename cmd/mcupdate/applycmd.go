package main

import (
	"context"

	"github.com/mcupdate/mcupdate/cmd/internal/hook"
)

const applyHelp = `Re-apply the enabled patches now, outside an update, and restart only
the services whose files changed. With --dry-run, print the unified diffs
of what would change and write nothing.`

func runApplyCmd(ctx context.Context, a *app, args []string) error {
	fs := a.flags("apply")
	noRestart := fs.Bool("no-restart", false, "restart nothing; say what needs a restart")
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
	r, err := hook.Apply(ctx, env, hook.PostOptions{NoRestart: *noRestart})
	a.hookOutcome("apply", r, env.State.Path, err)
	return err
}
