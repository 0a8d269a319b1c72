package patch

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ErrNotDerived is wrapped when a patch's parameters cannot be read from
// the files as they are.
var ErrNotDerived = errors.New("parameters not found in the files")

// Derive reads the parameters of p from the files as they are: what each
// edit's template (value, line, content) says where the edit would set it.
// read returns a file's content (ok false when it does not exist); added
// returns the lines the admin added to a file, for a block edit whose
// marked block is not there yet. A parameter that two edits read
// differently, or that no edit reads and has no default, is an error.
// The result is meant for [Bind], then an [Apply] in check mode that must
// find nothing to change.
func Derive(p *Patch, read func(file string) (string, bool), added func(file string) []string) (map[string]string, error) {
	got := map[string]string{}
	from := map[string]string{} // param → the edit that set it, for messages
	var errs []error
	set := func(e *Edit, name, val string) {
		if old, ok := got[name]; ok && old != val {
			errs = append(errs, fmt.Errorf("%w: %s is %s in edit %s but %s in edit %s", ErrNotDerived, name, old, from[name], val, e.Name))
			return
		}
		got[name], from[name] = val, e.Name
	}
	for _, e := range p.Edits {
		vr, ok := kinds[e.Kind].(valueReader)
		if !ok {
			continue
		}
		tmpl := vr.template(e)
		if tmpl == "" || len(paramRefs(tmpl)) == 0 {
			continue
		}
		content, exists := read(e.File)
		have, err := vr.found(p, e, content, exists, added)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(have) == 0 {
			continue
		}
		vals, matched := matchTemplate(tmpl, have[0], e.Sizes)
		if !matched {
			errs = append(errs, fmt.Errorf("%w: edit %s: %s does not have the form %q", ErrNotDerived, e.Name, e.File, strings.TrimSpace(tmpl)))
			continue
		}
		for name, v := range vals {
			set(e, name, v)
		}
	}
	for _, n := range p.Params {
		if _, ok := got[n]; ok {
			continue
		}
		if d, ok := p.Defaults[n]; ok {
			got[n] = d
			continue
		}
		errs = append(errs, fmt.Errorf("%w: no edit of %s reads %s from the files", ErrNotDerived, p.Name, n))
	}
	if len(errs) > 0 {
		return nil, joinErrs(errs)
	}
	return got, nil
}

// templateRegex turns a template into a regexp (without anchors) that
// matches what it expands to, with one group per reference.
func templateRegex(tmpl string) string {
	var b strings.Builder
	last := 0
	lit := func(s string) { b.WriteString(regexp.QuoteMeta(strings.ReplaceAll(s, "$${", "${"))) }
	for _, r := range paramRefs(tmpl) {
		lit(tmpl[last:r.start])
		switch r.filter {
		case "bytes":
			b.WriteString(`([0-9]+[A-Za-z]{0,2})`)
		case "lines":
			b.WriteString(`((?s:.+?))`)
		default:
			b.WriteString(`(.+?)`)
		}
		last = r.end
	}
	lit(tmpl[last:])
	return b.String()
}

// matchTemplate matches text against tmpl and returns the parameters,
// each as mcupdate.ini would set it: a size as 50M (not 52428800), a list
// as items separated by spaces.
func matchTemplate(tmpl, text, sizes string) (map[string]string, bool) {
	re, err := regexp.Compile("^" + templateRegex(tmpl) + "$")
	if err != nil {
		return nil, false
	}
	m := re.FindStringSubmatch(text)
	if m == nil {
		return nil, false
	}
	out := map[string]string{}
	for i, r := range paramRefs(tmpl) {
		v := m[i+1]
		switch r.filter {
		case "bytes":
			dialect := sizes
			if dialect == "" {
				dialect = SizesBytes
			}
			n, err := ParseSize(dialect, v)
			if err != nil || n <= 0 {
				return nil, false
			}
			v = sizeParam(n)
		case "lines":
			items := strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' })
			for j := range items {
				items[j] = strings.TrimSpace(items[j])
				if strings.ContainsAny(items[j], " \t,") {
					return nil, false // an item the list filter would split
				}
			}
			v = strings.Join(items, " ")
		}
		if old, ok := out[r.name]; ok && old != v {
			return nil, false
		}
		out[r.name] = v
	}
	return out, true
}

// sizeParam writes n bytes as a size parameter: 50M, 2G, 512K or bytes.
func sizeParam(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "G"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "M"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "K"
	}
	return strconv.FormatInt(n, 10)
}

// Governed returns the lines of content (the file's text) that the
// patch's edits of file set: the line a line edit ensures, the key lines
// of an ini or env edit, a block's content lines (marked, or written by
// hand). What a patch would protect, to tell it from what it only pins.
func (b *Bound) Governed(file, content string) []string {
	var out []string
	ls := splitLines(content)
	for _, be := range b.edits {
		if g, ok := be.kind.(governor); ok && be.File == file {
			out = append(out, g.governed(be, ls)...)
		}
	}
	return out
}
