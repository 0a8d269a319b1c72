package settings

import (
	"bytes"
	"strings"
)

// The exact readers of the formats whose checks need what the program
// itself reads, in file order (Parse keeps one value per name, for
// comparing): postfix's main.cf (the last setting of a name wins, and
// where it is), rspamd's UCL (lists and quoted strings) and dovecot's
// configuration (sections and !include lines). verify's pitfall checks
// use them. They never fail: a shape they do not know is skipped, since
// mcupdate is not the programs' own config checker and must not stop on a
// file they accept.

// Lines splits data at \n (a trailing \r dropped) with no limit on a
// line's length: a scanner that gave up on a long line would stop the
// check.
func Lines(data []byte) []string {
	ls := strings.Split(string(data), "\n")
	if len(ls) > 0 && ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	for i, l := range ls {
		ls[i] = strings.TrimSuffix(l, "\r")
	}
	return ls
}

// PostfixParam is one parameter a main.cf-style file sets.
type PostfixParam struct {
	Key, Value string
	// Line is where the parameter's name is (1-based).
	Line int
}

// Postfix returns the parameters of a main.cf-style file in file
// order, as postconf(5) reads them: a logical line starts with non-blank
// text; a line that starts with white space continues it (joined with one
// space); empty lines and lines whose first non-blank character is # are
// skipped, also inside a continued line. The last setting of a name wins.
func Postfix(data []byte) []PostfixParam {
	var out []PostfixParam
	cur := -1
	for i, l := range Lines(data) {
		t := strings.TrimSpace(l)
		if t == "" || t[0] == '#' {
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			if cur >= 0 {
				out[cur].Value = strings.TrimSpace(out[cur].Value + " " + t)
			}
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok || strings.TrimSpace(k) == "" {
			cur = -1
			continue
		}
		out = append(out, PostfixParam{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v), Line: i + 1})
		cur = len(out) - 1
	}
	return out
}

// LastPostfix returns the setting of name that postfix uses: the last.
func LastPostfix(ps []PostfixParam, name string) (PostfixParam, bool) {
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i].Key == name {
			return ps[i], true
		}
	}
	return PostfixParam{}, false
}

// UCLPair is one `key = value` of an rspamd (UCL) file.
type UCLPair struct {
	// Path are the keys of the objects the pair is in, outermost first
	// ("clamav" for max_size in antivirus.conf's clamav { ... }).
	Path []string
	Key  string
	// Values are the value's strings, unquoted: one for a scalar, one
	// per element for a list (nested lists and objects left out).
	Values []string
	List   bool
	// Line is where the key is (1-based).
	Line int
}

// UCL returns the key = value pairs of an rspamd config file in file
// order: keys and values quoted or not, `=`, `:` or nothing between them,
// objects (`key {`, `key "name" {`) and lists, `;` and `,` separators,
// comments (#, // and nested /* */ at the start of a token). Macros
// (.include ...) and heredocs are skipped.
func UCL(data []byte) []UCLPair {
	s := &uclScanner{data: data, line: 1}
	var out []UCLPair
	var path []string
	var frames []int // how many keys each open brace added to path
	open := func(keys ...string) {
		path = append(path, keys...)
		frames = append(frames, len(keys))
	}
	for {
		s.skipBlank(true)
		if s.eof() {
			return out
		}
		switch c := s.data[s.pos]; c {
		case '}':
			s.pos++
			if n := len(frames); n > 0 {
				path = path[:len(path)-frames[n-1]]
				frames = frames[:n-1]
			}
			continue
		case ']', ';', ',', '=', ':', '{', '[':
			// Out of place: step over it. '{' without a key opens an
			// anonymous object, kept so its '}' pops the right level.
			s.pos++
			if c == '{' {
				open()
			}
			continue
		case '.':
			s.skipLine()
			continue
		}
		line := s.line
		key, ok := s.word()
		if !ok {
			s.pos++
			continue
		}
		if key == "" {
			continue // "" = ...: no key to look up
		}
		s.skipBlank(false)
		if !s.eof() && (s.data[s.pos] == '=' || s.data[s.pos] == ':') {
			s.pos++
			s.skipBlank(true)
		}
		if s.eof() {
			return out
		}
		switch s.data[s.pos] {
		case '{':
			s.pos++
			open(key)
			continue
		case '[':
			s.pos++
			out = append(out, UCLPair{Path: clonePath(path), Key: key, Values: s.list(), List: true, Line: line})
			continue
		}
		if bytes.HasPrefix(s.data[s.pos:], []byte("<<")) {
			s.heredoc()
			continue
		}
		v, ok := s.value()
		if !ok {
			continue
		}
		// `key "name" {` names an object.
		s.skipBlank(false)
		if !s.eof() && s.data[s.pos] == '{' {
			s.pos++
			open(key, v)
			continue
		}
		out = append(out, UCLPair{Path: clonePath(path), Key: key, Values: []string{v}, Line: line})
	}
}

func clonePath(p []string) []string {
	if len(p) == 0 {
		return nil
	}
	return append([]string(nil), p...)
}

type uclScanner struct {
	data []byte
	pos  int
	line int
}

func (s *uclScanner) eof() bool { return s.pos >= len(s.data) }

// skipBlank steps over white space and comments; over line ends too when
// lines is true.
func (s *uclScanner) skipBlank(lines bool) {
	for !s.eof() {
		c := s.data[s.pos]
		switch {
		case c == '\n':
			if !lines {
				return
			}
			s.line++
			s.pos++
		case c == ' ' || c == '\t' || c == '\r':
			s.pos++
		case c == '#', c == '/' && s.pos+1 < len(s.data) && s.data[s.pos+1] == '/':
			s.skipLine()
		case c == '/' && s.pos+1 < len(s.data) && s.data[s.pos+1] == '*':
			s.skipComment()
		default:
			return
		}
	}
}

// skipLine steps to the line end (not over it).
func (s *uclScanner) skipLine() {
	for !s.eof() && s.data[s.pos] != '\n' {
		s.pos++
	}
}

// skipComment steps over a /* */ comment; they nest in UCL.
func (s *uclScanner) skipComment() {
	depth := 0
	for !s.eof() {
		switch {
		case bytes.HasPrefix(s.data[s.pos:], []byte("/*")):
			depth++
			s.pos += 2
		case bytes.HasPrefix(s.data[s.pos:], []byte("*/")):
			depth--
			s.pos += 2
			if depth == 0 {
				return
			}
		default:
			if s.data[s.pos] == '\n' {
				s.line++
			}
			s.pos++
		}
	}
}

// word reads a key: quoted, or up to white space or a delimiter.
func (s *uclScanner) word() (string, bool) {
	if c := s.data[s.pos]; c == '"' || c == '\'' {
		return s.quoted(), true
	}
	start := s.pos
	for !s.eof() && !strings.ContainsRune(" \t\r\n=:{}[];,\"'#", rune(s.data[s.pos])) {
		s.pos++
	}
	return string(s.data[start:s.pos]), s.pos > start
}

// quoted reads a quoted string; a backslash escapes the next byte. An
// unterminated string ends at the end of the data.
func (s *uclScanner) quoted() string {
	q := s.data[s.pos]
	s.pos++
	var b strings.Builder
	for !s.eof() {
		c := s.data[s.pos]
		s.pos++
		switch {
		case c == q:
			return b.String()
		case c == '\\' && q == '"' && !s.eof():
			c = s.data[s.pos]
			s.pos++
		}
		if c == '\n' {
			s.line++
		}
		b.WriteByte(c)
	}
	return b.String()
}

// value reads a scalar: quoted, or up to ; , a line end, } ] or a comment
// that starts after white space, without the trailing blanks.
func (s *uclScanner) value() (string, bool) {
	if c := s.data[s.pos]; c == '"' || c == '\'' {
		return s.quoted(), true
	}
	start := s.pos
	for !s.eof() {
		c := s.data[s.pos]
		if c == ';' || c == ',' || c == '\n' || c == '}' || c == ']' {
			break
		}
		if (c == '#' || c == '/' && s.pos+1 < len(s.data) && (s.data[s.pos+1] == '/' || s.data[s.pos+1] == '*')) &&
			s.pos > start && (s.data[s.pos-1] == ' ' || s.data[s.pos-1] == '\t') {
			break
		}
		s.pos++
	}
	v := strings.TrimRight(string(s.data[start:s.pos]), " \t\r")
	return v, v != ""
}

// list reads a list's elements up to its ], after the [. Nested lists and
// objects are stepped over.
func (s *uclScanner) list() []string {
	var out []string
	for {
		s.skipBlank(true)
		if s.eof() {
			return out
		}
		switch s.data[s.pos] {
		case ']':
			s.pos++
			return out
		case ',', ';':
			s.pos++
			continue
		case '[', '{':
			s.skipNested()
			continue
		case '}':
			// Malformed: the list ends here, the object's } is left.
			return out
		}
		if v, ok := s.value(); ok {
			out = append(out, v)
		} else {
			s.pos++
		}
	}
}

// skipNested steps over a nested list or object, strings and comments
// included.
func (s *uclScanner) skipNested() {
	depth := 0
	for !s.eof() {
		switch c := s.data[s.pos]; {
		case c == '[' || c == '{':
			depth++
			s.pos++
		case c == ']' || c == '}':
			depth--
			s.pos++
			if depth == 0 {
				return
			}
		case c == '"' || c == '\'':
			s.quoted()
		case c == '\n' || c == ' ' || c == '\t' || c == '\r' || c == '#' || c == '/':
			before := s.pos
			s.skipBlank(true)
			if s.pos == before {
				s.pos++
			}
		default:
			s.pos++
		}
	}
}

// heredoc steps over <<TAG ... TAG.
func (s *uclScanner) heredoc() {
	s.pos += 2
	start := s.pos
	s.skipLine()
	tag := strings.TrimSpace(string(s.data[start:s.pos]))
	for !s.eof() {
		s.pos++ // the \n
		s.line++
		ls := s.pos
		s.skipLine()
		if tag != "" && strings.TrimSpace(string(s.data[ls:s.pos])) == tag {
			return
		}
	}
}

// DovecotSetting is one `key = value` of a dovecot configuration file.
type DovecotSetting struct {
	// Section are the sections the setting is in, outermost first, each
	// as written without its brace ("service indexer-worker").
	Section []string
	Key     string
	Value   string
	// Line is 1-based.
	Line int
}

// DovecotInclude is an !include or !include_try line.
type DovecotInclude struct {
	Path string
	Line int
}

// Dovecot returns the settings and includes of a dovecot
// configuration file in file order: `key = value` lines, sections opened
// by a line ending in { and closed by }, # comments at a line's start or
// after white space outside quotes.
func Dovecot(data []byte) ([]DovecotSetting, []DovecotInclude) {
	var (
		sets []DovecotSetting
		incs []DovecotInclude
		path []string
	)
	for i, l := range Lines(data) {
		t := strings.TrimSpace(dovecotUncomment(l))
		switch {
		case t == "":
		case t == "}":
			if len(path) > 0 {
				path = path[:len(path)-1]
			}
		case strings.HasPrefix(t, "!include"):
			if f := strings.Fields(t); len(f) == 2 && (f[0] == "!include" || f[0] == "!include_try") {
				incs = append(incs, DovecotInclude{Path: strings.Trim(f[1], `"`), Line: i + 1})
			}
		case strings.HasSuffix(t, "{") && !strings.Contains(t, "="):
			path = append(path, strings.Join(strings.Fields(strings.TrimSuffix(t, "{")), " "))
		default:
			k, v, ok := strings.Cut(t, "=")
			if k = strings.TrimSpace(k); ok && k != "" && !strings.ContainsAny(k, " \t") {
				sets = append(sets, DovecotSetting{Section: clonePath(path), Key: k, Value: strings.TrimSpace(v), Line: i + 1})
			}
		}
	}
	return sets, incs
}

// dovecotUncomment drops a # comment: at the line's start, or after white
// space outside double quotes.
func dovecotUncomment(l string) string {
	quoted := false
	for i := 0; i < len(l); i++ {
		switch l[i] {
		case '"':
			quoted = !quoted
		case '#':
			if !quoted && (strings.TrimSpace(l[:i]) == "" || l[i-1] == ' ' || l[i-1] == '\t') {
				return l[:i]
			}
		}
	}
	return l
}
