package main

import (
	"context"
	"fmt"

	"github.com/mcupdate/mcupdate/cmd/internal/hook"
	"github.com/mcupdate/mcupdate/cmd/internal/risk"
)

const diffHelp = `The risk diff of the last update: what changed against the pre-update
state, ranked. HIGH: upstream changed a file an enabled patch edits, a
local change the merge dropped and no patch restores, an override
shadowing a file upstream changed, an override naming a service
docker-compose.yml no longer has, a customized file deleted upstream.
MEDIUM: compose services, images, ports, volumes; mailcow.conf keys
update.sh added or removed; dns lists compose concatenates. LOW: the
rest, counted by directory. Secrets of mailcow.conf never appear.

The base is the first parent of the "After update" merge at HEAD, else
the commit the pre hook recorded, else ORIG_HEAD, else HEAD~1; --base
chooses it.`

func runDiffCmd(_ context.Context, a *app, args []string) error {
	fs := a.flags("diff", "[--base REV] [--full] [--json]", diffHelp)
	base := fs.String("base", "", "compare with this revision instead of the pre-update state")
	full := fs.Bool("full", false, "show the diffs of every changed file, not only the HIGH ones")
	asJSON := fs.Bool("json", false, "print the findings as JSON")
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
	r, err := env.Risk(hook.RiskOptions{Base: *base, Recorded: rec.Commit, SnapshotID: rec.SnapshotID, Full: *full})
	if err != nil {
		return err
	}
	if *asJSON {
		return r.WriteJSON(a.stdout)
	}
	if err := env.RenderRisk(r, *full, false); err != nil {
		return err
	}
	if n := r.Count(risk.High); n > 0 {
		a.ui.Hintf("%s: read them above; 'mcupdate verify' checks the install as a whole", plural(n, "HIGH finding"))
	}
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
