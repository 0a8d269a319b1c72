package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// WriteJSON writes the report's JSON form (see Report), indented, with <
// and > as they are.
func (r *Report) WriteJSON(w io.Writer) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteText writes the report for a person: one line per target (target,
// where its merge started, verdict, risk counts), its reasons indented
// below ("!" marks a BROKEN reason, "+" a REAPPLIED one, "?" a HIGH
// finding of the risk ranking no reason covers), then a summary
// line. colour, when non-nil, colours a verdict.
func (r *Report) WriteText(w io.Writer, colour func(Verdict, string) string) error {
	if colour == nil {
		colour = func(_ Verdict, s string) string { return s }
	}
	var b strings.Builder
	fmt.Fprintf(&b, "replay of %s from %s (%s), %s\n", r.Upstream, r.From.Ref, gitx.Short(r.From.Commit), r.Mode)
	if r.Local != "" {
		fmt.Fprintf(&b, "with the local install %s (overrides: %s)\n", r.Local, r.Overrides)
	}
	if len(r.LeftOut) > 0 {
		fmt.Fprintf(&b, "left out (their file is not in the replayed state): %s\n", strings.Join(r.LeftOut, ", "))
	}
	wt, wb := len("TARGET"), len("FROM")
	for _, t := range r.Targets {
		wt, wb = max(wt, len(t.Ref)), max(wb, len(t.Base))
	}
	fmt.Fprintf(&b, "\n%-*s  %-*s  %-9s  %s\n", wt, "TARGET", wb, "FROM", "VERDICT", "RISK")
	for _, t := range r.Targets {
		v := fmt.Sprintf("%-9s", t.Verdict)
		fmt.Fprintf(&b, "%-*s  %-*s  %s  %d high, %d medium\n", wt, t.Ref, wb, t.Base, colour(t.Verdict, v), t.Risk.High, t.Risk.Medium)
		for _, x := range t.Reasons {
			mark := "+"
			if x.Verdict == Broken {
				mark = "!"
			}
			fmt.Fprintf(&b, "    %s %-17s %s\n", mark, x.Kind, x.Message)
			for _, l := range x.Lost {
				fmt.Fprintf(&b, "        %s\n", l)
			}
		}
		// A HIGH finding no reason above speaks for, with its reason:
		// a count alone says nothing.
		said := map[string]bool{}
		for _, x := range t.Reasons {
			said[x.File] = true
		}
		for _, f := range t.Findings {
			if f.Risk == "HIGH" && !said[f.File] {
				fmt.Fprintf(&b, "    ? %-17s %s: %s\n", "high", f.File, f.Reason)
			}
		}
	}
	c := r.Counts
	fmt.Fprintf(&b, "\n%d %s: %d ok, %d reapplied, %d broken\n", len(r.Targets), ui.Plural(len(r.Targets), "target", "targets"), c.OK, c.Reapplied, c.Broken)
	_, err := io.WriteString(w, b.String())
	return err
}
