// Package secret is mcupdate's one rule for what is a secret, and the
// Redactor that hides secrets in every text mcupdate prints or stores:
// diffs (dry run, risk diff, replay), lost lines, reports, messages.
//
// # The rule
//
// A setting or variable holds a secret when a word of its name ends in
// PASS, PASSWORD, PASSWD, PASSPHRASE, SECRET, KEY or TOKEN (in any case,
// digits after it allowed), or it is DBROOT (mailcow's MySQL root
// password). Words are split at every character that is not a letter or
// digit and where a lower-case letter meets an upper-case one: DBPASS,
// API_KEY_READ_ONLY, smtp_sasl_password_maps, bindPassword and
// SOGoURLPathEncryptionKey are secrets; a name whose last word is SCHEME
// names an algorithm (MAILCOW_PASS_SCHEME=BLF-CRYPT), and keycloak or
// fts_tokenizer name no secret. [IsName] is the rule; mailcow.conf's
// variables, the settings of every other file and patch parameters use it
// alike.
//
// # Where secrets are found
//
// The Redactor hides a secret two ways. By setting: in every line it
// redacts, the value of a setting whose name the rule matches, in the
// syntaxes of the files mailcow admins edit — mailcow.conf and compose
// environments (KEY=VALUE, KEY: VALUE), postfix (smtp_sasl_password_maps =
// static:user:password, -o key=value in master.cf, lookup tables'
// password = …), dovecot (password = …, and password=… inside args = and
// connect = strings), rspamd (password = "…"; enable_password = "…";),
// SOGo (bindPassword = …; and every *Password* key), JSON ("key": "…") and
// PHP ('db_password' => '…') — and the password of a URL with user:pass@
// (SOGo's database URLs). A value that only points at a secret is kept:
// a path (/…, <…), a variable ($…, ${…}), a lookup table
// (hash:/…, proxy:mysql:/…), a boolean, an empty value.
//
// By value: every value found that way in the texts the Redactor has
// learned (mailcow.conf, the files a diff compares) is hidden wherever it
// appears, also in a line that does not name it. Values shorter than
// [MinLen] are only hidden where a setting names them: hiding "1" or
// "none" everywhere would garble every diff and protect nothing.
package secret

import (
	"sort"
	"strings"
)

// Redacted replaces a secret in the Redactor's output.
const Redacted = "<redacted>"

// MinLen is the shortest value a Redactor hides wherever it appears.
// mailcow generates secrets of 16 characters and more.
const MinLen = 6

// IsName reports whether a setting or variable named name holds a secret,
// by the rule in the package documentation. It allocates nothing: the
// redactor asks it for every setting of a file.
func IsName(name string) bool {
	found, n := false, 0
	var last string
	for i := 0; i < len(name); {
		for i < len(name) && !alnum(name[i]) {
			i++
		}
		if i == len(name) {
			break
		}
		j := i + 1
		for j < len(name) && alnum(name[j]) && !(upper(name[j]) && lower(name[j-1])) {
			j++
		}
		w := strings.TrimRight(name[i:j], "0123456789")
		for _, s := range secretWords {
			if len(w) >= len(s) && strings.EqualFold(w[len(w)-len(s):], s) {
				found = true
			}
		}
		last, n, i = name[i:j], n+1, j
	}
	switch {
	case n == 0 || strings.EqualFold(last, "SCHEME"):
		return false
	case n == 1 && strings.EqualFold(last, "DBROOT"):
		return true
	}
	return found
}

// secretWords end the words of secret names. Words are split at every
// byte that is not a letter or digit and where a lower-case letter meets
// an upper-case one: SOGoURLPathEncryptionKey is SOGo URLPath Encryption
// Key.
var secretWords = []string{"PASS", "PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "KEY", "TOKEN"}

func alnum(c byte) bool { return lower(c) || upper(c) || c >= '0' && c <= '9' }
func lower(c byte) bool { return c >= 'a' && c <= 'z' }
func upper(c byte) bool { return c >= 'A' && c <= 'Z' }

// Redactor hides secrets in texts. The zero Redactor, and a nil one, knows
// no values but still hides the values of secret settings.
type Redactor struct {
	values []string // sorted, without repeats
}

// NewRedactor returns a Redactor that has learned the secrets set in
// confs: mailcow.conf's contents (old and new), nil ones skipped.
func NewRedactor(confs ...[]byte) *Redactor {
	return (*Redactor)(nil).Learn(confs...)
}

// Learn returns a Redactor that also hides, wherever they appear, the
// secret values set in texts (config files, in any of the syntaxes the
// package documentation lists). r itself is unchanged.
func (r *Redactor) Learn(texts ...[]byte) *Redactor {
	set := map[string]bool{}
	if r != nil {
		for _, v := range r.values {
			set[v] = true
		}
	}
	n := len(set)
	for _, t := range texts {
		for _, v := range settingValues(string(t)) {
			set[v] = true
		}
	}
	if r != nil && len(set) == n {
		return r
	}
	out := &Redactor{}
	for v := range set {
		out.values = append(out.values, v)
	}
	sort.Strings(out.values)
	return out
}

// Join returns a Redactor that hides what r and o hide: r.Join(NewRedactor(a,
// b)) hides what r.Learn(a, b) does, for a caller that learns texts apart
// (concurrently) from the Redactor it adds them to. r itself is
// unchanged.
func (r *Redactor) Join(o *Redactor) *Redactor {
	if o.Len() == 0 {
		return r
	}
	if r.Len() == 0 {
		return o
	}
	out := &Redactor{values: make([]string, 0, len(r.values)+len(o.values))}
	i, j := 0, 0
	for i < len(r.values) || j < len(o.values) {
		switch {
		case j == len(o.values) || i < len(r.values) && r.values[i] < o.values[j]:
			out.values = append(out.values, r.values[i])
			i++
		case i == len(r.values) || o.values[j] < r.values[i]:
			out.values = append(out.values, o.values[j])
			j++
		default:
			out.values = append(out.values, r.values[i])
			i, j = i+1, j+1
		}
	}
	if len(out.values) == len(r.values) {
		return r
	}
	return out
}

// Len returns the number of distinct values r hides wherever they appear.
func (r *Redactor) Len() int {
	if r == nil {
		return 0
	}
	return len(r.values)
}

// String returns s with every secret hidden as Redacted: the values of
// secret settings in its lines, and every value r learned or s itself
// sets. Overlapping secrets are hidden as one: a plain replacer would hide
// the first and leave the rest of the second in clear.
func (r *Redactor) String(s string) string {
	out, learned := redactSettings(s)
	values := learned
	if r != nil {
		values = append(values, r.values...)
	}
	return replaceValues(out, values)
}

// Bytes is String for a byte slice; it returns b itself when there is
// nothing to hide.
func (r *Redactor) Bytes(b []byte) []byte {
	s := string(b)
	out := r.String(s)
	if out == s {
		return b
	}
	return []byte(out)
}

// replaceValues hides every occurrence of values in s.
func replaceValues(s string, values []string) string {
	type span struct{ from, to int }
	var spans []span
	for _, v := range values {
		if v == "" {
			continue
		}
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
