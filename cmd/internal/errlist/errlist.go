// Package errlist is mcupdate's one way to collect errors: a
// go-multierror list whose text is its errors' texts, one a line (the text
// errors.Join gave, which every message and golden file was written for).
//
// A list built with multierror.Append directly keeps go-multierror's
// bulleted format ("2 errors occurred: …"); the hook report and the
// restart commands use that, and the CLI splits it into one
// "mcupdate: error:" line per error.
package errlist

import (
	"strings"

	"github.com/hashicorp/go-multierror"
)

// Lines is the ErrorFormat of a list made by Join: each error's text, one
// a line.
func Lines(errs []error) string {
	texts := make([]string, len(errs))
	for i, e := range errs {
		texts[i] = e.Error()
	}
	return strings.Join(texts, "\n")
}

// Join collects the non-nil errs into a *multierror.Error formatted by
// Lines, or returns nil if there are none. Like errors.Join it keeps a
// list among errs as one error (multierror.Append would take a bulleted
// list's errors out of their format).
func Join(errs ...error) error {
	list := &multierror.Error{ErrorFormat: Lines}
	for _, e := range errs {
		if e != nil {
			list.Errors = append(list.Errors, e)
		}
	}
	return list.ErrorOrNil()
}
