package patch

import (
	"fmt"
	"path"
	"strings"

	"gopkg.in/ini.v1"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

// Check is a rule a parameter must keep against a value in a file the
// service reads, declared in a [check NAME] section: php-fpm refuses to
// start when pm.max_children is below pm.max_spare_servers, so
// php-fpm-pool-size checks MAX_CHILDREN against pools.conf.
type Check struct {
	Name string
	File string // relative to the mailcow dir
	Kind Kind   // ini or env: how the value is found
	// Section and Key name the value (Section: ini only).
	Section, Key string
	// Param is the parameter compared with the value; MustBe is how:
	// greater, at-least, less or at-most.
	Param, MustBe string
	// Why says what the service does otherwise, for the message.
	Why string

	lines map[string]int
}

var checkKeys = []string{"file", "kind", "section", "key", "param", "must_be", "why"}

func parseCheck(name string, sec *ini.Section, lineOf func(string) int, file0 string) (*Check, []error) {
	var errs []error
	perr := func(key, format string, a ...any) {
		errs = append(errs, &ParseError{File: file0, Line: lineOf(key), Err: fmt.Errorf("%w: [check %s] "+format, append([]any{ErrSyntax, name}, a...)...)})
	}
	c := &Check{Name: name, lines: map[string]int{}}
	vals := map[string]string{}
	for _, k := range sec.Keys() {
		c.lines[k.Name()] = lineOf(k.Name())
		vals[k.Name()] = k.Value()
		known := false
		for _, a := range checkKeys {
			known = known || a == k.Name()
		}
		if !known {
			perr(k.Name(), "unknown key %q (want %s)", k.Name(), strings.Join(checkKeys, ", "))
		}
	}
	for _, k := range []string{"file", "kind", "key", "param", "must_be"} {
		if _, ok := vals[k]; !ok {
			perr("", "missing key %s", k)
		}
	}
	if f, ok := vals["file"]; ok {
		if err := fsx.CheckRel(f); err != nil {
			errs = append(errs, &ParseError{File: file0, Line: lineOf("file"), Err: fmt.Errorf("[check %s] file: %w", name, err)})
		} else {
			c.File = path.Clean(f)
		}
	}
	c.Kind = Kind(vals["kind"])
	switch c.Kind {
	case KindINI:
		c.Section = vals["section"]
	case KindEnv:
		if _, ok := vals["section"]; ok {
			perr("section", "kind env has no sections")
		}
	default:
		if _, ok := vals["kind"]; ok {
			perr("kind", "kind %q: a check reads an ini or env value", vals["kind"])
		}
	}
	c.Key, c.Param, c.MustBe, c.Why = vals["key"], vals["param"], vals["must_be"], vals["why"]
	if _, ok := compare[c.MustBe]; !ok && vals["must_be"] != "" {
		perr("must_be", "must_be = %q: want greater, at-least, less or at-most", c.MustBe)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// compare holds each must_be: whether the parameter's number a may stand
// against the file's number b, and the words for the message.
var compare = map[string]struct {
	ok    func(a, b uint64) bool
	words string
}{
	"greater":  {func(a, b uint64) bool { return a > b }, "greater than"},
	"at-least": {func(a, b uint64) bool { return a >= b }, "at least"},
	"less":     {func(a, b uint64) bool { return a < b }, "less than"},
	"at-most":  {func(a, b uint64) bool { return a <= b }, "at most"},
}

// CheckError is a [check] of a patch that failed: a parameter that
// breaks its rule against the file the service reads (then it is an
// ErrParam: the configuration is wrong, not the file), or a file the
// check could not read.
type CheckError struct {
	Patch, Check, File string
	Err                error
	// Broken says the parameter breaks the rule.
	Broken bool
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("patch %s, check %s: %s: %v", e.Patch, e.Check, e.File, e.Err)
}

func (e *CheckError) Unwrap() error { return e.Err }

// Is makes a broken rule an ErrParam.
func (e *CheckError) Is(target error) bool { return e.Broken && target == ErrParam }

// run evaluates the check on the file's content (as the patch's edits
// leave it). A file without the key has no rule to break.
func (c *Check) run(b *Bound, content string) error {
	var v string
	var ok bool
	switch c.Kind {
	case KindEnv:
		v, ok = envLookup(content, c.Key)
	default:
		v, ok = iniLookup(content, c.Section, c.Key)
	}
	if !ok {
		return nil
	}
	t := b.Types[c.Param]
	want, err := t.number(b.Params[c.Param])
	if err != nil {
		return fmt.Errorf("%s: %v", c.Param, err)
	}
	have, err := t.number(v)
	if err != nil {
		return fmt.Errorf("%s%s in the file: %v, so %s cannot be checked against it", c.Key, c.where(), err, c.Param)
	}
	cmp := compare[c.MustBe]
	if cmp.ok(want, have) {
		return nil
	}
	set := ""
	if o := b.paramOrigin[c.Param]; o != "" {
		set = " (" + o + ")"
	}
	why := ""
	if c.Why != "" {
		why = ": " + c.Why
	}
	return fmt.Errorf("%s = %s%s must be %s %s = %s%s%s", c.Param, t.show(want), set, cmp.words, c.Key, v, c.where(), why)
}

func (c *Check) where() string {
	if c.Section != "" {
		return " in [" + c.Section + "]"
	}
	return ""
}
