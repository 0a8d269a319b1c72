package crashtest

// Ownership: mailcow installs with userns-remap own their files as
// 165536; every write path keeps owner, group and mode. And the state
// dir stays private under umask 000.

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const remapID = 165536

type owned struct {
	uid, gid int
	mode     fs.FileMode
}

func ownerOf(t *testing.T, p string) owned {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return owned{int(st.Uid), int(st.Gid), fi.Mode() & (fs.ModePerm | fs.ModeSetgid | fs.ModeSetuid)}
}

func chown(t *testing.T, p string, mode fs.FileMode) {
	t.Helper()
	if err := os.Chown(p, remapID, remapID); err != nil {
		t.Skipf("cannot chown to %d (needs root): %v", remapID, err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func wantOwned(t *testing.T, what, p string, mode fs.FileMode) {
	t.Helper()
	if got := ownerOf(t, p); got != (owned{remapID, remapID, mode}) {
		t.Errorf("%s: %s is %d:%d %v, want %d:%d %v", what, p, got.uid, got.gid, got.mode, remapID, remapID, mode)
	}
}

func TestOwnershipKept(t *testing.T) {
	w := newWorld(t)
	w.initMailcow(crashTracked(), w.crashPatches())
	for i := 0; i < 4; i++ {
		w.write(w.path(overrideFile(i)), overrideAdmin(i), 0o640)
		chown(t, w.path(overrideFile(i)), 0o640)
	}
	// apply: the patch targets.
	for i := 0; i < 3; i++ {
		chown(t, w.path(iniFile(i)), 0o640)
		chown(t, w.path(lineFile(i)), 0o660|fs.ModeSetgid)
	}
	w.mustRun("apply", "--no-restart")
	for i := 0; i < 3; i++ {
		wantOwned(t, "apply", w.path(iniFile(i)), 0o640)
		wantOwned(t, "apply", w.path(lineFile(i)), 0o660|fs.ModeSetgid)
	}

	// hook pre (daemon.json, with ipv6 on) and its backup.
	w.write(w.config, "[restart]\nenabled = off\n", 0o600)
	w.write(w.daemon, `{"log-driver": "local"}`+"\n", 0o640)
	chown(t, w.daemon, 0o640)
	w.mustRun("hook", "pre")
	wantOwned(t, "hook pre", w.daemon, 0o640)
	baks, _ := filepath.Glob(w.daemon + ".mcupdate-*.bak")
	if len(baks) != 1 {
		t.Fatalf("backups: %v", baks)
	}
	wantOwned(t, "hook pre backup", baks[0], 0o640)

	// hook post: update.sh changed one override (as root, 0644) and
	// lost another; both come back as the admin had them.
	w.write(w.path(overrideFile(0)), "update.sh's\n", 0o644)
	if err := os.Chown(w.path(overrideFile(0)), 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(w.path(overrideFile(1))); err != nil {
		t.Fatal(err)
	}
	w.mustRun("hook", "post", "--no-restart")
	wantOwned(t, "hook post", w.path(overrideFile(0)), 0o640)
	wantOwned(t, "hook post", w.path(overrideFile(1)), 0o640)

	// snapshot restore: a changed file written in place keeps its
	// owner; a lost one gets the recorded one.
	w.write(w.path(overrideFile(2)), "changed\n", 0o640)
	if err := os.Remove(w.path(overrideFile(3))); err != nil {
		t.Fatal(err)
	}
	w.mustRun("snapshot", "restore", "latest")
	wantOwned(t, "snapshot restore", w.path(overrideFile(2)), 0o640)
	wantOwned(t, "snapshot restore", w.path(overrideFile(3)), 0o640)
}

// Under umask 000 the state dir and everything in it stay private:
// mailcow.conf's copies hold the database passwords.
func TestStateDirPrivateUnderUmask000(t *testing.T) {
	w := newWorld(t)
	w.initMailcow(nil, "[docker]\nipv6 = off\n[restart]\nenabled = off\n")
	for i := 0; i < 3; i++ {
		w.write(w.path(overrideFile(i)), overrideAdmin(i), 0o640)
	}
	for _, args := range [][]string{{"hook", "pre"}, {"snapshot", "create"}, {"hook", "post", "--no-restart"}, {"apply"}} {
		r := w.runUmask000(args...)
		if r.code != 0 {
			t.Fatalf("%s", r)
		}
	}
	n := 0
	err := filepath.Walk(w.state, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		n++
		want := fs.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700 | fs.ModeDir
		}
		if fi.Mode() != want {
			t.Errorf("%s: %v, want %v", p, fi.Mode(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d files and dirs in the state dir, all 0700/0600", n)
}

// runUmask000 runs mcupdate from sh -c with umask 000.
func (w *world) runUmask000(args ...string) result {
	w.t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", `umask 000; exec "$0" "$@"`, bin}, args...)...)
	cmd.Dir, cmd.Env = w.root, w.env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		w.t.Fatal(err)
	}
	return result{args: args, code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// Issue 11 (minor): update.sh's version of an override, kept as
// FILE.mcupdate-new, has update.sh's mode, owner and group, not 0600
// root (nor an older kept copy's).
func TestKeptVersionKeepsModeAndOwner(t *testing.T) {
	w := newWorld(t)
	w.initMailcow(nil, "[docker]\nipv6 = off\n[restart]\nenabled = off\n")
	p := w.path(overrideFile(0))
	w.write(p, overrideAdmin(0), 0o640)
	for round, mode := range []fs.FileMode{0o644, 0o664 | fs.ModeSetgid} {
		w.mustRun("hook", "pre")
		w.write(p, "update.sh's\n", mode)
		chown(t, p, mode)
		w.mustRun("hook", "post", "--no-restart")
		wantOwned(t, "kept version, round "+string(rune('1'+round)), p+".mcupdate-new", mode)
		if v, _ := read(p + ".mcupdate-new"); v.data != "update.sh's\n" {
			t.Errorf("kept version: %s", v)
		}
		if v, _ := read(p); v.data != overrideAdmin(0) {
			t.Errorf("not restored: %s", v)
		}
	}
}

// Issue 11 (minor): the daemon.json backups the pre hook makes are
// pruned like the snapshots, to the newest [snapshot] keep; they grew
// by one on every update whose daemon.json needed a key.
func TestDaemonJSONBackupsPruned(t *testing.T) {
	w := newWorld(t)
	w.initMailcow(nil, "[restart]\nenabled = off\n[snapshot]\nkeep = 3\n")
	for i := 0; i < 5; i++ {
		w.write(w.daemon+".mcupdate-2025010"+string(rune('1'+i))+"T000000Z.bak", "{}\n", 0o644)
	}
	for i := 0; i < 2; i++ {
		w.write(w.daemon, `{"log-driver": "local"}`+"\n", 0o644)
		w.mustRun("hook", "pre")
	}
	baks, _ := filepath.Glob(w.daemon + ".mcupdate-*.bak")
	if len(baks) != 3 {
		t.Fatalf("backups after two pre hooks with keep = 3: %v", baks)
	}
	if !strings.Contains(baks[0], "20250105T000000Z") {
		t.Errorf("kept %v, want the newest three", baks)
	}
}
