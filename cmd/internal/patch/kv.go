package patch

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

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

// envValue splits the text after "KEY=" into the value (quotes included)
// and the rest of the line (a comment or trailing blanks).
func envValue(v string) (val, rest string) {
	if len(v) > 0 && (v[0] == '"' || v[0] == '\'') {
		if j := strings.IndexByte(v[1:], v[0]); j >= 0 {
			return v[:j+2], v[j+2:]
		}
		return v, ""
	}
	end := len(v)
	for i := 1; i < len(v); i++ {
		if v[i] == '#' && (v[i-1] == ' ' || v[i-1] == '\t') {
			end = i
			break
		}
	}
	val = strings.TrimRight(v[:end], " \t")
	return val, v[len(val):]
}

// errEnvQuote marks a value that cannot be written in the quoting the
// line needs.
var errEnvQuote = errors.New("cannot be quoted for a shell variables file")

// shellSpecial are the bytes that make an unquoted value mean something else
// when mailcow.conf is sourced.
const shellSpecial = " \t#'\";&|<>()$`\\*?[]{}~!"

// envRender writes v as the file holds it: in the quotes old uses, so
// `KEY="x"` stays quoted; single-quoted when the value needs quotes and old
// has none. A value that is already quoted is written as given.
func envRender(old, v string) (string, error) {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] && !strings.ContainsRune(v[1:len(v)-1], rune(v[0])) {
		return v, nil
	}
	if len(old) >= 2 && (old[0] == '"' || old[0] == '\'') && old[len(old)-1] == old[0] {
		q := old[0]
		if strings.IndexByte(v, q) >= 0 || q == '"' && strings.ContainsAny(v, "$`\\") {
			return "", fmt.Errorf("value %w in %c quotes", errEnvQuote, q)
		}
		return string(q) + v + string(q), nil
	}
	if !strings.ContainsAny(v, shellSpecial) {
		return v, nil
	}
	if strings.IndexByte(v, '\'') >= 0 {
		return "", fmt.Errorf("value %w", errEnvQuote)
	}
	return "'" + v + "'", nil
}

// editEnv sets KEY=VALUE in a shell-style variables file. Every assignment
// of the key is set, since the last one wins when the file is sourced.
//
// A file whose quoting is broken is refused with the line, before
// anything is edited: with `DBPASS='x` unclosed, the shell reads a later
// FTS_HEAP=… as part of DBPASS. A line inside a value that spans lines is
// no assignment, and the key's own value may not span lines.
func editEnv(s string, be *boundEdit) (string, error) {
	inside, err := shellLines(s)
	if err != nil {
		return "", err
	}
	ls := splitLines(s)
	found := false
	for i, l := range ls {
		if inside[i] {
			continue
		}
		b := body(l)
		t := strings.TrimLeft(b, " \t")
		if strings.HasPrefix(t, "export ") {
			t = strings.TrimLeft(t[len("export "):], " \t")
		}
		if !strings.HasPrefix(t, be.Key) {
			continue
		}
		after := t[len(be.Key):]
		if !strings.HasPrefix(after, "=") {
			continue
		}
		found = true
		if i+1 < len(ls) && inside[i+1] {
			return "", fmt.Errorf("line %d: %w: the value of %s continues on line %d; set it by hand", i+1, ErrShellQuoting, be.Key, i+2)
		}
		prefix := b[:len(b)-len(after)+1]
		old, rest := envValue(after[1:])
		nv, err := envRender(old, be.value)
		if err != nil {
			return "", fmt.Errorf("variable %s: %w", be.Key, err)
		}
		if nv != old {
			ls[i] = setBody(l, prefix+nv+rest)
		}
	}
	if found {
		return strings.Join(ls, ""), nil
	}
	if !be.Add {
		return "", missing("variable %s", be.Key)
	}
	nv, err := envRender("", be.value)
	if err != nil {
		return "", fmt.Errorf("variable %s: %w", be.Key, err)
	}
	out := insertLines(ls, len(ls), []string{be.Key + "=" + nv}, fileEOL(ls))
	// A last line ending in a backslash would join the new line to it.
	if in, err := shellLines(strings.Join(out, "")); err != nil || in[len(out)-1] {
		return "", fmt.Errorf("line %d: %w: it ends in a backslash, which would make %s=… part of its value; add %s by hand", len(ls), ErrShellQuoting, be.Key, be.Key)
	}
	return strings.Join(out, ""), nil
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

// ReadEnv returns the assignments of a shell-style variables file
// (mailcow.conf) in file order, found as the env editor finds them
// (`KEY=value`, `export KEY=value`; comment lines and the lines inside a
// quoted value skipped). When the file is sourced, the last assignment of
// a key wins.
func ReadEnv(data []byte) []Setting {
	var out []Setting
	// Lines inside a quoted value that spans lines set nothing. A file
	// whose quoting is broken (which the editor refuses) is read line by
	// line, as well as it goes.
	inside, err := shellLines(string(data))
	if err != nil {
		inside = nil
	}
	for i, l := range splitLines(string(data)) {
		if inside != nil && inside[i] {
			continue
		}
		t := strings.TrimLeft(body(l), " \t")
		if strings.HasPrefix(t, "export ") {
			t = strings.TrimLeft(t[len("export "):], " \t")
		}
		eq := strings.IndexByte(t, '=')
		if eq <= 0 || !isShellName(t[:eq]) {
			continue
		}
		val, _ := envValue(t[eq+1:])
		if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') && val[len(val)-1] == val[0] {
			val = val[1 : len(val)-1]
		}
		out = append(out, Setting{Key: t[:eq], Value: val, Line: i + 1})
	}
	return out
}

func isShellName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}
