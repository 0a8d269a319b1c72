// Package crashtest proves mcupdate's safety claims end to end, on the
// built binary: SIGKILL at any moment, a full or read-only disk, hostile
// paths and links, foreign owners under userns-remap, and two runs at
// once. It has only tests.
//
// The kill tests do MCUPDATE_CRASH_KILLS kills per target (default 20,
// the count CI runs; MCUPDATE_LONG=1 with -short=false does 120), on
// tmpfs unless MCUPDATE_CRASH_DIR names another place (such as a
// directory on ext4, for real fsyncs). MCUPDATE_CRASH_REPORT=FILE appends
// each test's figures to FILE.
package crashtest

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bin is the mcupdate binary TestMain builds once for every test.
var bin string

func TestMain(m *testing.M) {
	// A helper in a mount namespace reuses its parent's binary.
	if bin = os.Getenv("MCUPDATE_CRASHTEST_BIN"); bin != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "mcupdate-crashtest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	bin = filepath.Join(dir, "mcupdate")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/mcupdate/mcupdate/cmd/mcupdate")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		_ = os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// tempPrefix is fsx.TempPrefix, spelled out: a test that imported it
// would pass with a renamed prefix whatever files a run leaves.
const tempPrefix = ".mcupdate-tmp-"

// fakeDocker answers `docker version` with $FAKE_DOCKER_VERSION (28.2.2)
// and accepts every other command.
const fakeDocker = `#!/bin/sh
if [ "$1" = version ]; then echo "${FAKE_DOCKER_VERSION:-28.2.2}"; fi
exit 0
`

// world is a mailcow install, mcupdate's config and state, and a
// daemon.json, all below one temp directory.
type world struct {
	t                                *testing.T
	root, dir, state, config, daemon string
	patchDir                         string
	env                              []string
}

// baseDir is where the worlds live: $MCUPDATE_CRASH_DIR, else /dev/shm
// when it is a writable directory (a kill tests the order of mcupdate's
// system calls, which is the same on every filesystem, and on tmpfs the
// fsyncs cost nothing, so five times more kills fit in a minute), else
// the default temp dir.
func baseDir() string {
	if d := os.Getenv("MCUPDATE_CRASH_DIR"); d != "" {
		return d
	}
	if syscall.Access("/dev/shm", 2 /* W_OK */) == nil {
		return "/dev/shm"
	}
	return ""
}

func newWorld(t *testing.T) *world {
	t.Helper()
	root, err := os.MkdirTemp(baseDir(), "mcupdate-crashtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	w := worldAt(t, root)
	w.write(filepath.Join(root, "bin", "docker"), fakeDocker, 0o755)
	w.write(w.daemon, "{\n  \"ipv6\": true,\n  \"fixed-cidr-v6\": \"fd00:dead:beef:c0::/80\"\n}\n", 0o644)
	return w
}

// worldAt is the world below root, made by newWorld (maybe in another
// process).
func worldAt(t *testing.T, root string) *world {
	w := &world{
		t: t, root: root,
		dir:      filepath.Join(root, "mailcow"),
		state:    filepath.Join(root, "state"),
		config:   filepath.Join(root, "etc", "mcupdate.ini"),
		daemon:   filepath.Join(root, "etc", "docker", "daemon.json"),
		patchDir: filepath.Join(root, "etc", "patches"),
	}
	binDir := filepath.Join(root, "bin")
	w.env = []string{
		"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + root, "NO_COLOR=1", "LANG=C",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=mailcow admin", "GIT_AUTHOR_EMAIL=admin@example.org",
		"GIT_COMMITTER_NAME=mailcow admin", "GIT_COMMITTER_EMAIL=admin@example.org",
		"MCUPDATE_CONFIG=" + w.config,
		"MCUPDATE_STATE_DIR=" + w.state,
		"MCUPDATE_DAEMON_JSON=" + w.daemon,
		"MCUPDATE_MAILCOW_DIR=" + w.dir,
	}
	return w
}

// path returns rel below the mailcow dir.
func (w *world) path(rel string) string { return filepath.Join(w.dir, filepath.FromSlash(rel)) }

func (w *world) write(name, data string, mode fs.FileMode) {
	w.t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), mode); err != nil {
		w.t.Fatal(err)
	}
	// WriteFile keeps the mode of an existing file.
	if err := os.Chmod(name, mode); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) gitIn(dir string, args ...string) string {
	w.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = w.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// ignored is the .gitignore of every world: mailcow's own overrides.
const ignored = "mailcow.conf\ndocker-compose.override.yml\ndata/conf/rspamd/override.d/*\ndata/conf/postfix/extra.cf\n"

// initMailcow makes w.dir a clone of an upstream holding the tracked
// files given, adds mailcow.conf and an override, and writes the config.
func (w *world) initMailcow(tracked map[string]string, cfg string) {
	w.t.Helper()
	up := filepath.Join(w.root, "upstream")
	w.write(filepath.Join(up, ".gitignore"), ignored, 0o644)
	w.write(filepath.Join(up, "docker-compose.yml"), "services:\n  dovecot-mailcow:\n    image: ghcr.io/mailcow/dovecot:2.3\n", 0o644)
	for rel, data := range tracked {
		w.write(filepath.Join(up, filepath.FromSlash(rel)), data, 0o644)
	}
	w.gitIn(up, "init", "-q", "-b", "master")
	w.gitIn(up, "add", "-A")
	w.gitIn(up, "commit", "-q", "-m", "mailcow 2026-03")
	w.gitIn(w.root, "clone", "-q", up, w.dir)
	w.write(w.path("mailcow.conf"), "MAILCOW_HOSTNAME=mail.example.org\nDBPASS=s3cr3t\nFTS_HEAP=128\n", 0o600)
	w.write(w.path("docker-compose.override.yml"), "services:\n  dovecot-mailcow:\n    mem_limit: 4g\n", 0o644)
	w.write(w.config, cfg, 0o600)
}

// result is one finished run.
type result struct {
	args           []string
	code           int
	stdout, stderr string
	took           time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("mcupdate %s: exit %d in %v\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.took.Round(time.Millisecond), tail(r.stdout), tail(r.stderr))
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

func (w *world) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = w.root
	cmd.Env = w.env
	return cmd
}

// run runs mcupdate to its end.
func (w *world) run(args ...string) result {
	w.t.Helper()
	return w.runEnv(nil, args...)
}

func (w *world) runEnv(extra []string, args ...string) result {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := w.command(ctx, args...)
	cmd.Env = append(append([]string(nil), cmd.Env...), extra...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		w.t.Fatalf("mcupdate %s: %v", strings.Join(args, " "), err)
	}
	r.code = cmd.ProcessState.ExitCode()
	if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
		w.t.Fatalf("panic: %s", r)
	}
	return r
}

func (w *world) mustRun(args ...string) result {
	w.t.Helper()
	r := w.run(args...)
	if r.code != 0 {
		w.t.Fatalf("%s", r)
	}
	return r
}

// killAfter starts mcupdate and sends it SIGKILL after d. It reports
// whether the kill hit a running process (false: it had already ended).
func (w *world) killAfter(d time.Duration, args ...string) bool {
	w.t.Helper()
	cmd := w.command(context.Background(), args...)
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	time.Sleep(d)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// temps lists the temp files (and half-made links) below the world.
func (w *world) temps() []string {
	w.t.Helper()
	var out []string
	err := filepath.WalkDir(w.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if strings.HasPrefix(d.Name(), tempPrefix) || strings.HasSuffix(d.Name(), ".mcupdate-link") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// version is one acceptable content of a file; absent means no file.
type version struct {
	data   string
	absent bool
}

func (v version) String() string {
	if v.absent {
		return "(absent)"
	}
	return fmt.Sprintf("%d bytes %q", len(v.data), short(v.data))
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// read returns what path holds now.
func read(path string) (version, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return version{absent: true}, nil
	}
	if err != nil {
		return version{}, err
	}
	return version{data: string(data)}, nil
}

// target is a file a run changes from old to new.
type target struct {
	path     string
	old, new version
}

// state classifies the targets after a kill: each must be old or new.
// It returns how many are new; torn lists every file that is neither.
func checkTargets(targets []target) (nNew int, torn []string) {
	for _, tg := range targets {
		got, err := read(tg.path)
		switch {
		case err != nil:
			torn = append(torn, fmt.Sprintf("%s: %v", tg.path, err))
		case got == tg.new:
			nNew++
		case got == tg.old:
		default:
			torn = append(torn, fmt.Sprintf("%s: %s, want old %s or new %s", tg.path, got, tg.old, tg.new))
		}
	}
	return nNew, torn
}

// kills is how many kills each crash test does.
func kills(t *testing.T) int {
	if v := os.Getenv("MCUPDATE_CRASH_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("MCUPDATE_CRASH_KILLS=%q: want a positive number", v)
		}
		return n
	}
	if !testing.Short() && os.Getenv("MCUPDATE_LONG") == "1" {
		return 120
	}
	return 20
}

// crashCase is one command killed over and over.
type crashCase struct {
	args []string
	// reset puts the world back to its state before the command and
	// returns the files the command changes with their content then.
	reset func(i int) map[string]version
	// check, if set, runs after every kill and every complete run on top
	// of the target check (complete tells which).
	check func(t *testing.T, complete bool)
}

// crashStats are one crash test's figures.
type crashStats struct {
	tried, killed, finished int
	partial                 int // kills that left some targets new, some old
	torn                    int // files neither old nor new: must be 0
	files                   int
	run                     time.Duration
}

func (s crashStats) String() string {
	return fmt.Sprintf("%d kills tried over a %v run writing %d files: %d hit the running process (%d mid-job: some files new, some old), %d came after its end; files torn or lost: %d",
		s.tried, s.run.Round(time.Millisecond), s.files, s.killed, s.partial, s.finished, s.torn)
}

// crash measures a complete run, then kills the command at n points
// spread from its start to a little past its end. After each kill every
// target must hold its old or its new content; the next complete run
// must finish the job and leave no temp file anywhere.
func crash(t *testing.T, w *world, c crashCase) crashStats {
	t.Helper()
	var st crashStats
	// The new content of each target, from a complete run; the run's
	// duration is the best of three, so a busy machine does not push
	// every kill past the interesting part.
	newer := map[string]version{}
	for i := 0; i < 3; i++ {
		old := c.reset(-1 - i)
		r := w.run(c.args...)
		if r.code != 0 {
			t.Fatalf("complete run: %s", r)
		}
		for p, o := range old {
			v, err := read(p)
			if err != nil {
				t.Fatal(err)
			}
			if v == o {
				t.Fatalf("complete run did not change %s", p)
			}
			if n, ok := newer[p]; ok && n != v {
				t.Fatalf("complete runs differ on %s: %s, then %s", p, n, v)
			}
			newer[p] = v
		}
		if tmps := w.temps(); len(tmps) > 0 {
			t.Fatalf("complete run left temp files: %v", tmps)
		}
		if st.run == 0 || r.took < st.run {
			st.run = r.took
		}
		st.files = len(old)
	}
	targetsOf := func(old map[string]version) []target {
		var ts []target
		for _, p := range sortedKeys(old) {
			ts = append(ts, target{path: p, old: old[p], new: newer[p]})
		}
		return ts
	}
	n := kills(t)
	for i := 0; i < n; i++ {
		targets := targetsOf(c.reset(i))
		// From 0 to 110% of the run, evenly.
		d := time.Duration(float64(st.run) * 1.1 * float64(i) / float64(max(n-1, 1)))
		st.tried++
		if w.killAfter(d, c.args...) {
			st.killed++
		} else {
			st.finished++
		}
		nNew, torn := checkTargets(targets)
		st.torn += len(torn)
		for _, s := range torn {
			t.Errorf("kill %d after %v: %s", i, d, s)
		}
		if nNew > 0 && nNew < len(targets) {
			st.partial++
		}
		if c.check != nil {
			c.check(t, false)
		}
		r := w.run(c.args...)
		if r.code != 0 {
			t.Fatalf("run after kill %d (after %v): %s", i, d, r)
		}
		if n, torn := checkTargets(newOnly(targets)); n != len(targets) {
			t.Fatalf("run after kill %d: %d of %d targets new: %v", i, n, len(targets), torn)
		}
		if tmps := w.temps(); len(tmps) > 0 {
			t.Fatalf("run after kill %d (after %v) left temp files: %v", i, d, tmps)
		}
		if c.check != nil {
			c.check(t, true)
		}
		if t.Failed() {
			break
		}
	}
	t.Logf("%s: %s", strings.Join(c.args, " "), st)
	report(t, st)
	return st
}

// newOnly makes the targets accept only their new content.
func newOnly(ts []target) []target {
	out := make([]target, len(ts))
	for i, tg := range ts {
		out[i] = target{path: tg.path, old: tg.new, new: tg.new}
	}
	return out
}

// report adds a test's figures to $MCUPDATE_CRASH_REPORT, if set.
func report(t *testing.T, st crashStats) {
	p := os.Getenv("MCUPDATE_CRASH_REPORT")
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s (GOMAXPROCS %d): %s\n", t.Name(), runtime.GOMAXPROCS(0), st)
}

// sortedKeys returns m's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
