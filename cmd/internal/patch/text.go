package patch

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/udiff"
)

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

// editLine ensures one line: it replaces the one line match finds, or
// inserts it after the after anchor or at the end when position = end.
func editLine(s string, be *boundEdit) (string, error) {
	ls := splitLines(s)
	hits := findLines(ls, be.match)
	switch len(hits) {
	case 1:
		i := hits[0]
		want := be.line
		// A line written without indentation keeps the indentation of the
		// line it replaces, so a patch need not copy a file's layout.
		if strings.TrimLeft(want, " \t") == want {
			old := body(ls[i])
			want = old[:len(old)-len(strings.TrimLeft(old, " \t"))] + want
		}
		if body(ls[i]) == want {
			return s, nil
		}
		// The admin's way of writing the same size is kept (50M, not
		// 52428800), where the service reads both alike.
		if be.Sizes != "" && sameSizes(be.Sizes, body(ls[i]), want) {
			return s, nil
		}
		ls[i] = setBody(ls[i], want)
		return strings.Join(ls, ""), nil
	case 0:
	default:
		return "", ambiguous(hits, "/%s/ matches %d lines", be.match, len(hits))
	}
	switch {
	case be.after != nil:
		i, err := findAnchor(ls, be.after)
		if err != nil {
			return "", err
		}
		return strings.Join(insertLines(ls, i+1, []string{be.line}, fileEOL(ls)), ""), nil
	case be.Position == "end":
		return strings.Join(insertLines(ls, len(ls), []string{be.line}, fileEOL(ls)), ""), nil
	}
	return "", missing("line matching /%s/", be.match)
}

// blockMarkers are the lines around a block; the patch and edit names make
// them unique, so two patches never take each other's block.
func blockMarkers(comment, patch, edit string) (begin, end string) {
	return comment + " BEGIN mcupdate " + patch + "/" + edit, comment + " END mcupdate " + patch + "/" + edit
}

// editBlock ensures a marked block of lines.
func editBlock(s string, be *boundEdit) (string, error) {
	ls := splitLines(s)
	begin, end := blockMarkers(be.Comment, be.patch, be.Name)
	var bs, es []int
	for i, l := range ls {
		switch strings.TrimSpace(body(l)) {
		case begin:
			bs = append(bs, i)
		case end:
			es = append(es, i)
		}
	}
	content := splitLines(be.content)
	bodies := make([]string, len(content))
	for i, l := range content {
		bodies[i] = body(l)
	}
	eol := fileEOL(ls)
	switch {
	case len(bs) > 1:
		return "", ambiguous(bs, "marker %q appears %d times", begin, len(bs))
	case len(es) > 1:
		return "", ambiguous(es, "marker %q appears %d times", end, len(es))
	case len(bs) == 1 && (len(es) == 0 || es[0] < bs[0]):
		return "", missing("marker %q after line %d", end, bs[0]+1)
	case len(bs) == 0 && len(es) == 1:
		return "", missing("marker %q before line %d", begin, es[0]+1)
	case len(bs) == 1:
		old := ls[bs[0]+1 : es[0]]
		same := len(old) == len(bodies)
		for i := 0; same && i < len(old); i++ {
			same = body(old[i]) == bodies[i]
		}
		if same {
			return s, nil
		}
		out := append([]string{}, ls[:bs[0]+1]...)
		for _, b := range bodies {
			out = append(out, b+eol)
		}
		return strings.Join(append(out, ls[es[0]:]...), ""), nil
	}
	// The lines are there already, unmarked (the admin wrote them by
	// hand): the block is in place, and the file stays as it is. Once an
	// update drops them, the marked block comes back.
	if handWritten(ls, bodies, be.Comment) {
		return s, nil
	}
	block := append(append([]string{begin}, bodies...), end)
	if be.after != nil {
		i, err := findAnchor(ls, be.after)
		if err != nil {
			return "", err
		}
		return strings.Join(insertLines(ls, i+1, block, eol), ""), nil
	}
	return strings.Join(insertLines(ls, len(ls), block, eol), ""), nil
}

// editFile ensures the whole content of a file.
func editFile(_ string, be *boundEdit) (string, error) { return be.content, nil }

// handWritten reports whether the non-blank lines of a block's content
// stand in ls as one run (blank lines between them allowed), outside any
// mcupdate-marked block.
func handWritten(ls, bodies []string, comment string) bool {
	var want []string
	for _, b := range bodies {
		if t := strings.TrimRight(b, " \t"); strings.TrimSpace(t) != "" {
			want = append(want, t)
		}
	}
	if len(want) == 0 {
		return false
	}
	var have []string // non-blank lines outside marked blocks
	inBlock := false
	for _, l := range ls {
		t := strings.TrimRight(body(l), " \t")
		trim := strings.TrimSpace(t)
		switch {
		case strings.HasPrefix(trim, comment+" BEGIN mcupdate "):
			inBlock = true
			have = append(have, "") // a marked block breaks a run
			continue
		case strings.HasPrefix(trim, comment+" END mcupdate "):
			inBlock = false
			continue
		case inBlock || trim == "":
			continue
		}
		have = append(have, t)
	}
	for i := 0; i+len(want) <= len(have); i++ {
		ok := true
		for j := range want {
			if have[i+j] != want[j] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
