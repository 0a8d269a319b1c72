package main

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/hashicorp/go-multierror"

	"github.com/mcupdate/mcupdate/cmd/internal/errlist"
)

// TestFlatten: each collected error gets its own "mcupdate: error:" line,
// and a wrapper's prefix is never dropped from an errlist.
func TestFlatten(t *testing.T) {
	a, b, c := errors.New("a"), errors.New("b"), errors.New("c")
	texts := func(errs []error) []string {
		var out []string
		for _, e := range errs {
			out = append(out, e.Error())
		}
		return out
	}
	for _, tt := range []struct {
		name string
		err  error
		want []string
	}{
		{"one error", a, []string{"a"}},
		{"errlist", errlist.Join(a, b), []string{"a", "b"}},
		{"wrapped errlist keeps its prefix", fmt.Errorf("syslog /dev/log: %w", errlist.Join(a, b)), []string{"syslog /dev/log: a\nb"}},
		{"bulleted multierror", multierror.Append(nil, a, b), []string{"a", "b"}},
		{"wrapped bulleted multierror", fmt.Errorf("x: %w", multierror.Append(nil, a, b)), []string{"a", "b"}},
		{"nested", multierror.Append(nil, errlist.Join(a, b), fmt.Errorf("step: %w", errlist.Join(c, a))), []string{"a", "b", "step: c\na"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := texts(flatten(tt.err)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("flatten = %q, want %q", got, tt.want)
			}
		})
	}
}
