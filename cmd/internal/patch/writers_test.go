package patch

import (
	"errors"
	"io/fs"
	"os"
	"sort"
	"sync"
	"testing"
)

// osWriter writes straight to disk: the tests' stand-in for fsx.Real.
type osWriter struct{}

func (osWriter) WriteFile(name string, data []byte, perm fs.FileMode) error {
	return os.WriteFile(name, data, perm)
}
func (osWriter) Chmod(name string, perm fs.FileMode) error { return os.Chmod(name, perm) }
func (osWriter) Lchown(name string, uid, gid int) error    { return os.Lchown(name, uid, gid) }
func (osWriter) Remove(name string) error                  { return os.Remove(name) }

var errInjected = errors.New("injected write failure")

// recWriter records every write and passes it on to next (if any). It
// fails the write whose 1-based number is failAt, after which later
// writes succeed again (so a rollback can run).
type recWriter struct {
	mu     sync.Mutex
	next   Writer
	ops    []string
	failAt int
}

func (w *recWriter) rec(op, name string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ops = append(w.ops, op+" "+name)
	if w.failAt == len(w.ops) {
		return errInjected
	}
	return nil
}

func (w *recWriter) WriteFile(name string, data []byte, perm fs.FileMode) error {
	if err := w.rec("write", name); err != nil {
		return err
	}
	if w.next != nil {
		return w.next.WriteFile(name, data, perm)
	}
	return nil
}

func (w *recWriter) Chmod(name string, perm fs.FileMode) error {
	if err := w.rec("chmod", name); err != nil {
		return err
	}
	if w.next != nil {
		return w.next.Chmod(name, perm)
	}
	return nil
}

func (w *recWriter) Lchown(name string, uid, gid int) error {
	if err := w.rec("chown", name); err != nil {
		return err
	}
	if w.next != nil {
		return w.next.Lchown(name, uid, gid)
	}
	return nil
}

func (w *recWriter) Remove(name string) error {
	if err := w.rec("remove", name); err != nil {
		return err
	}
	if rm, ok := w.next.(remover); ok {
		return rm.Remove(name)
	}
	return nil
}

// refuseWriter refuses every write, like fsx.Check.
type refuseWriter struct{ tried int }

func (w *refuseWriter) WriteFile(string, []byte, fs.FileMode) error { w.tried++; return errInjected }
func (w *refuseWriter) Chmod(string, fs.FileMode) error             { w.tried++; return errInjected }
func (w *refuseWriter) Lchown(string, int, int) error               { w.tried++; return errInjected }

// snapshot reads every regular file under dir, by slash path.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			b, err := fs.ReadFile(os.DirFS(dir), p)
			if err != nil {
				return err
			}
			out[p] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// writeTree creates files (slash paths) under dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := dir + "/" + p
		if err := os.MkdirAll(full[:len(full)-len(baseName(p))], 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}
