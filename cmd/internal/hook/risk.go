package hook

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/risk"
	"github.com/mcupdate/mcupdate/cmd/internal/secret"
	"github.com/mcupdate/mcupdate/cmd/internal/snapshot"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// RiskFile is the name of the last risk diff's JSON in the state dir.
const RiskFile = "last-risk.json"

// RiskOptions choose the base and the output of a risk diff.
type RiskOptions struct {
	Base       string // explicit base revision, "" to find it
	Recorded   string // the commit the pre hook recorded
	SnapshotID string // the pre-update snapshot, for the old mailcow.conf
	Full       bool   // diffs of every file, not only HIGH ones
	// FailedPatches maps the files of patches that failed to what failed.
	FailedPatches map[string]string
}

// Risk computes the risk diff of the last update, with every secret of
// mailcow.conf (old and new) redacted.
func (env *Env) Risk(opt RiskOptions) (*risk.Report, error) {
	cur, _ := os.ReadFile(filepath.Join(env.MailcowDir, "mailcow.conf"))
	old := env.snapshotFile(opt.SnapshotID, "mailcow.conf")
	return risk.Analyze(risk.Options{
		Dir:            env.MailcowDir,
		Base:           opt.Base,
		Recorded:       opt.Recorded,
		PatchedFiles:   env.PatchedFiles(),
		PatchNames:     env.patchNames(),
		FailedPatches:  opt.FailedPatches,
		OldMailcowConf: old,
		Redactor:       secret.NewRedactor(cur, old),
		Full:           opt.Full,
	})
}

// snapshotFile returns the content of rel in snapshot id ("" = latest),
// following a link to its target inside the snapshot; nil if absent.
func (env *Env) snapshotFile(id, rel string) []byte {
	if id == "" {
		id = snapshot.Latest
	}
	m, err := snapshot.Load(env.SnapshotStore(), id)
	if err != nil {
		return nil
	}
	for i := 0; i < 8; i++ {
		e := m.Entry(rel)
		if e == nil {
			return nil
		}
		if e.SHA256 != "" {
			data, err := snapshot.ReadObject(env.SnapshotStore(), e.SHA256)
			if err != nil {
				return nil
			}
			return data
		}
		if e.Target == "" {
			return nil
		}
		rel = filepath.ToSlash(filepath.Join(filepath.Dir(rel), e.Target))
	}
	return nil
}

// RenderRisk prints a risk report for the terminal: brief (the table and
// the lost lines, no diffs: what a hook prints inside update.sh's output,
// one screen), or with the diffs of the HIGH files, or of every file.
func (env *Env) RenderRisk(r *risk.Report, full, brief bool) error {
	return r.Render(env.UI.Out, risk.RenderOptions{Width: env.UI.Width(), Color: env.UI.Color, Full: full, Brief: brief})
}

// stepRisk prints the risk diff against the pre-update state and keeps it
// as JSON in the state dir.
func (env *Env) stepRisk(commit, snapshotID string, failed map[string]string) (*risk.Report, Step, error) {
	s := Step{Name: "risk"}
	r, err := env.Risk(RiskOptions{Recorded: commit, SnapshotID: snapshotID, FailedPatches: failed})
	if err != nil {
		s.Status, s.Message = StatusWarning, "no risk diff: "+err.Error()
		return nil, s, nil
	}
	env.UI.Printf("")
	if err := env.RenderRisk(r, false, true); err != nil {
		env.UI.Warnf("risk diff: %v", err)
	}
	if !env.DryRun {
		if err := env.State.WriteJSON(env.Sys, RiskFile, r); err != nil {
			env.UI.Warnf("could not keep the risk diff: %v", err)
		}
	}
	high, med := r.Count(risk.High), r.Count(risk.Medium)
	s.Message = fmt.Sprintf("%d high, %d medium risk findings against %s (%s)", high, med, gitx.Short(r.Base), r.BaseSource)
	s.Status = StatusOK
	if high > 0 {
		s.Status = StatusWarning
		s.Message += ": read the HIGH ones above"
	}
	return r, s, nil
}

// failedPatches maps each file of a patch that could not be applied to
// what failed, for the risk diff.
func (env *Env) failedPatches(res *patch.Result) map[string]string {
	if res == nil {
		return nil
	}
	bound, _, _ := env.LoadPatches()
	files := map[string][]string{}
	for _, b := range bound {
		files[b.Name] = b.Files()
	}
	out := map[string]string{}
	for _, p := range res.Patches {
		if p.Err == nil {
			continue
		}
		for _, f := range files[p.Name] {
			out[f] = fmt.Sprintf("patch %s could not be re-applied: %s", p.Name, ui.FirstLine(p.Err.Error()))
		}
	}
	return out
}
