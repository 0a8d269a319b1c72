package gitstate

import (
	"errors"
	"io/fs"
	"os"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
)

// IndexPaths returns the path of every entry in the index of the checkout
// in dir: the files git tracks. A missing index has none. Errors are those
// of [Inspect].
func IndexPaths(dir string) (map[string]bool, error) {
	o, err := open(dir)
	if err != nil {
		return nil, err
	}
	defer o.close()
	p := o.r.Layout.IndexPath()
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, &RepoError{Path: p, Err: err}
	}
	out := map[string]bool{}
	if _, err := gitx.ScanIndex(data, func(e *gitx.IndexEntry) { out[string(e.Name)] = true }); err != nil {
		return nil, &RepoError{Path: p, Err: ErrCorrupt, Detail: err.Error()}
	}
	return out, nil
}
