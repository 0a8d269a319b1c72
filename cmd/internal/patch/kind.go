package patch

import (
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

// KindCheck marks the result of a [check NAME] that failed.
const KindCheck Kind = "check"

// editKind is what one kind of edit does. Each kind is one file (ini.go,
// env.go, line.go, block.go, json.go, file.go, mode.go) that declares
// its Kind and registers its editKind; adding a kind is adding a file.
type editKind interface {
	// keys lists the keys the kind allows besides kind and file.
	keys() []string
	// parse reads the kind's own keys from s into e. The keys kinds
	// share (file, create, missing, position, after) are read already.
	parse(e *Edit, s *editSection)
	// check refuses what the parameters made of an edit that the file
	// could not take (a value on two lines, JSON that is not JSON); be
	// holds the substituted values.
	check(be *boundEdit, c *binding)
	// apply returns s with the edit made: s itself when the edit is in
	// place already.
	apply(s string, be *boundEdit) (string, error)
}

// A kind may do more than an editKind must.
type (
	// modePlanner is a kind that changes modes and owners, not content:
	// [Apply] plans its chmod and chown instead of calling apply.
	modePlanner interface {
		plan(abs string, be *boundEdit) ([]modeOp, error)
	}
	// valueReader is a kind whose parameters [Derive] can read back
	// from a file.
	valueReader interface {
		// template is the value of e that may hold parameters; "" for
		// none.
		template(e *Edit) string
		// found returns the texts of content (the file; exists false
		// when it is missing) that the template must match: none when
		// the edit's place is not there. added returns the lines an
		// admin added to a file.
		found(p *Patch, e *Edit, content string, exists bool, added func(file string) []string) ([]string, error)
	}
	// governor is a kind whose lines [Bound.Governed] lists.
	governor interface {
		governed(be *boundEdit, ls []string) []string
	}
)

// kinds holds every kind by name; each kind's file registers it.
var kinds = map[Kind]editKind{}

func register(k Kind, ek editKind) { kinds[k] = ek }

// kindNames are the kinds, sorted, for messages.
func kindNames() string {
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, string(k))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// editSection is an [edit NAME] section being read: its keys and where
// its problems go.
type editSection struct {
	edit   string // the edit's name
	kind   string // as written
	vals   map[string]string
	order  []string // keys in file order
	lineOf func(key string) int
	file   string // the patch file, for errors
	errs   []error
}

// errorf reports a problem with key ("" for the section as a whole).
func (s *editSection) errorf(key, format string, a ...any) {
	s.errs = append(s.errs, &ParseError{File: s.file, Line: s.lineOf(key), Err: fmt.Errorf("%w: [edit %s] "+format, append([]any{ErrSyntax, s.edit}, a...)...)})
}

// get returns key's value and whether the section sets it.
func (s *editSection) get(key string) (string, bool) {
	v, ok := s.vals[key]
	return v, ok
}

// need returns key's value and reports it missing when it is.
func (s *editSection) need(key string) string {
	v, ok := s.vals[key]
	if !ok {
		s.errorf("", "kind %s needs key %s", s.kind, key)
	}
	return v
}

// boolean reads key as true or false; false when it is not set.
func (s *editSection) boolean(key string) bool {
	v, ok := s.vals[key]
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		s.errorf(key, "%s = %q: want true or false", key, v)
	}
	return b
}

// perm reads key as octal permissions; ok is false when the section
// does not set it or it is malformed. example is shown in the message.
func (s *editSection) perm(key, example string) (perm uint32, ok bool) {
	v, set := s.vals[key]
	if !set {
		return 0, false
	}
	if !modeValue.MatchString(v) {
		s.errorf(key, "%s = %q: want octal permissions such as %s", key, v, example)
		return 0, false
	}
	m, _ := strconv.ParseUint(v, 8, 32)
	return uint32(m), true
}

// parseEdit reads an [edit NAME] section: the keys every kind shares
// here, the kind's own in its file.
func parseEdit(name string, sec *ini.Section, lineOf func(string) int, file0 string) (*Edit, []error) {
	s := &editSection{edit: name, vals: map[string]string{}, lineOf: lineOf, file: file0}
	for _, k := range sec.Keys() {
		s.vals[k.Name()] = k.Value()
		s.order = append(s.order, k.Name())
	}
	e := &Edit{Name: name, UID: -1, GID: -1, Comment: "#", lines: map[string]int{}}
	for _, k := range s.order {
		e.lines[k] = lineOf(k)
	}
	kind, ok := s.vals["kind"]
	if !ok {
		s.errorf("", "missing key kind")
		return nil, s.errs
	}
	s.kind, e.Kind = kind, Kind(kind)
	ek, ok := kinds[e.Kind]
	if !ok {
		s.errorf("kind", "unknown kind %q (want one of %s)", kind, kindNames())
		return nil, s.errs
	}
	s.checkKeys(ek.keys())
	parseShared(e, s)
	ek.parse(e, s)
	// Regexps without parameters are checked now; the others once bound.
	for _, k := range []string{"match", "after"} {
		if v := s.vals[k]; v != "" && len(paramRefs(v)) == 0 {
			if _, err := regexp.Compile(v); err != nil {
				s.errorf(k, "%s: %v", k, err)
			}
		}
	}
	return e, s.errs
}

// checkKeys reports every key the kind does not take.
func (s *editSection) checkKeys(allowed []string) {
	allow := map[string]bool{"kind": true, "file": true}
	for _, k := range allowed {
		allow[k] = true
	}
	for _, k := range s.order {
		if !allow[k] {
			s.errorf(k, "unknown key %q for kind %s (want %s)", k, s.kind, strings.Join(append([]string{"file"}, allowed...), ", "))
		}
	}
}

// parseShared reads the keys several kinds share: file, create,
// missing, position and after.
func parseShared(e *Edit, s *editSection) {
	if file, ok := s.get("file"); !ok {
		s.errorf("", "missing key file")
	} else if err := fsx.CheckRel(file); err != nil {
		s.errs = append(s.errs, &ParseError{File: s.file, Line: s.lineOf("file"), Err: fmt.Errorf("[edit %s] file: %w", s.edit, err)})
	} else {
		e.File = path.Clean(file)
	}
	e.Create = s.boolean("create")
	if v, ok := s.get("missing"); ok {
		switch v {
		case "add":
			e.Add = true
		case "error":
		default:
			s.errorf("missing", "missing = %q: want add or error", v)
		}
	}
	if v, ok := s.get("position"); ok {
		if v != "end" {
			s.errorf("position", "position = %q: want end", v)
		}
		if _, ok := s.get("after"); ok {
			s.errorf("position", "after and position exclude each other")
		}
		e.Position = v
	}
	e.After = s.vals["after"]
}

// multiline normalises a """ value: the newline right after the opening
// quotes is not part of the content, the one before the closing quotes is.
func multiline(v string) string {
	v = strings.TrimPrefix(v, "\r")
	return strings.TrimPrefix(v, "\n")
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
	add("value", e.JSONText) // json only, which has no Value
	return m
}

// binding is one edit being bound to its parameters: what a kind's check
// uses to substitute and report.
type binding struct {
	e    *Edit
	b    *Bound
	vals map[string]string
	// failed says a value of the edit could not be substituted.
	failed bool
	errf   func(line int, format string, a ...any)
}

// errorf reports a problem with the edit's key.
func (c *binding) errorf(key, format string, a ...any) {
	c.errf(c.e.lines[key], format, a...)
}

// expand substitutes the parameters in key's value v.
func (c *binding) expand(key, v string) string {
	out, err := expand(v, c.vals)
	if err != nil {
		c.failed = true
		msg := strings.TrimPrefix(err.Error(), ErrParam.Error()+": ")
		c.errorf(key, "%w: [edit %s] %s: %s", ErrParam, c.e.Name, key, c.b.mask.mask(msg))
	}
	return out
}

// regexp substitutes and compiles key's regexp v; nil for none.
func (c *binding) regexp(key, v string) *regexp.Regexp {
	if v == "" {
		return nil
	}
	r, err := regexp.Compile(c.expand(key, v))
	if err != nil {
		c.errorf(key, "%w: [edit %s] %s: %s", ErrSyntax, c.e.Name, key, c.b.mask.mask(err.Error()))
	}
	return r
}

// bindEdit substitutes the parameters into e and lets its kind check the
// result.
func bindEdit(e *Edit, c *binding) *boundEdit {
	be := &boundEdit{Edit: e, kind: kinds[e.Kind], patch: c.b.Name, create: e.Create, perm: 0o644}
	be.value = c.expand("value", e.Value)
	be.line = c.expand("line", e.Line)
	be.content = e.Content
	if e.Source == "" {
		// A source file is taken literally: it may be a script full of
		// ${...}.
		be.content = c.expand("content", e.Content)
	}
	be.after = c.regexp("after", e.After)
	if be.kind != nil {
		be.kind.check(be, c)
	}
	return be
}

// edit runs the editor of one text edit.
func edit(s string, be *boundEdit) (string, error) {
	if k, ok := kinds[be.Kind]; ok {
		return k.apply(s, be)
	}
	return "", fmt.Errorf("%w: kind %q", ErrSyntax, be.Kind)
}
