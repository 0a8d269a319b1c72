// Package patch re-applies a mailcow admin's declarative edits after
// update.sh's `git merge -Xtheirs` has silently dropped them.
//
// # Patches
//
// A patch is a small INI file (the module's patches/README.md documents
// the format; patches/ holds the shipped ones) naming edits to files under
// the mailcow directory, the parameters it takes and the compose services
// to restart when it changed something. [Parse] reads one, [Library]
// returns the shipped ones, [LoadDir] an admin's own, [Resolve] binds the
// enabled ones to their parameters ([Load] does all three, as every
// command does) and [Apply] runs them.
//
// # Edit kinds
//
// Each kind of edit is one file (ini.go, env.go, line.go, block.go,
// json.go, file.go, mode.go) implementing the editKind of kind.go: the
// keys it takes, how it reads them, how it checks its values once the
// parameters are in, and how it edits a file's text. A new kind is one
// new file; Parse, Bind, Apply, Derive and Governed reach it through
// editKind.
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
	"strings"

	"gopkg.in/ini.v1"
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
)

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
	ps := &patchSource{name: name, secLine: secLine, keyLines: keyLines}
	for _, sec := range f.Sections() {
		ps.section(p, sec)
	}
	ps.checkDeclared(p)
	ps.checkRefs(p)
	if len(ps.errs) > 0 {
		return nil, joinErrs(ps.errs)
	}
	return p, nil
}

// patchSource is a patch file being parsed: where its sections and keys
// are, and the problems found so far.
type patchSource struct {
	name     string // the patch file
	secLine  map[string]int
	keyLines map[string]map[string]int
	errs     []error
}

// lineOf is the line of key in section sec, or of the section's header
// when key is "" or not there.
func (ps *patchSource) lineOf(sec, key string) int {
	if key == "" {
		return ps.secLine[sec]
	}
	if n, ok := ps.keyLines[sec][key]; ok {
		return n
	}
	return ps.secLine[sec]
}

// errorf reports a syntax error at key of section sec.
func (ps *patchSource) errorf(sec, key string, format string, a ...any) {
	ps.errs = append(ps.errs, &ParseError{File: ps.name, Line: ps.lineOf(sec, key), Err: fmt.Errorf("%w: "+format, append([]any{ErrSyntax}, a...)...)})
}

// section reads one section into p.
func (ps *patchSource) section(p *Patch, sec *ini.Section) {
	sname := sec.Name()
	if sname == ini.DefaultSection {
		ps.head(p, sec)
		return
	}
	fields := strings.Fields(sname)
	lineOf := func(key string) int { return ps.lineOf(strings.Join(fields, " "), key) }
	switch {
	case len(fields) == 1 && fields[0] == "defaults":
		for _, k := range sec.Keys() {
			p.Defaults[k.Name()] = k.Value()
		}
	case len(fields) == 1 && fields[0] == "types":
		for _, k := range sec.Keys() {
			t, err := parseType(k.Value())
			if err != nil {
				ps.errorf("types", k.Name(), "[types] %s: %v", k.Name(), err)
				continue
			}
			p.Types[k.Name()] = t
		}
	case len(fields) == 2 && fields[0] == "check":
		if !editName.MatchString(fields[1]) {
			ps.errorf(sname, "", "[%s]: check name %q: use letters, digits, '.', '_' and '-'", sname, fields[1])
			return
		}
		c, errs := parseCheck(fields[1], sec, lineOf, ps.name)
		ps.errs = append(ps.errs, errs...)
		if c != nil {
			p.Checks = append(p.Checks, c)
		}
	case len(fields) == 2 && fields[0] == "edit":
		if !editName.MatchString(fields[1]) {
			ps.errorf(sname, "", "[%s]: edit name %q: use letters, digits, '.', '_' and '-'", sname, fields[1])
			return
		}
		e, errs := parseEdit(fields[1], sec, lineOf, ps.name)
		ps.errs = append(ps.errs, errs...)
		if e != nil {
			p.Edits = append(p.Edits, e)
		}
	default:
		ps.errorf(sname, "", "unknown section [%s] (want [edit NAME], [check NAME], [defaults] or [types])", sname)
	}
}

// head reads the keys before the first section: description, params,
// services and restart.
func (ps *patchSource) head(p *Patch, sec *ini.Section) {
	list := func(v string) []string {
		return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	}
	for _, k := range sec.Keys() {
		switch k.Name() {
		case "description":
			p.Description = k.Value()
		case "params":
			for _, pn := range list(k.Value()) {
				if !paramName.MatchString(pn) {
					ps.errorf("", "params", "params: %q is not a parameter name (letters, digits, _)", pn)
					continue
				}
				p.Params = append(p.Params, pn)
			}
		case "services":
			p.Services = list(k.Value())
		case "restart":
			switch r := Restart(k.Value()); r {
			case RestartRestart, RestartRecreate:
				p.Restart = r
			default:
				ps.errorf("", "restart", "restart = %q: want restart or recreate", k.Value())
			}
		default:
			ps.errorf("", k.Name(), "unknown key %q (want %s)", k.Name(), "description, params, services, restart")
		}
	}
}

// checkDeclared checks what the sections say about the parameters
// against params: every default and type is of a listed parameter, a
// default fits its type, a check compares a number.
func (ps *patchSource) checkDeclared(p *Patch) {
	if p.Description == "" {
		ps.errs = append(ps.errs, &ParseError{File: ps.name, Err: fmt.Errorf("%w: missing key description", ErrSyntax)})
	}
	if len(p.Edits) == 0 && len(ps.errs) == 0 {
		ps.errs = append(ps.errs, &ParseError{File: ps.name, Err: fmt.Errorf("%w: no [edit NAME] section", ErrSyntax)})
	}
	declared := p.declared()
	for k, v := range p.Defaults {
		if !declared[k] {
			ps.errorf("defaults", k, "[defaults] %s is not listed in params", k)
		} else if err := p.Types[k].orText().checkValue(k, v); err != nil {
			ps.errorf("defaults", k, "[defaults] %s: %v (declared %s)", k, err, p.Types[k].orText().Spec)
		}
	}
	for k := range p.Types {
		if !declared[k] {
			ps.errorf("types", k, "[types] %s is not listed in params", k)
		}
	}
	for _, c := range p.Checks {
		switch t, ok := p.Types[c.Param]; {
		case !declared[c.Param]:
			ps.errs = append(ps.errs, &ParseError{File: ps.name, Line: c.lines["param"], Err: fmt.Errorf("%w: [check %s] param %s is not listed in params", ErrSyntax, c.Name, c.Param)})
		case !ok || !t.numeric():
			ps.errs = append(ps.errs, &ParseError{File: ps.name, Line: c.lines["param"], Err: fmt.Errorf("%w: [check %s] param %s must be declared count, mb or size in [types] to be compared", ErrSyntax, c.Name, c.Param)})
		}
	}
}

// checkRefs checks that every ${NAME} is declared, so a typo fails here
// and not on the server after an update.
func (ps *patchSource) checkRefs(p *Patch) {
	declared := p.declared()
	for _, e := range p.Edits {
		for key, v := range e.templates() {
			for _, ref := range paramRefs(v) {
				if !declared[ref.name] {
					ps.errs = append(ps.errs, &ParseError{File: ps.name, Line: e.lines[key], Err: fmt.Errorf("%w: [edit %s] %s uses ${%s}, which params does not list", ErrParam, e.Name, key, ref.name)})
				}
				if ref.err != nil {
					ps.errs = append(ps.errs, &ParseError{File: ps.name, Line: e.lines[key], Err: fmt.Errorf("%w: [edit %s] %s: %v", ErrParam, e.Name, key, ref.err)})
				}
			}
		}
	}
}

// declared is the set of p's parameters.
func (p *Patch) declared() map[string]bool {
	m := make(map[string]bool, len(p.Params))
	for _, pn := range p.Params {
		m[pn] = true
	}
	return m
}
