package secret

import (
	"regexp"
	"sort"
	"strings"
)

// span is a secret's bytes in a line.
type span struct{ from, to int }

// redactSettings hides the values of secret settings in every line of s,
// and returns the values it hid that are long enough to hide everywhere.
func redactSettings(s string) (string, []string) {
	return scanSettings(s, true)
}

// settingValues returns the secret values set in s that are long enough
// to hide everywhere.
func settingValues(s string) []string {
	_, v := scanSettings(s, false)
	return v
}

// scanSettings walks the lines of s; with redact it also builds s with
// the secrets hidden. It does not split s: mailcow.conf may be 50 MB.
func scanSettings(s string, redact bool) (string, []string) {
	if !strings.ContainsAny(s, "=:") {
		return s, nil
	}
	var b strings.Builder
	var learned []string
	changed := false
	w := walker{}
	for start := 0; start <= len(s); {
		end := strings.IndexByte(s[start:], '\n')
		if end < 0 {
			end = len(s)
		} else {
			end += start
		}
		line := s[start:end]
		spans, values := w.line(line)
		learned = append(learned, values...)
		if redact {
			if len(spans) > 0 && !changed {
				changed = true
				b.Grow(len(s))
				b.WriteString(s[:start])
			}
			if changed {
				pos := 0
				for _, sp := range spans {
					b.WriteString(line[pos:sp.from])
					b.WriteString(Redacted)
					pos = sp.to
				}
				b.WriteString(line[pos:])
				if end < len(s) {
					b.WriteByte('\n')
				}
			}
		}
		start = end + 1
	}
	if !changed {
		return s, learned
	}
	return b.String(), learned
}

// walker carries what one line tells about the next: after a secret
// setting with nothing on its line (postfix `smtp_sasl_password_maps =`,
// YAML `password: |`), the indented lines that follow are its value.
type walker struct {
	continued bool
	diff      bool // past a unified diff's @@ line: each line starts with its mark
}

// line returns the spans of the secrets in line, merged and in order, and
// the values to hide everywhere.
func (w *walker) line(line string) ([]span, []string) {
	var spans []span
	var values []string
	add := func(from, to int) {
		v := line[from:to]
		if exempt(v) {
			return
		}
		spans = append(spans, span{from, to})
		if len(v) >= MinLen {
			values = append(values, v)
		}
	}
	if strings.HasPrefix(line, "@@ -") {
		w.diff, w.continued = true, false
		return nil, nil
	}
	if !w.continued && strings.IndexByte(line, '=') < 0 && strings.IndexByte(line, ':') < 0 {
		return nil, nil // no setting, no URL: most lines of a large file
	}
	if w.continued {
		if body, at := indented(line, w.diff); body != "" && !startsSetting(body) {
			add(at, at+len(body))
			return spans, values
		}
		w.continued = false
	}
	if !secretWordIn(line) && !strings.Contains(line, "://") {
		return nil, nil // no name IsName takes, no URL
	}
	for i := 0; i < len(line); {
		if !keyChar(line[i]) || i > 0 && keyChar(line[i-1]) {
			i++
			continue
		}
		j := i
		for j < len(line) && keyChar(line[j]) {
			j++
		}
		vstart, ok := separator(line, i, j)
		if !ok || !IsName(line[i:j]) {
			i = j
			continue
		}
		from, to, next, full := value(line, i, vstart)
		if from == to && full {
			w.continued = true
		}
		if from < to {
			add(from, to)
			if !exempt(line[from:to]) {
				values = append(values, parts(line[from:to])...)
			}
			// KEY=val # comment: the shell's value stops at " #".
			if full && line[from] != '\'' && line[from] != '"' {
				if k := strings.Index(line[from:to], " #"); k > 0 {
					if v := strings.TrimRight(line[from:from+k], " \t"); len(v) >= MinLen && !exempt(v) {
						values = append(values, v)
					}
				}
			}
		}
		i = max(next, j)
	}
	if strings.Contains(line, "://") {
		for _, m := range urlUserinfo.FindAllStringSubmatchIndex(line, -1) {
			add(m[2], m[3])
		}
	}
	if len(spans) < 2 {
		return spans, values
	}
	sort.Slice(spans, func(a, b int) bool { return spans[a].from < spans[b].from })
	merged := spans[:1]
	for _, sp := range spans[1:] {
		last := &merged[len(merged)-1]
		if sp.from <= last.to {
			last.to = max(last.to, sp.to)
			continue
		}
		merged = append(merged, sp)
	}
	return merged, values
}

// urlUserinfo finds the password of a URL with user:password@ (SOGo's
// database URLs, a relay's smtp URL).
var urlUserinfo = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@'"<>]*:([^/\s@'"<>]+)@`)

// keyChar is a byte a setting's name may hold: postfix and dovecot
// names (smtp_sasl_password_maps), php-fpm's pm.max_children and
// php_admin_value[…], compose's and SOGo's names.
func keyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == '.' || c == '[' || c == ']'
}

// separator finds the assignment after the name line[i:j]: =, => (PHP
// arrays), or : followed by a blank or the end (YAML at the start of a
// line, JSON's quoted keys), with blanks and a closing quote or bracket
// between. It returns where the
// value starts.
func separator(line string, i, j int) (int, bool) {
	k := j
	if k < len(line) && (line[k] == '"' || line[k] == '\'') {
		k++
	}
	if k < len(line) && line[k] == ']' {
		k++
	}
	for k < len(line) && (line[k] == ' ' || line[k] == '\t') {
		k++
	}
	if k >= len(line) {
		return 0, false
	}
	switch line[k] {
	case '=':
		k++
		if k < len(line) && line[k] == '>' {
			k++
		}
	case ':':
		// YAML's key: value starts its line; JSON's "key": value is
		// quoted. Elsewhere a colon is prose ("DB_PASS: not set").
		quoted := i > 0 && (line[i-1] == '"' || line[i-1] == '\'')
		if !quoted && !startsLine(line[:i]) {
			return 0, false
		}
		k++
		if k < len(line) && line[k] != ' ' && line[k] != '\t' && !(line[k] == '"' && quoted) {
			return 0, false
		}
	default:
		return 0, false
	}
	for k < len(line) && (line[k] == ' ' || line[k] == '\t') {
		k++
	}
	return k, true
}

// value returns the secret value of the setting named at line[i:] whose
// value starts at v: the rest of the line when the name starts the line
// (after blanks, comment marks, a diff's +/-, a YAML list's dash, export),
// else one word; in quotes, what they enclose. next is where to go on
// looking; full says the value took the rest of the line.
func value(line string, i, v int) (from, to, next int, full bool) {
	if v < len(line) && (line[v] == '"' || line[v] == '\'' || line[v] == '`') {
		q := line[v]
		for k := v + 1; k < len(line); k++ {
			if line[k] == '\\' && q == '"' {
				k++
				continue
			}
			if line[k] == q {
				return v + 1, k, k + 1, startsLine(line[:i])
			}
		}
		end := len(strings.TrimRight(line, " \t\r"))
		return v + 1, max(v+1, end), len(line), true
	}
	if startsLine(line[:i]) {
		rest := strings.TrimRight(line[v:], " \t\r")
		rest = strings.TrimRight(rest, ";,")
		rest = strings.TrimRight(rest, " \t")
		if rest == "|" || rest == ">" || rest == "|-" || rest == ">-" || rest == "\\" {
			return v, v, len(line), true
		}
		return v, v + len(rest), len(line), true
	}
	k := v
	for k < len(line) && !strings.ContainsRune(" \t\r;,})\"'`", rune(line[k])) {
		k++
	}
	return v, k, k, false
}

// startsLine reports whether the text before a setting's name leaves it
// the first thing on its line.
func startsLine(prefix string) bool {
	p := strings.TrimLeft(prefix, " \t+-#;/*\"'`$")
	if rest, ok := strings.CutPrefix(p, "export"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
		p = strings.TrimLeft(rest, " \t\"'`$")
	}
	return p == ""
}

// indented returns the text of a continuation line (one that starts with
// a blank, also after a lost line's + or -; in a diff, after its mark),
// and where it starts.
func indented(line string, diff bool) (string, int) {
	k := 0
	if k < len(line) && (line[k] == '+' || line[k] == '-' || diff && line[k] == ' ') {
		k++
	}
	if k >= len(line) || line[k] != ' ' && line[k] != '\t' {
		return "", 0
	}
	for k < len(line) && (line[k] == ' ' || line[k] == '\t') {
		k++
	}
	body := strings.TrimRight(line[k:], " \t\r")
	return body, k
}

// startsSetting reports whether s starts with a name and an =: a new
// setting, not the continuation of one.
func startsSetting(s string) bool {
	i := 0
	for i < len(s) && keyChar(s[i]) {
		i++
	}
	if i == 0 {
		return false
	}
	_, ok := separator(s, 0, i)
	return ok && strings.Contains(s[i:min(len(s), i+3)], "=")
}

// parts returns the secret pieces of a postfix value long enough to hide
// everywhere: of static:user:password the user:password and the
// password, of inline:{ key=user:password, … } each user:password and
// password.
func parts(v string) []string {
	var out []string
	addPair := func(p string) {
		p = strings.TrimSpace(p)
		if len(p) >= MinLen {
			out = append(out, p)
		}
		if _, pw, ok := strings.Cut(p, ":"); ok && len(pw) >= MinLen {
			out = append(out, pw)
		}
	}
	switch {
	case strings.HasPrefix(v, "static:"):
		addPair(v[len("static:"):])
	case strings.HasPrefix(v, "inline:"):
		for _, e := range strings.FieldsFunc(v[len("inline:"):], func(r rune) bool { return r == ',' || r == '{' || r == '}' || r == ' ' || r == '\t' }) {
			if _, rhs, ok := strings.Cut(e, "="); ok {
				addPair(rhs)
			}
		}
	}
	return out
}

// lookupTable is a postfix lookup table in a file (hash:/…,
// proxy:mysql:/…): where the secret is, not the secret.
var lookupTable = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*:(?:[A-Za-z][A-Za-z0-9_+-]*:)*/`)

// exempt reports whether a secret setting's value only points at a
// secret, or is none: a path, a variable, a lookup table, a boolean, a
// value already hidden.
func exempt(v string) bool {
	v = strings.TrimSpace(v)
	// Hidden already: by a Redactor, a patch's mask, url.URL.Redacted.
	if v == "" || v == Redacted || v == "********" || v == "xxxxx" {
		return true
	}
	switch strings.ToLower(v) {
	case "yes", "no", "true", "false", "on", "off", "null", "none":
		return true
	}
	return reference.MatchString(v) || lookupTable.MatchString(v)
}

// reference is a value that names where a secret is: a file (/…, dovecot's
// <file), a variable ($NAME, ${NAME…}, dovecot's %{…} and %w).
var reference = regexp.MustCompile(`^(?:/[^\s]*|<\s*/[^\s]*|\$[A-Za-z_][A-Za-z0-9_]*|\$\{[^}]*\}|%[A-Za-z]|%\{[^}]*\})$`)

// secretWordIn reports whether s holds, in any case, a word one of which
// every secret name holds (nameWords): a line without one sets no secret
// but in a URL. It allocates nothing: the redactor asks it for every line
// of every file it reads.
func secretWordIn(s string) bool {
	for i := 0; i < len(s); i++ {
		for _, w := range wordsAt[s[i]] {
			if len(s)-i < len(w) {
				continue
			}
			j := 1
			for j < len(w) && s[i+j]|0x20 == w[j] {
				j++
			}
			if j == len(w) {
				return true
			}
		}
	}
	return false
}

// nameWords are the words secretWordIn looks for, lower case, made from
// the rule's own secretWords (a word holding a shorter one left out:
// password holds pass) and DBROOT; wordsAt maps a first letter, in either
// case, to its words.
var (
	nameWords = func() []string {
		out := []string{"dbroot"}
		for _, w := range secretWords {
			w = strings.ToLower(w)
			shorter := false
			for _, o := range secretWords {
				o = strings.ToLower(o)
				shorter = shorter || (len(o) < len(w) && strings.Contains(w, o))
			}
			if !shorter {
				out = append(out, w)
			}
		}
		return out
	}()
	wordsAt = func() (t [256][]string) {
		for _, w := range nameWords {
			t[w[0]] = append(t[w[0]], w)
			t[w[0]-'a'+'A'] = append(t[w[0]-'a'+'A'], w)
		}
		return t
	}()
)
