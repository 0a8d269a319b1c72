package patch

import (
	"errors"
	"fmt"
	"strings"
)

// KindEnv sets a variable in a shell variables file (mailcow.conf).
const KindEnv Kind = "env"

func init() { register(KindEnv, envKind{}) }

type envKind struct{}

func (envKind) keys() []string { return []string{"key", "value", "missing", "create"} }

func (envKind) parse(e *Edit, s *editSection) {
	e.Key = s.need("key")
	e.Value = s.need("value")
	if e.Key != "" && !paramName.MatchString(e.Key) {
		s.errorf("key", "key %q is not a variable name", e.Key)
	}
}

func (envKind) check(be *boundEdit, c *binding) { checkKeyValue(be, c) }

func (envKind) apply(s string, be *boundEdit) (string, error) { return editEnv(s, be) }

func (envKind) template(e *Edit) string { return e.Value }

func (envKind) found(_ *Patch, e *Edit, content string, exists bool, _ func(string) []string) ([]string, error) {
	if exists {
		if v, ok := envLookup(content, e.Key); ok {
			return []string{v}, nil
		}
	}
	return nil, nil
}

func (envKind) governed(be *boundEdit, ls []string) []string {
	var out []string
	for _, l := range ls {
		t := strings.TrimPrefix(strings.TrimLeft(body(l), " \t"), "export ")
		if strings.HasPrefix(t, be.Key+"=") {
			out = append(out, body(l))
		}
	}
	return out
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

// envLookup returns the value of the shell variable key (the last
// assignment, unquoted); a file with broken quoting has none.
func envLookup(s, key string) (string, bool) {
	inside, err := shellLines(s)
	if err != nil {
		return "", false
	}
	var v string
	found := false
	for i, l := range splitLines(s) {
		if inside[i] {
			continue
		}
		t := strings.TrimLeft(body(l), " \t")
		t = strings.TrimLeft(strings.TrimPrefix(t, "export "), " \t")
		if after, ok := strings.CutPrefix(t, key+"="); ok {
			val, _ := envValue(after)
			if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') && val[len(val)-1] == val[0] {
				val = val[1 : len(val)-1]
			}
			v, found = val, true
		}
	}
	return v, found
}
