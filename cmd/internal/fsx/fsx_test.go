package fsx

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// uidOf returns the owner and group of name, not following a link.
func uidOf(t *testing.T, name string) (int, int) {
	t.Helper()
	fi, err := os.Lstat(name)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

func modeOf(t *testing.T, name string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func wantContent(t *testing.T, name, want string) {
	t.Helper()
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s holds %q, want %q", name, got, want)
	}
}

// noTemps fails when dir holds a temp file of WriteFileAtomic or Symlink.
func noTemps(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), TempPrefix) || strings.HasSuffix(e.Name(), ".mcupdate-link") {
			t.Errorf("temp file %s left in %s", e.Name(), dir)
		}
	}
}

// withUmask runs f under umask mask; the umask is process-wide, so tests
// that use it do not run in parallel.
func withUmask(t *testing.T, mask int, f func()) {
	t.Helper()
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	f()
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown to another uid")
	}
}

func TestWriteFileAtomicKeepsModeAndOwner(t *testing.T) {
	tests := []struct {
		name     string
		mode     fs.FileMode
		uid, gid int // -1: leave the file to the test's own user
	}{
		{"0644 own", 0o644, -1, -1},
		{"0600 own", 0o600, -1, -1},
		{"0640 userns-remap", 0o640, 165536, 165536},
		{"0600 userns-remap other group", 0o600, 165536, 165537},
		{"0755 executable", 0o755, -1, -1},
		// chown clears setuid/setgid: the mode must be set after the owner.
		{"setuid userns-remap", 0o755 | fs.ModeSetuid, 165536, 165536},
		{"setgid own", 0o750 | fs.ModeSetgid, -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.uid >= 0 {
				requireRoot(t)
			}
			dir := t.TempDir()
			p := filepath.Join(dir, "mailcow.conf")
			if err := os.WriteFile(p, []byte("old\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			wantUID, wantGID := uidOf(t, p)
			if tt.uid >= 0 {
				if err := os.Chown(p, tt.uid, tt.gid); err != nil {
					t.Fatal(err)
				}
				wantUID, wantGID = tt.uid, tt.gid
			}
			if err := os.Chmod(p, tt.mode); err != nil {
				t.Fatal(err)
			}
			// perm is for new files only; an existing file keeps its own.
			if err := WriteFileAtomic(p, []byte("new\n"), 0o666); err != nil {
				t.Fatal(err)
			}
			wantContent(t, p, "new\n")
			if got := modeOf(t, p); got != tt.mode {
				t.Errorf("mode %v, want %v", got, tt.mode)
			}
			if u, g := uidOf(t, p); u != wantUID || g != wantGID {
				t.Errorf("owner %d:%d, want %d:%d", u, g, wantUID, wantGID)
			}
			noTemps(t, dir)
		})
	}
}

// A new file gets exactly perm, whatever the umask: os.CreateTemp makes
// the temp 0600 and WriteFileAtomic chmods it to perm, which the umask
// does not filter. (os.WriteFile would give perm &^ umask.)
func TestWriteFileAtomicNewFilePerm(t *testing.T) {
	for _, umask := range []int{0o000, 0o022, 0o077} {
		for _, perm := range []fs.FileMode{0o600, 0o644, 0o664, 0o755} {
			t.Run(fs.FileMode(umask).String()+"/"+perm.String(), func(t *testing.T) {
				dir := t.TempDir()
				p := filepath.Join(dir, "new.json")
				withUmask(t, umask, func() {
					if err := WriteFileAtomic(p, []byte("{}\n"), perm); err != nil {
						t.Fatal(err)
					}
				})
				wantContent(t, p, "{}\n")
				if got := modeOf(t, p); got != perm {
					t.Errorf("mode %v under umask %03o, want %v", got, umask, perm)
				}
				if u, g := uidOf(t, p); u != os.Geteuid() || g != os.Getegid() {
					t.Errorf("owner %d:%d, want the process's %d:%d", u, g, os.Geteuid(), os.Getegid())
				}
				noTemps(t, dir)
			})
		}
	}
}

var linkCases = []struct {
	name  string
	links [][2]string // name → target, relative to the test dir, made in order
	write string      // the path written
	file  string      // the regular file the links lead to
}{
	{"absolute chain", [][2]string{{"b", "/ABS/real/c"}, {"a", "/ABS/b"}}, "a", "real/c"},
	{"relative target", [][2]string{{"a", "real/c"}}, "a", "real/c"},
	{"relative up and down", [][2]string{{"sub/a", "../real/c"}}, "sub/a", "real/c"},
	{"relative chain across dirs", [][2]string{{"real/b", "c"}, {"sub/a", "../real/b"}}, "sub/a", "real/c"},
}

// linkWorld makes the links of a linkCases entry in a new dir.
func linkWorld(t *testing.T, links [][2]string, file string) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"real", "sub"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		target := strings.Replace(l[1], "/ABS", dir, 1)
		if err := os.Symlink(target, filepath.Join(dir, l[0])); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Inside a confined directory a link that stays inside is followed: its
// target is replaced, with its mode, and the link stays a link.
func TestWriteFileAtomicFollowsLinksInsideConfined(t *testing.T) {
	for _, tt := range linkCases {
		t.Run(tt.name, func(t *testing.T) {
			dir := linkWorld(t, tt.links, tt.file)
			if err := Confine(dir); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, tt.file)
			if err := WriteFileAtomic(filepath.Join(dir, tt.write), []byte("new\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			wantContent(t, file, "new\n")
			if got := modeOf(t, file); got != 0o640 {
				t.Errorf("target mode %v, want -rw-r-----", got)
			}
			for _, l := range tt.links {
				if modeOf(t, filepath.Join(dir, l[0]))&fs.ModeSymlink == 0 {
					t.Errorf("%s is no longer a symlink", l[0])
				}
			}
			if got, err := ResolveLink(filepath.Join(dir, tt.write)); err != nil || got != file {
				t.Errorf("ResolveLink = %q, %v; want %q", got, err, file)
			}
			noTemps(t, dir)
			noTemps(t, filepath.Join(dir, "real"))
		})
	}
}

// Outside a confined directory a link at the name is replaced, never
// followed: a link planted in a directory others can write (a metrics
// file's) cannot make root write elsewhere. Callers that mean the
// target resolve it with ResolveLink.
func TestWriteFileAtomicReplacesLinks(t *testing.T) {
	for _, tt := range linkCases {
		t.Run(tt.name, func(t *testing.T) {
			dir := linkWorld(t, tt.links, tt.file)
			p := filepath.Join(dir, tt.write)
			if err := WriteFileAtomic(p, []byte("new\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			wantContent(t, filepath.Join(dir, tt.file), "old\n")
			wantContent(t, p, "new\n")
			if got := modeOf(t, p); got != 0o600 {
				t.Errorf("mode %v, want the perm of a new file", got)
			}
			noTemps(t, filepath.Dir(p))
		})
	}
	// Also a dangling link, a loop and a link to a directory.
	for name, target := range map[string]string{"dangling": "missing", "loop": "self", "dir": "d"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, "self")
			mustSymlink(t, target, p)
			if err := WriteFileAtomic(p, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			wantContent(t, p, "x")
			if got := listDir(t, dir); got != "d self" {
				t.Errorf("dir holds %s", got)
			}
		})
	}
}

// A dangling link inside a confined directory is followed too: its
// target is created, the link kept.
func TestWriteFileAtomicDanglingLink(t *testing.T) {
	dir := t.TempDir()
	if err := Confine(dir); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("missing", link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(link, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantContent(t, filepath.Join(dir, "missing"), "x")
	if modeOf(t, link)&fs.ModeSymlink == 0 {
		t.Error("the link was replaced by a file")
	}
}

// Inside a confined directory (where links are followed) a link loop, a
// directory and a missing directory are errors naming the file.
func TestWriteFileAtomicRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the path to write
		want  string                                // in the error
	}{
		{"symlink loop", func(t *testing.T, dir string) string {
			mustSymlink(t, "b", filepath.Join(dir, "a"))
			mustSymlink(t, "a", filepath.Join(dir, "b"))
			return filepath.Join(dir, "a")
		}, "too many levels of symbolic links"},
		{"self loop", func(t *testing.T, dir string) string {
			mustSymlink(t, "self", filepath.Join(dir, "self"))
			return filepath.Join(dir, "self")
		}, "too many levels of symbolic links"},
		{"directory", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "conf.d")
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}, "not a regular file"},
		{"link to a directory", func(t *testing.T, dir string) string {
			if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
				t.Fatal(err)
			}
			mustSymlink(t, "d", filepath.Join(dir, "l"))
			return filepath.Join(dir, "l")
		}, "not a regular file"},
		{"missing directory", func(t *testing.T, dir string) string {
			return filepath.Join(dir, "nodir", "f")
		}, "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := Confine(dir); err != nil {
				t.Fatal(err)
			}
			p := tt.setup(t, dir)
			before := listDir(t, dir)
			err := WriteFileAtomic(p, []byte("x"), 0o644)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s and say %q", err, p, tt.want)
			}
			if after := listDir(t, dir); after != before {
				t.Errorf("directory changed: %s → %s", before, after)
			}
		})
	}
}

func mustSymlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

func listDir(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

// A full disk (or any error) at any step leaves the original as it was
// and no temp file behind, and the error names the file.
func TestWriteFileAtomicFaults(t *testing.T) {
	enospc := func() error { return &fs.PathError{Op: "write", Path: "tmp", Err: syscall.ENOSPC} }
	tests := []struct {
		name   string
		inject func()
	}{
		{"createTemp", func() {
			createTemp = func(*os.Root, string) (*os.File, error) { return nil, enospc() }
		}},
		{"writeTemp", func() {
			writeTemp = func(f *os.File, b []byte) (int, error) {
				n, _ := f.Write(b[:len(b)/2]) // a partial write, then the disk is full
				return n, enospc()
			}
		}},
		{"rename", func() {
			rename = func(*os.Root, string, string) error { return &os.LinkError{Op: "rename", Err: syscall.ENOSPC} }
		}},
	}
	for _, tt := range tests {
		for _, existing := range []bool{true, false} {
			name := tt.name + "/new"
			if existing {
				name = tt.name + "/existing"
			}
			t.Run(name, func(t *testing.T) {
				oc, ow, or := createTemp, writeTemp, rename
				t.Cleanup(func() { createTemp, writeTemp, rename = oc, ow, or })
				dir := t.TempDir()
				p := filepath.Join(dir, "pools.conf")
				if existing {
					if err := os.WriteFile(p, []byte("original\n"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				tt.inject()
				err := WriteFileAtomic(p, []byte("replacement content\n"), 0o644)
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("error %v is not ENOSPC", err)
				}
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not name %s", err, p)
				}
				if existing {
					wantContent(t, p, "original\n")
				} else if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s exists after a failed write: %v", p, err)
				}
				noTemps(t, dir)
			})
		}
	}
}

func TestCleanTemps(t *testing.T) {
	dir := t.TempDir()
	remove := []string{TempPrefix + "mailcow.conf-123", TempPrefix + "x"}
	keep := []string{"mailcow.conf", "mcupdate-tmp-x", ".mcupdate-tmpx", "a" + TempPrefix + "b", ".mailcow.conf.mcupdate-link"}
	for _, n := range append(append([]string(nil), remove...), keep...) {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A temp in a subdirectory is not this directory's.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, TempPrefix+"y"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CleanTemps(dir); err != nil {
		t.Fatal(err)
	}
	for _, n := range remove {
		if _, err := os.Lstat(filepath.Join(dir, n)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s not removed", n)
		}
	}
	for _, n := range keep {
		if _, err := os.Lstat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s removed: %v", n, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(sub, TempPrefix+"y")); err != nil {
		t.Errorf("temp in a subdirectory removed: %v", err)
	}
	if err := CleanTemps(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("CleanTemps of a missing dir: %v", err)
	}
}

func TestRealSymlink(t *testing.T) {
	tests := []struct {
		name     string
		existing func(t *testing.T, p string)
	}{
		{"new", func(*testing.T, string) {}},
		{"replaces a link", func(t *testing.T, p string) { mustSymlink(t, "old-target", p) }},
		{"replaces a file", func(t *testing.T, p string) {
			if err := os.WriteFile(p, []byte("file"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"stale temp link from a killed run", func(t *testing.T, p string) {
			mustSymlink(t, "stale", filepath.Join(filepath.Dir(p), TempPrefix+filepath.Base(p)+"-link"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "extra.conf")
			tt.existing(t, p)
			if err := (Real{}).Symlink("../shared/extra.conf", p); err != nil {
				t.Fatal(err)
			}
			if got, err := os.Readlink(p); err != nil || got != "../shared/extra.conf" {
				t.Errorf("Readlink = %q, %v", got, err)
			}
			noTemps(t, dir)
		})
	}
	t.Run("refuses to replace a directory", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "d")
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := (Real{}).Symlink("x", p); err == nil {
			t.Fatal("no error")
		}
		if !modeOf(t, p).IsDir() {
			t.Error("directory replaced")
		}
		noTemps(t, dir)
	})
}

func TestRealRemoveAndLchown(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (Real{}).Remove(p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s not removed", p)
	}
	if err := (Real{}).Remove(p); err != nil {
		t.Errorf("removing a missing file: %v", err)
	}
	// Lchown changes the link, not its target.
	requireRoot(t)
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l := filepath.Join(dir, "l")
	mustSymlink(t, "f", l)
	if err := (Real{}).Lchown(l, 165536, 165536); err != nil {
		t.Fatal(err)
	}
	if u, g := uidOf(t, l); u != 165536 || g != 165536 {
		t.Errorf("link owner %d:%d", u, g)
	}
	if u, _ := uidOf(t, p); u != os.Geteuid() {
		t.Errorf("target owner changed to %d", u)
	}
}

func TestRecorderComposes(t *testing.T) {
	dir := t.TempDir()
	onDisk := filepath.Join(dir, "main.cf")
	if err := os.WriteFile(onDisk, []byte("disk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.ini")
	if err := os.WriteFile(other, []byte("untouched\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Recorder{}
	read := func(name string) (string, error) {
		t.Helper()
		b, err := r.ReadFile(name)
		return string(b), err
	}

	if got, err := read(onDisk); err != nil || got != "disk\n" {
		t.Fatalf("before any write: %q, %v", got, err)
	}
	data := []byte("first\n")
	if err := r.WriteFile(onDisk, data, 0o644); err != nil {
		t.Fatal(err)
	}
	data[0] = 'X' // the recorder keeps its own copy
	if got, _ := read(onDisk); got != "first\n" {
		t.Errorf("after a write: %q", got)
	}
	_ = r.WriteFile(onDisk, []byte("second\n"), 0o644)
	if got, _ := read(onDisk); got != "second\n" {
		t.Errorf("after a second write: %q", got)
	}
	_ = r.Remove(onDisk)
	if _, err := read(onDisk); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after a remove: %v, want ErrNotExist", err)
	}
	_ = r.WriteFile(onDisk, []byte("third\n"), 0o600)
	if got, _ := read(onDisk); got != "third\n" {
		t.Errorf("write after remove: %q", got)
	}
	if got, _ := read(other); got != "untouched\n" {
		t.Errorf("an unrecorded file reads %q", got)
	}
	_ = r.MkdirAll(filepath.Join(dir, "d"), 0o755)
	_ = r.Chmod(other, 0o600)
	_ = r.Lchown(other, 1, 2)
	_ = r.Symlink("t", filepath.Join(dir, "l"))

	wantContent(t, onDisk, "disk\n") // nothing written for real
	if _, err := os.Lstat(filepath.Join(dir, "d")); err == nil {
		t.Error("MkdirAll created a directory")
	}
	if got := modeOf(t, other); got != 0o644 {
		t.Errorf("Chmod changed the mode to %v", got)
	}
	var ops []string
	for _, c := range r.Changes {
		ops = append(ops, c.Op)
	}
	if got, want := strings.Join(ops, " "), "write write remove write mkdir chmod chown symlink"; got != want {
		t.Errorf("ops %q, want %q", got, want)
	}
	want := []string{filepath.Join(dir, "d"), filepath.Join(dir, "l"), onDisk, other}
	if got := r.Paths(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Paths = %q, want %q", got, want)
	}
	if c := r.Changes[0]; !bytes.Equal(c.Data, []byte("first\n")) {
		t.Errorf("first change data %q", c.Data)
	}
}

func TestCheckRefusesEveryWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mailcow.conf")
	var c System = Check{}
	ops := []struct {
		op string
		do func() error
	}{
		{"write", func() error { return c.WriteFile(p, []byte("x"), 0o644) }},
		{"remove", func() error { return c.Remove(p) }},
		{"mkdir", func() error { return c.MkdirAll(p, 0o755) }},
		{"chmod", func() error { return c.Chmod(p, 0o600) }},
		{"chown", func() error { return c.Lchown(p, 0, 0) }},
		{"symlink", func() error { return c.Symlink("t", p) }},
	}
	for _, o := range ops {
		t.Run(o.op, func(t *testing.T) {
			err := o.do()
			if !errors.Is(err, ErrWriteRefused) {
				t.Fatalf("error %v is not ErrWriteRefused", err)
			}
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Path != p || pe.Op != o.op {
				t.Errorf("error %q does not name %s and op %s", err, p, o.op)
			}
			if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s was created", p)
			}
		})
	}
}
