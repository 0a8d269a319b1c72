package main

import (
	"context"
	"runtime/debug"

	"github.com/mcupdate/mcupdate/cmd/internal/hook"
	"github.com/mcupdate/mcupdate/cmd/internal/risk"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

const diffHelp = `The risk diff of the last update: what changed against the pre-update
state, ranked. HIGH means act: a customization the merge dropped and no
patch put back, a patch that could not be re-applied, a setting a patch
or an override sets that upstream removed, a customized file deleted
upstream, an override naming a service docker-compose.yml no longer has.
MEDIUM, with values: upstream changed the default of a setting you set
(yours still wins); compose services, ports, volumes, image updates;
mailcow.conf keys update.sh added or removed; dns lists compose
concatenates. LOW: the rest, counted by area. Secrets never appear.

The base is the first parent of the "After update" merge at HEAD, else
the commit the pre hook recorded, else ORIG_HEAD, else HEAD~1; --base
chooses it. With --exit-code, exit 1 when there is a HIGH finding (as
git diff --exit-code does for a difference).`

func runDiffCmd(_ context.Context, a *app, args []string) error {
	// A short run that reads a release's files: collect garbage less
	// often (a quarter of the collections), within a bounded heap.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(512 << 20))
	fs := a.flags("diff")
	base := fs.String("base", "", "compare with this revision instead of the pre-update state")
	full := fs.Bool("full", false, "show the diffs of every changed file, not only the HIGH ones")
	asJSON := fs.Bool("json", false, "print the findings as JSON")
	exitCode := fs.Bool("exit-code", false, "exit 1 when there is a HIGH finding")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("diff takes no arguments (use --base REV)")
	}
	env, err := a.hookEnv()
	if err != nil {
		return err
	}
	rec, _, err := env.State.LoadRecord()
	if err != nil {
		a.ui.Warnf("pre-update record: %v", err)
	}
	r, err := env.Risk(hook.RiskOptions{Base: *base, Recorded: rec.Commit, SnapshotID: rec.SnapshotID, Full: *full && !*asJSON})
	if err != nil {
		return err
	}
	high := r.Count(risk.High)
	if *asJSON {
		if err := r.WriteJSON(a.stdout); err != nil {
			return err
		}
	} else {
		if err := env.RenderRisk(r, *full, false); err != nil {
			return err
		}
		if high > 0 {
			a.ui.Hintf("%s: read them above; 'mcupdate verify' checks the install as a whole", ui.Count(high, "HIGH finding"))
		}
	}
	if *exitCode && high > 0 {
		return errSilent
	}
	return nil
}
