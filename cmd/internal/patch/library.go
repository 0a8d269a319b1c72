package patch

import (
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
