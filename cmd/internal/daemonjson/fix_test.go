package daemonjson

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

var now = time.Date(2026, 7, 14, 3, 4, 5, 0, time.FixedZone("CEST", 2*3600))

const stamp = ".mcupdate-20260714T010405Z.bak"

func write(t *testing.T, name, content string, perm fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(name, perm); err != nil { // past the umask
		t.Fatal(err)
	}
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFix(t *testing.T) {
	req := RequirementsFor(27, "")
	const orig = `{"log-driver": "local", "ipv6": false}`
	const fixed = `{"log-driver": "local", "ipv6": true, "fixed-cidr-v6": "fd00:dead:beef:c0::/80"}`

	t.Run("edits, backs up, keeps mode", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "daemon.json")
		write(t, p, orig, 0o600)
		res, err := Fix(fsx.Real{}, p, req, now)
		if err != nil {
			t.Fatal(err)
		}
		if got := read(t, p); got != fixed {
			t.Errorf("file = %s, want %s", got, fixed)
		}
		if res.Backup != p+stamp {
			t.Errorf("backup = %s, want %s", res.Backup, p+stamp)
		}
		if got := read(t, res.Backup); got != orig {
			t.Errorf("backup = %s, want the original %s", got, orig)
		}
		for _, name := range []string{p, res.Backup} {
			if fi, _ := os.Stat(name); fi.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v, want 0600", name, fi.Mode().Perm())
			}
		}
		if len(res.Changes) != 2 || res.Created || !res.Changed() {
			t.Errorf("result %+v", res)
		}
		if len(res.Loud) != 1 || !strings.Contains(res.Loud[0], `changed "ipv6" from false to true`) || !strings.Contains(res.Loud[0], p) {
			t.Errorf("loud = %q", res.Loud)
		}
		// Second run: nothing to do, no second backup.
		res, err = Fix(fsx.Real{}, p, req, now.Add(time.Hour))
		if err != nil || res.Changed() || res.Backup != "" {
			t.Fatalf("second Fix: %+v, %v", res, err)
		}
		if m, _ := filepath.Glob(p + ".mcupdate-*"); len(m) != 1 {
			t.Errorf("backups %q, want one", m)
		}
	})

	t.Run("symlink target edited, link kept", func(t *testing.T) {
		dir := t.TempDir()
		real := filepath.Join(dir, "conf", "daemon.json")
		write(t, real, orig, 0o644)
		link := filepath.Join(dir, "docker", "daemon.json")
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../conf/daemon.json", link); err != nil {
			t.Fatal(err)
		}
		res, err := Fix(fsx.Real{}, link, req, now)
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Fatalf("link is no longer a symlink: %v", err)
		}
		if got := read(t, real); got != fixed {
			t.Errorf("target = %s", got)
		}
		if res.Target != real || res.Backup != real+stamp {
			t.Errorf("target %s backup %s", res.Target, res.Backup)
		}
	})

	t.Run("missing file and directory created", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "etc", "docker", "daemon.json")
		res, err := Fix(fsx.Real{}, p, RequirementsFor(26, ""), now)
		if err != nil {
			t.Fatal(err)
		}
		want := "{\n  \"ipv6\": true,\n  \"fixed-cidr-v6\": \"fd00:dead:beef:c0::/80\",\n  \"ip6tables\": true,\n  \"experimental\": true\n}\n"
		if got := read(t, p); got != want {
			t.Errorf("created %q, want %q", got, want)
		}
		if !res.Created || res.Backup != "" {
			t.Errorf("result %+v", res)
		}
		fi, _ := os.Stat(p)
		di, _ := os.Stat(filepath.Dir(p))
		if fi.Mode().Perm() != 0o644 || di.Mode().Perm() != 0o755 {
			t.Errorf("modes file %v dir %v", fi.Mode().Perm(), di.Mode().Perm())
		}
	})

	t.Run("second backup in the same second gets a counter", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "daemon.json")
		write(t, p, orig, 0o644)
		write(t, p+stamp, "older", 0o644)
		res, err := Fix(fsx.Real{}, p, req, now)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSuffix(p+stamp, ".bak") + "-2.bak"; res.Backup != want {
			t.Errorf("backup %s, want %s", res.Backup, want)
		}
		if read(t, p+stamp) != "older" {
			t.Errorf("an existing backup was replaced")
		}
	})
}

func TestFixRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, p string)
		is    error
		msg   string
	}{
		{"directory", func(t *testing.T, p string) { os.MkdirAll(p, 0o755) }, ErrNotRegular, "is a directory"},
		{"dangling symlink", func(t *testing.T, p string) { os.Symlink("nowhere.json", p) }, ErrDanglingLink, "dangling symlink"},
		{"empty", func(t *testing.T, p string) { write(t, p, "", 0o644) }, ErrEmpty, "empty"},
		{"invalid", func(t *testing.T, p string) { write(t, p, "{\n  \"ipv6\": true,\n}\n", 0o644) }, ErrInvalid, ":3:1: invalid JSON"},
		{"duplicate", func(t *testing.T, p string) { write(t, p, `{"ipv6": false, "ipv6": true}`, 0o644) }, ErrDuplicateKey, `duplicate key "ipv6"`},
		{"unreadable", func(t *testing.T, p string) {
			write(t, p, `{}`, 0o644)
			old := osReadFile
			osReadFile = func(string) ([]byte, error) { return nil, syscall.EACCES }
			t.Cleanup(func() { osReadFile = old })
		}, syscall.EACCES, "read "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "daemon.json")
			tt.setup(t, p)
			before := listDir(t, dir)
			var rec fsx.Recorder
			// Wrapped so that reads go to the disk (and its seam), while
			// writes are still recorded.
			_, err := Fix(struct{ fsx.System }{&rec}, p, RequirementsFor(26, ""), now)
			if err == nil {
				t.Fatal("Fix succeeded, want an error")
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not name %s and %q", err, p, tt.msg)
			}
			if len(rec.Changes) != 0 {
				t.Errorf("writes on error: %+v", rec.Changes)
			}
			if after := listDir(t, dir); after != before {
				t.Errorf("directory changed: %s -> %s", before, after)
			}
		})
	}
}

func listDir(t *testing.T, dir string) string {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		names = append(names, p)
		return nil
	})
	return strings.Join(names, " ")
}

// failWrite is the real system except that writing one file fails, as a
// full disk would.
type failWrite struct {
	fsx.Real
	name string
}

func (f failWrite) WriteFile(name string, data []byte, perm fs.FileMode) error {
	if name == f.name {
		return &fs.PathError{Op: "write", Path: name, Err: syscall.ENOSPC}
	}
	return f.Real.WriteFile(name, data, perm)
}

func TestFixWriteFault(t *testing.T) {
	const orig = "{\n  \"log-driver\": \"local\"\n}\n"
	for _, which := range []string{"backup", "target"} {
		t.Run(which, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "daemon.json")
			write(t, p, orig, 0o640)
			fail := p
			if which == "backup" {
				fail = p + stamp
			}
			_, err := Fix(failWrite{name: fail}, p, RequirementsFor(28, ""), now)
			if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), p) {
				t.Fatalf("error %v, want ENOSPC naming %s", err, p)
			}
			if got := read(t, p); got != orig {
				t.Errorf("original changed to %q", got)
			}
			if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
				t.Errorf("mode %v", fi.Mode().Perm())
			}
		})
	}
}

func TestFixDryRun(t *testing.T) {
	p := filepath.Join(t.TempDir(), "daemon.json")
	write(t, p, `{}`, 0o644)
	var rec fsx.Recorder
	res, err := Fix(&rec, p, RequirementsFor(28, ""), now)
	if err != nil {
		t.Fatal(err)
	}
	if read(t, p) != `{}` {
		t.Fatal("dry run wrote the file")
	}
	got, _ := rec.ReadFile(p)
	if string(got) != `{"ipv6": true}` || res.Backup == "" {
		t.Errorf("recorded %q, result %+v", got, res)
	}
	// Verify mode: the check system refuses the write, naming the file.
	if _, err := Fix(fsx.Check{}, p, RequirementsFor(28, ""), now); !errors.Is(err, fsx.ErrWriteRefused) {
		t.Errorf("Fix through fsx.Check: %v", err)
	}
}

// fakeDocker puts a docker script with body on PATH, and nothing else.
func fakeDocker(t *testing.T, body string) {
	t.Helper()
	dir := t.TempDir()
	if body != "" {
		write(t, filepath.Join(dir, "docker"), "#!/bin/sh\n"+body+"\n", 0o755)
	}
	t.Setenv("PATH", dir+":/bin:/usr/bin")
	if body == "" {
		t.Setenv("PATH", dir)
	}
}

func TestDockerMajor(t *testing.T) {
	old := dockerWaitDelay
	dockerWaitDelay = 200 * time.Millisecond
	t.Cleanup(func() { dockerWaitDelay = old })
	tests := []struct {
		name    string
		script  string // "" = no docker on PATH
		major   int
		raw     string
		errMsg  string
		maxTime time.Duration
	}{
		{"28", `[ "$*" = "version --format {{.Server.Version}}" ] || exit 9; echo 28.2.2`, 28, "28.2.2", "", 0},
		{"rc", `echo 27.0.0-rc1`, 27, "27.0.0-rc1", "", 0},
		{"v prefix", `echo v26.1.4`, 26, "v26.1.4", "", 0},
		{"garbage", `echo "Cannot connect"`, 0, "Cannot connect", "not a version", 0},
		{"empty", `exit 0`, 0, "", "not a version", 0},
		{"no engine", `echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock" >&2; exit 1`, 0, "", "Cannot connect to the Docker daemon", 0},
		{"hangs", `sleep 30; echo 28.0.0`, 0, "", "no answer within", 5 * time.Second},
		{"hangs with a child holding stdout", `sleep 30 & wait`, 0, "", "no answer within", 5 * time.Second},
		{"missing", "", 0, "", "executable file not found", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakeDocker(t, tt.script)
			start := time.Now()
			major, raw, err := DockerMajor(context.Background(), 300*time.Millisecond)
			if tt.maxTime > 0 && time.Since(start) > tt.maxTime {
				t.Errorf("took %v", time.Since(start))
			}
			if major != tt.major || raw != tt.raw {
				t.Errorf("got %d %q, want %d %q", major, raw, tt.major, tt.raw)
			}
			if tt.errMsg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrDockerVersion) || !strings.Contains(err.Error(), tt.errMsg) {
				t.Errorf("error %v, want ErrDockerVersion with %q", err, tt.errMsg)
			}
		})
	}
}

func TestParseMajor(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"28.2.2", 28, true}, {"27.0.0-rc1", 27, true}, {"v26.1.4", 26, true}, {" 25.0.5\n", 25, true},
		{"20.10.24+dfsg1", 20, true}, {"29", 29, true},
		{"", 0, false}, {"abc", 0, false}, {"0.1", 0, false}, {"28x", 0, false}, {"-1.0", 0, false},
		{"99999999999999999999.1", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMajor(tt.in)
			if got != tt.want || (err == nil) != tt.ok {
				t.Fatalf("ParseMajor(%q) = %d, %v", tt.in, got, err)
			}
		})
	}
}
