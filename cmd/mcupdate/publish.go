package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/hook"
	"github.com/mcupdate/mcupdate/cmd/internal/notify"
	"github.com/mcupdate/mcupdate/cmd/internal/runlog"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
	"github.com/mcupdate/mcupdate/cmd/internal/validate"
	"github.com/mcupdate/mcupdate/cmd/internal/verify"
)

// syslogSocket is where the run's line goes to syslog; tests point it
// elsewhere.
var syslogSocket = runlog.DevLog

// hookOutcome is a hook's (or apply's) run for the log and the
// notifications; r is nil when the run stopped before its steps (the
// lock held, a configuration error).
func (a *app) hookOutcome(command string, r *hook.Report, statePath string, err error) {
	o := &runlog.Outcome{Command: command, Result: "ok"}
	if r == nil {
		if err == nil {
			return
		}
		o.Result, o.Summary = "error", "mcupdate "+command+": "+ui.FirstLine(err.Error())
		a.outcome = o
		return
	}
	var changed, warnings, errs int
	for _, s := range r.Steps {
		switch s.Status {
		case hook.StatusChanged:
			changed++
		case hook.StatusWarning:
			warnings++
		case hook.StatusError:
			errs++
		}
	}
	switch {
	case errs > 0 || r.StoppedUpdate:
		o.Result = "error"
	case warnings > 0:
		o.Result = "warning"
	case changed > 0:
		o.Result = "changed"
	}
	o.Counts = []runlog.Count{{Name: "changed", Value: changed}, {Name: "warnings", Value: warnings}, {Name: "errors", Value: errs}}
	if r.StoppedUpdate {
		o.Counts = append(o.Counts, runlog.Count{Name: "stopped_update", Value: 1})
	}
	if len(r.Checks) > 0 {
		rejected := 0
		for _, c := range r.Checks {
			if c.Verdict == validate.Rejected {
				rejected++
			}
		}
		o.Counts = append(o.Counts, runlog.Count{Name: "checks", Value: len(r.Checks)}, runlog.Count{Name: "checks_rejected", Value: rejected},
			runlog.Count{Name: "rolled_back", Value: len(r.RolledBack)})
	}
	if !r.DryRun {
		o.Report = filepath.Join(statePath, state.ReportName(r.Kind, r.Time))
	}
	o.Summary = r.Summary
	a.outcome = o
}

// verifyOutcome is a verify run for syslog and the notifications.
func (a *app) verifyOutcome(rep *verify.Report) {
	o := &runlog.Outcome{Command: "verify", Result: "ok"}
	counts := map[verify.Status]int{}
	var failed, warned []string
	for _, c := range rep.Checks {
		counts[c.Status]++
		switch c.Status {
		case verify.StatusFail:
			failed = append(failed, c.Name)
		case verify.StatusWarn:
			warned = append(warned, c.Name)
		}
	}
	o.Counts = []runlog.Count{{Name: "ok", Value: counts[verify.StatusOK]}, {Name: "warn", Value: counts[verify.StatusWarn]}, {Name: "fail", Value: counts[verify.StatusFail]}, {Name: "skipped", Value: counts[verify.StatusSkipped]}}
	o.Summary = fmt.Sprintf("mcupdate verify: %d ok, %d warn, %d fail", counts[verify.StatusOK], counts[verify.StatusWarn], counts[verify.StatusFail])
	switch {
	case len(failed) > 0:
		o.Result = "failed"
		o.Summary += " (" + strings.Join(failed, ", ") + ")"
	case len(warned) > 0:
		o.Result = "warning"
		o.Summary += " (" + strings.Join(warned, ", ") + ")"
	}
	a.outcome = o
}

// publish logs the run's outcome (a logfmt line to the log file and to
// syslog) and sends the notifications. Nothing here changes the exit
// code: a failure is a warning. A dry run publishes nothing.
func (a *app) publish(ctx context.Context, start time.Time, code int) {
	o := a.outcome
	if o == nil || a.g.dryRun || a.cfg == nil {
		return
	}
	cfg := a.cfg
	o.Time, o.Exit, o.Duration = start.UTC(), code, time.Since(start)
	o.Host, _ = os.Hostname()
	if dir, err := filepath.Abs(a.g.mailcowDir); err == nil && a.g.mailcowDir != "" {
		o.MailcowDir = dir
	}
	o.Summary = a.secrets.String(o.Summary)
	line := a.secrets.String(o.Logfmt())

	// verify writes nothing on disk (the metrics file aside, on
	// request): its line goes to syslog and the notifications only.
	if cfg.LogFile != "" && o.Command != "verify" {
		p, mode := cfg.LogFile, os.FileMode(0o640)
		if !filepath.IsAbs(p) {
			mode = 0o600 // the state dir's files are private
			sd := state.Dir{Path: a.g.stateDir}
			if err := sd.Ensure(); err != nil {
				a.ui.Warnf("run log: %v", err)
				p = ""
			} else {
				p = filepath.Join(sd.Path, p)
			}
		}
		if p != "" {
			if err := runlog.Append(p, cfg.LogMaxSize, line, mode); err != nil {
				a.ui.Warnf("run log: %v", err)
			}
		}
	}
	if cfg.Syslog {
		if err := runlog.Syslog(syslogSocket, line, o.OK(), time.Second); err != nil && !errors.Is(err, runlog.ErrNoSyslog) {
			a.ui.Warnf("run log: %v", err)
		}
	}
	a.notify(ctx, o)
}

// notify sends the configured notifications, within [notify] timeout for
// all of them; a failure is a warning.
func (a *app) notify(ctx context.Context, o *runlog.Outcome) {
	cfg := a.cfg
	if cfg.WebhookURL == "" && cfg.KumaPushURL == "" {
		return
	}
	// A signal that stopped the run must not stop its report.
	ctx = context.WithoutCancel(ctx)
	errs := notify.Send(ctx, notify.Options{Webhook: cfg.WebhookURL, KumaPush: cfg.KumaPushURL, Timeout: cfg.NotifyTimeout, Version: versionString()}, o, a.secrets)
	for _, err := range errs {
		a.ui.Warnf("notification: %s", a.secrets.String(err.Error()))
	}
}
