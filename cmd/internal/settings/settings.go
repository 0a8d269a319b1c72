// Package settings reads the settings of mailcow's configuration files as
// named values, so that two versions of a file, or a file and the file
// that overrides it, can be compared setting by setting instead of line
// by line.
//
// One reader serves the formats mailcow ships, because they share a
// shape: postfix main.cf (key = value, continuation lines indented),
// php.ini and php-fpm pools ([section], key = value), dovecot (key =
// value, nested "name {" blocks), rspamd's UCL (key = value;, nested
// blocks), SOGo's plist-like sogo.conf (key = value; inside one outer
// block) and clamd.conf (Key value). A setting is named by the sections
// and blocks that hold it and its key: "[web-worker] pm.max_children",
// "actions reject", "WOWorkersCount". The reader is tolerant: a line it
// cannot read is skipped, never an error: these are the admin's files and
// upstream's, and a comparison must not stop on one odd line.
//
// Parse serves comparisons, one value per name. The checks that need what
// a program itself reads, in file order, use the exact readers of
// formats.go: [Postfix], [UCL] and [Dovecot].
package settings

import (
	"path"
	"strings"
)

// Setting is one named value.
type Setting struct {
	Value string
	// Line is where the key is (1-based).
	Line int
}

// Map is a file's settings by name.
type Map map[string]Setting

// maxDepth bounds block nesting: deeper blocks are read as their
// outermost sixteen.
const maxDepth = 16

// Parse reads the settings of content; file (slash-separated, relative to
// the mailcow dir) picks the dialect.
func Parse(file string, content []byte) Map {
	d := dialectOf(file)
	m := Map{}
	var stack []string // open sections and blocks
	section := ""      // an INI [section]
	lastKey := ""
	lines := strings.Split(string(content), "\n")
	for i := 0; i < len(lines); i++ {
		raw := strings.TrimRight(lines[i], "\r")
		if d.continuation && lastKey != "" && raw != "" && (raw[0] == ' ' || raw[0] == '\t') {
			s := m[lastKey]
			s.Value = strings.TrimSpace(s.Value + " " + stripComment(strings.TrimSpace(raw), d))
			m[lastKey] = s
			continue
		}
		lastKey = ""
		l := strings.TrimSpace(stripComment(strings.TrimSpace(raw), d))
		if l == "" {
			continue
		}
		if d.iniSections && strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") && !strings.Contains(l, "=") {
			section = "[" + strings.TrimSpace(l[1:len(l)-1]) + "]"
			continue
		}
		if d.blocks {
			// A closing brace ends the innermost block.
			for strings.HasPrefix(l, "}") {
				if len(stack) > 0 {
					stack = stack[:len(stack)-1]
				}
				l = strings.TrimSpace(strings.TrimLeft(strings.TrimPrefix(l, "}"), ";,"))
			}
			if l == "" {
				continue
			}
			if strings.HasSuffix(l, "{") && !strings.Contains(l, "=") {
				name := strings.TrimSpace(strings.TrimSuffix(l, "{"))
				if len(stack) < maxDepth {
					stack = append(stack, name)
				}
				continue
			}
		}
		key, value, ok := d.split(l)
		if !ok {
			continue
		}
		if d.blocks && strings.HasSuffix(value, "{") {
			// "name = {" opens a block named by its key.
			if len(stack) < maxDepth {
				stack = append(stack, key)
			}
			continue
		}
		if d.blocks && strings.HasPrefix(value, "(") && !strings.Contains(value, ")") {
			// A SOGo list over several lines: read to its end.
			var b strings.Builder
			b.WriteString(value)
			for i+1 < len(lines) && !strings.Contains(lines[i], ")") {
				i++
				b.WriteString(" " + strings.TrimSpace(lines[i]))
			}
			value = b.String()
		}
		name := key
		if prefix := strings.TrimSpace(strings.Join(append([]string{section}, nonEmpty(stack)...), " ")); prefix != "" {
			name = prefix + " " + key
		}
		m[name] = Setting{Value: normValue(value, d), Line: i + 1}
		lastKey = name
	}
	return m
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// dialect is what differs between the formats.
type dialect struct {
	comments     []string // line-comment starts
	iniSections  bool     // [section] lines
	blocks       bool     // name { … } blocks
	continuation bool     // an indented line continues the value
	spaceSep     bool     // "Key value" as well as "key = value"
	semicolons   bool     // values end with ;
}

func dialectOf(file string) dialect {
	base := path.Base(file)
	switch {
	case strings.HasPrefix(file, "data/conf/postfix/"):
		return dialect{comments: []string{"#"}, continuation: true}
	case strings.HasPrefix(file, "data/conf/phpfpm/") || strings.HasSuffix(base, ".ini"):
		return dialect{comments: []string{";", "#"}, iniSections: true}
	case strings.HasPrefix(file, "data/conf/clamav/"):
		return dialect{comments: []string{"#"}, spaceSep: true}
	case strings.HasPrefix(file, "data/conf/sogo/"):
		return dialect{comments: []string{"//", "/*"}, blocks: true, semicolons: true}
	case strings.HasPrefix(file, "data/conf/rspamd/"):
		return dialect{comments: []string{"#", "//"}, blocks: true, semicolons: true}
	case strings.HasPrefix(file, "data/conf/dovecot/"):
		return dialect{comments: []string{"#"}, blocks: true}
	case base == "mailcow.conf" || strings.HasSuffix(base, ".env"):
		return dialect{comments: []string{"#"}}
	}
	return dialect{comments: []string{"#", ";"}, iniSections: true}
}

// Known reports whether Parse has a dialect made for file, rather than
// the generic key = value reader.
func Known(file string) bool {
	for _, p := range []string{"data/conf/postfix/", "data/conf/phpfpm/", "data/conf/clamav/", "data/conf/sogo/", "data/conf/rspamd/", "data/conf/dovecot/"} {
		if strings.HasPrefix(file, p) {
			return true
		}
	}
	return path.Base(file) == "mailcow.conf"
}

func stripComment(l string, d dialect) string {
	for _, c := range d.comments {
		if strings.HasPrefix(l, c) {
			return ""
		}
	}
	return l
}

func (d dialect) split(l string) (key, value string, ok bool) {
	if k, v, found := strings.Cut(l, "="); found {
		key = strings.TrimSpace(k)
		if key != "" && !strings.ContainsAny(key, " \t\"'") || d.iniSections && key != "" {
			return key, strings.TrimSpace(v), true
		}
	}
	if d.spaceSep {
		f := strings.Fields(l)
		if len(f) >= 1 {
			return f[0], strings.Join(f[1:], " "), true
		}
	}
	return "", "", false
}

func normValue(v string, d dialect) string {
	v = strings.TrimSpace(v)
	if d.semicolons {
		v = strings.TrimSpace(strings.TrimSuffix(v, ";"))
	}
	return strings.Join(strings.Fields(v), " ")
}

// Change is one setting that differs between two versions.
type Change struct {
	Name     string
	Old, New string
	// Added and Removed say which side lacks the setting.
	Added, Removed bool
}

// Diff lists the settings that differ from a to b, by name.
func Diff(a, b Map) map[string]Change {
	out := map[string]Change{}
	for k, s := range a {
		t, ok := b[k]
		switch {
		case !ok:
			out[k] = Change{Name: k, Old: s.Value, Removed: true}
		case t.Value != s.Value:
			out[k] = Change{Name: k, Old: s.Value, New: t.Value}
		}
	}
	for k, t := range b {
		if _, ok := a[k]; !ok {
			out[k] = Change{Name: k, New: t.Value, Added: true}
		}
	}
	return out
}
