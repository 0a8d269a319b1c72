package patch

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/udiff"
)

// The line handling every text edit shares: lines that keep their end
// of line, anchors and the errors about them.

// AnchorError says which anchor an edit could not find or found more than
// once. Err is [ErrAnchorMissing] or [ErrAmbiguous].
type AnchorError struct {
	Anchor string // such as "section [web-worker]" or "line matching /^local_addrs/"
	Err    error
}

func (e *AnchorError) Error() string { return e.Anchor + ": " + e.Err.Error() }

func (e *AnchorError) Unwrap() error { return e.Err }

func missing(format string, a ...any) error {
	return &AnchorError{Anchor: fmt.Sprintf(format, a...), Err: ErrAnchorMissing}
}

func ambiguous(lines []int, format string, a ...any) error {
	nums := make([]string, len(lines))
	for i, n := range lines {
		nums[i] = fmt.Sprint(n + 1)
	}
	return &AnchorError{Anchor: fmt.Sprintf(format, a...) + " (lines " + strings.Join(nums, ", ") + ")", Err: ErrAmbiguous}
}

// splitLines splits s into lines that keep their end of line, so joining
// them gives s back byte for byte.
func splitLines(s string) []string { return udiff.Lines(s) }

// body is a line without its end of line.
func body(l string) string {
	if !strings.HasSuffix(l, "\n") {
		return l
	}
	return strings.TrimSuffix(l[:len(l)-1], "\r")
}

// eolOf is a line's end of line: "\r\n", "\n" or "" for a last line without.
func eolOf(l string) string {
	switch {
	case strings.HasSuffix(l, "\r\n"):
		return "\r\n"
	case strings.HasSuffix(l, "\n"):
		return "\n"
	}
	return ""
}

// fileEOL is the end of line new lines get: the file's first one, so a CRLF
// file stays CRLF.
func fileEOL(ls []string) string {
	for _, l := range ls {
		if e := eolOf(l); e != "" {
			return e
		}
	}
	return "\n"
}

// insertLines inserts bodies before index at, each with eol. At the end of a
// file without a final newline the previous last line gets one and the new
// last line none, so the file still ends without a newline.
func insertLines(ls []string, at int, bodies []string, eol string) []string {
	ins := make([]string, len(bodies))
	for i, b := range bodies {
		ins[i] = b + eol
	}
	if at == len(ls) && at > 0 && eolOf(ls[at-1]) == "" {
		ls = append(ls[:at-1:at-1], ls[at-1]+eol)
		ins[len(ins)-1] = bodies[len(bodies)-1]
	}
	out := make([]string, 0, len(ls)+len(ins))
	out = append(out, ls[:at]...)
	out = append(out, ins...)
	return append(out, ls[at:]...)
}

// setBody replaces a line's text and keeps its end of line.
func setBody(l, b string) string { return b + eolOf(l) }

// findLines returns the indexes of the lines whose body re matches.
func findLines(ls []string, re *regexp.Regexp) []int {
	var hits []int
	for i, l := range ls {
		if re.MatchString(body(l)) {
			hits = append(hits, i)
		}
	}
	return hits
}

// findAnchor returns the one line re matches.
func findAnchor(ls []string, re *regexp.Regexp) (int, error) {
	hits := findLines(ls, re)
	switch len(hits) {
	case 0:
		return 0, missing("anchor line matching /%s/", re)
	case 1:
		return hits[0], nil
	}
	return 0, ambiguous(hits, "anchor /%s/ matches %d lines", re, len(hits))
}
