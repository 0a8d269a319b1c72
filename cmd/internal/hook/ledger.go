package hook

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
	"github.com/mcupdate/mcupdate/cmd/internal/risk"
	"github.com/mcupdate/mcupdate/cmd/internal/secret"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// stepLedgerPre records every customization the install has now, against
// the upstream base of the merge update.sh is about to make (the admin's
// changes or removals since the last update are the new truth), and says
// which customizations an earlier update lost that are still missing.
func stepLedgerPre(ctx context.Context, env *Env, ps *preState) (Step, error) {
	s := Step{Name: "customizations"}
	if ps.head == "" {
		s.Status, s.Message = StatusSkipped, "no commit to compare with upstream (git state unreadable)"
		return s, nil
	}
	up, err := ps.upstream(ctx, env)
	if err != nil {
		s.Status, s.Message = StatusWarning, "cannot tell the customizations: "+err.Error()
		return s, nil
	}
	base, from := up.Base, up.Name
	g := ps.git(ctx, env)
	set, err := ledger.Scan(ctx, g, base, "", env.redactor().String)
	if err != nil {
		s.Status, s.Message = StatusWarning, "cannot tell the customizations: "+err.Error()
		return s, nil
	}
	ps.set = set
	l, err := ledger.Load(env.State)
	if err != nil {
		s.Status, s.Message = StatusWarning, err.Error()
		return s, nil
	}
	added, back, dropped := l.Refresh(set, ps.head, env.Now().UTC())
	s.Status = StatusOK
	s.Message = fmt.Sprintf("%s in %s against upstream %s (%s)", ui.Count(len(set.Blocks), "customization"), ui.Count(len(set.Files()), "file"), gitx.Short(base), from)
	var news []string
	if len(added) > 0 {
		news = append(news, fmt.Sprintf("%d new", len(added)))
	}
	if dropped > 0 {
		news = append(news, fmt.Sprintf("%d gone since the last update (changed or undone here)", dropped))
	}
	if len(back) > 0 {
		news = append(news, fmt.Sprintf("%d lost earlier and back now", len(back)))
	}
	if len(news) > 0 {
		s.Message += ": " + strings.Join(news, ", ")
	}
	for _, e := range l.Open() {
		s.Details = append(s.Details, "still lost since an earlier update: "+entryLine(e))
	}
	if len(s.Details) > 0 {
		s.Status = StatusWarning
		s.Details = append(s.Details, "put them back, protect them with a patch, or accept the loss: mcupdate ack ID")
	}
	for _, sk := range set.Skipped {
		s.Details = append(s.Details, "not read: "+sk)
	}
	if env.DryRun {
		return s, nil
	}
	if err := l.Save(env.State, env.Sys); err != nil {
		s.Status, s.Message = StatusWarning, err.Error()
	}
	return s, nil
}

// stepLedgerPost records what the update did to each customization (the
// risk analysis judged them) and re-checks the ones earlier updates lost.
func (env *Env) stepLedgerPost(r *risk.Report) (Step, error) {
	s := Step{Name: "customizations"}
	if r == nil {
		s.Status, s.Message = StatusSkipped, "no risk analysis to read the customizations from"
		return s, nil
	}
	l, err := ledger.Load(env.State)
	if err != nil {
		s.Status, s.Message = StatusWarning, err.Error()
		return s, nil
	}
	now := env.Now().UTC()
	update := gitx.Short(r.Base) + ".." + gitx.Short(r.Head)
	judged := map[string]bool{}
	for _, c := range r.Custom {
		judged[c.Block.ID] = true
	}
	// A loss of an earlier update that is back (restored by hand, or by a
	// patch enabled since) is present again.
	var again []ledger.Result
	for _, e := range l.Open() {
		if judged[e.ID] {
			continue
		}
		content, err := os.ReadFile(filepath.Join(env.MailcowDir, filepath.FromSlash(e.File)))
		if e.Back(content, err == nil) {
			again = append(again, ledger.Result{Block: e.Block, Outcome: ledger.Kept})
		}
	}
	l.Settle(r.Custom, update, now)
	l.Settle(again, update, now)
	counts := map[ledger.Outcome]int{}
	for _, c := range r.Custom {
		counts[c.Outcome]++
	}
	var parts []string
	for _, o := range []ledger.Outcome{ledger.Kept, ledger.PutBack, ledger.Moved, ledger.Lost, ledger.Deleted} {
		if n := counts[o]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
		}
	}
	s.Status = StatusOK
	if len(r.Custom) == 0 {
		s.Message = "no customizations of tracked files to carry through this update"
	} else {
		s.Message = fmt.Sprintf("%s through the update: %s", ui.Count(len(r.Custom), "customization"), strings.Join(parts, ", "))
	}
	if len(again) > 0 {
		s.Message += fmt.Sprintf("; %d lost earlier and back now", len(again))
	}
	for _, c := range r.Custom {
		if c.Outcome == ledger.PutBack && c.By != "" {
			s.Details = append(s.Details, fmt.Sprintf("put back by %s: %s", c.By, c.Block.Label()))
		}
	}
	if p := env.loadPrediction(); p != nil && r.Upstream != "" && p.Upstream == r.Upstream && (len(p.Losses()) > 0 || len(l.Open()) > 0) {
		s.Details = append(s.Details, predictionCameTrue(p, r.Custom))
	}
	if open := l.Open(); len(open) > 0 {
		s.Status = StatusWarning
		for _, e := range open {
			s.Details = append(s.Details, "LOST "+entryLine(e))
		}
		s.Details = append(s.Details, "put them back, protect them with a patch, or accept the loss: mcupdate ack ID; mcupdate verify fails until then")
	}
	if env.DryRun {
		return s, nil
	}
	if err := l.Save(env.State, env.Sys); err != nil {
		s.Status, s.Message = StatusWarning, err.Error()
	}
	return s, nil
}

// entryLine shows a ledger entry in one line: id, file, place, lines.
func entryLine(e ledger.Entry) string {
	what := ""
	if e.Status == ledger.Status(ledger.Deleted) {
		what = "the file was deleted upstream"
	}
	return blockLine(e.Block, e.Missing, what)
}

// blockLine shows a customization in one line: its id, file and place,
// and its missing lines (all its lines when none are named), or what
// instead of them.
func blockLine(b ledger.Block, missing []ledger.Line, what string) string {
	if what == "" {
		lines := missing
		if len(lines) == 0 {
			lines = b.Lines
		}
		var ls []string
		for _, l := range lines {
			ls = append(ls, "`"+strings.TrimSpace(l.String())+"`")
		}
		what = strings.Join(ls, " ")
	}
	return ledger.Describe(b.ID, b.File, b.Where, what)
}

// redactor hides mailcow.conf's secrets and every secret setting.
func (env *Env) redactor() *secret.Redactor {
	if env.Secrets != nil {
		return env.Secrets
	}
	conf, err := os.ReadFile(filepath.Join(env.MailcowDir, risk.ConfFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		env.UI.Debugf("read %s: %v", risk.ConfFile, err)
	}
	return secret.NewRedactor(conf)
}
