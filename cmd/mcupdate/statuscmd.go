package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/daemonjson"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gitstate"
	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/hook"
	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/predict"
	"github.com/mcupdate/mcupdate/cmd/internal/snapshot"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

const statusHelp = `One screen on the install, read from git, the state dir and the files,
changing nothing:

  install        directory, branch, release (git describe --tags), upstream
  last update    when, from -> to, the post hook's result, its report
  patches        the enabled patches and whether each is in place (the
                 apply path in check mode, as verify runs it)
  customizations the ones an update dropped, not acknowledged (mcupdate ack)
  next update    the pre hook's prediction of update.sh's merge, when it
                 left one for a merge not done yet
  snapshots      how many, the newest
  daemon.json    whether update.sh will check it, and whether it passes

Always exits 0 when it could read the install (verify is the check that
fails); --json prints the same in a versioned schema ("schema": 1).
Secrets never appear.`

// statusSchema is the version of status --json's layout.
const statusSchema = 1

// statusReport is what status shows.
type statusReport struct {
	Schema     int                 `json:"schema"`
	MailcowDir string              `json:"mailcow_dir"`
	Branch     string              `json:"branch"`
	Detached   bool                `json:"detached,omitempty"`
	Head       string              `json:"head"`
	Release    string              `json:"release,omitempty"`
	Upstream   string              `json:"upstream,omitempty"`
	GitIssues  []string            `json:"git_problems,omitempty"`
	LastUpdate *statusLastUpdate   `json:"last_update,omitempty"`
	Patches    []statusPatch       `json:"patches"`
	PatchError string              `json:"patch_error,omitempty"`
	Lost       []statusLost        `json:"lost"`
	Next       *statusNext         `json:"next_update,omitempty"`
	Snapshots  statusSnapshots     `json:"snapshots"`
	DaemonJSON statusDaemonJSON    `json:"daemon_json"`
	Problems   []string            `json:"problems,omitempty"`
	prediction *predict.Prediction // for the text form
}

type statusLastUpdate struct {
	Time        time.Time `json:"time"`
	From        string    `json:"from,omitempty"`
	To          string    `json:"to,omitempty"`
	FromRelease string    `json:"from_release,omitempty"`
	ToRelease   string    `json:"to_release,omitempty"`
	Result      string    `json:"result"`
	Errors      int       `json:"errors"`
	Warnings    int       `json:"warnings"`
	Report      string    `json:"report"`
}

type statusPatch struct {
	Name    string   `json:"name"`
	Origin  string   `json:"origin"`
	InPlace bool     `json:"in_place"`
	State   string   `json:"state"`
	Details []string `json:"details,omitempty"`
}

type statusLost struct {
	ID     string    `json:"id"`
	File   string    `json:"file"`
	Status string    `json:"status"`
	Since  time.Time `json:"since"`
	Update string    `json:"update,omitempty"`
}

type statusNext struct {
	Upstream        string   `json:"upstream"`
	UpstreamRelease string   `json:"upstream_release,omitempty"`
	Time            string   `json:"time,omitempty"`
	Customizations  int      `json:"customizations"`
	Losses          []string `json:"losses,omitempty"`
	Aborted         bool     `json:"aborted,omitempty"`
	PatchErrors     []string `json:"patch_errors,omitempty"`
}

type statusSnapshots struct {
	Count      int       `json:"count"`
	Newest     string    `json:"newest,omitempty"`
	NewestTime time.Time `json:"newest_time,omitzero"`
	Files      int       `json:"files,omitempty"`
}

type statusDaemonJSON struct {
	Path    string   `json:"path"`
	IPv6    string   `json:"ipv6"` // update.sh's detection: yes, no, unsure
	Reason  string   `json:"reason"`
	OK      bool     `json:"ok"`
	Detail  string   `json:"detail"`
	Missing []string `json:"missing,omitempty"`
}

func runStatusCmd(ctx context.Context, a *app, args []string) error {
	fs := a.flags("status")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("status takes no arguments")
	}
	env, err := a.hookEnv()
	if err != nil {
		return err
	}
	r := collectStatus(ctx, env)
	red := env.Secrets
	if *asJSON {
		data, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n", red.Bytes(data))
		return err
	}
	var b strings.Builder
	r.writeText(&b)
	_, err = io.WriteString(a.stdout, red.String(b.String()))
	return err
}

// collectStatus reads everything status shows. A part that cannot be read
// is named in Problems; the rest is still shown.
func collectStatus(ctx context.Context, env *hook.Env) *statusReport {
	c := &statusCollector{
		ctx: ctx, env: env,
		r: &statusReport{Schema: statusSchema, MailcowDir: env.MailcowDir, Patches: []statusPatch{}, Lost: []statusLost{}},
		g: &gitx.Runner{Dir: env.MailcowDir, Timeout: 30 * time.Second},
	}
	c.install()
	c.lastUpdate()
	c.patches()
	c.lost()
	c.next()
	c.snapshots()
	c.r.DaemonJSON = daemonJSONStatus(ctx, env)
	return c.r
}

// statusCollector fills a status report part by part.
type statusCollector struct {
	ctx context.Context
	env *hook.Env
	r   *statusReport
	g   *gitx.Runner
}

func (c *statusCollector) problem(format string, args ...any) {
	c.r.Problems = append(c.r.Problems, fmt.Sprintf(format, args...))
}

// describe names a commit by its release tag, "" when it cannot.
func (c *statusCollector) describe(rev string) string {
	if rev == "" {
		return ""
	}
	out, err := c.g.Output(c.ctx, "describe", "--tags", "--always", rev)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// install reads the checkout's branch, upstream, release and git issues.
func (c *statusCollector) install() {
	st, err := gitstate.Inspect(c.env.MailcowDir)
	if err != nil {
		c.problem("git: %v", err)
		return
	}
	r := c.r
	r.Branch, r.Detached, r.Head = st.Branch, st.Detached, st.Head
	if st.Upstream != nil {
		r.Upstream = st.Upstream.Remote + "/" + strings.TrimPrefix(st.Upstream.Merge, "refs/heads/")
	}
	for _, p := range st.Problems {
		r.GitIssues = append(r.GitIssues, p.String())
	}
	r.Release = c.describe(st.Head)
}

// lastUpdate reads the post hook's report and the risk diff's commits.
func (c *statusCollector) lastUpdate() {
	sd := c.env.State
	var post hook.Report
	if err := sd.ReadJSON(state.LastReportName("post"), &post); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.problem("last update: %v", err)
		}
		return
	}
	lu := &statusLastUpdate{Time: post.Time, Result: post.Summary,
		Report: filepath.Join(sd.Path, state.ReportName("post", post.Time))}
	if _, err := os.Stat(lu.Report); err != nil {
		lu.Report = filepath.Join(sd.Path, state.LastReportName("post"))
	}
	for _, s := range post.Steps {
		switch s.Status {
		case hook.StatusError:
			lu.Errors++
		case hook.StatusWarning:
			lu.Warnings++
		}
	}
	var rk struct{ Base, Head string }
	if err := sd.ReadJSON(hook.RiskFile, &rk); err == nil {
		lu.From, lu.To = rk.Base, rk.Head
		lu.FromRelease, lu.ToRelease = c.describe(rk.Base), c.describe(rk.Head)
	}
	c.r.LastUpdate = lu
}

// patches checks the enabled patches as verify checks them.
func (c *statusCollector) patches() {
	bound, _, err := c.env.LoadPatches()
	if err != nil {
		c.r.PatchError = ui.FirstLine(err.Error())
		return
	}
	if len(bound) == 0 {
		return
	}
	res, _ := patch.Apply(fsx.Check{}, c.env.MailcowDir, bound, patch.ModeCheck)
	lib, _ := patch.Library()
	origin := map[string]string{}
	for _, b := range bound {
		origin[b.Name] = "own: " + b.Origin
		if l := lib[b.Name]; l != nil && l.Origin == b.Origin {
			origin[b.Name] = "shipped"
		}
	}
	for _, pr := range res.Patches {
		c.r.Patches = append(c.r.Patches, patchStatus(pr, origin[pr.Name]))
	}
}

// patchStatus is one patch's line: in place, drift, cannot apply or
// error, and why.
func patchStatus(pr patch.PatchResult, origin string) statusPatch {
	sp := statusPatch{Name: pr.Name, Origin: origin, InPlace: true, State: "in place"}
	drift, broken := 0, 0
	for _, er := range pr.Edits {
		switch er.State {
		case patch.StateAlreadyApplied, patch.StateApplied, patch.StateSkipped:
		case patch.StateWouldChange:
			drift++
			sp.Details = append(sp.Details, fmt.Sprintf("edit %s: %s is not as the patch sets it", er.Edit, er.File))
		default:
			broken++
			msg := fmt.Sprintf("edit %s: %s: %s", er.Edit, er.File, er.State)
			if er.Err != nil {
				msg = ui.FirstLine(er.Err.Error())
			}
			sp.Details = append(sp.Details, msg)
		}
	}
	switch {
	case broken > 0:
		sp.InPlace, sp.State = false, "cannot apply"
	case drift > 0:
		sp.InPlace, sp.State = false, "drift (mcupdate apply puts it back)"
	}
	if pr.Err != nil && broken == 0 && drift == 0 {
		sp.InPlace, sp.State = false, "error"
		sp.Details = append(sp.Details, ui.FirstLine(pr.Err.Error()))
	}
	return sp
}

// lost lists the customizations an update dropped.
func (c *statusCollector) lost() {
	l, err := ledger.Load(c.env.State)
	if err != nil {
		c.problem("%v", err)
		return
	}
	for _, e := range l.Open() {
		c.r.Lost = append(c.r.Lost, statusLost{ID: e.ID, File: e.File, Status: string(e.Status), Since: e.Since, Update: e.Update})
	}
}

// next reads the pre hook's prediction of the next update, when its merge
// is not done yet.
func (c *statusCollector) next() {
	sd := c.env.State
	var p predict.Prediction
	if err := sd.ReadJSON(hook.PredictionFile, &p); err != nil || p.Upstream == "" {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.problem("prediction: %v", err)
		}
		return
	}
	if c.r.Head != "" {
		if _, err := c.g.Output(c.ctx, "merge-base", "--is-ancestor", p.Upstream, c.r.Head); err == nil {
			return // merged
		}
	}
	n := &statusNext{Upstream: p.Upstream, UpstreamRelease: c.describe(p.Upstream), Customizations: len(p.Results), Aborted: p.Aborted, PatchErrors: p.PatchErrors}
	if fi, err := os.Stat(filepath.Join(sd.Path, hook.PredictionFile)); err == nil {
		n.Time = fi.ModTime().UTC().Format(time.RFC3339)
	}
	for _, l := range p.Losses() {
		n.Losses = append(n.Losses, fmt.Sprintf("%s %s: %s", l.Block.ID, l.Block.File, l.Outcome))
	}
	c.r.Next, c.r.prediction = n, &p
}

func (c *statusCollector) snapshots() {
	ms, err := snapshot.List(c.env.SnapshotStore())
	if err != nil {
		c.problem("snapshots: %v", ui.FirstLine(err.Error()))
	}
	c.r.Snapshots.Count = len(ms)
	if len(ms) > 0 {
		c.r.Snapshots.Newest, c.r.Snapshots.NewestTime, c.r.Snapshots.Files = ms[0].ID, ms[0].Time, len(ms[0].Entries)
	}
}

// daemonJSONStatus is verify's daemon.json check in short: does update.sh
// look at the file on this host, and would it pass.
func daemonJSONStatus(ctx context.Context, env *hook.Env) statusDaemonJSON {
	d := statusDaemonJSON{Path: env.DaemonJSON}
	if !env.Config.IPv6 {
		d.IPv6, d.OK, d.Detail = "off", true, "not managed ([docker] ipv6 = off)"
		return d
	}
	det := daemonjson.DetectIPv6(ctx, daemonjson.Host{MailcowDir: env.MailcowDir, ProcRoot: env.ProcRoot, Timeout: env.Config.DockerTimeout})
	d.IPv6, d.Reason = string(det.IPv6), det.Reason
	if !det.Asks() {
		d.OK, d.Detail = true, "not needed: update.sh detects no IPv6 here and leaves it alone"
		return d
	}
	major, raw, verr := daemonjson.DockerMajor(ctx, env.Config.DockerTimeout)
	docker := "Docker " + raw
	if verr != nil {
		major, docker = 0, "an unknown Docker version"
	}
	data, err := os.ReadFile(env.DaemonJSON)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.Detail = "missing: the pre hook creates it (update.sh would, and restart Docker)"
		return d
	case err != nil:
		d.Detail = ui.FirstLine(err.Error())
		return d
	}
	req := daemonjson.RequirementsFor(major, env.Config.FixedCIDRv6)
	if _, _, err := daemonjson.Ensure(data, req); err != nil {
		d.Detail = ui.FirstLine(err.Error()) + ": update.sh stops on it"
		return d
	}
	if d.Missing = daemonjson.Missing(data, req); len(d.Missing) > 0 {
		d.Detail = fmt.Sprintf("misses %s for %s: the pre hook adds them", strings.Join(d.Missing, ", "), docker)
		return d
	}
	d.OK, d.Detail = true, "passes update.sh's IPv6 checks for "+docker
	return d
}

func (r *statusReport) writeText(w io.Writer) {
	out := statusLines{w}
	r.writeInstall(out)
	r.writeLastUpdate(out)
	r.writePatches(out)
	r.writeLost(out)
	r.writeNext(out)
	if r.Snapshots.Count == 0 {
		out.line("snapshots", "none")
	} else {
		out.line("snapshots", "%d, newest %s (%d files)", r.Snapshots.Count, r.Snapshots.Newest, r.Snapshots.Files)
	}
	r.writeDaemonJSON(out)
	for _, p := range r.Problems {
		out.line("problem", "%s", p)
	}
}

// statusLines writes the text report's lines: a label, then the text in
// a column.
type statusLines struct{ w io.Writer }

func (l statusLines) line(label, format string, args ...any) {
	fmt.Fprintf(l.w, "%-15s %s\n", label, fmt.Sprintf(format, args...))
}

// more continues the text of the last label on a line of its own.
func (l statusLines) more(format string, args ...any) {
	l.line("", format, args...)
}

func (r *statusReport) writeInstall(out statusLines) {
	branch := r.Branch
	if r.Detached || branch == "" {
		branch = "(detached HEAD)"
	}
	up := "no upstream configured"
	if r.Upstream != "" {
		up = "tracking " + r.Upstream
	}
	out.line("install", "%s", r.MailcowDir)
	out.more("branch %s, release %s (%s), %s", branch, orNone(r.Release), orNoCommit(r.Head), up)
	for _, p := range r.GitIssues {
		out.more("git: %s", p)
	}
}

func (r *statusReport) writeLastUpdate(out statusLines) {
	lu := r.LastUpdate
	if lu == nil {
		out.line("last update", "none recorded (the post hook has not run)")
		return
	}
	from := ""
	if lu.From != "" {
		from = fmt.Sprintf(", %s -> %s", orHash(lu.FromRelease, lu.From), orHash(lu.ToRelease, lu.To))
	}
	out.line("last update", "%s%s", lu.Time.UTC().Format("2006-01-02 15:04 UTC"), from)
	out.more("%s", lu.Result)
	out.more("report %s", lu.Report)
}

func (r *statusReport) writePatches(out statusLines) {
	switch {
	case r.PatchError != "":
		out.line("patches", "cannot load: %s", r.PatchError)
		return
	case len(r.Patches) == 0:
		out.line("patches", "none enabled ('mcupdate patches' lists them)")
		return
	}
	in := 0
	for _, p := range r.Patches {
		if p.InPlace {
			in++
		}
	}
	out.line("patches", "%d enabled, %d in place", len(r.Patches), in)
	for _, p := range r.Patches {
		out.more("  %-24s %s", p.Name, p.State)
		for _, d := range p.Details {
			out.more("    %s", d)
		}
	}
}

func (r *statusReport) writeLost(out statusLines) {
	if len(r.Lost) == 0 {
		out.line("customizations", "none lost")
		return
	}
	out.line("customizations", "%d lost by an update, not acknowledged", len(r.Lost))
	for _, l := range r.Lost {
		out.more("  %s %s: %s (mcupdate ack %s)", l.ID, l.File, l.Status, l.ID)
	}
}

func (r *statusReport) writeNext(out statusLines) {
	n := r.Next
	if n == nil {
		out.line("next update", "no prediction pending (the pre hook predicts it)")
		return
	}
	out.line("next update", "merges %s (predicted %s): %d customizations, %d lost", orHash(n.UpstreamRelease, n.Upstream), orNone(n.Time), n.Customizations, len(n.Losses))
	for _, l := range n.Losses {
		out.more("  would lose %s", l)
	}
	if n.Aborted {
		out.more("  update.sh's merge would give up, with mailcow down")
	}
	for _, e := range n.PatchErrors {
		out.more("  patch would fail: %s", e)
	}
}

func (r *statusReport) writeDaemonJSON(out statusLines) {
	d := r.DaemonJSON
	mark := "ok"
	if !d.OK {
		mark = "needs the pre hook"
	}
	out.line("daemon.json", "%s: %s", mark, d.Detail)
	if d.Reason != "" {
		out.more("IPv6 for update.sh: %s (%s)", d.IPv6, d.Reason)
	}
}

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func orHash(name, hash string) string {
	if name != "" {
		return name
	}
	return orNoCommit(hash)
}

// orNoCommit is shortHash, saying "no commit" for none.
func orNoCommit(h string) string {
	if h == "" {
		return "no commit"
	}
	return gitx.Short(h)
}
