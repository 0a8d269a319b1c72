package crashtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// nPatches patches of two edits each, on two files each: 200 files.
const nPatches = 100

// padding makes each file a few KB, so that a torn write would show.
var padding = strings.Repeat("; padding of a configuration file an admin keeps long comments in\n", 60)

func iniFile(i int) string  { return fmt.Sprintf("data/conf/crash/f%03d.ini", i) }
func lineFile(i int) string { return fmt.Sprintf("data/conf/crash/g%03d.conf", i) }

func iniOld(i int) string {
	return fmt.Sprintf("[main]\nname = crash %d\nvalue = old-%d\n%s[other]\nvalue = untouched\n", i, i, padding)
}
func lineOld(i int) string { return fmt.Sprintf("# file %d\n%s", i, padding) }

// crashPatches writes the patches and returns the config enabling them.
func (w *world) crashPatches() string {
	w.t.Helper()
	var names []string
	for i := 0; i < nPatches; i++ {
		name := fmt.Sprintf("p%03d", i)
		names = append(names, name)
		w.write(filepath.Join(w.patchDir, name+".ini"), fmt.Sprintf(`description = crash test patch %d
services = dovecot-mailcow

[edit ini]
file = %s
kind = ini
section = main
key = value
value = new-%d

[edit line]
file = %s
kind = line
line = # added by crash patch %d
position = end
`, i, iniFile(i), i, lineFile(i), i), 0o644)
	}
	return fmt.Sprintf("[docker]\nipv6 = off\n[restart]\nenabled = off\n[patches]\ndir = %s\nenable = %s\n", w.patchDir, strings.Join(names, " "))
}

func crashTracked() map[string]string {
	m := map[string]string{}
	for i := 0; i < nPatches; i++ {
		m[iniFile(i)] = iniOld(i)
		m[lineFile(i)] = lineOld(i)
	}
	return m
}

// resetTracked writes the patch targets' old content back.
func (w *world) resetTracked() map[string]version {
	old := map[string]version{}
	for rel, data := range crashTracked() {
		w.write(w.path(rel), data, 0o644)
		old[w.path(rel)] = version{data: data}
	}
	return old
}

func TestCrashApply(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.initMailcow(crashTracked(), w.crashPatches())
	crash(t, w, crashCase{
		args:  []string{"apply", "--no-restart"},
		reset: func(int) map[string]version { return w.resetTracked() },
	})
}

// overrideFile is one of the gitignored override files of the post hook
// and snapshot tests.
func overrideFile(i int) string { return fmt.Sprintf("data/conf/rspamd/override.d/o%03d.conf", i) }

func overrideAdmin(i int) string {
	return fmt.Sprintf("# the admin's override %d\nrates { to = \"%d / 1m\"; }\n%s", i, i, padding)
}

// overrideUpdate is what update.sh left of override i: even ones
// changed, odd ones gone.
func overrideUpdate(i int) version {
	if i%2 == 1 {
		return version{absent: true}
	}
	return version{data: fmt.Sprintf("# update.sh's version of %d\n", i)}
}

const nOverrides = 200

func TestCrashHookPost(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.initMailcow(crashTracked(), w.crashPatches())
	for i := 0; i < nOverrides; i++ {
		w.write(w.path(overrideFile(i)), overrideAdmin(i), 0o640)
	}
	w.mustRun("hook", "pre")
	crash(t, w, crashCase{
		args: []string{"hook", "post", "--no-restart"},
		reset: func(int) map[string]version {
			old := w.resetTracked()
			for i := 0; i < nOverrides; i++ {
				p := w.path(overrideFile(i))
				_ = os.Remove(p + ".mcupdate-new")
				if v := overrideUpdate(i); v.absent {
					_ = os.Remove(p)
				} else {
					w.write(p, v.data, 0o644)
					// update.sh's version, kept beside the admin's.
					old[p+".mcupdate-new"] = version{absent: true}
				}
				old[p] = overrideUpdate(i)
			}
			return old
		},
		check: func(t *testing.T, complete bool) {
			// A kept version is update.sh's, whole, or not there yet;
			// after a complete run it is there.
			for i := 0; i < nOverrides; i += 2 {
				p := w.path(overrideFile(i)) + ".mcupdate-new"
				v, err := read(p)
				if err != nil {
					t.Fatal(err)
				}
				if v.absent && !complete {
					continue
				}
				if v != overrideUpdate(i) {
					t.Errorf("%s: %s, want update.sh's version", p, v)
				}
			}
		},
	})
}

func TestCrashSnapshotRestore(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.initMailcow(nil, "[docker]\nipv6 = off\n")
	for i := 0; i < nOverrides; i++ {
		w.write(w.path(overrideFile(i)), overrideAdmin(i), 0o640)
	}
	w.mustRun("snapshot", "create")
	crash(t, w, crashCase{
		args: []string{"snapshot", "restore", "latest"},
		reset: func(int) map[string]version {
			old := map[string]version{}
			for i := 0; i < nOverrides; i++ {
				p := w.path(overrideFile(i))
				if v := overrideUpdate(i); v.absent {
					_ = os.Remove(p)
				} else {
					w.write(p, v.data, 0o644)
				}
				old[p] = overrideUpdate(i)
			}
			return old
		},
	})
}

// TestCrashSnapshotCreate kills snapshot create: every snapshot that is
// listed (has a manifest) must be whole, every object must hash to its
// name, and the next complete run leaves neither temp files nor the
// directory of a snapshot that never got its manifest.
func TestCrashSnapshotCreate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.initMailcow(nil, "[docker]\nipv6 = off\n[snapshot]\nkeep = 3\n")
	store := filepath.Join(w.state, "snapshots")
	check := func(t *testing.T, complete bool) {
		ents, err := os.ReadDir(store)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Name() == "objects" {
				continue
			}
			mp := filepath.Join(store, e.Name(), "manifest.json")
			data, err := os.ReadFile(mp)
			if os.IsNotExist(err) {
				if complete {
					t.Errorf("snapshot dir %s without a manifest left after a complete run", e.Name())
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			var m struct {
				Entries []struct {
					Path, SHA256 string
				}
			}
			if err := json.Unmarshal(data, &m); err != nil {
				t.Errorf("%s: torn manifest: %v", mp, err)
				continue
			}
			if len(m.Entries) < nOverrides {
				t.Errorf("%s: %d entries, want at least %d", mp, len(m.Entries), nOverrides)
			}
			for _, en := range m.Entries {
				if en.SHA256 == "" {
					continue
				}
				if _, err := os.Stat(filepath.Join(store, "objects", en.SHA256)); err != nil {
					t.Errorf("%s: %s: object missing: %v", mp, en.Path, err)
				}
			}
		}
		objs, err := os.ReadDir(filepath.Join(store, "objects"))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, o := range objs {
			if strings.HasPrefix(o.Name(), tempPrefix) {
				continue
			}
			data, err := os.ReadFile(filepath.Join(store, "objects", o.Name()))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if hex.EncodeToString(sum[:]) != o.Name() {
				t.Errorf("object %s: torn (%d bytes)", o.Name(), len(data))
			}
		}
	}
	iter := 0
	crash(t, w, crashCase{
		args: []string{"snapshot", "create"},
		reset: func(i int) map[string]version {
			// New content every round, so every run writes 200 objects.
			iter++
			for j := 0; j < nOverrides; j++ {
				w.write(w.path(overrideFile(j)), fmt.Sprintf("round %d\n%s", iter, overrideAdmin(j)), 0o640)
			}
			return nil
		},
		check: check,
	})
}

// TestCrashDaemonJSON kills the pre hook while it fixes daemon.json: the
// file is the admin's or the fixed one, every backup is the admin's
// whole, and the next run fixes it.
func TestCrashDaemonJSON(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.initMailcow(nil, "[snapshot]\ndirs = data/conf/nothing\npaths = mailcow.conf\n")
	const admin = `{"log-driver": "local", "userns-remap": "default", "dns": ["192.0.2.53"]}` + "\n"
	check := func(t *testing.T, complete bool) {
		baks, err := filepath.Glob(w.daemon + ".mcupdate-*.bak")
		if err != nil {
			t.Fatal(err)
		}
		if complete && len(baks) == 0 {
			t.Errorf("no backup of daemon.json after a complete run")
		}
		for _, b := range baks {
			v, err := read(b)
			if err != nil {
				t.Fatal(err)
			}
			if v.data != admin {
				t.Errorf("backup %s: %s, want the admin's daemon.json", b, v)
			}
		}
	}
	crash(t, w, crashCase{
		args: []string{"hook", "pre"},
		reset: func(int) map[string]version {
			baks, _ := filepath.Glob(w.daemon + ".mcupdate-*.bak")
			for _, b := range baks {
				_ = os.Remove(b)
			}
			w.write(w.daemon, admin, 0o600)
			return map[string]version{w.daemon: {data: admin}}
		},
		check: check,
	})
}
