// Package patches re-applies a mailcow admin's declarative edits after
// update.sh's `git merge -Xtheirs` has silently dropped them.
//
// # Patches
//
// A patch is a small INI file (see README.md beside this file for the
// format) naming edits to files under the mailcow directory, the parameters
// it takes and the compose services to restart when it changed something.
// [Parse] reads one, [Library] returns the shipped ones, [LoadDir] an
// admin's own, [Resolve] binds the enabled ones to their parameters and
// [Apply] runs them.
//
// # One code path
//
// Apply, dry run and check are the same computation: every new file content
// of a patch is computed in memory first, then written through a [Writer]
// (the real atomic one, a recorder, or none at all for a check). A patch is
// applied all or none: when one of its edits fails nothing of it is written,
// and when a write fails half-way the files already written are restored.
//
// # Rules every edit keeps
//
// Idempotent (a second apply changes nothing), minimal (bytes outside the
// edited key, line or block stay as they were: comments, spacing, CRLF, a
// missing final newline), strict (a missing section, key or anchor line is
// an error naming the patch, the file and the anchor; nothing is ever
// appended at the end of a file as a guess).
package patch

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/ini.v1"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

// Kind is the kind of an edit.
type Kind string

// The edit kinds.
const (
	KindINI   Kind = "ini"
	KindEnv   Kind = "env"
	KindLine  Kind = "line"
	KindBlock Kind = "block"
	KindJSON  Kind = "json"
	KindFile  Kind = "file"
	KindMode  Kind = "mode"
	// KindCheck marks the result of a [check NAME] that failed.
	KindCheck Kind = "check"
)

// Restart says how a service picks up a changed file.
type Restart string

// The restart methods.
const (
	// RestartRestart is `docker compose restart SVC`: enough for files the
	// container reads at start.
	RestartRestart Restart = "restart"
	// RestartRecreate is `docker compose up -d SVC`: needed when a
	// mailcow.conf variable changed, since the environment is fixed at
	// container creation.
	RestartRecreate Restart = "recreate"
)

// Sentinel errors to branch on with errors.Is.
var (
	// ErrSyntax marks a malformed patch file.
	ErrSyntax = errors.New("invalid patch")
	// ErrUnknownPatch marks an enabled patch name that does not exist.
	ErrUnknownPatch = errors.New("unknown patch")
	// ErrParam marks a parameter that is unset, unknown or malformed.
	ErrParam = errors.New("parameter error")
	// ErrAnchorMissing marks a section, key or anchor line that is gone.
	ErrAnchorMissing = errors.New("anchor missing")
	// ErrFileMissing marks an edited file that does not exist.
	ErrFileMissing = errors.New("file missing")
	// ErrAmbiguous marks an anchor or match that hits more than one line.
	ErrAmbiguous = errors.New("ambiguous anchor")
)

// ParseError is a problem in a patch file, with the line it is on (0 when
// the problem is not on one line, such as a missing key).
type ParseError struct {
	File string // patch file name
	Line int
	Err  error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Edit is one edit of a patch, as written in its [edit NAME] section.
// Values still hold their ${PARAM} references; [Resolve] substitutes them.
type Edit struct {
	Name string
	Kind Kind
	File string // relative to the mailcow dir, slash-separated, clean

	// ini, env
	Section string
	Key     string
	Value   string
	Add     bool // missing = add: a missing key is appended (ini: at the end of its section)

	// line
	Line  string
	Match string // regexp; default: the line itself, literally
	// Sizes is a size dialect (SizesClamd, …): a line that writes the
	// same sizes in other units counts as applied and is left as it is.
	Sizes string
	// line, block
	After    string // regexp of the anchor line
	Position string // "end", or empty

	// block
	Comment string // marker prefix, default "#"
	// block, file
	Content string
	// file
	Source string // file relative to the patch, read at parse time by LoadDir
	Perm   uint32 // file: mode of a created file; mode: wanted permissions
	// json
	Path     []string
	JSONText string

	// mode
	HasPerm   bool
	UID, GID  int // -1 for unchanged
	Recursive bool

	Create bool // the file may be missing and is then created

	lines map[string]int // key → line in the patch source, for errors
}

// Patch is one parsed patch file.
type Patch struct {
	Name        string
	Description string
	Params      []string          // names, in order
	Defaults    map[string]string // from [defaults]
	// Types holds the declared type of each parameter ([types]); a
	// parameter without one is text.
	Types map[string]ParamType
	// Checks are the rules a parameter must keep against the file the
	// patch edits ([check NAME]).
	Checks   []*Check
	Services []string
	Restart  Restart
	Edits    []*Edit
	// Origin is where the patch came from: "library" or a file path.
	Origin string

	src  string // file name for errors
	line map[string]int
}

var (
	editHeader = regexp.MustCompile(`^\s*\[\s*([^\]]*?)\s*\]\s*$`)
	keyLine    = regexp.MustCompile(`^\s*([^=\s]+)\s*=`)
	paramName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	editName   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	modeValue  = regexp.MustCompile(`^0?[0-7]{3,4}$`)
	ownerValue = regexp.MustCompile(`^([0-9]+)(?::([0-9]+))?$`)
)

// keysByKind lists the keys each kind allows besides file and kind.
var keysByKind = map[Kind][]string{
	KindINI:   {"section", "key", "value", "missing", "create"},
	KindEnv:   {"key", "value", "missing", "create"},
	KindLine:  {"line", "match", "after", "position", "create", "sizes"},
	KindBlock: {"content", "after", "position", "comment", "create"},
	KindJSON:  {"path", "value", "missing"},
	KindFile:  {"content", "source", "mode"},
	KindMode:  {"mode", "owner", "recursive"},
}

// sourceLines finds the line of every section header and key in src, since
// ini.v1 keeps no line numbers. It also reports duplicate sections and keys,
// which ini.v1 would silently merge.
func sourceLines(name string, src []byte) (secLine map[string]int, keyLines map[string]map[string]int, err error) {
	secLine = map[string]int{"": 0}
	keyLines = map[string]map[string]int{"": {}}
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	inMulti := false
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if inMulti {
			if strings.Contains(l, `"""`) {
				inMulti = false
			}
			continue
		}
		t := strings.TrimSpace(l)
		if t == "" || t[0] == '#' || t[0] == ';' {
			continue
		}
		if m := editHeader.FindStringSubmatch(l); m != nil {
			cur = strings.Join(strings.Fields(m[1]), " ")
			if prev, dup := secLine[cur]; dup {
				return nil, nil, &ParseError{File: name, Line: n, Err: fmt.Errorf("%w: section [%s] repeats the one on line %d", ErrSyntax, cur, prev)}
			}
			secLine[cur] = n
			keyLines[cur] = map[string]int{}
			continue
		}
		if m := keyLine.FindStringSubmatch(l); m != nil {
			if prev, dup := keyLines[cur][m[1]]; dup {
				return nil, nil, &ParseError{File: name, Line: n, Err: fmt.Errorf("%w: key %q repeats the one on line %d", ErrSyntax, m[1], prev)}
			}
			keyLines[cur][m[1]] = n
			rest := strings.TrimSpace(l[strings.Index(l, "=")+1:])
			if strings.HasPrefix(rest, `"""`) && !strings.Contains(rest[3:], `"""`) {
				inMulti = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, &ParseError{File: name, Err: fmt.Errorf("%w: %v", ErrSyntax, err)}
	}
	return secLine, keyLines, nil
}

// Parse reads one patch. name is the patch's file name (its base name
// without .ini is the patch name); every error names it and, where there is
// one, the line.
func Parse(name string, src []byte) (*Patch, error) {
	pname := strings.TrimSuffix(path.Base(name), ".ini")
	if !editName.MatchString(pname) {
		return nil, &ParseError{File: name, Err: fmt.Errorf("%w: patch name %q: use letters, digits, '.', '_' and '-'", ErrSyntax, pname)}
	}
	// No config file a patch edits holds a NUL byte: one here means a
	// binary or damaged file, and would be written into mailcow's.
	if i := bytes.IndexByte(src, 0); i >= 0 {
		return nil, &ParseError{File: name, Line: 1 + bytes.Count(src[:i], []byte("\n")), Err: fmt.Errorf("%w: NUL byte", ErrSyntax)}
	}
	secLine, keyLines, err := sourceLines(name, src)
	if err != nil {
		return nil, err
	}
	f, err := ini.LoadSources(ini.LoadOptions{
		// Values are literal: `enabled = false;` must keep its ';' and
		// `"20"` its quotes. Only " ;" and " #" start a comment.
		SpaceBeforeInlineComment: true,
		PreserveSurroundedQuote:  true,
		IgnoreContinuation:       true,
		KeyValueDelimiters:       "=",
		ChildSectionDelimiter:    "\x00",
	}, src)
	if err != nil {
		return nil, &ParseError{File: name, Err: fmt.Errorf("%w: %v", ErrSyntax, err)}
	}
	p := &Patch{Name: pname, src: name, Defaults: map[string]string{}, Types: map[string]ParamType{}, Restart: RestartRestart, line: keyLines[""]}
	lineOf := func(sec, key string) int {
		if key == "" {
			return secLine[sec]
		}
		if n, ok := keyLines[sec][key]; ok {
			return n
		}
		return secLine[sec]
	}
	perr := func(sec, key string, format string, a ...any) error {
		return &ParseError{File: name, Line: lineOf(sec, key), Err: fmt.Errorf("%w: "+format, append([]any{ErrSyntax}, a...)...)}
	}
	var errs []error
	for _, sec := range f.Sections() {
		sname := sec.Name()
		if sname == ini.DefaultSection {
			for _, k := range sec.Keys() {
				switch k.Name() {
				case "description":
					p.Description = k.Value()
				case "params":
					for _, pn := range strings.FieldsFunc(k.Value(), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
						if !paramName.MatchString(pn) {
							errs = append(errs, perr("", "params", "params: %q is not a parameter name (letters, digits, _)", pn))
							continue
						}
						p.Params = append(p.Params, pn)
					}
				case "services":
					p.Services = strings.FieldsFunc(k.Value(), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
				case "restart":
					switch r := Restart(k.Value()); r {
					case RestartRestart, RestartRecreate:
						p.Restart = r
					default:
						errs = append(errs, perr("", "restart", "restart = %q: want restart or recreate", k.Value()))
					}
				default:
					errs = append(errs, perr("", k.Name(), "unknown key %q (want %s)", k.Name(), "description, params, services, restart"))
				}
			}
			continue
		}
		fields := strings.Fields(sname)
		switch {
		case len(fields) == 1 && fields[0] == "defaults":
			for _, k := range sec.Keys() {
				p.Defaults[k.Name()] = k.Value()
			}
		case len(fields) == 1 && fields[0] == "types":
			for _, k := range sec.Keys() {
				t, err := parseType(k.Value())
				if err != nil {
					errs = append(errs, perr("types", k.Name(), "[types] %s: %v", k.Name(), err))
					continue
				}
				p.Types[k.Name()] = t
			}
		case len(fields) == 2 && fields[0] == "check":
			if !editName.MatchString(fields[1]) {
				errs = append(errs, perr(sname, "", "[%s]: check name %q: use letters, digits, '.', '_' and '-'", sname, fields[1]))
				continue
			}
			c, cerrs := parseCheck(fields[1], sec, func(key string) int { return lineOf(strings.Join(fields, " "), key) }, name)
			errs = append(errs, cerrs...)
			if c != nil {
				p.Checks = append(p.Checks, c)
			}
		case len(fields) == 2 && fields[0] == "edit":
			if !editName.MatchString(fields[1]) {
				errs = append(errs, perr(sname, "", "[%s]: edit name %q: use letters, digits, '.', '_' and '-'", sname, fields[1]))
				continue
			}
			e, eerrs := parseEdit(fields[1], sec, func(key string) int { return lineOf(strings.Join(fields, " "), key) }, name)
			errs = append(errs, eerrs...)
			if e != nil {
				p.Edits = append(p.Edits, e)
			}
		default:
			errs = append(errs, perr(sname, "", "unknown section [%s] (want [edit NAME], [check NAME], [defaults] or [types])", sname))
		}
	}
	if p.Description == "" {
		errs = append(errs, &ParseError{File: name, Err: fmt.Errorf("%w: missing key description", ErrSyntax)})
	}
	if len(p.Edits) == 0 && len(errs) == 0 {
		errs = append(errs, &ParseError{File: name, Err: fmt.Errorf("%w: no [edit NAME] section", ErrSyntax)})
	}
	declared := map[string]bool{}
	for _, pn := range p.Params {
		declared[pn] = true
	}
	for k, v := range p.Defaults {
		if !declared[k] {
			errs = append(errs, perr("defaults", k, "[defaults] %s is not listed in params", k))
		} else if err := p.Types[k].orText().checkValue(k, v); err != nil {
			errs = append(errs, perr("defaults", k, "[defaults] %s: %v (declared %s)", k, err, p.Types[k].orText().Spec))
		}
	}
	for k := range p.Types {
		if !declared[k] {
			errs = append(errs, perr("types", k, "[types] %s is not listed in params", k))
		}
	}
	for _, c := range p.Checks {
		switch t, ok := p.Types[c.Param]; {
		case !declared[c.Param]:
			errs = append(errs, &ParseError{File: name, Line: c.lines["param"], Err: fmt.Errorf("%w: [check %s] param %s is not listed in params", ErrSyntax, c.Name, c.Param)})
		case !ok || !t.numeric():
			errs = append(errs, &ParseError{File: name, Line: c.lines["param"], Err: fmt.Errorf("%w: [check %s] param %s must be declared count, mb or size in [types] to be compared", ErrSyntax, c.Name, c.Param)})
		}
	}
	// Every ${NAME} must be declared, so a typo fails here and not on the
	// server after an update.
	for _, e := range p.Edits {
		for key, v := range e.templates() {
			for _, ref := range paramRefs(v) {
				if !declared[ref.name] {
					errs = append(errs, &ParseError{File: name, Line: e.lines[key], Err: fmt.Errorf("%w: [edit %s] %s uses ${%s}, which params does not list", ErrParam, e.Name, key, ref.name)})
				}
				if ref.err != nil {
					errs = append(errs, &ParseError{File: name, Line: e.lines[key], Err: fmt.Errorf("%w: [edit %s] %s: %v", ErrParam, e.Name, key, ref.err)})
				}
			}
		}
	}
	if len(errs) > 0 {
		return nil, joinErrs(errs)
	}
	return p, nil
}

// templates returns the values that may hold ${PARAM} references, by key.
func (e *Edit) templates() map[string]string {
	m := map[string]string{}
	add := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	add("value", e.Value)
	add("line", e.Line)
	add("match", e.Match)
	add("after", e.After)
	add("content", e.Content)
	if e.Kind == KindJSON {
		add("value", e.JSONText)
	}
	return m
}

func parseEdit(name string, sec *ini.Section, lineOf func(string) int, file0 string) (*Edit, []error) {
	var errs []error
	perr := func(key, format string, a ...any) {
		errs = append(errs, &ParseError{File: file0, Line: lineOf(key), Err: fmt.Errorf("%w: [edit %s] "+format, append([]any{ErrSyntax, name}, a...)...)})
	}
	vals := map[string]string{}
	var order []string
	for _, k := range sec.Keys() {
		vals[k.Name()] = k.Value()
		order = append(order, k.Name())
	}
	e := &Edit{Name: name, UID: -1, GID: -1, Comment: "#", lines: map[string]int{}}
	for _, k := range order {
		e.lines[k] = lineOf(k)
	}
	kind, ok := vals["kind"]
	if !ok {
		perr("", "missing key kind")
		return nil, errs
	}
	e.Kind = Kind(kind)
	allowed, ok := keysByKind[e.Kind]
	if !ok {
		kinds := make([]string, 0, len(keysByKind))
		for k := range keysByKind {
			kinds = append(kinds, string(k))
		}
		sort.Strings(kinds)
		perr("kind", "unknown kind %q (want one of %s)", kind, strings.Join(kinds, ", "))
		return nil, errs
	}
	allow := map[string]bool{"kind": true, "file": true}
	for _, k := range allowed {
		allow[k] = true
	}
	for _, k := range order {
		if !allow[k] {
			perr(k, "unknown key %q for kind %s (want %s)", k, kind, strings.Join(append([]string{"file"}, allowed...), ", "))
		}
	}
	need := func(k string) string {
		v, ok := vals[k]
		if !ok {
			perr("", "kind %s needs key %s", kind, k)
		}
		return v
	}
	file, ok := vals["file"]
	if !ok {
		perr("", "missing key file")
	} else if err := fsx.CheckRel(file); err != nil {
		errs = append(errs, &ParseError{File: file0, Line: lineOf("file"), Err: fmt.Errorf("[edit %s] file: %w", name, err)})
	} else {
		e.File = path.Clean(file)
	}
	boolKey := func(k string) bool {
		v, ok := vals[k]
		if !ok {
			return false
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			perr(k, "%s = %q: want true or false", k, v)
		}
		return b
	}
	e.Create = boolKey("create")
	e.Recursive = boolKey("recursive")
	if v, ok := vals["missing"]; ok {
		switch v {
		case "add":
			e.Add = true
		case "error":
		default:
			perr("missing", "missing = %q: want add or error", v)
		}
	}
	if v, ok := vals["position"]; ok {
		if v != "end" {
			perr("position", "position = %q: want end", v)
		}
		if _, ok := vals["after"]; ok {
			perr("position", "after and position exclude each other")
		}
		e.Position = v
	}
	e.After = vals["after"]
	switch e.Kind {
	case KindINI:
		e.Section = vals["section"]
		e.Key = need("key")
		e.Value = need("value")
	case KindEnv:
		e.Key = need("key")
		e.Value = need("value")
		if e.Key != "" && !paramName.MatchString(e.Key) {
			perr("key", "key %q is not a variable name", e.Key)
		}
	case KindLine:
		e.Line = need("line")
		e.Match = vals["match"]
		if strings.ContainsAny(e.Line, "\r\n") {
			perr("line", "line must be one line; use kind block for several")
		}
		if v, ok := vals["sizes"]; ok {
			if !sizeDialects[v] {
				perr("sizes", "sizes = %q: want %s, %s or %s", v, SizesBytes, SizesClamd, SizesRspamd)
			}
			e.Sizes = v
		}
	case KindBlock:
		e.Content = multiline(need("content"))
		if c, ok := vals["comment"]; ok {
			if strings.TrimSpace(c) == "" || strings.ContainsAny(c, "\r\n") {
				perr("comment", "comment = %q: want a comment prefix such as # or //", c)
			}
			e.Comment = c
		}
		if e.After == "" && e.Position == "" {
			perr("", "kind block needs after = REGEX or position = end, for where the block goes the first time")
		}
	case KindFile:
		c, hasC := vals["content"]
		s, hasS := vals["source"]
		switch {
		case hasC && hasS:
			perr("source", "content and source exclude each other")
		case !hasC && !hasS:
			perr("", "kind file needs content or source")
		}
		e.Content, e.Source = multiline(c), s
		if hasS {
			if err := fsx.CheckRel(s); err != nil {
				perr("source", "source: %v", err)
			}
		}
		e.Perm = 0o644
		if v, ok := vals["mode"]; ok {
			if !modeValue.MatchString(v) {
				perr("mode", "mode = %q: want octal permissions such as 0644", v)
			} else {
				m, _ := strconv.ParseUint(v, 8, 32)
				e.Perm = uint32(m)
			}
		}
	case KindMode:
		v, hasMode := vals["mode"]
		o, hasOwner := vals["owner"]
		if !hasMode && !hasOwner {
			perr("", "kind mode needs mode, owner or both")
		}
		if hasMode {
			if !modeValue.MatchString(v) {
				perr("mode", "mode = %q: want octal permissions such as 0775", v)
			} else {
				m, _ := strconv.ParseUint(v, 8, 32)
				e.Perm, e.HasPerm = uint32(m), true
			}
		}
		if hasOwner {
			m := ownerValue.FindStringSubmatch(o)
			if m == nil {
				perr("owner", "owner = %q: want UID or UID:GID (numbers: names differ inside the containers)", o)
			} else {
				e.UID, _ = strconv.Atoi(m[1])
				if m[2] != "" {
					e.GID, _ = strconv.Atoi(m[2])
				}
			}
		}
	case KindJSON:
		p := need("path")
		e.JSONText = need("value")
		if p != "" {
			jp, err := parseJSONPath(p)
			if err != nil {
				perr("path", "path = %q: %v", p, err)
			}
			e.Path = jp
		}
	}
	// Regexps without parameters are checked now; the others once bound.
	for _, k := range []string{"match", "after"} {
		if v := vals[k]; v != "" && len(paramRefs(v)) == 0 {
			if _, err := regexp.Compile(v); err != nil {
				perr(k, "%s: %v", k, err)
			}
		}
	}
	return e, errs
}

// multiline normalises a """ value: the newline right after the opening
// quotes is not part of the content, the one before the closing quotes is.
func multiline(v string) string {
	v = strings.TrimPrefix(v, "\r")
	return strings.TrimPrefix(v, "\n")
}
