package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteText writes the report as a table for a person: CHECK, STATUS,
// DETAIL, with the items of every check that is not ok and its fix
// indented below it. colour, when non-nil, colours a status word.
func (r *Report) WriteText(w io.Writer, colour func(Status, string) string) error {
	return r.writeText(w, colour, false)
}

// WriteFailures is WriteText for -q: nothing when no check failed, else
// only the failed checks and the verdict.
func (r *Report) WriteFailures(w io.Writer, colour func(Status, string) string) error {
	if r.OK {
		return nil
	}
	return r.writeText(w, colour, true)
}

func (r *Report) writeText(w io.Writer, colour func(Status, string) string, onlyFailed bool) error {
	if colour == nil {
		colour = func(_ Status, s string) string { return s }
	}
	width := len("CHECK")
	for _, c := range r.Checks {
		width = max(width, len(c.Name))
	}
	var out strings.Builder
	fmt.Fprintf(&out, "%-*s  %-7s  %s\n", width, "CHECK", "STATUS", "DETAIL")
	indent := strings.Repeat(" ", 4)
	for _, c := range r.Checks {
		if onlyFailed && c.Status != StatusFail {
			continue
		}
		// Pad before colouring: escapes have no width.
		st := string(c.Status) + strings.Repeat(" ", max(0, 7-len(c.Status)))
		fmt.Fprintf(&out, "%-*s  %s  %s\n", width, c.Name, colour(c.Status, st), c.Detail)
		if c.Status == StatusOK || c.Status == StatusSkipped {
			continue
		}
		for _, it := range c.Items {
			out.WriteString(indent + "- " + it + "\n")
		}
		if c.Fix != "" {
			out.WriteString(indent + "fix: " + c.Fix + "\n")
		}
	}
	verdict := "all checks passed"
	if !r.OK {
		n := 0
		for _, c := range r.Checks {
			if c.Status == StatusFail {
				n++
			}
		}
		verdict = fmt.Sprintf("%d check(s) failed", n)
	}
	out.WriteString("\n" + verdict + "\n")
	_, err := io.WriteString(w, out.String())
	return err
}

// WriteJSON writes the report's JSON form (see Report), indented, with <
// and > as they are.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Metrics returns the report as node_exporter textfile metrics:
//
//	mcupdate_verify_ok                            1 when no check failed
//	mcupdate_check_ok{check="NAME"}               0 when the check failed, else 1
//	mcupdate_verify_last_run_timestamp_seconds    when verify ran
//	mcupdate_last_update_timestamp_seconds        the last update (absent when unknown)
//	mcupdate_unprotected_customizations           number of unprotected edits
//	mcupdate_lost_customizations                  customizations an update dropped, still missing
//	mcupdate_customization_lost{id, file}         1 for each of them
func (r *Report) Metrics() []byte {
	var b bytes.Buffer
	gauge := func(name, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
	}
	bit := func(ok bool) int {
		if ok {
			return 1
		}
		return 0
	}
	gauge("mcupdate_verify_ok", "Whether the last mcupdate verify found no failing check (1) or not (0).")
	fmt.Fprintf(&b, "mcupdate_verify_ok %d\n", bit(r.OK))
	gauge("mcupdate_check_ok", "Whether an mcupdate verify check passed (1) or failed (0); warnings and skipped checks pass.")
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "mcupdate_check_ok{check=%s} %d\n", strconv.Quote(c.Name), bit(c.Status != StatusFail))
	}
	gauge("mcupdate_verify_last_run_timestamp_seconds", "Unix time of the last mcupdate verify run.")
	fmt.Fprintf(&b, "mcupdate_verify_last_run_timestamp_seconds %d\n", r.Time.Unix())
	if r.LastUpdate != nil {
		gauge("mcupdate_last_update_timestamp_seconds", "Unix time of the last mailcow update mcupdate's hooks saw.")
		fmt.Fprintf(&b, "mcupdate_last_update_timestamp_seconds %d\n", r.LastUpdate.Unix())
	}
	gauge("mcupdate_unprotected_customizations", "Local edits of tracked mailcow files that no enabled patch protects.")
	fmt.Fprintf(&b, "mcupdate_unprotected_customizations %d\n", len(r.Unprotected))
	gauge("mcupdate_lost_customizations", "Customizations an update dropped that are still missing and not acknowledged (mcupdate ack).")
	fmt.Fprintf(&b, "mcupdate_lost_customizations %d\n", len(r.Lost))
	if len(r.Lost) > 0 {
		gauge("mcupdate_customization_lost", "1 for each customization an update dropped that is still missing.")
		for _, x := range r.Lost {
			fmt.Fprintf(&b, "mcupdate_customization_lost{id=%s,file=%s} 1\n", strconv.Quote(x.ID), strconv.Quote(x.File))
		}
	}
	return b.Bytes()
}
