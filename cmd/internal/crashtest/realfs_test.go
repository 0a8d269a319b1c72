package crashtest

// A full disk and a read-only filesystem for real: small tmpfs mounts
// over the world's directories, in a private mount namespace (unshare -m)
// that a helper run of this test binary lives in, so no mount is ever
// seen outside it and all go with it. And chattr +i on ext4.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

const nsScenarioEnv = "MCUPDATE_NS_SCENARIO"

// runInNamespace runs TestNamespaceHelper with scenario on w in a private
// mount namespace; it skips when the machine cannot make one.
func runInNamespace(t *testing.T, w *world, scenario string) {
	t.Helper()
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("needs unshare(1) for a private mount namespace")
	}
	if out, err := exec.Command(unshare, "-m", "--propagation", "private", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot make a private mount namespace (needs root or CAP_SYS_ADMIN): %v: %s", err, out)
	}
	cmd := exec.Command(unshare, "-m", "--propagation", "private", os.Args[0], "-test.run=^TestNamespaceHelper$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), nsScenarioEnv+"="+scenario, "MCUPDATE_NS_WORLD="+w.root, "MCUPDATE_CRASHTEST_BIN="+bin)
	out, err := cmd.CombinedOutput()
	t.Logf("in the namespace:\n%s", out)
	if err != nil {
		t.Fatalf("scenario %s failed: %v", scenario, err)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestNamespaceHelper")) {
		t.Fatalf("scenario %s did not run", scenario)
	}
}

// mountTmpfs mounts a tmpfs of size over dir, keeping dir's content.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	keep := t.TempDir()
	sh(t, "cp", "-a", dir+"/.", keep)
	sh(t, "mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir)
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	sh(t, "cp", "-a", keep+"/.", dir)
}

func sh(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// fill writes to a file below dir until its filesystem is full, and
// returns a func that frees the space.
func fill(t *testing.T, dir string) func() {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	// The last partial page too.
	for {
		if _, err := f.Write(chunk[:1]); err != nil {
			break
		}
	}
	_ = f.Close()
	return func() {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
}

// hardenWorld is the world of the filesystem tests: 200 patch targets,
// 20 overrides in a snapshot, a daemon.json without "ipv6".
func hardenWorld(t *testing.T) *world {
	w := newWorld(t)
	w.initMailcow(crashTracked(), strings.Replace(w.crashPatches(), "[docker]\nipv6 = off\n", "", 1))
	for i := 0; i < 20; i++ {
		w.write(w.path(overrideFile(i)), overrideAdmin(i), 0o640)
	}
	w.mustRun("snapshot", "create")
	w.write(w.daemon, daemonAdmin, 0o644)
	return w
}

const daemonAdmin = `{"log-driver": "local"}` + "\n"

// firstSnapshot is the ID of the store's oldest snapshot: the admin's
// overrides, taken by hardenWorld.
func firstSnapshot(t *testing.T, w *world) string {
	t.Helper()
	ms, err := filepath.Glob(filepath.Join(w.state, "snapshots", "2*", "manifest.json"))
	if err != nil || len(ms) == 0 {
		t.Fatalf("no snapshot: %v", err)
	}
	sort.Strings(ms)
	return filepath.Base(filepath.Dir(ms[0]))
}

// snapshotFiles returns the content of every file below the store.
func snapshotFiles(t *testing.T, w *world) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.Walk(filepath.Join(w.state, "snapshots"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			out[p] = string(b)
		}
		return nil
	})
	return out
}

// damageOverrides is update.sh losing the overrides; it returns what
// they hold then.
func damageOverrides(w *world) map[string]string {
	old := map[string]string{}
	for i := 0; i < 20; i++ {
		v := fmt.Sprintf("update.sh's %d\n", i)
		w.write(w.path(overrideFile(i)), v, 0o644)
		old[w.path(overrideFile(i))] = v
	}
	return old
}

// unchanged fails for every file in want that now holds something else.
func unchanged(t *testing.T, what string, want map[string]string) {
	t.Helper()
	for p, v := range want {
		got, err := os.ReadFile(p)
		if err != nil || string(got) != v {
			t.Errorf("%s: %s changed (%v)", what, p, err)
		}
	}
}

func trackedOld(w *world) map[string]string {
	m := map[string]string{}
	for rel, data := range crashTracked() {
		m[w.path(rel)] = data
	}
	return m
}

// wantFailure checks a run failed and said why, naming a file.
func wantFailure(t *testing.T, r result, why string, names ...string) {
	t.Helper()
	if r.code == 0 {
		t.Errorf("succeeded, want a failure: %s", r)
		return
	}
	all := r.stdout + r.stderr
	if !strings.Contains(all, why) {
		t.Errorf("no %q in the output: %s", why, r)
	}
	for _, n := range names {
		if !strings.Contains(all, n) {
			t.Errorf("the output does not name %s: %s", n, r)
		}
	}
	if strings.Contains(all, "panic") {
		t.Errorf("panic: %s", r)
	}
	t.Logf("mcupdate %s: exit %d: %s", strings.Join(r.args, " "), r.code, firstError(all))
}

func firstError(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "error") {
			return l
		}
	}
	return ""
}

func TestDiskFull(t *testing.T) {
	w := hardenWorld(t)
	runInNamespace(t, w, "full")
}

func TestReadOnly(t *testing.T) {
	w := hardenWorld(t)
	runInNamespace(t, w, "ro")
}

// TestNamespaceHelper is the part of TestDiskFull and TestReadOnly that
// runs in the private mount namespace.
func TestNamespaceHelper(t *testing.T) {
	scenario := os.Getenv(nsScenarioEnv)
	if scenario == "" {
		t.Skip("runs only in the mount namespace TestDiskFull and TestReadOnly make")
	}
	w := worldAt(t, os.Getenv("MCUPDATE_NS_WORLD"))
	mcDir, etcDocker := w.dir, filepath.Dir(w.daemon)
	mountTmpfs(t, mcDir, "16m")
	mountTmpfs(t, etcDocker, "64k")
	mountTmpfs(t, w.state, "16m")
	tracked := trackedOld(w)
	first := firstSnapshot(t, w)
	switch scenario {
	case "full":
		freeMC, freeDocker := fill(t, mcDir), fill(t, etcDocker)
		const why = "no space left on device"

		r := w.run("apply", "--no-restart")
		wantFailure(t, r, why, "data/conf/crash/")
		unchanged(t, "apply on a full disk", tracked)
		noTemps(t, w, "apply on a full disk")

		over := damageOverrides(w)
		freeMC()
		freeMC = fill(t, mcDir)
		r = w.run("snapshot", "restore", first)
		wantFailure(t, r, why, "override.d/o0")
		unchanged(t, "restore on a full disk", over)
		noTemps(t, w, "restore on a full disk")

		r = w.run("hook", "pre")
		wantFailure(t, r, why, w.daemon)
		unchanged(t, "pre hook on a full disk", map[string]string{w.daemon: daemonAdmin})
		noTemps(t, w, "pre hook on a full disk")

		// The state dir full: the snapshot fails, the older ones stay.
		freeMC()
		before := snapshotFiles(t, w)
		freeState := fill(t, w.state)
		r = w.run("snapshot", "create")
		wantFailure(t, r, why, filepath.Join(w.state, "snapshots"))
		unchanged(t, "snapshot create on a full state dir", before)
		noTemps(t, w, "snapshot create on a full state dir")
		freeState()

		// Space again: everything goes through.
		freeDocker()
		w.mustRun("apply", "--no-restart")
		w.mustRun("snapshot", "restore", first)
		w.mustRun("hook", "pre")
		for i := 0; i < 20; i++ {
			if v, _ := read(w.path(overrideFile(i))); v.data != overrideAdmin(i) {
				t.Errorf("%s not restored once there was space", overrideFile(i))
			}
		}
		noTemps(t, w, "the runs with space")

	case "ro":
		const why = "read-only file system"
		sh(t, "mount", "-o", "remount,ro", mcDir)
		sh(t, "mount", "-o", "remount,ro", etcDocker)
		r := w.run("apply", "--no-restart")
		wantFailure(t, r, why, "data/conf/crash/")
		unchanged(t, "apply on a read-only mailcow dir", tracked)

		r = w.run("hook", "pre")
		wantFailure(t, r, why, w.daemon)
		unchanged(t, "pre hook on a read-only /etc/docker", map[string]string{w.daemon: daemonAdmin})

		sh(t, "mount", "-o", "remount,rw", mcDir)
		over := damageOverrides(w)
		sh(t, "mount", "-o", "remount,ro", mcDir)
		r = w.run("snapshot", "restore", first)
		wantFailure(t, r, why, "override.d/o0")
		unchanged(t, "restore on a read-only mailcow dir", over)

		// The state dir read-only: the lock cannot be taken; said so.
		sh(t, "mount", "-o", "remount,ro", w.state)
		r = w.run("snapshot", "create")
		wantFailure(t, r, why, w.state)
		sh(t, "mount", "-o", "remount,rw", w.state)

		sh(t, "mount", "-o", "remount,rw", mcDir)
		sh(t, "mount", "-o", "remount,rw", etcDocker)
		noTemps(t, w, "runs on read-only filesystems")
		w.mustRun("apply", "--no-restart")
		w.mustRun("snapshot", "restore", first)
		w.mustRun("hook", "pre")
	default:
		t.Fatalf("unknown scenario %q", scenario)
	}
}

func noTemps(t *testing.T, w *world, what string) {
	t.Helper()
	if tmps := w.temps(); len(tmps) > 0 {
		t.Errorf("%s: temp files left: %v", what, tmps)
	}
}

// TestImmutable: chattr +i on a patch target, on its directory, and on
// daemon.json (ext4 supports it; tmpfs does not everywhere).
func TestImmutable(t *testing.T) {
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("needs chattr(1)")
	}
	t.Setenv("MCUPDATE_CRASH_DIR", os.TempDir())
	w := hardenWorld(t)
	probe := filepath.Join(w.root, "probe")
	w.write(probe, "x", 0o644)
	if out, err := exec.Command("chattr", "+i", probe).CombinedOutput(); err != nil {
		t.Skipf("the filesystem of %s does not support chattr +i: %v: %s", w.root, err, out)
	}
	sh(t, "chattr", "-i", probe)
	immutable := func(p string) {
		sh(t, "chattr", "+i", p)
		t.Cleanup(func() { _ = exec.Command("chattr", "-i", p).Run() })
	}
	const why = "operation not permitted"
	tracked := trackedOld(w)

	// One immutable file: its patch fails, the others go through.
	one := w.path(iniFile(7))
	immutable(one)
	r := w.run("apply", "--no-restart")
	wantFailure(t, r, why, iniFile(7))
	unchanged(t, "immutable file", map[string]string{one: tracked[one], w.path(lineFile(7)): tracked[w.path(lineFile(7))]})
	if v, _ := read(w.path(iniFile(8))); v.data == tracked[w.path(iniFile(8))] {
		t.Errorf("the other patches were not applied")
	}
	noTemps(t, w, "immutable file")
	sh(t, "chattr", "-i", one)

	// An immutable directory: no temp can be made in it.
	immutable(filepath.Dir(w.daemon))
	r = w.run("hook", "pre")
	wantFailure(t, r, why, w.daemon)
	unchanged(t, "immutable /etc/docker", map[string]string{w.daemon: daemonAdmin})
	noTemps(t, w, "immutable /etc/docker")
	sh(t, "chattr", "-i", filepath.Dir(w.daemon))

	w.mustRun("apply", "--no-restart")
	w.mustRun("hook", "pre")
	noTemps(t, w, "after chattr -i")
}
