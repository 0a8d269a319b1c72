package patch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/mcupdate/mcupdate/patches"
)

// Library returns the shipped patches by name.
func Library() (map[string]*Patch, error) {
	return load(patches.FS, ".", "library")
}

// LoadDir reads the admin's own patches: every *.ini file in dir. A
// `source = FILE` of a file edit is read relative to dir.
func LoadDir(dir string) (map[string]*Patch, error) {
	return load(os.DirFS(dir), ".", dir)
}

// Names returns the sorted names of a set of patches.
func Names(ps map[string]*Patch) []string {
	out := make([]string, 0, len(ps))
	for n := range ps {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func load(fsys fs.FS, dir, origin string) (map[string]*Patch, error) {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("patch dir %s: %w", origin, err)
	}
	out := map[string]*Patch{}
	var errs []error
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".ini") {
			continue
		}
		name := path.Join(dir, e.Name())
		shown := e.Name()
		if origin != "library" {
			shown = path.Join(origin, e.Name())
		}
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("patch %s: %w", shown, err))
			continue
		}
		p, err := Parse(shown, src)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.Origin = shown
		for _, ed := range p.Edits {
			if ed.Source == "" {
				continue
			}
			data, err := fs.ReadFile(fsys, path.Join(dir, ed.Source))
			if err != nil {
				errs = append(errs, &ParseError{File: shown, Line: ed.lines["source"], Err: fmt.Errorf("[edit %s] source: %w", ed.Name, err)})
				continue
			}
			ed.Content = string(data)
		}
		out[p.Name] = p
	}
	if len(errs) > 0 {
		return nil, joinErrs(errs)
	}
	return out, nil
}

// Loaded is what an install can enable and what it enabled: the shipped
// patches, the admin's own, and the enabled ones bound to their
// parameters.
type Loaded struct {
	Lib, Own map[string]*Patch
	Bound    []*Bound
	// Warnings are Resolve's (an own patch replacing a shipped one, ...).
	Warnings []string
}

// Load stage errors: which part of loading failed, for callers that name
// the configuration key behind it.
var (
	ErrLoadDir    = errors.New("patch dir")
	ErrLoadEnable = errors.New("enabled patches")
)

// Load reads the shipped patches and, when dir is set, the admin's own
// patches in dir, and binds the enabled ones with s: the one way every
// command loads patches. The result holds what was read also when a
// later stage fails; the error then wraps ErrLoadDir or ErrLoadEnable.
func Load(dir string, s Settings) (*Loaded, error) {
	l := &Loaded{}
	var err error
	if l.Lib, err = Library(); err != nil {
		return l, err
	}
	if dir != "" {
		if l.Own, err = LoadDir(dir); err != nil {
			return l, stageErr{ErrLoadDir, err}
		}
	}
	if l.Bound, l.Warnings, err = Resolve(s, l.Lib, l.Own); err != nil {
		return l, stageErr{ErrLoadEnable, err}
	}
	return l, nil
}

// stageErr is a loading error that also matches its stage's sentinel,
// with the underlying error's text unchanged.
type stageErr struct{ stage, err error }

func (e stageErr) Error() string   { return e.err.Error() }
func (e stageErr) Unwrap() []error { return []error{e.err, e.stage} }
