// Package hook runs mcupdate's pre and post update hooks: independent
// steps, every failure reported, a one-line summary and a JSON report in
// the state directory.
package hook

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/predict"
	"github.com/mcupdate/mcupdate/cmd/internal/secret"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
	"github.com/mcupdate/mcupdate/cmd/internal/validate"
)

// Env is what a hook run works with.
type Env struct {
	MailcowDir string
	Config     *config.Config
	State      state.Dir
	DaemonJSON string
	Sys        fsx.System // fsx.Real, or a Recorder for --dry-run
	DryRun     bool
	UI         *ui.UI
	Now        func() time.Time
	Parent     Parent
	// Chained is the hand-written hook the shim ran before mcupdate, and
	// its exit status (from MCUPDATE_CHAINED_HOOK/_STATUS).
	ChainedHook   string
	ChainedStatus string
	// TempDir is where scratch repositories go; "" means os.TempDir().
	TempDir string
	// Secrets hides mailcow.conf's secrets (and, nil or not, every secret
	// setting) in the report a hook writes.
	Secrets *secret.Redactor
	// ProcRoot is /proc for the IPv6 detection; "" means /proc. Tests
	// point it elsewhere.
	ProcRoot string

	loaded *loadedPatches // LoadPatches' kept result
}

// Status is the outcome of one step.
type Status string

// Step outcomes, from best to worst.
const (
	StatusOK      Status = "ok"      // nothing to do
	StatusChanged Status = "changed" // the step changed something
	StatusSkipped Status = "skipped" // not run (disabled, read-only mode, …)
	StatusWarning Status = "warning" // a problem that does not stop the update
	StatusError   Status = "error"   // the step failed
)

// Step is one step's result in a report.
type Step struct {
	Name    string   `json:"name"`
	Status  Status   `json:"status"`
	Message string   `json:"message"`
	Details []string `json:"details,omitempty"`
	// Danger is set when going on with update.sh would leave mailcow down
	// half-way.
	Danger bool `json:"danger,omitempty"`
	// Millis is how long the step took, in milliseconds.
	Millis int64 `json:"ms"`
}

// Report is what a hook writes to the state directory.
type Report struct {
	Schema        int       `json:"schema"`
	Kind          string    `json:"kind"` // "pre", "post", "apply"
	Time          time.Time `json:"time"`
	Version       string    `json:"version,omitempty"`
	MailcowDir    string    `json:"mailcow_dir"`
	DryRun        bool      `json:"dry_run,omitempty"`
	Parent        Parent    `json:"parent"`
	ChainedHook   string    `json:"chained_hook,omitempty"`
	ChainedStatus string    `json:"chained_status,omitempty"`
	Steps         []Step    `json:"steps"`
	StoppedUpdate bool      `json:"stopped_update,omitempty"`
	// Record is the ID of the update record (state.UpdatesDir) the post
	// hook completed, or rollback went back to.
	Record string `json:"record,omitempty"`
	// Prediction is the pre hook's prediction of update.sh's merge.
	Prediction *predict.Prediction `json:"prediction,omitempty"`
	// Checks are the configuration checks run before the restarts, in
	// the order they ran (a service checked again after a rollback
	// twice), secrets redacted.
	Checks []validate.Result `json:"checks,omitempty"`
	// RolledBack names the patches rolled back because a service's
	// checker rejected their change.
	RolledBack []string `json:"rolled_back,omitempty"`
	Summary    string   `json:"summary"`
	Duration   string   `json:"duration"`

	err *multierror.Error
}

// ReportSchema is the version of the report's JSON layout.
const ReportSchema = 1

func newReport(kind string, env *Env) *Report {
	return &Report{
		Schema: ReportSchema, Kind: kind, Time: env.Now().UTC(), MailcowDir: env.MailcowDir,
		DryRun: env.DryRun, Parent: env.Parent, ChainedHook: env.ChainedHook, ChainedStatus: env.ChainedStatus,
	}
}

// add records a step; an error step's err joins the report's error.
func (r *Report) add(s Step, err error) {
	r.Steps = append(r.Steps, s)
	if err != nil {
		r.err = multierror.Append(r.err, fmt.Errorf("%s: %w", s.Name, err))
	}
}

// Err returns every step failure, or nil.
func (r *Report) Err() error { return r.err.ErrorOrNil() }

// Danger reports whether a step found that going on would leave mailcow
// down half-way.
func (r *Report) Danger() []Step {
	var out []Step
	for _, s := range r.Steps {
		if s.Danger {
			out = append(out, s)
		}
	}
	return out
}

// summarize builds the one-line summary.
func (r *Report) summarize() string {
	counts := map[Status]int{}
	var changed []string
	for _, s := range r.Steps {
		counts[s.Status]++
		if s.Status == StatusChanged {
			changed = append(changed, s.Name)
		}
	}
	parts := []string{}
	if len(changed) > 0 {
		parts = append(parts, "changed "+strings.Join(changed, ", "))
	}
	if n := counts[StatusError]; n > 0 {
		parts = append(parts, ui.Count(n, "error"))
	}
	if n := counts[StatusWarning]; n > 0 {
		parts = append(parts, ui.Count(n, "warning"))
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing to do")
	}
	what := r.Kind + " hook"
	switch r.Kind {
	case "apply", "rollback":
		what = r.Kind
	case "revert":
		what = "apply --revert"
	}
	s := fmt.Sprintf("mcupdate %s: %s", what, strings.Join(parts, "; "))
	if r.DryRun {
		s += " (dry run: nothing written)"
	}
	if r.StoppedUpdate {
		s += "; update.sh stopped"
	}
	return s
}

// print shows a step as it finishes.
func (env *Env) print(s Step) {
	u := env.UI
	mark := map[Status]string{
		StatusOK: u.Green("ok"), StatusChanged: u.Cyan("changed"), StatusSkipped: "skipped",
		StatusWarning: u.Yellow("warning"), StatusError: u.Red("error"),
	}[s.Status]
	line := fmt.Sprintf("  %-14s %-8s %s", s.Name, mark, s.Message)
	if s.Status == StatusWarning || s.Status == StatusError {
		u.Printf("%s", line)
	} else {
		u.Infof("%s", line)
	}
	u.Debugf("  %s took %d ms", s.Name, s.Millis)
	for _, d := range s.Details {
		if s.Status == StatusWarning || s.Status == StatusError {
			u.Printf("                 %s", d)
		} else {
			u.Infof("                 %s", d)
		}
	}
}

// finish writes the report to the state directory and prints the
// summary. A dry run writes nothing at all: no report, no last-*.json,
// no pruning.
func (env *Env) finish(r *Report, start time.Time) {
	// The steps' messages and details quote the admin's files (a
	// patch's error, its anchor): the report keeps no secret.
	for i := range r.Steps {
		s := &r.Steps[i]
		s.Message = env.Secrets.String(s.Message)
		for j, d := range s.Details {
			s.Details[j] = env.Secrets.String(d)
		}
	}
	r.Summary = r.summarize()
	r.Duration = env.Now().Sub(start).Round(time.Millisecond).String()
	if !env.DryRun {
		if err := env.writeReport(r); err != nil {
			env.UI.Warnf("could not write the report: %v", err)
		}
	}
	env.UI.Printf("%s", r.Summary)
}

// reportsKept is how many timestamped reports stay in the state dir.
const reportsKept = 30

func (env *Env) writeReport(r *Report) error {
	sys := env.Sys
	if err := env.State.WriteJSON(sys, state.ReportName(r.Kind, r.Time), r); err != nil {
		return err
	}
	if err := env.State.WriteJSON(sys, state.LastReportName(r.Kind), r); err != nil {
		return err
	}
	return env.State.PruneReports(reportsKept)
}

// confine makes every write below the mailcow dir, whichever step makes
// it, go through a handle on the mailcow dir (fsx.Confine): no link or
// directory swapped mid-run can take one outside.
func (env *Env) confine() error {
	if err := fsx.Confine(env.MailcowDir); err != nil {
		return fmt.Errorf("mailcow dir: %w", err)
	}
	return nil
}

// stepChained reports the hand-written hook the shim ran before mcupdate
// (install.sh keeps an admin's own hook and chains it).
func (env *Env) stepChained(r *Report) {
	if env.ChainedHook == "" {
		return
	}
	s := Step{Name: "own hook", Status: StatusOK, Message: fmt.Sprintf("%s ran first and exited %s", env.ChainedHook, env.ChainedStatus)}
	if env.ChainedStatus != "0" {
		s.Status = StatusWarning
	}
	env.print(s)
	r.add(s, nil)
}
