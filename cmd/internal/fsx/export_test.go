package fsx

import (
	"io/fs"
	"os"
	"sync/atomic"
	"syscall"
)

// Fault makes the write seam op ("create", "write" or "rename") fail
// with errno on its nth call, and on every later one too when sticky (a
// disk that is full stays full). A failing "write" first writes half the
// data, as a filling disk does. undo puts the real seams back. For tests
// of the packages above fsx, in package fsx_test.
func Fault(op string, nth int64, sticky bool, errno syscall.Errno) (undo func()) {
	oc, ow, or := createTemp, writeTemp, rename
	var calls atomic.Int64
	fail := func() bool {
		n := calls.Add(1)
		return n == nth || (sticky && n > nth)
	}
	switch op {
	case "create":
		createTemp = func(dir *os.Root, pattern string) (*os.File, error) {
			if fail() {
				return nil, &fs.PathError{Op: "open", Path: dir.Name() + "/" + pattern, Err: errno}
			}
			return oc(dir, pattern)
		}
	case "write":
		writeTemp = func(f *os.File, b []byte) (int, error) {
			if fail() {
				n, _ := f.Write(b[:len(b)/2])
				return n, &fs.PathError{Op: "write", Path: f.Name(), Err: errno}
			}
			return ow(f, b)
		}
	case "rename":
		rename = func(dir *os.Root, from, to string) error {
			if fail() {
				return &os.LinkError{Op: "rename", Old: from, New: to, Err: errno}
			}
			return or(dir, from, to)
		}
	default:
		panic("fsx.Fault: unknown op " + op)
	}
	return func() { createTemp, writeTemp, rename = oc, ow, or }
}
