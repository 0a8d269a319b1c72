package config

import (
	"fmt"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/errlist"
)

// sourceLines is where each section and key of mcupdate.ini stands:
// ini.v1 keeps no line numbers, and it silently merges a repeated section
// and lets the last of a repeated key win.
type sourceLines struct {
	// enable is the line of [patches] enable, 0 when there is none.
	enable int
	// params holds the line of each key of each [patch NAME], by NAME.
	params map[string]map[string]int
	// validate holds the line of each key of [validate].
	validate map[string]int
}

// scanLines reads data line by line as ini.v1 does (comments, section
// headers, keys with = or :, """ and ` values over several lines,
// continuation lines ending in \) and returns where every key stands. A
// section or a key that repeats is an error naming both lines: of
// `enable = a b` and a later `enable = c`, only the last would count, and
// the admin would lose the first list without a word.
func scanLines(file string, data []byte) (*sourceLines, error) {
	out := &sourceLines{params: map[string]map[string]int{}, validate: map[string]int{}}
	secLine := map[string]int{}
	keyLines := map[string]map[string]int{"": {}}
	cur := ""
	var errs []error
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		n := i + 1
		l := strings.TrimLeft(lines[i], " \t\r\v\f")
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		if l[0] == '[' {
			end := strings.LastIndexByte(l, ']')
			if end < 0 {
				continue // ini.v1 reports it
			}
			cur = canonicalSection(l[1:end])
			if prev, dup := secLine[cur]; dup {
				errs = append(errs, &Error{File: file, Line: n, Section: l[1:end], Err: fmt.Errorf("section repeats the one on line %d: merge them, or a key set in both silently loses one value", prev)})
			} else {
				secLine[cur] = n
			}
			if keyLines[cur] == nil {
				keyLines[cur] = map[string]int{}
			}
			continue
		}
		d := strings.IndexAny(l, "=:")
		if d <= 0 {
			continue // ini.v1 reports it
		}
		key := strings.TrimSpace(l[:d])
		if key != "-" && !strings.ContainsAny(key[:1], "\"`") {
			if prev, dup := keyLines[cur][key]; dup {
				errs = append(errs, &Error{File: file, Line: n, Section: sectionForError(cur), Key: key, Err: fmt.Errorf("set again: line %d sets it too; keep one, only the last would count", prev)})
			} else {
				keyLines[cur][key] = n
			}
			if cur == "patches" && key == "enable" {
				out.enable = n
			}
			if _, seen := out.validate[key]; cur == "validate" && !seen {
				out.validate[key] = n
			}
			if p, ok := strings.CutPrefix(cur, "patch "); ok {
				if out.params[p] == nil {
					out.params[p] = map[string]int{}
				}
				if _, dup := out.params[p][key]; !dup {
					out.params[p][key] = n
				}
			}
		}
		i = skipValue(lines, i, strings.TrimLeft(l[d+1:], " \t\v\f"))
	}
	if len(errs) > 0 {
		return nil, errlist.Join(errs...)
	}
	return out, nil
}

// canonicalSection names a section as parse reads it: [patch  x] and
// [patch x] both set the parameters of patch x.
func canonicalSection(name string) string {
	if name == "patch" || strings.HasPrefix(name, "patch ") {
		return "patch " + strings.TrimSpace(strings.TrimPrefix(name, "patch"))
	}
	return name
}

func sectionForError(sec string) string {
	if sec == "" {
		return "DEFAULT"
	}
	return sec
}

// skipValue returns the last line of the value that starts with v on line
// i: a """ or ` value runs to the line holding its closing quotes, a value
// ending in \ continues on the next line.
func skipValue(lines []string, i int, v string) int {
	// ini.v1 reads the value with its line's newline: `a = """` opens a
	// multi-line value unless it is the file's last line.
	withNL := v
	if i < len(lines)-1 {
		withNL += "\n"
	}
	for _, q := range []string{`"""`, "`"} {
		if q == `"""` && len(withNL) <= 3 || !strings.HasPrefix(v, q) {
			continue
		}
		if strings.Contains(v[len(q):], q) {
			return i
		}
		for j := i + 1; j < len(lines); j++ {
			if strings.Contains(lines[j], q) {
				return j
			}
		}
		return len(lines)
	}
	if !strings.HasSuffix(strings.TrimSpace(v), `\`) {
		return i
	}
	for j := i + 1; j < len(lines); j++ {
		next := strings.TrimSpace(lines[j])
		if next == "" || !strings.HasSuffix(next, `\`) {
			return j
		}
	}
	return len(lines)
}
