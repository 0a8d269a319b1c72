package hook

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
	"github.com/mcupdate/mcupdate/cmd/internal/predict"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// PredictionFile is the pre hook's prediction in the state dir, which the
// post hook compares with what happened.
const PredictionFile = "prediction.json"

// errPredictedLoss is the danger stepPredict reports when the setting
// says to stop.
var errPredictedLoss = errors.New("the update would drop customizations")

// stepPredict makes update.sh's merge in a scratch repository, before
// update.sh asks "Are you sure?" and stops mailcow, and says what it will
// do to each customization. A predicted loss stops update.sh only when
// [general] on_predicted_loss says so; a prediction that cannot be made
// is a warning and never stops anything.
func stepPredict(ctx context.Context, env *Env, ps *preState) (Step, error) {
	s := Step{Name: "prediction"}
	if !env.Config.Predict {
		s.Status, s.Message = StatusSkipped, "off ([general] predict = off)"
		return s, nil
	}
	if ps.head == "" || ps.branch == "" {
		s.Status, s.Message = StatusSkipped, "no branch to merge upstream into"
		return s, nil
	}
	u, err := ps.upstream(ctx, env)
	if err != nil {
		s.Status, s.Message = StatusSkipped, "no upstream to predict the merge of: "+err.Error()
		return s, nil
	}
	up, upstream := u.Commit, u.Name
	if up == ps.head || u.Base == up {
		s.Status, s.Message = StatusOK, "nothing to merge: up to date with "+upstream
		return s, nil
	}
	bound, _, _ := env.LoadPatches()
	if ps.set != nil && len(ps.set.Blocks) == 0 && len(bound) == 0 {
		// Nothing customized, nothing patched: the merge has nothing to
		// drop, and the prediction would only cost its merge.
		s.Status, s.Message = StatusOK, "no customization of tracked files and no patch: nothing the merge can drop"
		return s, nil
	}
	p, err := predict.Run(ctx, predict.Options{
		Dir: env.MailcowDir, Head: ps.head, Upstream: up, Patches: bound,
		Redact: env.redactor().String, TempDir: env.TempDir, Set: ps.set,
		Repo: ps.repo, Base: u.Base,
	})
	if err != nil {
		s.Status, s.Message = StatusWarning, "cannot predict the merge: "+ui.FirstLine(err.Error())
		return s, nil
	}
	pub := *p
	pub.Results = ledger.Public(p.Results)
	ps.prediction = &pub
	if !env.DryRun {
		if err := env.State.WriteJSON(env.Sys, PredictionFile, &pub); err != nil {
			env.UI.Debugf("keep the prediction: %v", err)
		}
	}
	return env.predictionStep(s, p, upstream)
}

func (env *Env) predictionStep(s Step, p *predict.Prediction, upstream string) (Step, error) {
	if p.Aborted {
		s.Status = StatusWarning
		s.Message = fmt.Sprintf("git will refuse to merge %s (exit %d): update.sh will stop with mailcow down", upstream, p.MergeExit)
		return s, nil
	}
	for _, r := range p.Results {
		if r.Outcome == ledger.PutBack {
			s.Details = append(s.Details, fmt.Sprintf("will be put back by %s: %s", orPatch(r.By), r.Block.Label()))
		}
	}
	for _, pe := range p.PatchErrors {
		s.Details = append(s.Details, "a patch will fail after the merge: "+pe)
	}
	losses := p.Losses()
	if len(losses) == 0 {
		s.Status = StatusOK
		s.Message = fmt.Sprintf("merging %s keeps all %s", upstream, ui.Count(len(p.Results), "customization"))
		if len(p.PatchErrors) > 0 {
			s.Status = StatusWarning
		}
		return s, nil
	}
	s.Status = StatusWarning
	s.Message = fmt.Sprintf("this update will drop %s no patch puts back; mailcow has not been touched", ui.Count(len(losses), "unprotected customization"))
	for _, r := range losses {
		s.Details = append(s.Details, "WILL LOSE "+resultLine(r)+" — "+env.protectHint(r))
	}
	stop := env.Config.OnPredictedLoss == config.LossStop ||
		(env.Config.OnPredictedLoss == config.LossStopForced && env.Parent.Forced())
	if !stop {
		if env.Parent.UpdateSh && !env.Parent.Forced() {
			s.Details = append(s.Details, "answer N at update.sh's prompt to keep them, protect them, then run ./update.sh again")
		}
		return s, nil
	}
	s.Status, s.Danger = StatusError, true
	s.Details = append(s.Details, "[general] on_predicted_loss = "+env.Config.OnPredictedLoss+": protect them (or accept the loss: set it to warn), then run ./update.sh again")
	return s, fmt.Errorf("%w: %d", errPredictedLoss, len(losses))
}

// protectHint says where a customization would be safe.
func (env *Env) protectHint(r ledger.Result) string {
	if r.Outcome == ledger.Deleted {
		return "upstream deletes the file: move the change to where the release now keeps the setting"
	}
	if ovr := ledger.OverrideFor(r.Block.File); ovr != "" {
		return "move it to " + ovr + ", or protect it with a patch"
	}
	if r.Block.File == "docker-compose.yml" {
		return "move it to docker-compose.override.yml"
	}
	return "protect it with a patch (mcupdate verify names one where a shipped patch fits)"
}

func resultLine(r ledger.Result) string { return blockLine(r.Block, r.Missing, "") }

func orPatch(by string) string {
	if by == "" {
		return "a patch"
	}
	return by
}

// loadPrediction reads the pre hook's prediction; nil when there is none.
func (env *Env) loadPrediction() *predict.Prediction {
	var p predict.Prediction
	if err := env.State.ReadJSON(PredictionFile, &p); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			env.UI.Debugf("prediction: %v", err)
		}
		return nil
	}
	return &p
}

// predictionCameTrue compares the pre hook's predicted losses with the
// post hook's, for the post hook's report.
func predictionCameTrue(p *predict.Prediction, actual []ledger.Result) string {
	want := map[string]bool{}
	for _, r := range p.Losses() {
		want[r.Block.ID] = true
	}
	got := map[string]bool{}
	for _, r := range actual {
		if r.Outcome.Bad() {
			got[r.Block.ID] = true
		}
	}
	var missed, extra []string
	for id := range got {
		if !want[id] {
			missed = append(missed, id)
		}
	}
	for id := range want {
		if !got[id] {
			extra = append(extra, id)
		}
	}
	if len(missed) == 0 && len(extra) == 0 {
		return fmt.Sprintf("the pre hook's prediction came true (%d predicted, %d lost)", len(want), len(got))
	}
	return fmt.Sprintf("the pre hook predicted %d losses, the update lost %d (not predicted: %s; predicted but kept: %s)",
		len(want), len(got), orNone(missed), orNone(extra))
}

func orNone(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, " ")
}
