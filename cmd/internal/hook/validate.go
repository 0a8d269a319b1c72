package hook

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/errlist"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/restart"
	"github.com/mcupdate/mcupdate/cmd/internal/validate"
)

// ErrRejected is the failure of a service's configuration check: the
// service was not restarted.
var ErrRejected = errors.New("configuration rejected by the service's checker")

// RejectedError says which patch's change a service's checker rejected.
type RejectedError struct {
	Service string
	// Patch is the patch rolled back, "" when no patch of this run was
	// the cause.
	Patch string
	Files []string
}

func (e *RejectedError) Error() string {
	if e.Patch == "" {
		return fmt.Sprintf("%s: %v", e.Service, ErrRejected)
	}
	return fmt.Sprintf("%s: %v: patch %s rolled back (%s)", e.Service, ErrRejected, e.Patch, strings.Join(e.Files, ", "))
}

func (e *RejectedError) Unwrap() error { return ErrRejected }

// checkers returns the configuration checkers in force; on demand
// (--validate) also when [validate] enabled = off.
func (env *Env) checkers(onDemand bool) map[string]validate.Checker {
	c := env.Config
	return validate.Table(validate.Settings{Enabled: c.Validate || onDemand, Commands: c.ValidateCommands, Origin: c.ValidateOrigin})
}

// stepValidate runs the checker of every service plan would restart,
// inside its running container, before the restart. A service whose
// checker rejects its configuration is not restarted; the patches of
// this run that changed its files are rolled back, the last applied
// first, one at a time, each all of its files, until the checker
// accepts the configuration. base is the part of plan that does not come
// from the patches (restored override files); plan is rebuilt from it and
// the patches still applied, so a rolled back patch restarts nothing.
// A checker that cannot run restarts the service as without it.
//
// A dry run writes nothing where a service reads it: with onDemand
// (--validate) it runs the checks with the file a checker takes on
// standard input in the version the run would write, and names every
// other changed file, which the check sees as it is now.
func (env *Env) stepValidate(ctx context.Context, rep *Report, plan, base restart.Plan, res *patch.Result, onDemand bool) (Step, error) {
	s := Step{Name: "validate"}
	table := env.checkers(onDemand)
	if env.DryRun && !onDemand {
		return s, errSkipStep
	}
	if len(table) == 0 {
		if onDemand {
			s.Status, s.Message = StatusSkipped, "every service's check is off in [validate] ("+env.Config.Path+")"
			return s, nil
		}
		return s, errSkipStep
	}
	services := plannedServices(table, plan)
	if len(services) == 0 {
		if onDemand {
			s.Status, s.Message = StatusOK, "no service to restart, nothing to check"
			return s, nil
		}
		return s, errSkipStep
	}
	run := env.validateRunner()
	// check runs svc's checker and keeps the result in the report.
	check := func(svc string) validate.Result {
		c := table[svc]
		c.Files = changedFiles(res, svc)
		r := run.Check(ctx, c)
		rep.Checks = append(rep.Checks, r)
		return r
	}

	var passed, notRun, rejected []string
	var errs []error
	rolledBack := map[string]bool{}
	held := map[string]bool{}
	anyUnseen := false
	for _, svc := range services {
		if env.DryRun {
			if unseen := unseenFiles(res, svc, table[svc]); len(unseen) > 0 {
				anyUnseen = true
				s.Details = append(s.Details, fmt.Sprintf("%s: a dry run writes nothing the container reads: its check sees %s as they are now, not as the patches would change them", svc, strings.Join(unseen, ", ")))
			}
		}
		r := check(svc)
		switch r.Verdict {
		case validate.Passed:
			passed = append(passed, svc)
			s.Details = append(s.Details, fmt.Sprintf("%s: passed: %s", svc, r.Command))
			continue
		case validate.NotRun:
			notRun = append(notRun, svc)
			s.Details = append(s.Details, fmt.Sprintf("%s: could not run %s: %s: restarted as without the check", svc, r.Command, r.Reason))
			continue
		}
		rejected = append(rejected, svc)
		s.Details = append(s.Details, r.RejectionLines()...)
		if env.DryRun {
			errs = append(errs, &RejectedError{Service: svc})
			continue
		}
		lines, rbErrs, hold := env.rollBackUntilAccepted(rep, check, svc, res, rolledBack)
		s.Details = append(s.Details, lines...)
		errs = append(errs, rbErrs...)
		if hold {
			held[svc] = true
		}
	}
	if !env.DryRun && (len(rolledBack) > 0 || len(held) > 0) {
		rebuildPlan(plan, base, res, held)
		var lines, again []string
		var reErrs []error
		passed, again, lines, reErrs = recheckAfterRollback(check, plan, res, rolledBack, passed)
		rejected = append(rejected, again...)
		s.Details = append(s.Details, lines...)
		errs = append(errs, reErrs...)
	}
	return validateReport(s, anyUnseen, passed, rejected, notRun, errs)
}

// plannedServices lists the services of table that plan restarts, in
// the order of validate.Services.
func plannedServices(table map[string]validate.Checker, plan restart.Plan) []string {
	var services []string
	for _, svc := range validate.Services(table) {
		if _, ok := plan[svc]; ok {
			services = append(services, svc)
		}
	}
	return services
}

// validateRunner runs the checks in the mailcow dir; it reads the files
// through env.Sys where that can read (a dry run's recorded writes).
func (env *Env) validateRunner() *validate.Runner {
	run := &validate.Runner{Dir: env.MailcowDir, Compose: env.Config.Compose, Secrets: env.Secrets}
	if rf, ok := env.Sys.(interface {
		ReadFile(string) ([]byte, error)
	}); ok {
		run.ReadFile = rf.ReadFile
	}
	return run
}

// rollBackUntilAccepted rolls back, the last applied first, the patches
// of this run that changed svc's files, one at a time, until svc's
// checker accepts its configuration or cannot run. It returns the
// step's lines, the errors, and hold: svc is still rejected and must not
// be restarted.
func (env *Env) rollBackUntilAccepted(rep *Report, check func(string) validate.Result, svc string, res *patch.Result, rolledBack map[string]bool) (lines []string, errs []error, hold bool) {
	fixed, failed := false, false
	for i := len(patchesOf(res)) - 1; i >= 0 && !fixed; i-- {
		p := &res.Patches[i]
		if rolledBack[p.Name] || p.Err != nil || len(p.Changed) == 0 || !slices.Contains(servicesToRestart(*p), svc) {
			continue
		}
		files := p.Changed
		if err := p.Revert(env.Sys); err != nil {
			lines = append(lines, fmt.Sprintf("%s: rolling back patch %s FAILED: %v", svc, p.Name, err))
			errs = append(errs, fmt.Errorf("%s: roll back patch %s: %w", svc, p.Name, err))
			failed = true
			break
		}
		rolledBack[p.Name] = true
		rej := &RejectedError{Service: svc, Patch: p.Name, Files: files}
		p.Err = rej
		errs = append(errs, rej)
		lines = append(lines, fmt.Sprintf("%s: rolled back patch %s: %s as before the patch", svc, p.Name, strings.Join(files, ", ")))
		rep.RolledBack = append(rep.RolledBack, p.Name)
		again := check(svc)
		switch again.Verdict {
		case validate.Passed:
			fixed = true
			lines = append(lines, fmt.Sprintf("%s: passed without patch %s", svc, p.Name))
		case validate.NotRun:
			fixed = true
			lines = append(lines, fmt.Sprintf("%s: could not run the check again (%s): restarted as without the check", svc, again.Reason))
		}
	}
	if fixed {
		return lines, errs, false
	}
	if !anyRolledBackFor(res, rolledBack, svc) {
		errs = append(errs, &RejectedError{Service: svc})
	}
	why := "its configuration is rejected without this run's patches too (an override file or update.sh's version)"
	if failed {
		why = "a patch could not be rolled back"
	}
	lines = append(lines, fmt.Sprintf("%s: NOT restarted: %s: fix it, check it with mcupdate verify --validate, then restart it", svc, why))
	return lines, errs, true
}

// recheckAfterRollback checks again the services that passed and still
// restart: a rollback also put back the files other services read, so
// each is checked on what it will load. One now rejected leaves plan and
// passed, and is returned in rejected.
func recheckAfterRollback(check func(string) validate.Result, plan restart.Plan, res *patch.Result, rolledBack map[string]bool, passed []string) (stillPassed, rejected, lines []string, errs []error) {
	for _, svc := range slices.Clone(passed) {
		if _, restarts := plan[svc]; !restarts || !anyRolledBackFor(res, rolledBack, svc) {
			continue
		}
		r := check(svc)
		switch r.Verdict {
		case validate.Passed:
			lines = append(lines, fmt.Sprintf("%s: passed again after the rollback", svc))
		case validate.NotRun:
			lines = append(lines, fmt.Sprintf("%s: could not run the check again after the rollback (%s): restarted as without the check", svc, r.Reason))
		default:
			rejected = append(rejected, svc)
			lines = append(lines, r.RejectionLines()...)
			lines = append(lines, fmt.Sprintf("%s: NOT restarted: rejected after another service's rollback put back its files", svc))
			errs = append(errs, &RejectedError{Service: svc})
			delete(plan, svc)
			passed = slices.DeleteFunc(passed, func(p string) bool { return p == svc })
		}
	}
	return passed, rejected, lines, errs
}

// validateReport sums up the checks in the step's message and status.
func validateReport(s Step, unseen bool, passed, rejected, notRun []string, errs []error) (Step, error) {
	var parts []string
	if len(passed) > 0 {
		parts = append(parts, "passed "+strings.Join(passed, ", "))
	}
	if len(rejected) > 0 {
		parts = append(parts, "REJECTED "+strings.Join(rejected, ", "))
	}
	if len(notRun) > 0 {
		parts = append(parts, "could not run "+strings.Join(notRun, ", "))
	}
	s.Message = strings.Join(parts, "; ")
	if unseen {
		s.Message += " (dry run: see the details for what the checks could not see)"
	}
	switch {
	case len(errs) > 0:
		s.Status = StatusError
		return s, errlist.Join(errs...)
	case len(notRun) > 0:
		s.Status = StatusWarning
	default:
		s.Status = StatusOK
	}
	return s, nil
}

// changedFiles lists the files the patches changed (or, in a dry run,
// would change) for svc, in the order the patches ran.
func changedFiles(res *patch.Result, svc string) []string {
	var out []string
	for _, p := range patchesOf(res) {
		if p.Err != nil || !slices.Contains(servicesToRestart(p), svc) {
			continue
		}
		for _, f := range p.Changed {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

// unseenFiles lists the files the patches would change for svc that its
// checker does not take on standard input: a dry run cannot show them.
func unseenFiles(res *patch.Result, svc string, c validate.Checker) []string {
	var out []string
	for _, f := range changedFiles(res, svc) {
		if !c.Takes(f) {
			out = append(out, f)
		}
	}
	return out
}

// errSkipStep says a step has nothing to report and is left out.
var errSkipStep = errors.New("step skipped")

func patchesOf(res *patch.Result) []patch.PatchResult {
	if res == nil {
		return nil
	}
	return res.Patches
}

func anyRolledBackFor(res *patch.Result, rolledBack map[string]bool, svc string) bool {
	if res == nil {
		return false
	}
	for _, p := range res.Patches {
		if rolledBack[p.Name] && slices.Contains(servicesToRestart(p), svc) {
			return true
		}
	}
	return false
}

// rebuildPlan makes plan base plus the services of the patches still
// applied, without the held services.
func rebuildPlan(plan, base restart.Plan, res *patch.Result, held map[string]bool) {
	for svc := range plan {
		delete(plan, svc)
	}
	for svc, m := range base {
		plan.Add(svc, m)
	}
	if res != nil {
		for _, p := range res.Patches {
			if p.Err != nil || len(p.Changed) == 0 {
				continue
			}
			addRestarts(plan, p)
		}
	}
	for svc := range held {
		delete(plan, svc)
	}
}
