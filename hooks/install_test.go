package hooks_test

// Tests for install.sh and the shims it writes. Each test runs a copy of
// install.sh with bash in a temp dir, beside a fake mcupdate (a shell script
// that records its arguments and environment), against a fake mailcow dir
// (mailcow.conf and a real git repository). Every path is passed by flag:
// nothing touches /etc, /usr/local or /var/lib.

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/ini.v1"
)

// fixture is one installation's worth of paths under t.TempDir().
type fixture struct {
	root      string
	src       string // install.sh, the fake mcupdate and hooks/mcupdate.ini
	mailcow   string
	prefix    string
	configDir string
	stateDir  string
	log       string // what the fake mcupdate saw on its last run
	order     string // one line per hook program run, in order
}

func (f *fixture) bin() string      { return filepath.Join(f.prefix, "bin", "mcupdate") }
func (f *fixture) config() string   { return filepath.Join(f.configDir, "mcupdate.ini") }
func (f *fixture) manifest() string { return filepath.Join(f.stateDir, "install.manifest") }
func (f *fixture) hook(kind string) string {
	return filepath.Join(f.mailcow, kind+"_update_hook.sh")
}

// installArgs are the flags that keep install.sh inside the fixture.
func (f *fixture) installArgs(extra ...string) []string {
	return append([]string{
		"--mailcow-dir", f.mailcow,
		"--prefix", f.prefix,
		"--config-dir", f.configDir,
		"--state-dir", f.stateDir,
	}, extra...)
}

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd) // the test runs in hooks/
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	writeFile(t, to, readFile(t, from), mode)
}

// newFixture lays out a source dir with a copy of install.sh and, if
// prebuilt, a fake mcupdate beside it; and a mailcow dir with mailcow.conf
// and a git repository.
func newFixture(t *testing.T, prebuilt bool) *fixture {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not on PATH")
	}
	root := t.TempDir()
	f := &fixture{
		root:      root,
		src:       filepath.Join(root, "src"),
		mailcow:   filepath.Join(root, "mailcow-dockerized"),
		prefix:    filepath.Join(root, "usr", "local"),
		configDir: filepath.Join(root, "etc", "mcupdate"),
		stateDir:  filepath.Join(root, "var", "lib", "mcupdate"),
		log:       filepath.Join(root, "fake.log"),
		order:     filepath.Join(root, "order.log"),
	}
	repo := repoRoot(t)
	copyFile(t, filepath.Join(repo, "install.sh"), filepath.Join(f.src, "install.sh"), 0o755)
	copyFile(t, filepath.Join(repo, "hooks", "mcupdate.ini"), filepath.Join(f.src, "hooks", "mcupdate.ini"), 0o644)
	copyFile(t, filepath.Join(repo, "hooks", "update_hook.sh.in"), filepath.Join(f.src, "hooks", "update_hook.sh.in"), 0o644)
	if prebuilt {
		writeFile(t, filepath.Join(f.src, "mcupdate"), fmt.Sprintf(`#!/bin/sh
# fake mcupdate for install_test.go
case "$1" in
completion) echo "# fake $2 completion for mcupdate"; exit 0 ;;
man) echo ".TH MCUPDATE 1"; exit 0 ;;
esac
{
	for a in "$@"; do printf 'arg=%%s\n' "$a"; done
	printf 'pwd=%%s\n' "$PWD"
	printf 'ppid=%%s\n' "$PPID"
	printf 'chained_hook=%%s\n' "${MCUPDATE_CHAINED_HOOK-<unset>}"
	printf 'chained_status=%%s\n' "${MCUPDATE_CHAINED_STATUS-<unset>}"
} >%q
echo mcupdate >>%q
`, f.log, f.order), 0o755)
	}
	writeFile(t, filepath.Join(f.mailcow, "mailcow.conf"), "MAILCOW_HOSTNAME=mail.example.org\n", 0o600)
	git(t, f.mailcow, "init", "-q")
	return f
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs a command in dir and returns its output and exit code; only a
// failure to start it is fatal.
func run(t *testing.T, dir string, env []string, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	// No MCUPDATE_* from the caller: the shims' own must be what is seen.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MCUPDATE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return r
}

// install runs the fixture's install.sh from the fixture root (not from
// the source dir: install.sh must not depend on the cwd).
func (f *fixture) install(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, f.root, nil, "bash", append([]string{filepath.Join(f.src, "install.sh")}, args...)...)
}

func (f *fixture) mustInstall(t *testing.T, args ...string) result {
	t.Helper()
	r := f.install(t, args...)
	if r.code != 0 {
		t.Fatalf("install.sh %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

// runShim runs a hook the way update.sh does: `bash pre_update_hook.sh`
// with the mailcow dir as the current directory.
func (f *fixture) runShim(t *testing.T, kind string) result {
	t.Helper()
	for _, p := range []string{f.log, f.order} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	return run(t, f.mailcow, nil, "bash", kind+"_update_hook.sh")
}

// fakeRun is what the fake mcupdate recorded.
type fakeRun struct {
	args                              []string
	pwd, ppid, chainedHook, chainedSt string
}

func (f *fixture) fakeRun(t *testing.T) fakeRun {
	t.Helper()
	var r fakeRun
	for _, line := range strings.Split(strings.TrimSuffix(readFile(t, f.log), "\n"), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "arg":
			r.args = append(r.args, v)
		case "pwd":
			r.pwd = v
		case "ppid":
			r.ppid = v
		case "chained_hook":
			r.chainedHook = v
		case "chained_status":
			r.chainedSt = v
		}
	}
	return r
}

// handHook is a hand-written hook that leaves a trace and fails with 3.
func (f *fixture) handHook(kind string) string {
	return fmt.Sprintf("#!/bin/bash\n# my own %s hook\necho \"hand %s $PWD\" >>%q\nexit 3\n", kind, kind, f.order)
}

// snapshot describes every file, directory and symlink under roots: type,
// permissions, content hash or link target and, if withTimes, the mtime.
// Missing roots are recorded as missing.
func snapshot(t *testing.T, withTimes bool, roots ...string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				m[p] = "missing"
				return nil
			}
			if err != nil {
				return err
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			desc := fi.Mode().String()
			switch {
			case fi.Mode()&fs.ModeSymlink != 0:
				target, err := os.Readlink(p)
				if err != nil {
					return err
				}
				desc += " -> " + target
			case fi.Mode().IsRegular():
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				desc += fmt.Sprintf(" %x", sha256.Sum256(b))
			}
			if withTimes {
				desc += " " + fi.ModTime().String()
			}
			m[p] = desc
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// diffSnapshots lists the paths whose description differs.
func diffSnapshots(a, b map[string]string) []string {
	var d []string
	for p, v := range a {
		if b[p] != v {
			d = append(d, fmt.Sprintf("%s: %q -> %q", p, v, b[p]))
		}
	}
	for p, v := range b {
		if _, ok := a[p]; !ok {
			d = append(d, fmt.Sprintf("%s: new %q", p, v))
		}
	}
	sort.Strings(d)
	return d
}

func (f *fixture) allRoots() []string {
	return []string{f.mailcow, f.prefix, filepath.Dir(f.configDir), filepath.Dir(f.stateDir)}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %04o, want %04o", path, got, want)
	}
}

func checkMissing(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists (err %v), want it absent", p, err)
		}
	}
}

func checkContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}

func TestInstallFresh(t *testing.T) {
	f := newFixture(t, true)
	r := f.mustInstall(t, f.installArgs()...)
	checkContains(t, "stdout", r.stdout, "installed "+f.bin(), "wrote "+f.hook("pre"), "wrote "+f.hook("post"), "mcupdate installed")

	if got, want := readFile(t, f.bin()), readFile(t, filepath.Join(f.src, "mcupdate")); got != want {
		t.Errorf("%s is not the prebuilt binary beside install.sh", f.bin())
	}
	checkMode(t, f.bin(), 0o755)
	checkMode(t, f.stateDir, 0o700)
	checkMode(t, f.config(), 0o600)
	if got, want := readFile(t, f.config()), readFile(t, filepath.Join(repoRoot(t), "hooks", "mcupdate.ini")); got != want {
		t.Errorf("%s differs from hooks/mcupdate.ini", f.config())
	}
	checkContains(t, "manifest", readFile(t, f.manifest()),
		"mailcow_dir="+f.mailcow+"\n", "bin="+f.bin()+"\n", "config="+f.config()+"\n", "state_dir="+f.stateDir+"\n")
	checkContains(t, ".git/info/exclude", readFile(t, filepath.Join(f.mailcow, ".git", "info", "exclude")),
		"\n/pre_update_hook.sh\n", "\n/post_update_hook.sh\n", "\n/*.mcupdate-orig\n", "\n*.mcupdate-new\n")
	checkMissing(t, f.hook("pre")+".mcupdate-orig", f.hook("post")+".mcupdate-orig")
	// The completions and the manual page, printed by the binary.
	for file, want := range map[string]string{
		"share/bash-completion/completions/mcupdate": "# fake bash completion for mcupdate\n",
		"share/zsh/site-functions/_mcupdate":         "# fake zsh completion for mcupdate\n",
		"share/man/man1/mcupdate.1":                  ".TH MCUPDATE 1\n",
	} {
		p := filepath.Join(f.prefix, file)
		if got := readFile(t, p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
		checkMode(t, p, 0o644)
	}

	for _, kind := range []string{"pre", "post"} {
		t.Run(kind, func(t *testing.T) {
			shim := readFile(t, f.hook(kind))
			checkMode(t, f.hook(kind), 0o755)
			checkContains(t, "shim", shim, "#!/usr/bin/env bash\n# mcupdate-shim v1\n",
				"\nbin="+f.bin()+"\n", "\nconfig="+f.config()+"\n", "\nstate_dir="+f.stateDir+"\n",
				"\nexec \"$bin\" --mailcow-dir \"$mailcow_dir\" --config \"$config\" --state-dir \"$state_dir\" hook "+kind+"\n")

			r := f.runShim(t, kind)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("bash %s_update_hook.sh: exit %d, stderr %q", kind, r.code, r.stderr)
			}
			got := f.fakeRun(t)
			want := []string{"--mailcow-dir", f.mailcow, "--config", f.config(), "--state-dir", f.stateDir, "hook", kind}
			if !slices.Equal(got.args, want) {
				t.Errorf("mcupdate ran with %q, want %q", got.args, want)
			}
			if got.pwd != f.mailcow {
				t.Errorf("mcupdate ran in %s, want %s", got.pwd, f.mailcow)
			}
			if got.chainedHook != "<unset>" || got.chainedSt != "<unset>" {
				t.Errorf("nothing chained, but MCUPDATE_CHAINED_HOOK=%q MCUPDATE_CHAINED_STATUS=%q", got.chainedHook, got.chainedSt)
			}
		})
	}
}

func TestInstallChainsHandWrittenHook(t *testing.T) {
	for _, kind := range []string{"pre", "post"} {
		t.Run(kind, func(t *testing.T) {
			f := newFixture(t, true)
			hand := f.handHook(kind)
			writeFile(t, f.hook(kind), hand, 0o750)
			r := f.mustInstall(t, f.installArgs()...)
			orig := f.hook(kind) + ".mcupdate-orig"
			checkContains(t, "stdout", r.stdout, "kept your "+f.hook(kind)+" as "+filepath.Base(orig))

			if got := readFile(t, orig); got != hand {
				t.Errorf("%s = %q, want the hand-written hook %q", orig, got, hand)
			}
			checkMode(t, orig, 0o750)
			checkContains(t, "shim", readFile(t, f.hook(kind)), "# mcupdate-shim v1\n")

			r = f.runShim(t, kind)
			if r.code != 0 {
				t.Fatalf("shim: exit %d, stderr %q", r.code, r.stderr)
			}
			wantOrder := fmt.Sprintf("hand %s %s\nmcupdate\n", kind, f.mailcow)
			if got := readFile(t, f.order); got != wantOrder {
				t.Errorf("programs run: %q, want %q (hand-written hook first, in the mailcow dir)", got, wantOrder)
			}
			got := f.fakeRun(t)
			if got.chainedSt != "3" || got.chainedHook != orig {
				t.Errorf("mcupdate saw MCUPDATE_CHAINED_STATUS=%q MCUPDATE_CHAINED_HOOK=%q, want 3 and %s", got.chainedSt, got.chainedHook, orig)
			}
			if n := len(got.args); n < 2 || got.args[n-2] != "hook" || got.args[n-1] != kind {
				t.Errorf("mcupdate ran with %q, want ... hook %s", got.args, kind)
			}
		})
	}
}

func TestInstallIdempotent(t *testing.T) {
	f := newFixture(t, true)
	writeFile(t, f.hook("pre"), f.handHook("pre"), 0o700)
	f.mustInstall(t, f.installArgs()...)
	before := snapshot(t, true, f.allRoots()...)

	r := f.mustInstall(t, f.installArgs()...)
	if d := diffSnapshots(before, snapshot(t, true, f.allRoots()...)); len(d) > 0 {
		t.Errorf("second run changed files:\n%s", strings.Join(d, "\n"))
	}
	checkContains(t, "stdout", r.stdout, "nothing to do")

	// The snapshot sees a rewrite: a damaged shim is repaired, and the run
	// says it changed something.
	t.Run("repairs a damaged shim", func(t *testing.T) {
		shim := readFile(t, f.hook("post"))
		writeFile(t, f.hook("post"), strings.Replace(shim, "hook post", "hook pre", 1), 0o644)
		damaged := snapshot(t, true, f.allRoots()...)
		r := f.mustInstall(t, f.installArgs()...)
		if strings.Contains(r.stdout, "nothing to do") {
			t.Errorf("stdout says nothing to do after repairing the shim:\n%s", r.stdout)
		}
		if got := readFile(t, f.hook("post")); got != shim {
			t.Errorf("shim not repaired:\n%s", got)
		}
		checkMode(t, f.hook("post"), 0o755)
		if d := diffSnapshots(damaged, snapshot(t, true, f.allRoots()...)); len(d) == 0 {
			t.Error("snapshot saw no change after the repair")
		}
	})
}

func TestUninstallRestores(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, f *fixture)
	}{
		{"no hooks", func(t *testing.T, f *fixture) {}},
		{"hand-written pre hook", func(t *testing.T, f *fixture) {
			writeFile(t, f.hook("pre"), f.handHook("pre"), 0o640)
		}},
		{"both hooks, post a symlink", func(t *testing.T, f *fixture) {
			writeFile(t, f.hook("pre"), f.handHook("pre"), 0o700)
			writeFile(t, filepath.Join(f.root, "elsewhere", "post.sh"), f.handHook("post"), 0o755)
			if err := os.Symlink("../elsewhere/post.sh", f.hook("post")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, true)
			tt.setup(t, f)
			before := snapshot(t, false, f.mailcow)

			f.mustInstall(t, f.installArgs()...)
			if d := diffSnapshots(before, snapshot(t, false, f.mailcow)); len(d) == 0 {
				t.Fatal("install changed nothing in the mailcow dir")
			}
			// Only --mailcow-dir: the rest is found from the shim and
			// the manifest.
			r := f.mustInstall(t, "--uninstall", "--mailcow-dir", f.mailcow)
			if d := diffSnapshots(before, snapshot(t, false, f.mailcow)); len(d) > 0 {
				t.Errorf("mailcow dir not restored:\n%s", strings.Join(d, "\n"))
			}
			checkMissing(t, f.bin(), filepath.Join(f.prefix, "share", "man", "man1", "mcupdate.1"),
				filepath.Join(f.prefix, "share", "bash-completion", "completions", "mcupdate"), filepath.Join(f.prefix, "share", "zsh", "site-functions", "_mcupdate"))
			checkMode(t, f.config(), 0o600)
			checkMode(t, f.stateDir, 0o700)
			checkContains(t, "stdout", r.stdout, "removed "+f.bin(), "kept configuration "+f.config(), "kept state dir "+f.stateDir, "--purge")

			r = f.mustInstall(t, "--uninstall", "--mailcow-dir", f.mailcow, "--state-dir", f.stateDir)
			checkContains(t, "second uninstall's stdout", r.stdout, "nothing to do")

			f.mustInstall(t, "--uninstall", "--purge", "--mailcow-dir", f.mailcow, "--state-dir", f.stateDir)
			checkMissing(t, f.config(), f.configDir, f.stateDir)
			if d := diffSnapshots(before, snapshot(t, false, f.mailcow)); len(d) > 0 {
				t.Errorf("purge changed the mailcow dir:\n%s", strings.Join(d, "\n"))
			}
		})
	}
}

func TestInstallRefuses(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, f *fixture)
		args   func(f *fixture) []string
		code   int
		stderr string
	}{
		{
			name:   "missing mailcow dir",
			setup:  func(t *testing.T, f *fixture) { f.mailcow += "-typo" },
			code:   1,
			stderr: "mailcow-dockerized-typo: no such directory",
		},
		{
			name: "no mailcow.conf",
			setup: func(t *testing.T, f *fixture) {
				if err := os.Remove(filepath.Join(f.mailcow, "mailcow.conf")); err != nil {
					t.Fatal(err)
				}
			},
			code:   1,
			stderr: "mailcow.conf not found",
		},
		{
			name: "no .git",
			setup: func(t *testing.T, f *fixture) {
				if err := os.RemoveAll(filepath.Join(f.mailcow, ".git")); err != nil {
					t.Fatal(err)
				}
			},
			code:   1,
			stderr: ".git not found",
		},
		{
			name: "new hand-written hook beside a kept one",
			setup: func(t *testing.T, f *fixture) {
				writeFile(t, f.hook("post"), f.handHook("post"), 0o755)
				writeFile(t, f.hook("post")+".mcupdate-orig", "# kept earlier\n", 0o755)
			},
			code:   1,
			stderr: "overwrites neither",
		},
		{
			name: "kept hook without a hook",
			setup: func(t *testing.T, f *fixture) {
				writeFile(t, f.hook("pre")+".mcupdate-orig", "# kept earlier\n", 0o755)
			},
			code:   1,
			stderr: "pre_update_hook.sh.mcupdate-orig exists but",
		},
		{
			name:   "no binary and no source",
			setup:  func(t *testing.T, f *fixture) { removeFile(t, filepath.Join(f.src, "mcupdate")) },
			code:   1,
			stderr: "no prebuilt mcupdate beside",
		},
		{
			name:   "no default configuration",
			setup:  func(t *testing.T, f *fixture) { removeFile(t, filepath.Join(f.src, "hooks", "mcupdate.ini")) },
			code:   1,
			stderr: "default configuration not found",
		},
		{
			name:   "no shim template",
			setup:  func(t *testing.T, f *fixture) { removeFile(t, filepath.Join(f.src, "hooks", "update_hook.sh.in")) },
			code:   1,
			stderr: "shim template not found",
		},
		{
			name: "unknown placeholder in the shim template",
			setup: func(t *testing.T, f *fixture) {
				tmpl := filepath.Join(f.src, "hooks", "update_hook.sh.in")
				writeFile(t, tmpl, readFile(t, tmpl)+"# @NOSUCH@\n", 0o644)
			},
			code:   1,
			stderr: "unknown placeholder @NOSUCH@",
		},
		{
			name:   "no --mailcow-dir",
			args:   func(f *fixture) []string { return f.installArgs()[2:] },
			code:   2,
			stderr: "--mailcow-dir is required",
		},
		{
			name:   "unknown option",
			args:   func(f *fixture) []string { return f.installArgs("--frobnicate") },
			code:   2,
			stderr: "unknown option --frobnicate",
		},
		{
			name:   "value for a flag that takes none",
			args:   func(f *fixture) []string { return f.installArgs("--uninstall=yes") },
			code:   2,
			stderr: "--uninstall takes no value",
		},
		{
			name:   "--purge without --uninstall",
			args:   func(f *fixture) []string { return f.installArgs("--purge") },
			code:   2,
			stderr: "--purge only goes with --uninstall",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, true)
			if tt.setup != nil {
				tt.setup(t, f)
			}
			args := f.installArgs()
			if tt.args != nil {
				args = tt.args(f)
			}
			roots := f.allRoots()
			before := snapshot(t, true, roots...)
			r := f.install(t, args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, r.stdout, r.stderr)
			}
			checkContains(t, "stderr", r.stderr, "install.sh: error: ", tt.stderr)
			if d := diffSnapshots(before, snapshot(t, true, roots...)); len(d) > 0 {
				t.Errorf("a refused install wrote:\n%s", strings.Join(d, "\n"))
			}
			checkMissing(t, f.prefix, filepath.Dir(f.configDir), filepath.Dir(f.stateDir))
		})
	}
}

// TestInstallRefusesToMove: a second install with another state dir would
// orphan the first one's files; it must stop before writing.
func TestInstallRefusesToMove(t *testing.T) {
	f := newFixture(t, true)
	f.mustInstall(t, f.installArgs()...)
	before := snapshot(t, true, f.allRoots()...)
	other := filepath.Join(f.root, "other-state")
	args := f.installArgs()
	args[len(args)-1] = other
	r := f.install(t, args...)
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	checkContains(t, "stderr", r.stderr, "--uninstall")
	if d := diffSnapshots(before, snapshot(t, true, f.allRoots()...)); len(d) > 0 {
		t.Errorf("a refused install wrote:\n%s", strings.Join(d, "\n"))
	}
	checkMissing(t, other)
}

func removeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// TestShimOddPaths: install.sh fills the shim template in one pass and
// quotes each path for the shell, so paths with blanks, quotes, $, & and
// text that looks like a placeholder (@BIN@) reach mcupdate as they are,
// the chained hook is found, and --uninstall finds the manifest the shim
// records.
func TestShimOddPaths(t *testing.T) {
	f := newFixture(t, true)
	odd := filepath.Join(f.root, "m a'i$l&c\"o@BIN@w")
	if err := os.Rename(f.mailcow, odd); err != nil {
		t.Fatal(err)
	}
	f.mailcow = odd
	f.prefix = filepath.Join(f.root, "pre fix@KIND@", "usr")
	f.configDir = filepath.Join(f.root, "etc & @CONFIG@")
	f.stateDir = filepath.Join(f.root, "state $HOME @MANIFEST@")
	writeFile(t, f.hook("post"), f.handHook("post"), 0o755)
	f.mustInstall(t, f.installArgs()...)
	for _, kind := range []string{"pre", "post"} {
		t.Run(kind, func(t *testing.T) {
			checkContains(t, "shim", readFile(t, f.hook(kind)), "\n# mcupdate-manifest: "+f.manifest()+"\n")
			r := f.runShim(t, kind)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("bash %s_update_hook.sh: exit %d, stderr %q", kind, r.code, r.stderr)
			}
			got := f.fakeRun(t)
			want := []string{"--mailcow-dir", f.mailcow, "--config", f.config(), "--state-dir", f.stateDir, "hook", kind}
			if !slices.Equal(got.args, want) {
				t.Errorf("mcupdate ran with %q, want %q", got.args, want)
			}
			if kind == "post" && (got.chainedHook != f.hook("post")+".mcupdate-orig" || got.chainedSt != "3") {
				t.Errorf("chained hook %q status %q, want %s.mcupdate-orig and 3", got.chainedHook, got.chainedSt, f.hook("post"))
			}
		})
	}
	r := f.install(t, "--uninstall", "--mailcow-dir", f.mailcow)
	if r.code != 0 {
		t.Fatalf("install.sh --uninstall: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	checkMissing(t, f.hook("pre"), f.bin())
	if got := readFile(t, f.hook("post")); got != f.handHook("post") {
		t.Errorf("the hand-written post hook was not put back: %q", got)
	}
}

// TestShimWithoutBinary: a binary removed by hand must not break update.sh:
// the shim says so and exits 0, after running a chained hook as usual.
func TestShimWithoutBinary(t *testing.T) {
	for _, kind := range []string{"pre", "post"} {
		t.Run(kind, func(t *testing.T) {
			f := newFixture(t, true)
			writeFile(t, f.hook(kind), f.handHook(kind), 0o755)
			f.mustInstall(t, f.installArgs()...)
			removeFile(t, f.bin())

			r := f.runShim(t, kind)
			if r.code != 0 {
				t.Errorf("exit %d, want 0", r.code)
			}
			want := "mcupdate: error: " + f.bin() + " not found, hook skipped\n"
			if r.stderr != want {
				t.Errorf("stderr %q, want %q", r.stderr, want)
			}
			if got, want := readFile(t, f.order), fmt.Sprintf("hand %s %s\n", kind, f.mailcow); got != want {
				t.Errorf("programs run: %q, want %q", got, want)
			}
		})
	}
}

// TestInstallBuildsWithGo takes install.sh's `go build` path: no prebuilt
// binary beside it. The stand-in module in testdata/gobuild keeps this test
// about install.sh; TestInstallBuildsRealBinary builds the real one.
func TestInstallBuildsWithGo(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not on PATH")
	}
	f := newFixture(t, false)
	gomod := filepath.Join(repoRoot(t), "hooks", "testdata", "gobuild")
	copyFile(t, filepath.Join(gomod, "go.mod"), filepath.Join(f.src, "go.mod"), 0o644)
	copyFile(t, filepath.Join(gomod, "cmd", "mcupdate", "main.go"), filepath.Join(f.src, "cmd", "mcupdate", "main.go"), 0o644)

	r := f.mustInstall(t, f.installArgs()...)
	checkContains(t, "stdout", r.stdout, "building mcupdate with go", "installed "+f.bin())
	checkMode(t, f.bin(), 0o755)
	v := run(t, f.root, nil, f.bin(), "version")
	if v.code != 0 || v.stdout != "mcupdate fake-for-install-test\n" {
		t.Errorf("%s version: exit %d, stdout %q, stderr %q", f.bin(), v.code, v.stdout, v.stderr)
	}
	if entries, err := os.ReadDir(f.src); err != nil {
		t.Fatal(err)
	} else {
		for _, e := range entries {
			if e.Name() == "mcupdate" {
				t.Errorf("go build left %s in the source dir", filepath.Join(f.src, e.Name()))
			}
		}
	}

	// A second run builds again and finds the same binary: nothing to do.
	r = f.mustInstall(t, f.installArgs()...)
	checkContains(t, "second run's stdout", r.stdout, "nothing to do")
}

// TestInstallBuildsRealBinary runs the repository's own install.sh, which
// builds ./cmd/mcupdate, and checks that the result runs `version`.
func TestInstallBuildsRealBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the real binary; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not on PATH")
	}
	repo := repoRoot(t)
	if _, err := os.Stat(filepath.Join(repo, "mcupdate")); err == nil {
		t.Skipf("%s exists: install.sh would install it instead of building", filepath.Join(repo, "mcupdate"))
	}
	f := newFixture(t, false)
	args := append([]string{filepath.Join(repo, "install.sh")}, f.installArgs()...)
	r := run(t, f.root, nil, "bash", args...)
	if r.code != 0 {
		t.Fatalf("install.sh: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	checkMode(t, f.bin(), 0o755)
	v := run(t, f.root, nil, f.bin(), "version")
	if v.code != 0 || !strings.HasPrefix(v.stdout, "mcupdate ") {
		t.Errorf("%s version: exit %d, stdout %q, stderr %q", f.bin(), v.code, v.stdout, v.stderr)
	}
	// The real completions parse in bash; the manual is roff.
	bashc := filepath.Join(f.prefix, "share", "bash-completion", "completions", "mcupdate")
	if c := run(t, f.root, nil, "bash", "-n", bashc); c.code != 0 {
		t.Errorf("bash -n %s: %s", bashc, c.stderr)
	}
	checkContains(t, "bash completion", readFile(t, bashc), "complete -o default -F _mcupdate mcupdate", "verify) COMPREPLY=")
	checkContains(t, "manual", readFile(t, filepath.Join(f.prefix, "share", "man", "man1", "mcupdate.1")), ".TH MCUPDATE 1", ".SH EXIT STATUS")
}

// The keys mcupdate's config parser (cmd/internal/config) knows, and the
// default each documents. hooks/ cannot import cmd/internal, so they are
// listed here: a new key must be documented in hooks/mcupdate.ini too.
var configDefaults = map[string]map[string]string{
	"general":  {"stop_on_danger": "on", "branch": "", "on_predicted_loss": "warn", "predict": "on"},
	"docker":   {"ipv6": "on", "fixed_cidr_v6": "fd00:dead:beef:c0::/80", "version_timeout": "5s"},
	"snapshot": {"paths": "mailcow.conf docker-compose.override.yml", "dirs": "data/conf", "keep": "10"},
	"restart":  {"enabled": "on", "compose": "docker compose"},
	"validate": {"enabled": "on"},
	"patches":  {"enable": "", "dir": ""},
	"verify":   {"cert_min_days": "14"},
	"log":      {"file": "mcupdate.log", "max_size": "1M", "syslog": "on"},
	"notify":   {"webhook": "", "kuma_push": "", "timeout": "5s"},
}

var shippedPatches = []string{
	"php-memory-limit", "php-fpm-pool-size", "fts-heap", "rspamd-local-addrs", "rspamd-ip-whitelist",
	"postfix-ipv4-outbound", "sogo-workers", "greylist-off", "twig-cache-perms", "message-size-limit",
}

// commentedSetting matches a commented-out setting or patch section.
var commentedSetting = regexp.MustCompile(`(?m)^# ((?:[A-Za-z_][A-Za-z0-9_]* = .*|[A-Za-z_][A-Za-z0-9_]* =)|\[patch [^]]+\])$`)

func loadINI(t *testing.T, data []byte) *ini.File {
	t.Helper()
	// The options cmd/internal/config uses.
	f, err := ini.LoadSources(ini.LoadOptions{SpaceBeforeInlineComment: true}, data)
	if err != nil {
		t.Fatalf("hooks/mcupdate.ini: %v", err)
	}
	return f
}

// checkKnown reports every section and key the parser would warn about.
func checkKnown(t *testing.T, f *ini.File) {
	t.Helper()
	for _, s := range f.Sections() {
		name := s.Name()
		if strings.HasPrefix(name, "patch ") {
			continue // a patch's parameters are free-form
		}
		keys, ok := configDefaults[name]
		if name == ini.DefaultSection {
			keys, ok = map[string]string{}, true
		}
		if !ok {
			t.Errorf("unknown section [%s]", name)
			continue
		}
		for _, k := range s.Keys() {
			if _, ok := keys[k.Name()]; !ok {
				t.Errorf("[%s]: unknown key %q", name, k.Name())
			}
		}
	}
}

func TestDefaultConfig(t *testing.T) {
	data, err := os.ReadFile("mcupdate.ini")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("loads with only known keys", func(t *testing.T) {
		checkKnown(t, loadINI(t, data))
	})
	t.Run("every setting uncommented is valid", func(t *testing.T) {
		uncommented := commentedSetting.ReplaceAll(data, []byte("$1"))
		if bytes.Equal(uncommented, data) {
			t.Fatal("no commented-out settings found")
		}
		f := loadINI(t, uncommented)
		checkKnown(t, f)
		for sec, keys := range configDefaults {
			for key, def := range keys {
				k, err := f.Section(sec).GetKey(key)
				if err != nil {
					t.Errorf("[%s] %s is not documented", sec, key)
					continue
				}
				if sec == "patches" {
					continue // examples, not defaults: the default is none
				}
				if k.String() != def {
					t.Errorf("[%s] %s documented as %q, default is %q", sec, key, k.String(), def)
				}
			}
		}
		if got := f.Section("patch php-memory-limit").Key("MEMORY_LIMIT").String(); got != "2048M" {
			t.Errorf("example [patch php-memory-limit] MEMORY_LIMIT = %q, want 2048M", got)
		}
	})
	t.Run("lists the shipped patches", func(t *testing.T) {
		for _, p := range shippedPatches {
			if !regexp.MustCompile(`(?m)^#\s+` + regexp.QuoteMeta(p) + `\s`).Match(data) {
				t.Errorf("shipped patch %s not listed", p)
			}
		}
	})
}

// TestInstallTightensStateDir: the state dir will hold copies of
// mailcow.conf, so an existing, looser one is tightened to 0700.
func TestInstallTightensStateDir(t *testing.T) {
	f := newFixture(t, true)
	if err := os.MkdirAll(f.stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f.stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := f.mustInstall(t, f.installArgs()...)
	checkMode(t, f.stateDir, 0o700)
	checkContains(t, "stdout", r.stdout, "set "+f.stateDir+" to mode 0700")
}

// TestShimExecsFromUpdateSh: the shim execs mcupdate, so mcupdate's parent
// is update.sh itself; the pre hook reads /proc/$PPID/cmdline to learn
// which update.sh options were given. Chaining must not change that.
func TestShimExecsFromUpdateSh(t *testing.T) {
	for _, chained := range []bool{false, true} {
		t.Run(fmt.Sprintf("chained=%v", chained), func(t *testing.T) {
			f := newFixture(t, true)
			if chained {
				writeFile(t, f.hook("pre"), f.handHook("pre"), 0o755)
			}
			f.mustInstall(t, f.installArgs()...)
			// The two lines update.sh runs the hook with.
			pidFile := filepath.Join(f.root, "update.pid")
			updateSh := filepath.Join(f.mailcow, "update.sh")
			writeFile(t, updateSh, fmt.Sprintf(`SCRIPT_DIR="$( cd "$( dirname "${BASH_SOURCE[0]}" )" && pwd )"
echo $$ >%q
if [ -f "${SCRIPT_DIR}/pre_update_hook.sh" ]; then
  bash "${SCRIPT_DIR}/pre_update_hook.sh"
fi
`, pidFile), 0o755)
			r := run(t, f.mailcow, nil, "bash", updateSh, "--check")
			if r.code != 0 {
				t.Fatalf("update.sh: exit %d, stderr %q", r.code, r.stderr)
			}
			if got, want := f.fakeRun(t).ppid, strings.TrimSpace(readFile(t, pidFile)); got != want {
				t.Errorf("mcupdate's parent is pid %s, want update.sh's %s", got, want)
			}
		})
	}
}

func TestInstallHelp(t *testing.T) {
	f := newFixture(t, true)
	before := snapshot(t, true, f.allRoots()...)
	for _, arg := range []string{"--help", "-h"} {
		t.Run(arg, func(t *testing.T) {
			r := f.install(t, append(f.installArgs(), arg)...)
			if r.code != 0 || r.stderr != "" {
				t.Errorf("exit %d, stderr %q; want 0 and none", r.code, r.stderr)
			}
			checkContains(t, "stdout", r.stdout, "usage: install.sh --mailcow-dir DIR", "--uninstall", "--purge", "EXIT STATUS")
		})
	}
	if d := diffSnapshots(before, snapshot(t, true, f.allRoots()...)); len(d) > 0 {
		t.Errorf("--help wrote:\n%s", strings.Join(d, "\n"))
	}
}

// TestUninstallWithoutManifest: the state dir was deleted by hand. The
// shims identify themselves, so the hooks are still restored exactly, and
// the binary is removed when --prefix says where it is.
func TestUninstallWithoutManifest(t *testing.T) {
	for _, withPrefix := range []bool{false, true} {
		t.Run(fmt.Sprintf("prefix=%v", withPrefix), func(t *testing.T) {
			f := newFixture(t, true)
			writeFile(t, f.hook("post"), f.handHook("post"), 0o700)
			before := snapshot(t, false, f.mailcow)
			f.mustInstall(t, f.installArgs()...)
			if err := os.RemoveAll(f.stateDir); err != nil {
				t.Fatal(err)
			}
			args := []string{"--uninstall", "--mailcow-dir", f.mailcow}
			if withPrefix {
				args = append(args, "--prefix", f.prefix)
			}
			r := f.mustInstall(t, args...)
			checkContains(t, "stderr", r.stderr, "no install manifest at "+f.manifest())
			if d := diffSnapshots(before, snapshot(t, false, f.mailcow)); len(d) > 0 {
				t.Errorf("mailcow dir not restored:\n%s", strings.Join(d, "\n"))
			}
			if withPrefix {
				checkMissing(t, f.bin())
			} else {
				checkMode(t, f.bin(), 0o755)
				checkContains(t, "stderr", r.stderr, "pass --prefix")
			}
		})
	}
}

// TestInstallMovePrefix: another --prefix while installed would orphan the
// first binary, so install.sh refuses; after --uninstall it is fine, and
// --purge then removes what the two installs created.
func TestInstallMovePrefix(t *testing.T) {
	f := newFixture(t, true)
	f.mustInstall(t, f.installArgs()...)
	oldBin := f.bin()
	moved := *f
	moved.prefix = filepath.Join(f.root, "opt")

	before := snapshot(t, true, f.allRoots()...)
	r := f.install(t, moved.installArgs()...)
	if r.code != 1 {
		t.Errorf("install with another --prefix: exit %d, want 1", r.code)
	}
	checkContains(t, "stderr", r.stderr, "bin="+oldBin, "--uninstall")
	if d := diffSnapshots(before, snapshot(t, true, f.allRoots()...)); len(d) > 0 {
		t.Errorf("a refused install wrote:\n%s", strings.Join(d, "\n"))
	}
	checkMissing(t, moved.prefix)

	f.mustInstall(t, "--uninstall", "--mailcow-dir", f.mailcow)
	checkContains(t, "manifest", readFile(t, f.manifest()), "\ninstalled=no\n")
	f.mustInstall(t, moved.installArgs()...)
	checkMode(t, moved.bin(), 0o755)
	checkMissing(t, oldBin)
	checkContains(t, "shim", readFile(t, f.hook("pre")), "\nbin="+moved.bin()+"\n")

	f.mustInstall(t, "--uninstall", "--purge", "--mailcow-dir", f.mailcow)
	checkMissing(t, moved.bin(), f.configDir, f.stateDir, f.hook("pre"), f.hook("post"))
}
