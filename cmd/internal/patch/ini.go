package patch

import (
	"regexp"
	"strings"
)

// KindINI sets a key in a section of an ini file (php.ini, a php-fpm
// pool, sogo's and dovecot's key = value files).
const KindINI Kind = "ini"

func init() { register(KindINI, iniKind{}) }

type iniKind struct{}

func (iniKind) keys() []string { return []string{"section", "key", "value", "missing", "create"} }

func (iniKind) parse(e *Edit, s *editSection) {
	e.Section, _ = s.get("section")
	e.Key = s.need("key")
	e.Value = s.need("value")
}

func (iniKind) check(be *boundEdit, c *binding) { checkKeyValue(be, c) }

// checkKeyValue is the check of an ini or env value: one line, without
// the blanks around it that the file's reader drops.
func checkKeyValue(be *boundEdit, c *binding) {
	if strings.ContainsAny(be.value, "\r\n") {
		c.errorf("value", "%w: [edit %s] value must be one line", ErrParam, be.Name)
	} else if strings.TrimSpace(be.value) != be.value {
		// The file's reader drops them, so the value would never read
		// back as written and every run would rewrite it.
		c.errorf("value", "%w: [edit %s] value starts or ends with blanks", ErrParam, be.Name)
	}
}

func (iniKind) apply(s string, be *boundEdit) (string, error) { return editINI(s, be) }

func (iniKind) template(e *Edit) string { return e.Value }

func (iniKind) found(_ *Patch, e *Edit, content string, exists bool, _ func(string) []string) ([]string, error) {
	if exists {
		if v, ok := iniLookup(content, e.Section, e.Key); ok {
			return []string{v}, nil
		}
	}
	return nil, nil
}

func (iniKind) governed(be *boundEdit, ls []string) []string {
	var out []string
	in := be.Section == ""
	for _, l := range ls {
		bd := body(l)
		if m := iniHeader.FindStringSubmatch(bd); m != nil {
			in = be.Section != "" && strings.TrimSpace(m[1]) == be.Section
			continue
		}
		if k, _, _, ok := iniKeyAt(bd); in && ok && k == be.Key {
			out = append(out, bd)
		}
	}
	return out
}

// iniHeader is a section header line; php-fpm keys such as
// php_admin_value[memory_limit] start with a letter, so they never match.
var iniHeader = regexp.MustCompile(`^\s*\[([^\]]*)\]\s*(?:[;#].*)?$`)

func isComment(b string) bool {
	t := strings.TrimLeft(b, " \t")
	return t == "" || t[0] == ';' || t[0] == '#'
}

// iniKeyAt returns the key of an ini line and where its value starts and
// ends, or ok=false for a line that sets no key.
func iniKeyAt(b string) (key string, vstart, vend int, ok bool) {
	if isComment(b) || iniHeader.MatchString(b) {
		return "", 0, 0, false
	}
	eq := strings.IndexByte(b, '=')
	if eq < 0 {
		return "", 0, 0, false
	}
	key = strings.TrimSpace(b[:eq])
	vstart = eq + 1
	for vstart < len(b) && (b[vstart] == ' ' || b[vstart] == '\t') {
		vstart++
	}
	vend = len(strings.TrimRight(b, " \t"))
	if vend < vstart {
		vend = vstart
	}
	return key, vstart, vend, key != ""
}

// iniStyle is how the file writes "key = value": the first key line's
// spacing around '=', or " = " for a file without one.
func iniStyle(ls []string) string {
	for _, l := range ls {
		b := body(l)
		if key, vstart, _, ok := iniKeyAt(b); ok {
			i := strings.Index(b, key) + len(key)
			return b[i:vstart]
		}
	}
	return " = "
}

// editINI sets key in section (empty section: before the first header).
// Every occurrence of the key in the section is set, so the value holds
// whichever one the reader lets win.
func editINI(s string, be *boundEdit) (string, error) {
	ls := splitLines(s)
	type span struct{ from, to int } // lines after the header, up to the next
	var spans []span
	cur := -1
	open := be.Section == ""
	if open {
		cur = 0
	}
	for i, l := range ls {
		m := iniHeader.FindStringSubmatch(body(l))
		if m == nil {
			continue
		}
		if cur >= 0 {
			spans = append(spans, span{cur, i})
			cur = -1
		}
		if !open && strings.TrimSpace(m[1]) == be.Section {
			cur = i + 1
		}
		if open {
			break
		}
	}
	if cur >= 0 {
		spans = append(spans, span{cur, len(ls)})
	}
	if len(spans) == 0 {
		return "", missing("section [%s]", be.Section)
	}
	found := false
	for _, sp := range spans {
		for i := sp.from; i < sp.to; i++ {
			b := body(ls[i])
			key, vs, ve, ok := iniKeyAt(b)
			if !ok || key != be.Key {
				continue
			}
			found = true
			if b[vs:ve] != be.value {
				ls[i] = setBody(ls[i], b[:vs]+be.value+b[ve:])
			}
		}
	}
	if found {
		return strings.Join(ls, ""), nil
	}
	where := "before the first section"
	if be.Section != "" {
		where = "in section [" + be.Section + "]"
	}
	if !be.Add {
		return "", missing("key %s %s", be.Key, where)
	}
	last := spans[len(spans)-1]
	at := last.from
	for i := last.from; i < last.to; i++ {
		if strings.TrimSpace(body(ls[i])) != "" {
			at = i + 1
		}
	}
	return strings.Join(insertLines(ls, at, []string{be.Key + iniStyle(ls) + be.value}, fileEOL(ls)), ""), nil
}

// Setting is one key a file sets, as the ini and env editors find it.
type Setting struct {
	// Section is the ini section the key is in; "" before the first
	// header, and always in an env file.
	Section string
	Key     string
	// Value is the value without its quotes and without a trailing
	// comment.
	Value string
	// Line is 1-based.
	Line int
}

// ReadINI returns the keys of an ini file (php.ini, a php-fpm pool file)
// in file order, found as the ini editor finds them, so that a check and
// the patch that fixes what it finds agree on what the file says. A
// value's trailing ; comment and its double quotes are dropped, as PHP's
// ini reader drops them. Keys under a header with an empty name ("[]")
// are left out.
func ReadINI(data []byte) []Setting {
	var out []Setting
	section, headed := "", false
	for i, l := range splitLines(string(data)) {
		b := body(l)
		if m := iniHeader.FindStringSubmatch(b); m != nil {
			section, headed = strings.TrimSpace(m[1]), true
			continue
		}
		key, vs, ve, ok := iniKeyAt(b)
		// Keys under a header without a name are in no section the
		// editor can address: left out, as it leaves them.
		if !ok || headed && section == "" {
			continue
		}
		out = append(out, Setting{Section: section, Key: key, Value: iniValue(b[vs:ve]), Line: i + 1})
	}
	return out
}

// iniValue drops a ; comment outside double quotes, then the quotes.
func iniValue(v string) string {
	quoted := false
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			quoted = !quoted
		case ';':
			if !quoted {
				v = v[:i]
				i = len(v)
			}
		}
	}
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	return v
}

// iniLookup returns the value of key in section of an ini file (the
// last, which the reader lets win).
func iniLookup(s, section, key string) (string, bool) {
	in := section == ""
	var v string
	found := false
	for _, l := range splitLines(s) {
		b := body(l)
		if m := iniHeader.FindStringSubmatch(b); m != nil {
			in = strings.TrimSpace(m[1]) == section
			continue
		}
		if !in {
			continue
		}
		if k, vs, ve, ok := iniKeyAt(b); ok && k == key {
			v, found = b[vs:ve], true
		}
	}
	return v, found
}
