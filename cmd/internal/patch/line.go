package patch

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// KindLine ensures one line: it replaces the line its match finds, or
// adds it after an anchor or at the end.
const KindLine Kind = "line"

func init() { register(KindLine, lineKind{}) }

type lineKind struct{}

func (lineKind) keys() []string {
	return []string{"line", "match", "after", "position", "create", "sizes"}
}

func (lineKind) parse(e *Edit, s *editSection) {
	e.Line = s.need("line")
	e.Match, _ = s.get("match")
	if strings.ContainsAny(e.Line, "\r\n") {
		s.errorf("line", "line must be one line; use kind block for several")
	}
	if v, ok := s.get("sizes"); ok {
		if !sizeDialects[v] {
			s.errorf("sizes", "sizes = %q: want %s, %s or %s", v, SizesBytes, SizesClamd, SizesRspamd)
		}
		e.Sizes = v
	}
}

func (lineKind) check(be *boundEdit, c *binding) {
	e := be.Edit
	if strings.ContainsAny(be.line, "\r\n") {
		c.errorf("line", "%w: [edit %s] line must be one line", ErrParam, e.Name)
		c.failed = true
	}
	if !utf8.ValidString(be.line) {
		// regexp cannot find it again: MustCompile panicked.
		c.errorf("line", "%w: [edit %s] line is not valid UTF-8", ErrParam, e.Name)
		c.failed = true
	} else if e.Match == "" {
		be.match = regexp.MustCompile("^" + regexp.QuoteMeta(be.line) + "$")
	} else if be.match = c.regexp("match", e.Match); be.match != nil && !c.failed && !be.match.MatchString(be.line) {
		// Else a second run would not find the line the first one
		// wrote, and insert it again.
		c.errorf("match", "%w: [edit %s] match /%s/ does not match line %q, so the edit would not be idempotent", ErrSyntax, e.Name, e.Match, c.b.mask.mask(be.line))
	}
}

func (lineKind) apply(s string, be *boundEdit) (string, error) { return editLine(s, be) }

func (lineKind) template(e *Edit) string { return e.Line }

// found is the one line the edit's match finds (without the indentation
// the line edit would keep); an error when it finds several.
func (lineKind) found(_ *Patch, e *Edit, content string, exists bool, _ func(string) []string) ([]string, error) {
	if !exists || len(paramRefs(e.Match)) > 0 {
		return nil, nil
	}
	match := e.Match
	if match == "" {
		match = "^" + templateRegex(e.Line) + "$"
	}
	re, err := regexp.Compile(match)
	if err != nil {
		return nil, err
	}
	var have []string
	ls := splitLines(content)
	for _, i := range findLines(ls, re) {
		b := body(ls[i])
		if strings.TrimLeft(e.Line, " \t") == e.Line {
			b = strings.TrimLeft(b, " \t")
		}
		have = append(have, b)
	}
	if len(have) > 1 {
		return nil, fmt.Errorf("%w: edit %s: %d lines of %s match /%s/", ErrNotDerived, e.Name, len(have), e.File, match)
	}
	return have, nil
}

func (lineKind) governed(be *boundEdit, ls []string) []string {
	var out []string
	for _, i := range findLines(ls, be.match) {
		out = append(out, body(ls[i]))
	}
	return out
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
