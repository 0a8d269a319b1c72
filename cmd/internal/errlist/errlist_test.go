package errlist

import (
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/hashicorp/go-multierror"
)

func TestJoin(t *testing.T) {
	if err := Join(); err != nil {
		t.Errorf("Join() = %v, want nil", err)
	}
	if err := Join(nil, nil); err != nil {
		t.Errorf("Join(nil, nil) = %v, want nil", err)
	}
	a, b := errors.New("a: first"), &fs.PathError{Op: "open", Path: "x", Err: os.ErrNotExist}
	err := Join(nil, a, b)
	if got, want := err.Error(), "a: first\nopen x: file does not exist"; got != want {
		t.Errorf("text %q, want %q (errors.Join's)", got, want)
	}
	if want := errors.Join(a, b).Error(); err.Error() != want {
		t.Errorf("text %q differs from errors.Join's %q", err, want)
	}
	if !errors.Is(err, os.ErrNotExist) || !errors.Is(err, a) {
		t.Error("errors.Is does not find the collected errors")
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe != b {
		t.Error("errors.As does not find the collected *fs.PathError")
	}
	var me *multierror.Error
	if !errors.As(err, &me) || len(me.WrappedErrors()) != 2 {
		t.Errorf("not a *multierror.Error of 2: %#v", err)
	}
	// A nested list stays one error, in its own format, as errors.Join's.
	bullets := multierror.Append(nil, errors.New("d"))
	nested := Join(errors.New("c"), err, bullets)
	if got, want := nested.Error(), errors.Join(errors.New("c"), err, bullets).Error(); got != want {
		t.Errorf("nested text %q, want %q", got, want)
	}
	if errors.As(nested, &me); len(me.WrappedErrors()) != 3 {
		t.Errorf("nested list has %d errors, want 3", len(me.WrappedErrors()))
	}
}
