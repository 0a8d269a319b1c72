package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/fixture"
	"github.com/mcupdate/mcupdate/cmd/internal/updatesh"
)

// The layout matrix (issue 10): whatever checkout git works in, an admin
// may run update.sh in, and mcupdate must work there as in a plain clone.
// Each layout gets the fixtures' admin install at 2026-01, the pre hook,
// update.sh's git steps (fetch and merge of the upstream, moved to
// 2026-03), the post hook, verify, diff, diff --full, a snapshot and its
// restore, and replay --local; every command's exit code and output, with
// paths, hashes and times normalized, must equal the plain clone's. Where
// git itself refuses the checkout (another user's), mcupdate refuses with
// git's reason and the command that lifts it.

// matrixLayout builds the admin's checkout at 2026-01 from the moving
// upstream (a bare repository whose master and nightly are at 2026-01).
type matrixLayout struct {
	name string
	// make returns the work tree and the repositories whose branches the
	// update moves (the upstream, and a fork the checkout clones).
	make func(t *testing.T, root, up string) (dir string, origins []string)
	// same maps this layout's output to the plain clone's words.
	same func(string) string
}

func matrixLayouts() []matrixLayout {
	clone := func(t *testing.T, root, src string, args ...string) string {
		t.Helper()
		dir := filepath.Join(root, "mailcow")
		gitIn(t, root, append(append([]string{"clone", "-q"}, args...), src, dir)...)
		return dir
	}
	plain := func(t *testing.T, root, up string) (string, []string) { return clone(t, root, up), []string{up} }
	return []matrixLayout{
		{name: "plain", make: plain},
		{name: "shared", make: func(t *testing.T, root, up string) (string, []string) {
			return clone(t, root, up, "--shared"), []string{up}
		}},
		{name: "reference relative", make: func(t *testing.T, root, up string) (string, []string) {
			// A local mirror the admin borrows objects from, named by a
			// relative path (both trees moved together).
			mirror := filepath.Join(root, "mirror.git")
			gitIn(t, root, "clone", "-q", "--mirror", up, mirror)
			dir := clone(t, root, "file://"+up, "--reference", mirror)
			alt := filepath.Join(dir, ".git", "objects", "info", "alternates")
			rel, err := filepath.Rel(filepath.Dir(filepath.Dir(alt)), filepath.Join(mirror, "objects"))
			must(t, err)
			must(t, os.WriteFile(alt, []byte(rel+"\n"), 0o644))
			// git reads it: fsck would fail on a missing object.
			gitIn(t, dir, "fsck", "--connectivity-only", "--no-progress")
			return dir, []string{up}
		}},
		{name: "submodule", make: func(t *testing.T, root, up string) (string, []string) {
			stack := filepath.Join(root, "stack")
			gitIn(t, root, "init", "-q", stack)
			gitIn(t, stack, "-c", "protocol.file.allow=always", "submodule", "add", "-q", "file://"+up, "mailcow")
			dir := filepath.Join(stack, "mailcow")
			gitIn(t, dir, "checkout", "-q", "-B", "master", "origin/master")
			gitIn(t, dir, "branch", "-q", "--set-upstream-to=origin/master")
			return dir, []string{up}
		}},
		{name: "worktree", make: func(t *testing.T, root, up string) (string, []string) {
			main := filepath.Join(root, "main")
			gitIn(t, root, "clone", "-q", up, main)
			gitIn(t, main, "checkout", "-q", "--detach")
			dir := filepath.Join(root, "mailcow")
			gitIn(t, main, "worktree", "add", "-q", dir, "master")
			return dir, []string{up}
		}},
		{name: "shallow", make: func(t *testing.T, root, up string) (string, []string) {
			return clone(t, root, "file://"+up, "--depth", "1"), []string{up}
		}},
		{name: "partial", make: func(t *testing.T, root, up string) (string, []string) {
			return clone(t, root, "file://"+up, "--filter=blob:none"), []string{up}
		}},
		{name: "fork", make: func(t *testing.T, root, up string) (string, []string) {
			fork := filepath.Join(root, "fork.git")
			gitIn(t, root, "clone", "-q", "--bare", up, fork)
			dir := clone(t, root, fork)
			gitIn(t, dir, "remote", "add", "upstream", up)
			gitIn(t, dir, "fetch", "-q", "upstream")
			return dir, []string{up, fork}
		}},
		{name: "nightly", make: func(t *testing.T, root, up string) (string, []string) {
			return clone(t, root, up, "--branch", "nightly"), []string{up}
		}, same: func(s string) string {
			return strings.ReplaceAll(s, "nightly", "master")
		}},
		{name: "gc", make: func(t *testing.T, root, up string) (string, []string) {
			dir := clone(t, root, up)
			gitIn(t, dir, "gc", "-q", "--prune=now")
			if _, err := os.Stat(filepath.Join(dir, ".git", "refs", "remotes", "origin", "master")); err == nil {
				t.Fatal("git gc left refs loose")
			}
			return dir, []string{up}
		}},
		{name: "other owner, safe.directory", make: func(t *testing.T, root, up string) (string, []string) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to chown the checkout to another user")
			}
			dir := clone(t, root, up)
			chownTree(t, dir, 1000)
			return dir, []string{up}
		}},
	}
}

// matrixEnv is the environment of every command: a fake docker, a HOME
// whose global git config the test writes, a fixed identity.
func matrixEnv(t *testing.T, root string) []string {
	t.Helper()
	bin := filepath.Join(root, "bin")
	must(t, os.MkdirAll(bin, 0o755))
	must(t, os.WriteFile(filepath.Join(bin, "docker"), []byte(fakeDocker), 0o755))
	home := filepath.Join(root, "home")
	must(t, os.MkdirAll(home, 0o755))
	return []string{
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + home, "WORK=" + root, "NO_COLOR=1", "LANG=C", "TZ=UTC",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + filepath.Join(home, ".gitconfig"),
		"GIT_AUTHOR_NAME=mailcow admin", "GIT_AUTHOR_EMAIL=admin@example.org",
		"GIT_COMMITTER_NAME=mailcow admin", "GIT_COMMITTER_EMAIL=admin@example.org",
		"GIT_AUTHOR_DATE=2026-11-22T06:00:00Z", "GIT_COMMITTER_DATE=2026-11-22T06:00:00Z",
	}
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = matrixEnv(t, t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

func chownTree(t *testing.T, dir string, uid int) {
	t.Helper()
	must(t, filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	}))
}

// fullUpstream is the fixtures' full history; each layout gets a bare
// copy with master and nightly at 2026-01.
func fullUpstream(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "upstream")
	must(t, fixture.BuildUpstream(dir, ""))
	return dir
}

// step is one command of the sequence and what it printed.
type step struct {
	name string
	code int
	out  string
}

// runSequence puts the admin's files into the layout's checkout and runs
// the sequence, returning each step's outcome normalized.
func runSequence(t *testing.T, bin, full string, lt matrixLayout, safe bool) []step {
	t.Helper()
	root := t.TempDir()
	env := matrixEnv(t, root)
	up := filepath.Join(root, "upstream.git")
	gitIn(t, root, "clone", "-q", "--bare", full, up)
	gitIn(t, up, "update-ref", "refs/heads/master", "refs/tags/2026-01")
	gitIn(t, up, "update-ref", "refs/heads/nightly", "refs/tags/2026-01")
	gitIn(t, up, "config", "uploadpack.allowFilter", "true")
	dir, origins := lt.make(t, root, up)
	if safe {
		must(t, os.WriteFile(filepath.Join(root, "home", ".gitconfig"), []byte("[safe]\n\tdirectory = "+dir+"\n"), 0o644))
	}
	for _, p := range fixture.TrackedEdits() {
		writeFixture(t, dir, p, "admin/tracked/"+p)
	}
	for _, p := range fixture.IgnoredFiles() {
		writeFixture(t, dir, p, "admin/ignored/"+p)
	}
	cfg := filepath.Join(root, "etc", "mcupdate.ini")
	must(t, os.MkdirAll(filepath.Dir(cfg), 0o755))
	must(t, os.WriteFile(cfg, fixture.AdminConfig(), 0o600))
	dj := filepath.Join(root, "etc", "daemon.json")
	must(t, os.WriteFile(dj, []byte("{\n  \"ipv6\": true,\n  \"fixed-cidr-v6\": \"fd00:dead:beef:c0::/80\"\n}\n"), 0o644))
	state := filepath.Join(root, "state")
	global := []string{"--mailcow-dir", dir, "--config", cfg, "--state-dir", state, "--daemon-json", dj}

	var steps []step
	norm := normalizer(root, dir, lt.same)
	mc := func(name string, args ...string) {
		cmd := exec.Command(bin, append(append([]string(nil), global...), args...)...)
		cmd.Dir, cmd.Env = root, env
		var b bytes.Buffer
		cmd.Stdout, cmd.Stderr = &b, &b
		err := cmd.Run()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatalf("%s: %v", name, err)
		}
		steps = append(steps, step{name, cmd.ProcessState.ExitCode(), norm(b.String())})
	}
	mc("hook pre", "hook", "pre")
	for _, o := range origins {
		gitIn(t, o, "update-ref", "refs/heads/master", "refs/tags/2026-03")
		gitIn(t, o, "update-ref", "refs/heads/nightly", "refs/tags/2026-03")
	}
	res, err := updatesh.Run(dir, updatesh.Options{Date: "2026-11-22_06_00_00", Env: env})
	out := fmt.Sprintf("update.sh's git steps: %v", err)
	if res != nil {
		out += fmt.Sprintf("; merge exit %d, removed %v, before commit %v", res.MergeExit, res.Removed, res.Before != "")
	}
	code := 0
	if err != nil {
		code = 1
	}
	steps = append(steps, step{"update.sh git", code, norm(out)})
	mc("hook post", "hook", "post", "--no-restart")
	mc("verify", "verify")
	mc("diff", "diff")
	mc("diff --full", "diff", "--full")
	mc("snapshot create", "snapshot", "create")
	must(t, os.Remove(filepath.Join(dir, "docker-compose.override.yml")))
	mc("snapshot restore", "snapshot", "restore", "latest")
	mc("replay --local", "replay", "--upstream", full, "--from", "2026-01", "--to", "2026-03,2026-05", "--local", dir)
	return steps
}

func writeFixture(t *testing.T, dir, rel, embedded string) {
	t.Helper()
	data, err := fixture.File(embedded)
	must(t, err)
	mode := os.FileMode(0o644)
	if rel == "mailcow.conf" {
		mode = 0o600
	}
	p := filepath.Join(dir, filepath.FromSlash(rel))
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, data, mode))
	must(t, os.Chmod(p, mode))
}

var (
	hexRun   = regexp.MustCompile(`\b([0-9a-f]{40}|[0-9a-f]{12})\b`)
	stampRun = regexp.MustCompile(`\b\d{8}T\d{6}Z(-\d+)?\b|\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:?\d{2})?|\b\d+(\.\d+)?(ms|s)\b`)
	spaceRun = regexp.MustCompile(` {2,}`)
)

// normalizer maps what differs between two layouts' runs that are the
// same: the temp directories, commit ids (merges are stamped with the
// same date, but a layout's history may differ in its cut), snapshot ids
// and times, and column padding that follows their widths.
func normalizer(root, dir string, same func(string) string) func(string) string {
	return func(s string) string {
		s = strings.ReplaceAll(s, dir, "<DIR>")
		s = strings.ReplaceAll(s, root, "<ROOT>")
		s = hexRun.ReplaceAllString(s, "<HASH>")
		s = stampRun.ReplaceAllString(s, "<T>")
		s = spaceRun.ReplaceAllString(s, " ")
		if same != nil {
			s = same(s)
		}
		return s
	}
}

func TestLayoutMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("the layout matrix builds eleven checkouts")
	}
	bin, full := buildMcupdate(t), fullUpstream(t)
	layouts := matrixLayouts()
	want := runSequence(t, bin, full, layouts[0], false)
	for _, s := range want {
		t.Logf("plain: %s: exit %d\n%s", s.name, s.code, s.out)
	}
	for _, lt := range layouts[1:] {
		t.Run(lt.name, func(t *testing.T) {
			got := runSequence(t, bin, full, lt, true)
			for i, s := range got {
				w := want[i]
				if s.code != w.code || s.out != w.out {
					t.Errorf("%s: exit %d, plain clone %d; output:\n%s\nplain clone's:\n%s", s.name, s.code, w.code, s.out, w.out)
				}
			}
		})
	}
}

// TestLayoutOtherOwner runs the sequence in a checkout another user owns,
// without safe.directory: git refuses it, update.sh's git steps fail, and
// every mcupdate command that needs git says why and how to allow it;
// the snapshot, which protects the admin's files, is still taken.
func TestLayoutOtherOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown the checkout to another user")
	}
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildMcupdate(t)
	var lt matrixLayout
	for _, l := range matrixLayouts() {
		if strings.HasPrefix(l.name, "other owner") {
			lt = l
		}
	}
	steps := runSequence(t, bin, fullUpstream(t), lt, false)
	refusal := "git refuses to work in a repository owned by someone else: it belongs to uid 1000, mcupdate runs as uid 0, and git's safe.directory does not list it (git: fatal: detected dubious ownership in repository at '<DIR>')"
	hint := "mcupdate: hint: if you trust it: git config --global --add safe.directory <DIR> (update.sh's git commands need it too)"
	want := map[string]struct {
		code int
		has  []string
	}{
		"hook pre":      {1, []string{"git error <DIR>: " + refusal, "if you trust it: git config --global --add safe.directory <DIR>", "snapshot ok snapshot <T>: 6 files"}},
		"update.sh git": {1, []string{"detected dubious ownership in repository at '<DIR>'"}},
		// The risk diff is the post hook's only git step, and a warning.
		"hook post":        {0, []string{"risk warning no risk diff: open git repository: <DIR>: " + refusal}},
		"verify":           {1, []string{refusal}},
		"diff":             {1, []string{refusal, hint}},
		"diff --full":      {1, []string{refusal, hint}},
		"snapshot create":  {0, []string{"snapshot <T>: 6 files"}},
		"snapshot restore": {0, []string{"restored docker-compose.override.yml"}},
		"replay --local":   {2, []string{refusal, hint}},
	}
	for _, s := range steps {
		t.Logf("%s: exit %d\n%s", s.name, s.code, s.out)
		w, ok := want[s.name]
		if !ok {
			t.Errorf("unexpected step %s", s.name)
			continue
		}
		if s.code != w.code {
			t.Errorf("%s: exit %d, want %d\n%s", s.name, s.code, w.code, s.out)
		}
		for _, h := range w.has {
			if !strings.Contains(s.out, h) {
				t.Errorf("%s: output does not say %q:\n%s", s.name, h, s.out)
			}
		}
	}
}
