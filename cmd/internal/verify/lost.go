package verify

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// Lost is a customization an update dropped that is still missing and not
// acknowledged.
type Lost struct {
	ID    string `json:"id"`
	File  string `json:"file"`
	Where string `json:"where,omitempty"`
	// Status is "lost" (lines dropped) or "deleted" (upstream deleted the
	// file).
	Status string `json:"status"`
	// Lines are the missing lines, diff-style, secrets redacted.
	Lines []string `json:"lines"`
	// Update names the update that dropped it ("FROM..TO" commits) and
	// Since when.
	Update string    `json:"update,omitempty"`
	Since  time.Time `json:"since"`
}

// checkLost reads the customization ledger: a customization an update
// dropped fails the check until its lines are back in the file (restored
// by hand, or by a patch enabled since), or the admin acknowledges the
// loss with `mcupdate ack ID`. Nothing is nagged forever and nothing
// disappears silently.
func checkLost(opt Options) (Check, []Lost) {
	l, err := ledger.Load(state.Dir{Path: opt.StateDir})
	if err != nil {
		return Check{Status: StatusWarn, Detail: ui.FirstLine(err.Error()), Fix: "the post hook writes a new ledger at the next update; remove the file if it is damaged"}, nil
	}
	if len(l.Entries) == 0 {
		return Check{Status: StatusOK, Detail: "no customization lost by an update (the ledger is written by the hooks)"}, nil
	}
	var out []Lost
	c := Check{Status: StatusOK}
	back := 0
	for _, e := range l.Open() {
		content, err := os.ReadFile(filepath.Join(opt.MailcowDir, filepath.FromSlash(e.File)))
		if e.Back(content, err == nil) {
			back++
			continue
		}
		lost := Lost{ID: e.ID, File: e.File, Where: e.Where, Status: string(e.Status), Update: e.Update, Since: e.Since.UTC().Truncate(time.Second)}
		lines := e.Missing
		if len(lines) == 0 {
			lines = e.Lines
		}
		for _, ln := range lines {
			lost.Lines = append(lost.Lines, ln.String())
		}
		out = append(out, lost)
		c.Items = append(c.Items, lostItem(lost))
	}
	present := 0
	for _, e := range l.Entries {
		if !e.Status.Bad() && e.Status != ledger.Acknowledged {
			present++
		}
	}
	if len(out) == 0 {
		c.Detail = fmt.Sprintf("none of %d tracked customizations lost", present)
		if back > 0 {
			c.Detail += fmt.Sprintf("; %d lost by an update are back in place", back)
		}
		return c, out
	}
	c.Status = StatusFail
	c.Detail = fmt.Sprintf("%d customization(s) lost by an update and still missing", len(out))
	ids := make([]string, 0, len(out))
	for _, x := range out {
		ids = append(ids, x.ID)
	}
	c.Fix = "put the lines back (or enable a patch that sets them: mcupdate apply), or accept the loss: mcupdate ack " + strings.Join(ids, " ")
	return c, out
}

func lostItem(x Lost) string {
	what := strings.Join(x.Lines, " / ")
	if x.Status == string(ledger.Deleted) {
		what = "file deleted upstream"
	}
	s := ledger.Describe(x.ID, x.File, x.Where, what)
	if x.Update != "" {
		s += fmt.Sprintf(" (lost in update %s on %s)", x.Update, x.Since.Format("2006-01-02"))
	}
	return s
}
