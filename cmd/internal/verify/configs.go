package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/secret"
	"github.com/mcupdate/mcupdate/cmd/internal/validate"
)

// checkConfigs runs, with --validate, every service's own configuration
// checker inside its running container, on the files as they are now:
// what a restart would load. A rejection fails; a checker that could not
// run (container down, command missing) warns.
func checkConfigs(ctx context.Context, opt Options, red *secret.Redactor) Check {
	if !opt.Validate {
		return Check{Status: StatusSkipped, Detail: "the services' own configuration checks run with --validate"}
	}
	cfg := opt.Config
	// On demand: also when [validate] enabled = off.
	table := validate.Table(validate.Settings{Enabled: true, Commands: cfg.ValidateCommands, Origin: cfg.ValidateOrigin})
	if len(table) == 0 {
		return Check{Status: StatusSkipped, Detail: "every service's check is off in [validate]"}
	}
	run := &validate.Runner{Dir: opt.MailcowDir, Compose: cfg.Compose, Secrets: red}
	c := Check{Status: StatusOK}
	var passed, rejected, notRun []string
	for _, svc := range validate.Services(table) {
		r := run.Check(ctx, table[svc])
		switch r.Verdict {
		case validate.Passed:
			passed = append(passed, svc)
		case validate.NotRun:
			notRun = append(notRun, svc)
			c.Items = append(c.Items, fmt.Sprintf("%s: could not run %s: %s", svc, r.Command, r.Reason))
		default:
			rejected = append(rejected, svc)
			c.Items = append(c.Items, r.RejectionLines()...)
		}
	}
	var parts []string
	if len(passed) > 0 {
		parts = append(parts, "accepted by "+strings.Join(passed, ", "))
	}
	if len(rejected) > 0 {
		parts = append(parts, "REJECTED by "+strings.Join(rejected, ", "))
	}
	if len(notRun) > 0 {
		parts = append(parts, "not checked: "+strings.Join(notRun, ", "))
	}
	c.Detail = strings.Join(parts, "; ")
	switch {
	case len(rejected) > 0:
		c.Status = StatusFail
		c.Fix = "fix the file the checker names; a restart would load it (mcupdate apply --dry-run shows what the patches change)"
	case len(notRun) > 0:
		c.Status = StatusWarn
		c.Fix = "start the container, or set the service's command (or off) in [validate]"
	}
	return c
}
