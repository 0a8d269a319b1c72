package state

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

// lockChildEnv makes the test binary a child that takes the lock of the
// directory it names, says "locked" and waits to be killed.
const lockChildEnv = "MCUPDATE_STATE_TEST_LOCK_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(lockChildEnv); dir != "" {
		l, err := Dir{Path: dir}.Lock("child")
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
		_ = l.Release()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func withUmask(t *testing.T, mask int, f func()) {
	t.Helper()
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	f()
}

func permOf(t *testing.T, name string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func TestEnsure(t *testing.T) {
	tests := []struct {
		name  string
		umask int
		setup func(t *testing.T, p string)
	}{
		{"new under umask 000", 0o000, func(*testing.T, string) {}},
		{"new under umask 022", 0o022, func(*testing.T, string) {}},
		{"new with missing parents", 0o000, func(*testing.T, string) {}},
		{"tightens 0755", 0o022, func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{"tightens 0755 under umask 000", 0o000, func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{"loosens nothing: 0700 stays", 0o022, func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "mcupdate")
			if strings.Contains(tt.name, "parents") {
				p = filepath.Join(p, "a", "b")
			}
			tt.setup(t, p)
			withUmask(t, tt.umask, func() {
				if err := (Dir{Path: p}).Ensure(); err != nil {
					t.Fatal(err)
				}
			})
			if got := permOf(t, p); got != fs.ModeDir|0o700 {
				t.Errorf("mode %v, want drwx------", got)
			}
		})
	}
	t.Run("removes leftover temp files", func(t *testing.T) {
		p := t.TempDir()
		tmp := filepath.Join(p, fsx.TempPrefix+"last-pre.json-123")
		keep := filepath.Join(p, "last-pre.json")
		for _, f := range []string{tmp, keep} {
			if err := os.WriteFile(f, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := (Dir{Path: p}).Ensure(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
			t.Error("temp file left")
		}
		if _, err := os.Stat(keep); err != nil {
			t.Error(err)
		}
	})
	t.Run("a file is not a directory", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		err := (Dir{Path: p}).Ensure()
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("Ensure(file) = %v, want an error naming %s", err, p)
		}
	})
}

func TestLockInProcess(t *testing.T) {
	d := Dir{Path: filepath.Join(t.TempDir(), "state")}
	l, err := d.Lock("mcupdate hook pre")
	if err != nil {
		t.Fatal(err)
	}
	lockFile := filepath.Join(d.Path, "lock")
	if got := permOf(t, lockFile); got != 0o600 {
		t.Errorf("lock file mode %v", got)
	}

	// flock is per open file, so a second Lock in the same process is
	// refused as another run's would be.
	_, err = d.Lock("mcupdate apply")
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock: %v, want ErrLocked", err)
	}
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Lock: %T is not a *LockedError", err)
	}
	wantHolder := fmt.Sprintf("pid %d (mcupdate hook pre) since ", os.Getpid())
	if le.Path != lockFile || !strings.HasPrefix(le.Holder, wantHolder) {
		t.Errorf("LockedError{%q, %q}, want path %s and holder %q…", le.Path, le.Holder, lockFile, wantHolder)
	}
	if _, perr := time.Parse(time.RFC3339, strings.TrimPrefix(le.Holder, wantHolder)); perr != nil {
		t.Errorf("holder time: %v", perr)
	}
	if msg := err.Error(); !strings.Contains(msg, lockFile) || !strings.Contains(msg, "another mcupdate run holds the lock") || !strings.Contains(msg, "(mcupdate hook pre)") {
		t.Errorf("message %q", msg)
	}

	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	if data, _ := os.ReadFile(lockFile); len(data) != 0 {
		t.Errorf("Release left the holder line %q", data)
	}
	l2, err := d.Lock("mcupdate apply")
	if err != nil {
		t.Fatalf("Lock after Release: %v", err)
	}
	defer l2.Release()
	if data, _ := os.ReadFile(lockFile); !strings.Contains(string(data), "(mcupdate apply)") {
		t.Errorf("holder line %q", data)
	}
	var nilLock *Lock
	if err := nilLock.Release(); err != nil {
		t.Errorf("nil Release: %v", err)
	}
}

func TestLockedErrorWithoutHolder(t *testing.T) {
	e := &LockedError{Path: "/var/lib/mcupdate/lock"}
	if got, want := e.Error(), "/var/lib/mcupdate/lock: another mcupdate run holds the lock"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

// A run that is killed (kill -9, OOM, reboot) never leaves a stale lock:
// the kernel drops its flock with the process.
func TestLockOfKilledProcess(t *testing.T) {
	d := Dir{Path: filepath.Join(t.TempDir(), "state")}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+d.Path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("child said %q, %v", line, err)
	}

	_, err = d.Lock("mcupdate hook pre")
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Lock while the child holds it: %v", err)
	}
	if want := "pid " + strconv.Itoa(cmd.Process.Pid) + " (child) since "; !strings.HasPrefix(le.Holder, want) {
		t.Errorf("holder %q, want %q…", le.Holder, want)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	l, err := d.Lock("mcupdate hook pre")
	if err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	defer l.Release()
	if data, _ := os.ReadFile(filepath.Join(d.Path, "lock")); strings.Contains(string(data), "(child)") {
		t.Errorf("the dead holder's line is still there: %q", data)
	}
}

func TestWriteJSON(t *testing.T) {
	for _, umask := range []int{0o000, 0o022} {
		t.Run(fs.FileMode(umask).String(), func(t *testing.T) {
			d := Dir{Path: t.TempDir()}
			rec := Record{
				Time:       time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC),
				MailcowDir: "/opt/mailcow-dockerized",
				Commit:     "0123456789abcdef0123456789abcdef01234567",
				Branch:     "master",
			}
			withUmask(t, umask, func() {
				if err := d.SaveRecord(fsx.Real{}, rec); err != nil {
					t.Fatal(err)
				}
			})
			p := filepath.Join(d.Path, RecordFile)
			if got := permOf(t, p); got != 0o600 {
				t.Errorf("mode %v under umask %03o, want -rw-------", got, umask)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(string(data), "}\n") || !strings.Contains(string(data), "\n  \"mailcow_dir\": \"/opt/mailcow-dockerized\",\n") {
				t.Errorf("not indented JSON with a final newline:\n%s", data)
			}
			if strings.Contains(string(data), "snapshot_id") {
				t.Errorf("empty snapshot_id written:\n%s", data)
			}
			got, ok, err := d.LoadRecord()
			if err != nil || !ok || !reflect.DeepEqual(got, rec) {
				t.Errorf("LoadRecord = %+v, %v, %v; want %+v", got, ok, err, rec)
			}
		})
	}
	t.Run("refused by Check", func(t *testing.T) {
		d := Dir{Path: t.TempDir()}
		if err := d.WriteJSON(fsx.Check{}, "last-pre.json", map[string]int{"a": 1}); !errors.Is(err, fsx.ErrWriteRefused) {
			t.Errorf("WriteJSON through Check: %v", err)
		}
		if _, err := os.Stat(filepath.Join(d.Path, "last-pre.json")); !errors.Is(err, fs.ErrNotExist) {
			t.Error("written through Check")
		}
	})
	t.Run("unencodable value", func(t *testing.T) {
		d := Dir{Path: t.TempDir()}
		if err := d.WriteJSON(fsx.Real{}, "x.json", map[string]any{"f": func() {}}); err == nil {
			t.Error("no error")
		}
	})
}

func TestLoadRecord(t *testing.T) {
	tests := []struct {
		name    string
		content *string // nil: no file
		ok      bool
		errText string
	}{
		{"missing", nil, false, ""},
		{"valid", ptr(`{"commit":"abc","branch":"master"}`), true, ""},
		{"corrupt", ptr(`{"commit":`), false, "unexpected end of JSON input"},
		{"wrong type", ptr(`{"commit":42}`), false, "cannot unmarshal number"},
		{"empty", ptr(``), false, "unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Dir{Path: t.TempDir()}
			p := filepath.Join(d.Path, RecordFile)
			if tt.content != nil {
				if err := os.WriteFile(p, []byte(*tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r, ok, err := d.LoadRecord()
			if ok != tt.ok {
				t.Errorf("ok = %v", ok)
			}
			if tt.errText == "" {
				if err != nil {
					t.Errorf("error %v", err)
				}
				if ok && r.Commit != "abc" {
					t.Errorf("record %+v", r)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("error %v, want one naming %s and saying %q", err, p, tt.errText)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestPruneReports(t *testing.T) {
	base := time.Date(2026, 5, 1, 23, 59, 59, 0, time.UTC)
	var reports []string
	for i, kind := range []string{"pre", "post", "pre", "post", "apply"} {
		// Out of order on purpose, and across a day and a year boundary.
		at := base.Add(time.Duration((i*37)%5) * 24 * time.Hour * 100)
		reports = append(reports, ReportName(kind, at.Add(time.Duration(i)*time.Millisecond)))
	}
	others := []string{LastReportName("pre"), LastReportName("post"), RecordFile, "lock", "report-notes.txt"}
	sorted := append([]string(nil), reports...)
	sort.Strings(sorted)

	tests := []struct {
		keep int
		want []string // reports left
	}{
		{10, sorted},
		{5, sorted},
		{3, sorted[2:]},
		{1, sorted[4:]},
		{0, nil},
		{-1, nil},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.keep), func(t *testing.T) {
			d := Dir{Path: t.TempDir()}
			for _, n := range append(append([]string(nil), reports...), others...) {
				if err := os.WriteFile(filepath.Join(d.Path, n), []byte("{}"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.PruneReports(tt.keep); err != nil {
				t.Fatal(err)
			}
			var left []string
			ents, _ := os.ReadDir(d.Path)
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), "report-") && strings.HasSuffix(e.Name(), ".json") {
					left = append(left, e.Name())
				}
			}
			if strings.Join(left, " ") != strings.Join(tt.want, " ") {
				t.Errorf("left %q, want %q", left, tt.want)
			}
			for _, n := range others {
				if _, err := os.Stat(filepath.Join(d.Path, n)); err != nil {
					t.Errorf("%s removed", n)
				}
			}
		})
	}
}

// Report names sort by time, which PruneReports relies on.
func TestReportNameSortsByTime(t *testing.T) {
	t1 := time.Date(2026, 12, 31, 23, 59, 59, 999e6, time.FixedZone("CET", 3600))
	t2 := t1.Add(time.Millisecond)
	a, b := ReportName("post", t1), ReportName("apply", t2)
	if !(a < b) {
		t.Errorf("%s does not sort before %s", a, b)
	}
	if want := "report-20261231T225959.999Z-post.json"; a != want {
		t.Errorf("ReportName = %s, want %s (UTC)", a, want)
	}
}

// Issue 11, item 2: a state dir another user can write (or has planted
// links in) is refused with an error that says how to fix it, as sshd's
// StrictModes does; it is never chmod'ed through a link. Before, Ensure
// chmod'ed whatever the path led to: a state dir that was a link to a
// sticky 1777 directory turned that directory 0700, a 0777 one was
// quietly tightened with the links planted in it still there.
func TestStateDirStrictModes(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, base, p string)
		want  string // in the error; "" = accepted
	}{
		{"0700 accepted", func(t *testing.T, _, p string) { mkdir(t, p, 0o700) }, ""},
		{"0755 tightened", func(t *testing.T, _, p string) { mkdir(t, p, 0o755) }, ""},
		{"0777 refused", func(t *testing.T, _, p string) { mkdir(t, p, 0o777) }, "is writable by group or others (mode 0777)"},
		{"0770 refused", func(t *testing.T, _, p string) { mkdir(t, p, 0o770) }, "fix: chmod 700 "},
		{"1777 refused", func(t *testing.T, _, p string) { mkdir(t, p, 0o777|fs.ModeSticky) }, "writable by group or others"},
		{"a link to a sticky 1777 dir", func(t *testing.T, base, p string) {
			mkdir(t, filepath.Join(base, "tmp"), 0o777|fs.ModeSticky)
			if err := os.Symlink(filepath.Join(base, "tmp"), p); err != nil {
				t.Fatal(err)
			}
		}, "is a symbolic link (to "},
		{"a link to a 0700 dir", func(t *testing.T, base, p string) {
			mkdir(t, filepath.Join(base, "real"), 0o700)
			if err := os.Symlink("real", p); err != nil {
				t.Fatal(err)
			}
		}, "give the directory itself with --state-dir"},
		{"another user's", func(t *testing.T, _, p string) {
			requireRoot(t)
			mkdir(t, p, 0o700)
			if err := os.Chown(p, 1234, 1234); err != nil {
				t.Fatal(err)
			}
		}, "is owned by uid 1234"},
		{"parent writable by others", func(t *testing.T, base, p string) {
			mkdir(t, p, 0o700)
			if err := os.Chmod(base, 0o777); err != nil {
				t.Fatal(err)
			}
		}, "without the sticky bit"},
		{"parent sticky 1777 accepted", func(t *testing.T, base, p string) {
			mkdir(t, p, 0o700)
			if err := os.Chmod(base, 0o777|fs.ModeSticky); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"parent another user's", func(t *testing.T, base, p string) {
			requireRoot(t)
			mkdir(t, p, 0o700)
			if err := os.Chown(base, 1234, 1234); err != nil {
				t.Fatal(err)
			}
		}, "its parent " /* … is owned by uid 1234 */},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := filepath.Join(t.TempDir(), "lib")
			mkdir(t, base, 0o755)
			p := filepath.Join(base, "mcupdate")
			tt.setup(t, base, p)
			before := modes(t, base)
			err := (Dir{Path: p}).Ensure()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := permOf(t, p); got != fs.ModeDir|0o700 {
					t.Errorf("mode %v, want drwx------", got)
				}
				return
			}
			if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("Ensure = %v, want ErrUnsafe naming %s and saying %q", err, p, tt.want)
			}
			if after := modes(t, base); after != before {
				t.Errorf("modes changed although refused:\n%s\nnow\n%s", before, after)
			}
			if _, err := (Dir{Path: p}).Lock("mcupdate apply"); !errors.Is(err, ErrUnsafe) {
				t.Errorf("Lock = %v, want ErrUnsafe", err)
			}
			if _, err := os.Lstat(filepath.Join(base, "tmp", "lock")); err == nil {
				t.Error("lock created through the link")
			}
		})
	}
}

// Links planted in the state dir are never followed: a lock that is a
// link to a file elsewhere is refused (that file was truncated), a report
// name that is a link is replaced by the report (it was written through,
// 0644 elsewhere).
func TestPlantedLinksInStateDir(t *testing.T) {
	base := t.TempDir()
	elsewhere := filepath.Join(base, "passwd")
	if err := os.WriteFile(elsewhere, []byte("root:x:0:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := Dir{Path: filepath.Join(base, "state")}
	mkdir(t, d.Path, 0o700)
	for _, n := range []string{"lock", "last-apply.json", RecordFile} {
		if err := os.Symlink(elsewhere, filepath.Join(d.Path, n)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Lock("mcupdate apply"); !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Lock with lock a link = %v, want ErrUnsafe", err)
	}
	// A hard link is refused too: the lock is truncated and written.
	if err := os.Remove(filepath.Join(d.Path, "lock")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(elsewhere, filepath.Join(d.Path, "lock")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Lock("mcupdate apply"); !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "hard link") {
		t.Errorf("Lock with lock a hard link = %v, want ErrUnsafe", err)
	}
	if err := os.Remove(filepath.Join(d.Path, "lock")); err != nil {
		t.Fatal(err)
	}
	l, err := d.Lock("mcupdate apply")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := d.WriteJSON(fsx.Real{}, "last-apply.json", map[string]int{"schema": 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.LoadRecord(); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("LoadRecord through a link = %v, want an error", err)
	}
	if b, _ := os.ReadFile(elsewhere); string(b) != "root:x:0:0\n" {
		t.Errorf("the file the links lead to now holds %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(d.Path, "last-apply.json")); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("last-apply.json: %v, %v; want a regular 0600 file", fi.Mode(), err)
	}
}

func mkdir(t *testing.T, p string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
}

// modes lists the mode of every entry below dir.
func modes(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			fmt.Fprintf(&b, "%s %v\n", p, fi.Mode())
		}
		return nil
	})
	return b.String()
}

// A dry run's state dir: nothing created, changed or removed; its lock is
// shared, taken only on a lock file that exists, and excludes a real run.
func TestReadOnlyDir(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state")
	ro := Dir{Path: p, ReadOnly: true}
	if err := ro.Ensure(); err != nil {
		t.Fatal(err)
	}
	l, err := ro.Lock("mcupdate apply --dry-run")
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Release()
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a read-only Ensure or Lock created the dir: %v", err)
	}
	mkdir(t, p, 0o755)
	if err := os.WriteFile(filepath.Join(p, "report-20200101T000000.000Z-pre.json"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err = ro.Lock("mcupdate apply --dry-run")
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Release()
	if err := ro.WriteJSON(fsx.Real{}, "last-apply.json", 1); err != nil {
		t.Fatal(err)
	}
	if err := ro.PruneReports(0); err != nil {
		t.Fatal(err)
	}
	if got := modes(t, p); strings.Count(got, "\n") != 2 || !strings.Contains(got, p+" drwxr-xr-x") {
		t.Fatalf("the dir changed: %s", got)
	}
	// With a lock file: shared between dry runs, excluding a real run.
	real := Dir{Path: p}
	rl, err := real.Lock("mcupdate apply")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Lock("dry"); !errors.Is(err, ErrLocked) {
		t.Errorf("dry run while a real run holds the lock: %v", err)
	}
	_ = rl.Release()
	before, _ := os.ReadFile(filepath.Join(p, LockFile))
	l1, err := ro.Lock("dry 1")
	if err != nil {
		t.Fatal(err)
	}
	l2, err := ro.Lock("dry 2")
	if err != nil {
		t.Errorf("two dry runs: %v", err)
	}
	if _, err := real.Lock("mcupdate apply"); !errors.Is(err, ErrLocked) {
		t.Errorf("real run while a dry run holds the lock: %v", err)
	}
	_, _ = l1.Release(), l2.Release()
	if after, _ := os.ReadFile(filepath.Join(p, LockFile)); string(after) != string(before) {
		t.Errorf("a dry run wrote the lock: %q, was %q", after, before)
	}
}
