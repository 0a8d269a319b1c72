package risk

import (
	"sort"
	"strings"
)

// MinSecretLen is the shortest value a Redactor hides. Shorter values
// are left alone: mailcow generates secrets of 16 characters and more,
// and hiding "1", "n" or "none" wherever they occur would garble every
// diff while protecting nothing worth protecting.
const MinSecretLen = 6

// Redacted replaces every secret value in output.
const Redacted = "<redacted>"

// Redactor hides the secret values of mailcow.conf files wherever they
// occur in a text. A nil *Redactor hides nothing.
type Redactor struct {
	values []string
}

// NewRedactor returns a Redactor for the secrets in the given
// mailcow.conf contents (nil or empty ones are skipped). A secret is the
// value of a KEY=VALUE line, commented out or not, whose key contains
// PASS, SECRET, KEY or TOKEN (in any case), or is DBROOT (the MySQL root
// password); keys ending in _SCHEME name an algorithm, not a secret
// (MAILCOW_PASS_SCHEME=BLF-CRYPT). Values shorter than MinSecretLen are
// ignored.
func NewRedactor(confs ...[]byte) *Redactor {
	set := map[string]bool{}
	for _, c := range confs {
		for _, v := range secretValues(c) {
			if len(v) >= MinSecretLen {
				set[v] = true
			}
		}
	}
	r := &Redactor{}
	for v := range set {
		r.values = append(r.values, v)
	}
	sort.Strings(r.values)
	return r
}

// Len returns the number of distinct secret values r hides.
func (r *Redactor) Len() int {
	if r == nil {
		return 0
	}
	return len(r.values)
}

// String returns s with every secret value replaced by Redacted.
// Overlapping secrets are hidden as one: a plain replacer would hide the
// first and leave the rest of the second in clear.
func (r *Redactor) String(s string) string {
	if r == nil || len(r.values) == 0 {
		return s
	}
	type span struct{ from, to int }
	var spans []span
	for _, v := range r.values {
		for i := 0; i <= len(s)-len(v); {
			j := strings.Index(s[i:], v)
			if j < 0 {
				break
			}
			spans = append(spans, span{i + j, i + j + len(v)})
			i += j + 1
		}
	}
	if len(spans) == 0 {
		return s
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
	var b strings.Builder
	b.Grow(len(s))
	pos := 0
	for k := 0; k < len(spans); {
		from, to := spans[k].from, spans[k].to
		for k++; k < len(spans) && spans[k].from < to; k++ {
			to = max(to, spans[k].to)
		}
		b.WriteString(s[pos:from])
		b.WriteString(Redacted)
		pos = to
	}
	b.WriteString(s[pos:])
	return b.String()
}

// Bytes returns b with every secret value replaced by Redacted. It
// returns b itself when there is nothing to hide.
func (r *Redactor) Bytes(b []byte) []byte {
	if r == nil || len(r.values) == 0 {
		return b
	}
	s := string(b)
	out := r.String(s)
	if out == s {
		return b
	}
	return []byte(out)
}

// IsSecretKey reports whether a mailcow.conf key holds a secret, by the
// rule NewRedactor documents.
func IsSecretKey(key string) bool {
	k := strings.ToUpper(key)
	if strings.HasSuffix(k, "_SCHEME") {
		return false
	}
	if k == "DBROOT" {
		return true
	}
	for _, w := range []string{"PASS", "SECRET", "KEY", "TOKEN"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// secretValues returns every form a secret value may take in other
// files: without quotes, and without a trailing comment.
func secretValues(conf []byte) []string {
	var out []string
	for _, line := range lines(conf) {
		key, raw, ok := assignment(line, true)
		if !ok || !IsSecretKey(key) {
			continue
		}
		// The quoted form contains the unquoted one, which is enough.
		v := unquote(raw)
		out = append(out, v)
		if v == raw {
			if i := strings.Index(raw, " #"); i >= 0 {
				out = append(out, strings.TrimSpace(raw[:i]))
			}
		}
	}
	return out
}

// assignment splits a KEY=VALUE line of a shell-style env file. With
// commented, a line commented out with # counts too: an admin's old
// password kept in a comment is still a secret.
func assignment(line string, commented bool) (key, value string, ok bool) {
	line = strings.TrimSpace(line)
	if commented {
		line = strings.TrimSpace(strings.TrimLeft(line, "#"))
	} else if strings.HasPrefix(line, "#") {
		return "", "", false
	}
	line = strings.TrimPrefix(line, "export ")
	key, value, ok = strings.Cut(line, "=")
	if !ok {
		return "", "", false
	}
	key = strings.TrimSpace(key)
	if key == "" || strings.ContainsAny(key, " \t\"'") {
		return "", "", false
	}
	return key, strings.TrimSpace(value), true
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// confKeys returns the active (not commented out) keys of a mailcow.conf
// and their values, and the keys in file order.
func confKeys(conf []byte) (map[string]string, []string) {
	m := map[string]string{}
	var order []string
	for _, line := range lines(conf) {
		k, v, ok := assignment(line, false)
		if !ok {
			continue
		}
		if _, dup := m[k]; !dup {
			order = append(order, k)
		}
		m[k] = unquote(v)
	}
	return m, order
}

// lines splits b at \n with no limit on a line's length: a scanner that
// gave up on a long line would silently miss the secrets after it.
func lines(b []byte) []string {
	return strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
}
