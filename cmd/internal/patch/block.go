package patch

import "strings"

// KindBlock ensures a block of lines between two marker comments, put
// after an anchor or at the end the first time.
const KindBlock Kind = "block"

func init() { register(KindBlock, blockKind{}) }

type blockKind struct{}

func (blockKind) keys() []string {
	return []string{"content", "after", "position", "comment", "create"}
}

func (blockKind) parse(e *Edit, s *editSection) {
	e.Content = multiline(s.need("content"))
	if c, ok := s.get("comment"); ok {
		if strings.TrimSpace(c) == "" || strings.ContainsAny(c, "\r\n") {
			s.errorf("comment", "comment = %q: want a comment prefix such as # or //", c)
		}
		e.Comment = c
	}
	if e.After == "" && e.Position == "" {
		s.errorf("", "kind block needs after = REGEX or position = end, for where the block goes the first time")
	}
}

func (blockKind) check(be *boundEdit, c *binding) {
	for _, l := range splitLines(be.content) {
		if strings.Contains(l, " BEGIN mcupdate ") || strings.Contains(l, " END mcupdate ") {
			c.errorf("content", "%w: [edit %s] content must not hold block markers", ErrSyntax, be.Name)
		}
	}
}

func (blockKind) apply(s string, be *boundEdit) (string, error) { return editBlock(s, be) }

func (blockKind) template(e *Edit) string { return contentTemplate(e) }

// contentTemplate is a block's or file's content; "" for one read from a
// source file, which is taken literally.
func contentTemplate(e *Edit) string {
	if e.Source != "" {
		return ""
	}
	return e.Content
}

// found is the content of the edit's marked block, else the lines the
// admin added to the file.
func (blockKind) found(p *Patch, e *Edit, content string, exists bool, added func(string) []string) ([]string, error) {
	var lines []string
	if exists {
		begin, end := blockMarkers(e.Comment, p.Name, e.Name)
		in := false
		for _, l := range splitLines(content) {
			switch strings.TrimSpace(body(l)) {
			case begin:
				in = true
				continue
			case end:
				in = false
			}
			if in {
				lines = append(lines, body(l))
			}
		}
	}
	if lines == nil && added != nil {
		lines = added(e.File)
	}
	if len(lines) > 0 {
		return []string{strings.Join(lines, "\n") + "\n"}, nil
	}
	return nil, nil
}

func (blockKind) governed(be *boundEdit, _ []string) []string { return contentLines(be) }

// contentLines are the non-blank lines of a block's or file's content.
func contentLines(be *boundEdit) []string {
	var out []string
	for _, l := range splitLines(be.content) {
		if strings.TrimSpace(body(l)) != "" {
			out = append(out, body(l))
		}
	}
	return out
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
