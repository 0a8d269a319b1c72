package hook

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/restart"
)

// LoadPatches binds the enabled patches (shipped and the admin's own) to
// their parameters from the configuration. Every problem is reported
// before anything is touched. The result is kept: the post hook's patch
// and risk steps need the same set, and the patch dir is read once.
func (env *Env) LoadPatches() ([]*patch.Bound, []string, error) {
	if env.loaded == nil {
		env.loaded = &loadedPatches{}
		env.loaded.bound, env.loaded.warnings, env.loaded.err = env.loadPatches()
	}
	return env.loaded.bound, env.loaded.warnings, env.loaded.err
}

// loadedPatches is the kept result of LoadPatches.
type loadedPatches struct {
	bound    []*patch.Bound
	warnings []string
	err      error
}

func (env *Env) loadPatches() ([]*patch.Bound, []string, error) {
	l, err := patch.Load(env.Config.PatchDir, env.Config.PatchSettings())
	if err != nil {
		return nil, nil, err
	}
	return l.Bound, l.Warnings, nil
}

// PatchedFiles is the set of files the enabled patches edit, for the risk
// diff; nil when the patches cannot be loaded.
func (env *Env) PatchedFiles() map[string]bool {
	files := map[string]bool{}
	for f := range env.patchNames() {
		files[f] = true
	}
	return files
}

// patchNames maps each file the enabled patches edit to their names.
func (env *Env) patchNames() map[string]string {
	bound, _, err := env.LoadPatches()
	if err != nil {
		return nil
	}
	names := map[string]string{}
	for _, b := range bound {
		for _, f := range b.Files() {
			if names[f] != "" {
				names[f] += " or "
			}
			names[f] += b.Name
		}
	}
	return names
}

// stepPatches re-applies the enabled patches and adds the services whose
// files changed to plan. With --dry-run it prints the unified diffs.
func (env *Env) stepPatches(plan restart.Plan) (Step, *patch.Result, error) {
	s := Step{Name: "patches"}
	if len(env.Config.Enabled) == 0 {
		s.Status, s.Message = StatusSkipped, "no patches enabled ([patches] enable in "+env.Config.Path+")"
		return s, nil, nil
	}
	bound, warnings, err := env.LoadPatches()
	for _, w := range warnings {
		env.UI.Warnf("%s", w)
	}
	if err != nil {
		s.Status, s.Message = StatusError, err.Error()
		return s, nil, err
	}
	mode := patch.ModeApply
	if env.DryRun {
		mode = patch.ModeDryRun
	}
	res, err := patch.Apply(env.Sys, env.MailcowDir, bound, mode)
	if res == nil {
		s.Status, s.Message = StatusError, err.Error()
		return s, nil, err
	}
	var changed, inPlace, failed []string
	for _, p := range res.Patches {
		switch {
		case p.Err != nil:
			failed = append(failed, p.Name)
		case len(p.Changed) > 0:
			changed = append(changed, p.Name)
			addRestarts(plan, p)
		default:
			inPlace = append(inPlace, p.Name)
		}
		s.Details = append(s.Details, env.editLines(p)...)
	}
	s.Status, s.Message = env.patchesSummary(changed, inPlace, failed)
	return s, res, err
}

// addRestarts adds to plan the services whose files patch p changed, to
// restart or, as p asks, recreate.
func addRestarts(plan restart.Plan, p patch.PatchResult) {
	m := restart.Restart
	if p.Restart == patch.RestartRecreate {
		m = restart.Recreate
	}
	for _, svc := range servicesToRestart(p) {
		plan.Add(svc, m)
	}
}

// editLines reports the edits of patch p that were not in place
// already, a line each; a dry run prints the diff of each it would make.
func (env *Env) editLines(p patch.PatchResult) []string {
	var lines []string
	for _, e := range p.Edits {
		switch e.State {
		case patch.StateAlreadyApplied:
			continue
		case patch.StateApplied, patch.StateWouldChange:
			lines = append(lines, fmt.Sprintf("%s/%s: %s %s", p.Name, e.Edit, e.State, e.File))
			if env.DryRun && e.Diff != "" {
				env.UI.Printf("%s", strings.TrimRight(e.Diff, "\n"))
			}
		default:
			detail := fmt.Sprintf("%s/%s: %s %s", p.Name, e.Edit, e.State, e.File)
			if e.Err != nil {
				detail = fmt.Sprintf("%s/%s: %s: %v", p.Name, e.Edit, e.State, e.Err)
			}
			lines = append(lines, detail)
		}
	}
	return lines
}

// patchesSummary is the patches step's status and message from the
// names of the patches that changed files, were in place, or failed.
func (env *Env) patchesSummary(changed, inPlace, failed []string) (Status, string) {
	verb := "re-applied"
	if env.DryRun {
		verb = "would re-apply"
	}
	parts := []string{}
	if len(changed) > 0 {
		parts = append(parts, fmt.Sprintf("%s %s", verb, strings.Join(changed, ", ")))
	}
	if len(inPlace) > 0 {
		parts = append(parts, fmt.Sprintf("%d in place", len(inPlace)))
	}
	if len(failed) > 0 {
		parts = append(parts, fmt.Sprintf("FAILED %s", strings.Join(failed, ", ")))
	}
	switch {
	case len(failed) > 0:
		return StatusError, strings.Join(parts, "; ")
	case len(changed) > 0:
		return StatusChanged, strings.Join(parts, "; ")
	default:
		return StatusOK, fmt.Sprintf("all %d enabled patches in place", len(inPlace))
	}
}

// servicesToRestart narrows a patch's services to those whose files it
// changed: message-size-limit names postfix, rspamd and clamd, but when
// only clamd.conf changed only clamd-mailcow restarts. A changed file no
// known service reads (mailcow.conf, the compose files) restarts them all.
func servicesToRestart(p patch.PatchResult) []string {
	declared := map[string]bool{}
	for _, svc := range p.Services {
		declared[svc] = true
	}
	var out []string
	seen := map[string]bool{}
	for _, f := range p.Changed {
		svc, _, ok := restart.ServiceFor(f)
		if !ok || !declared[svc] {
			return p.Services
		}
		if !seen[svc] {
			seen[svc] = true
			out = append(out, svc)
		}
	}
	return out
}

// stepRestart restarts the planned services (only those), or says what it
// would restart when restarts are off or in a dry run.
func (env *Env) stepRestart(ctx context.Context, plan restart.Plan, noRestart bool) (Step, error) {
	s := Step{Name: "restart"}
	if len(plan) == 0 {
		s.Status, s.Message = StatusOK, "no service needs a restart"
		return s, nil
	}
	want := describePlan(plan)
	switch {
	case env.DryRun:
		s.Status, s.Message = StatusSkipped, "dry run: would "+want
		return s, nil
	case noRestart || !env.Config.Restart:
		s.Status, s.Message = StatusSkipped, "restarts off: run yourself: "+want
		return s, nil
	}
	results, err := restart.Run(ctx, env.MailcowDir, env.Config.Compose, plan)
	for _, r := range results {
		line := strings.Join(r.Args, " ")
		if !r.OK {
			line += ": FAILED: " + r.Output
		}
		s.Details = append(s.Details, line)
	}
	if err != nil {
		s.Status, s.Message = StatusError, "restart failed: "+err.Error()
		return s, err
	}
	s.Status, s.Message = StatusChanged, want
	return s, nil
}

func describePlan(plan restart.Plan) string {
	var parts []string
	if _, all := plan[restart.All]; all {
		parts = append(parts, strings.Join(composeWords(), " ")+" up -d (docker-compose.override.yml changed)")
	} else if rs := plan.Services(restart.Recreate); len(rs) > 0 {
		parts = append(parts, "recreate "+strings.Join(rs, ", "))
	}
	var rs []string
	for _, svc := range plan.Services(restart.Restart) {
		if svc != restart.All {
			rs = append(rs, svc)
		}
	}
	sort.Strings(rs)
	if len(rs) > 0 {
		parts = append(parts, "restart "+strings.Join(rs, ", "))
	}
	return strings.Join(parts, "; ")
}

func composeWords() []string { return []string{"docker", "compose"} }
