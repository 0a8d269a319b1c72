package main

import (
	"context"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/hook"
)

const hookHelp = `Run mcupdate's part of update.sh. The shims pre_update_hook.sh and
post_update_hook.sh that install.sh puts in the mailcow directory exec
'mcupdate hook pre' and 'mcupdate hook post'; update.sh runs them.

pre:  repairs a detached HEAD, checks that no untracked file is in the
      way of the merge, records every customization of tracked files in
      the ledger, predicts what update.sh's merge will drop, makes
      daemon.json pass update.sh's IPv6 checks without restarting
      Docker, snapshots the gitignored overrides, records the pre-update
      commit. Stops update.sh before it changes anything when going on
      would leave mailcow down half-way (and, with [general]
      on_predicted_loss, when the merge would drop a customization).
post: restores lost override files, re-applies the enabled patches,
      checks each changed service's configuration with its own checker
      inside its container ([validate]; a rejected patch is rolled back
      and its service not restarted, exit 1), restarts only the
      services whose files changed, prints the risk
      diff, and says what the update did to each customization (a loss
      fails verify until it is back or acknowledged: mcupdate ack).

Each writes a JSON report to the state directory; with --dry-run
nothing at all is written.`

func runHookCmd(ctx context.Context, a *app, args []string) error {
	fs := a.flags("hook")
	noRestart := fs.Bool("no-restart", false, "post: restart nothing; say what needs a restart")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (pos[0] != "pre" && pos[0] != "post") {
		return usagef("hook takes one argument: pre or post")
	}
	parent := hook.DetectParent()
	if pos[0] == "pre" && parent.Mode == hook.ModeReadOnly {
		// update.sh --check and friends exit before changing anything:
		// read no config, write nothing, finish fast.
		a.ui.Debugf("update.sh %s: nothing for the pre hook to do", parent.Option)
		return nil
	}
	env, err := a.hookEnv()
	if err != nil {
		return err
	}
	env.Parent = parent
	var r *hook.Report
	switch pos[0] {
	case "pre":
		r, err = hook.Pre(ctx, env)
	default:
		r, err = hook.Post(ctx, env, hook.PostOptions{NoRestart: *noRestart})
	}
	a.hookOutcome("hook "+pos[0], r, env.State.Path, err)
	return err
}

// hookEnv builds what a hook needs from the globals and the configuration.
func (a *app) hookEnv() (*hook.Env, error) {
	dir, err := a.mailcowDir()
	if err != nil {
		return nil, err
	}
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	return &hook.Env{
		MailcowDir:    dir,
		Config:        cfg,
		State:         a.state(),
		DaemonJSON:    a.g.daemonJSON,
		Sys:           a.system(),
		DryRun:        a.g.dryRun,
		UI:            a.ui,
		Secrets:       a.secrets,
		Now:           time.Now,
		ChainedHook:   a.getenv("MCUPDATE_CHAINED_HOOK"),
		ChainedStatus: a.getenv("MCUPDATE_CHAINED_STATUS"),
		TempDir:       a.getenv("TMPDIR"),
	}, nil
}
