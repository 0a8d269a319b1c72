package patch

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/secret"
)

// paramRef is one ${NAME} or ${NAME|FILTER} in a value.
type paramRef struct {
	name, filter string
	start, end   int // byte offsets of the whole reference
	err          error
}

// filters turn a parameter's value into the form a file needs, so one
// parameter can feed files that want different units.
var filters = map[string]func(string) (string, error){
	"bytes": toBytes,
	"lines": toLines,
}

// paramRefs finds the references in v. "$${" stands for a literal "${".
func paramRefs(v string) []paramRef {
	var refs []paramRef
	for i := 0; i < len(v); i++ {
		if v[i] != '$' {
			continue
		}
		if strings.HasPrefix(v[i:], "$${") {
			i += 2
			continue
		}
		if !strings.HasPrefix(v[i:], "${") {
			continue
		}
		end := strings.IndexByte(v[i:], '}')
		if end < 0 {
			refs = append(refs, paramRef{start: i, end: len(v), err: fmt.Errorf("unclosed ${ at byte %d", i)})
			return refs
		}
		body := v[i+2 : i+end]
		r := paramRef{start: i, end: i + end + 1}
		r.name, r.filter, _ = strings.Cut(body, "|")
		if !paramName.MatchString(r.name) {
			r.err = fmt.Errorf("${%s}: %q is not a parameter name", body, r.name)
		} else if _, ok := filters[r.filter]; r.filter != "" && !ok {
			r.err = fmt.Errorf("${%s}: unknown filter %q (want bytes or lines)", body, r.filter)
		}
		refs = append(refs, r)
		i += end
	}
	return refs
}

// expand substitutes the parameters in v.
func expand(v string, params map[string]string) (string, error) {
	refs := paramRefs(v)
	if len(refs) == 0 && !strings.Contains(v, "$${") {
		return v, nil
	}
	var b strings.Builder
	last := 0
	for _, r := range refs {
		if r.err != nil {
			return "", r.err
		}
		b.WriteString(strings.ReplaceAll(v[last:r.start], "$${", "${"))
		val, ok := params[r.name]
		if !ok {
			return "", fmt.Errorf("%w: ${%s} is not set", ErrParam, r.name)
		}
		if r.filter != "" {
			out, err := filters[r.filter](val)
			if err != nil {
				return "", fmt.Errorf("%w: ${%s|%s}: %v", ErrParam, r.name, r.filter, err)
			}
			val = out
		}
		b.WriteString(val)
		last = r.end
	}
	b.WriteString(strings.ReplaceAll(v[last:], "$${", "${"))
	return b.String(), nil
}

var errSize = errors.New("want a size such as 104857600, 512K, 100M or 1G")

// toBytes reads a size with an optional K, M or G suffix (powers of 1024,
// as postfix, rspamd and clamd count) and returns it in bytes.
func toBytes(s string) (string, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "B")
	mult := uint64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil || n == 0 {
		return "", fmt.Errorf("%q: %w", s, errSize)
	}
	if n > (1<<63)/mult {
		return "", fmt.Errorf("%q: too large", s)
	}
	return strconv.FormatUint(n*mult, 10), nil
}

// toLines turns a list separated by spaces or commas into one item a line.
func toLines(s string) (string, error) {
	items := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	if len(items) == 0 {
		return "", errors.New("empty list")
	}
	return strings.Join(items, "\n"), nil
}

// masker hides the values of secret parameters in text meant for people.
// Values shorter than 4 bytes are left alone: masking "1" would garble a
// diff while hiding nothing worth hiding.
type masker []string

func newMasker(params map[string]string) masker {
	var m masker
	for k, v := range params {
		if secret.IsName(k) && len(v) >= 4 {
			m = append(m, v)
		}
	}
	return m
}

func (m masker) mask(s string) string {
	for _, v := range m {
		s = strings.ReplaceAll(s, v, masked)
	}
	return s
}

const masked = "********"

// maskDiff masks a unified diff of a patch with secret parameters. The
// removed lines are the file's old content, which can hold the old
// password no parameter names any more: a removed line keeps only the
// start it shares with an added line up to that line's masked value, and
// is masked past it.
func (m masker) maskDiff(diff string) string {
	if len(m) == 0 || diff == "" {
		return diff
	}
	lines := strings.Split(m.mask(diff), "\n")
	var added []string
	for _, l := range lines[min(2, len(lines)):] {
		if strings.HasPrefix(l, "+") && strings.Contains(l, masked) {
			added = append(added, l[1:])
		}
	}
	for i := 2; i < len(lines); i++ {
		l := lines[i]
		if !strings.HasPrefix(l, "-") {
			continue
		}
		keep := 0
		for _, a := range added {
			n := 0
			for n < len(a) && n+1 < len(l) && a[n] == l[n+1] {
				n++
			}
			keep = max(keep, min(n, strings.Index(a, masked)))
		}
		lines[i] = l[:1+keep] + masked
	}
	return strings.Join(lines, "\n")
}
