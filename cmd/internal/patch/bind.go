package patch

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/suggest"
)

// boundEdit is an edit with its parameters substituted and its regexps
// compiled.
type boundEdit struct {
	*Edit
	kind                 editKind
	patch                string
	value, line, content string
	json                 json.RawMessage
	match, after         *regexp.Regexp
	// create says the file may be missing and is then created, with
	// perm.
	create bool
	perm   fs.FileMode
}

// Bound is a patch bound to its parameters, ready for [Apply].
type Bound struct {
	*Patch
	// Params are the values in use: the admin's, else the defaults.
	Params map[string]string
	edits  []*boundEdit
	mask   masker
	// paramOrigin says where the admin set each parameter, for messages.
	paramOrigin map[string]string
}

// Files returns the files the patch edits, relative to the mailcow dir,
// sorted and without repeats.
func (b *Bound) Files() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range b.edits {
		if !seen[e.File] {
			seen[e.File] = true
			out = append(out, e.File)
		}
	}
	sort.Strings(out)
	return out
}

// Bind substitutes params (the admin's values for this patch) into p.
// Every problem is reported, each naming the patch file and line.
func Bind(p *Patch, params map[string]string) (*Bound, error) {
	return bind(p, params, nil)
}

// ParamError is a parameter value its patch refuses: not of the declared
// type, out of its range, a NUL byte, too large. It is an ErrParam.
type ParamError struct {
	// Origin is where the value was set, such as
	// "/etc/mcupdate/mcupdate.ini:14"; "" when unknown.
	Origin       string
	Patch, Param string
	Err          error
}

func (e *ParamError) Error() string {
	where := "patch " + e.Patch + ":"
	if e.Origin != "" {
		where = e.Origin + ": [patch " + e.Patch + "]"
	}
	return fmt.Sprintf("%s %s: %v", where, e.Param, e.Err)
}

func (e *ParamError) Unwrap() error { return e.Err }

// Is makes every ParamError an ErrParam: a configuration error.
func (e *ParamError) Is(target error) bool { return target == ErrParam }

func originOf(origin func(patch, param string) string, patch, param string) string {
	if origin == nil {
		return ""
	}
	return origin(patch, param)
}

func bind(p *Patch, params map[string]string, origin func(patch, param string) string) (*Bound, error) {
	vals := map[string]string{}
	for k, v := range p.Defaults {
		vals[k] = v
	}
	declared := map[string]bool{}
	for _, n := range p.Params {
		declared[n] = true
	}
	var errs []error
	perr := func(line int, format string, a ...any) {
		errs = append(errs, &ParseError{File: p.src, Line: line, Err: fmt.Errorf(format, a...)})
	}
	var unknown []string
	for k, v := range params {
		if !declared[k] {
			unknown = append(unknown, k)
			continue
		}
		vals[k] = v
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		takes := "no parameters"
		if len(p.Params) > 0 {
			takes = "it takes: " + strings.Join(p.Params, ", ")
		}
		if o := originOf(origin, p.Name, k); o != "" {
			errs = append(errs, &ParamError{Origin: o, Patch: p.Name, Param: k, Err: fmt.Errorf("the patch does not take %s (%s)", k, takes)})
			continue
		}
		perr(0, "%w: [patch %s] sets %s, which the patch does not take (%s)", ErrParam, p.Name, k, takes)
	}
	for _, n := range p.Params {
		if _, ok := vals[n]; !ok {
			perr(p.line["params"], "%w: %s is not set: add it under [patch %s] in mcupdate.ini", ErrParam, n, p.Name)
		}
	}
	b := &Bound{Patch: p, Params: vals, mask: newMasker(vals), paramOrigin: map[string]string{}}
	for _, n := range p.Params {
		v, set := params[n]
		if !set {
			continue // a default, checked when the patch was parsed
		}
		b.paramOrigin[n] = originOf(origin, p.Name, n)
		t := p.Types[n].orText()
		if err := t.checkValue(n, v); err != nil {
			errs = append(errs, &ParamError{Origin: b.paramOrigin[n], Patch: p.Name, Param: n,
				Err: fmt.Errorf("%v (%s declares %s %s)", err, p.src, n, t.Spec)})
		}
	}
	if len(errs) > 0 {
		return nil, joinErrs(errs)
	}
	for _, e := range p.Edits {
		be := bindEdit(e, &binding{e: e, b: b, vals: vals, errf: perr})
		b.edits = append(b.edits, be)
	}
	if len(errs) > 0 {
		return nil, joinErrs(errs)
	}
	return b, nil
}

// Settings are what the admin's configuration says about the patches.
type Settings struct {
	// Enabled lists the enabled patches, in order.
	Enabled []string
	// Params holds each patch's parameters, by patch name.
	Params map[string]map[string]string
	// Origin returns where a parameter was set
	// ("/etc/mcupdate/mcupdate.ini:14"), for messages; nil or "" when
	// unknown.
	Origin func(patch, param string) string
	// EnableOrigin says where Enabled was read ("FILE:LINE [patches]
	// enable"), for messages; "" when unknown.
	EnableOrigin string
}

// Resolve binds the enabled patches, in the order given, to their
// parameters (by patch name). own patches take the place of library ones of
// the same name; each such case is returned as a warning, as is a
// [patch NAME] section for a patch that is not enabled. An unknown name is
// an error that lists the nearest known names; a parameter its patch
// refuses is a *ParamError naming where it was set. Every problem is
// reported.
func Resolve(set Settings, lib, own map[string]*Patch) ([]*Bound, []string, error) {
	enabled, params := set.Enabled, set.Params
	var warnings []string
	var errs []error
	all := map[string]*Patch{}
	for n, p := range lib {
		all[n] = p
	}
	for _, n := range Names(own) {
		p := own[n]
		if l, ok := lib[n]; ok {
			warnings = append(warnings, fmt.Sprintf("patch %s from %s replaces the shipped patch of that name (%s)", n, p.Origin, l.Origin))
		}
		all[n] = p
	}
	seen := map[string]bool{}
	var out []*Bound
	for _, n := range enabled {
		if seen[n] {
			warnings = append(warnings, fmt.Sprintf("patch %s is enabled twice; it runs once", n))
			continue
		}
		seen[n] = true
		p, ok := all[n]
		if !ok {
			if set.EnableOrigin != "" {
				errs = append(errs, fmt.Errorf("%s: %w %q%s", set.EnableOrigin, ErrUnknownPatch, n, nearest(n, all)))
			} else {
				errs = append(errs, fmt.Errorf("%w %q%s", ErrUnknownPatch, n, nearest(n, all)))
			}
			continue
		}
		b, err := bind(p, params[n], set.Origin)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, b)
	}
	var extra []string
	for n := range params {
		if !seen[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	for _, n := range extra {
		warnings = append(warnings, fmt.Sprintf("[patch %s] has parameters but the patch is not enabled", n))
	}
	if len(errs) > 0 {
		return out, warnings, joinErrs(errs)
	}
	return out, warnings, nil
}

// nearest suggests the known names closest to n.
func nearest(n string, all map[string]*Patch) string {
	names := suggest.Nearest(n, Names(all), 3)
	if len(names) == 0 {
		return ""
	}
	return " (did you mean " + strings.Join(names, ", ") + "?)"
}
