package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/replay"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

const replayHelp = `Rehearse updates in a scratch clone of the upstream, for CI: the admin's
state at --from (the enabled patches of --config, and with --local DIR the
install's own edits of tracked files and its gitignored overrides), then,
per target, exactly update.sh's git steps (commit "Before update", git merge
-Xtheirs -Xpatience, its conflict clean-up or abort), the post hook without
restarts, the risk ranking and the verify checks (not daemon.json).

Targets: --to lists refs (tags, branches of the upstream, commits); --tags
GLOB takes every tag matching GLOB (shell syntax) that is newer than --from,
oldest first. Each target is replayed from --from; with --chain they follow
each other in one install, as when updating to every release.

Verdict per target:
  OK         nothing the admin customized is touched
  REAPPLIED  the update clobbered a patched file and the patch put it back
  BROKEN     update.sh would abort; a patch's anchor or file is gone or one
             of its coupled edits cannot be made; a local change the merge
             drops that no patch covers; a customized file deleted upstream;
             an override naming a service upstream removed or renamed; a
             failing verify check

Without --local, gitignored files (docker-compose.override.yml, extra.cf,
mailcow.conf) are only in the replay when an own patch of kind file
writes them: keep your overrides as own patches ([patches] dir) to have
them checked in CI. Patches whose file the replay does not have
(mailcow.conf without --local) are left out, with a warning. --local DIR
is only read; its overrides come from its last snapshot in --state-dir,
else from its files.

--json prints the report in a versioned schema ("schema": 1). The scratch
directory (in $TMPDIR) is removed at the end, also on SIGINT or SIGTERM;
--keep leaves it and prints its path. Exits 1 when a target is BROKEN,
2 for a usage or configuration error (unknown ref, unreachable upstream,
unreadable --local, patches that do not apply at --from).`

// replayOptions are replay's own flags.
type replayOptions struct {
	upstream, from, to, tags, local string
	chain, json, keep               bool
}

func runReplayCmd(ctx context.Context, a *app, args []string) error {
	var o replayOptions
	fs := a.flags("replay")
	fs.StringVar(&o.upstream, "upstream", "", "the mailcow repository: `URL or PATH`")
	fs.StringVar(&o.from, "from", "", "the release the install is at: tag, branch or commit")
	fs.StringVar(&o.to, "to", "", "targets, comma-separated")
	fs.StringVar(&o.tags, "tags", "", "targets: the tags matching `GLOB` newer than --from")
	fs.BoolVar(&o.chain, "chain", false, "replay the targets one after the other in one install")
	fs.StringVar(&o.local, "local", "", "also replay the install in `DIR`: its tracked edits and overrides (read only)")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch directory and print its path")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("replay takes no arguments, only options (got %q)", pos[0])
	}
	switch {
	case o.upstream == "":
		return usagef("replay needs --upstream URL|PATH")
	case o.from == "":
		return usagef("replay needs --from REF")
	case o.to != "" && o.tags != "":
		return usagef("replay takes --to or --tags, not both")
	case o.to == "" && o.tags == "":
		return usagef("replay needs its targets: --to REF[,REF...] or --tags GLOB")
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	// Progress and warnings on stderr: stdout is the report.
	progress := ui.New(a.stderr, a.stderr, a.getenv)
	progress.Color, progress.Quiet, progress.Verbose = a.ui.Color, a.ui.Quiet, a.ui.Verbose
	var to []string
	if o.to != "" {
		to = strings.Split(o.to, ",")
	}
	rep, err := replay.Run(ctx, replay.Options{
		Upstream: o.upstream, From: o.from, To: to, Tags: o.tags, Chain: o.chain,
		Local: o.local, StateDir: a.g.stateDir, Config: cfg,
		Keep: o.keep, Now: time.Now, UI: progress, TempDir: a.getenv("TMPDIR"),
	})
	var ie *replay.InputError
	switch {
	case errors.As(err, &ie):
		return &configError{err}
	case err != nil:
		return err
	}
	if o.json {
		err = rep.WriteJSON(a.stdout)
	} else {
		err = rep.WriteText(a.stdout, func(v replay.Verdict, s string) string {
			switch v {
			case replay.Broken:
				return a.ui.Red(s)
			case replay.Reapplied:
				return a.ui.Yellow(s)
			}
			return a.ui.Green(s)
		})
	}
	if err != nil {
		return err
	}
	if rep.Scratch != "" {
		a.ui.Warnf("the scratch directory is kept: %s", rep.Scratch)
	}
	if !rep.OK {
		if !o.json {
			a.ui.Hintf("adapt the patches (or move the changes into overrides), then run replay again")
		}
		return errSilent
	}
	return nil
}
