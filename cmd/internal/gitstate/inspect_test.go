package gitstate

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

func TestInspect(t *testing.T) {
	at := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		setup func(t *testing.T, f *fixture)
		check func(t *testing.T, f *fixture, st *State)
		procs map[int]string
		// problems are the exact problem strings expected, in order.
		problems []string
	}{
		{
			name: "clean clone on master",
			check: func(t *testing.T, f *fixture, st *State) {
				want := &Upstream{Remote: "origin", Merge: "refs/heads/master"}
				if st.Branch != "master" || st.Detached || st.Head != f.c2 || !reflect.DeepEqual(st.Upstream, want) {
					t.Errorf("got branch %q detached %v head %s upstream %+v", st.Branch, st.Detached, st.Head, st.Upstream)
				}
				if !st.OK() {
					t.Errorf("problems: %v", st.Problems)
				}
			},
		},
		{
			name:  "detached at a tag",
			setup: func(t *testing.T, f *fixture) { f.git(t, "checkout", "-q", "v1") },
			check: func(t *testing.T, f *fixture, st *State) {
				if st.Branch != "" || !st.Detached || st.Head != f.c1 || st.Upstream != nil {
					t.Errorf("got branch %q detached %v head %s upstream %+v", st.Branch, st.Detached, st.Head, st.Upstream)
				}
			},
			problems: []string{"HEAD is detached at " + "%c1%" + ", so update.sh's merge fails with \"No current branch\": mcupdate's pre hook repairs it, or run `git checkout -B master`"},
		},
		{
			name: "detached after leaving nightly",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "checkout", "-q", "nightly")
				f.git(t, "checkout", "-q", "--detach")
			},
			problems: []string{"HEAD is detached at %c1%, so update.sh's merge fails with \"No current branch\": mcupdate's pre hook repairs it, or run `git checkout -B nightly`"},
		},
		{
			name:     "branch without upstream",
			setup:    func(t *testing.T, f *fixture) { f.git(t, "branch", "--unset-upstream") },
			problems: []string{"branch master has no upstream, so update.sh's merge has nothing to merge: set it with `git branch --set-upstream-to=origin/master`"},
		},
		{
			name: "merge in progress",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "checkout", "-q", "-b", "local", "v1")
				gittest.Commit(t, f.dir, "local edit", map[string]string{"local.txt": "x\n"})
				f.git(t, "merge", "-q", "--no-ff", "--no-commit", "master")
			},
			check: func(t *testing.T, f *fixture, st *State) {
				if !st.MergeInProgress || len(st.Unmerged) != 0 {
					t.Errorf("merge in progress %v, unmerged %v", st.MergeInProgress, st.Unmerged)
				}
			},
			problems: []string{
				"a merge is in progress: finish it with `git commit` or abort it with `git merge --abort`",
				"branch local has no upstream, so update.sh's merge has nothing to merge: set it with `git branch --set-upstream-to=origin/local`",
			},
		},
		{
			name: "merge conflict",
			setup: func(t *testing.T, f *fixture) {
				conflict(t, f)
			},
			check: func(t *testing.T, f *fixture, st *State) {
				want := []string{"data/conf/phpfpm/php-fpm.d/pools.conf", "mailcow.conf.example"}
				if !reflect.DeepEqual(st.Unmerged, want) {
					t.Errorf("unmerged %v, want %v", st.Unmerged, want)
				}
			},
			problems: []string{
				"a merge is in progress: finish it with `git commit` or abort it with `git merge --abort`",
				"unmerged paths: data/conf/phpfpm/php-fpm.d/pools.conf, mailcow.conf.example: resolve and `git add`, or `git reset --merge`",
				"branch local has no upstream, so update.sh's merge has nothing to merge: set it with `git branch --set-upstream-to=origin/local`",
			},
		},
		{
			name: "unmerged index without a merge (stash pop conflict)",
			setup: func(t *testing.T, f *fixture) {
				gittest.WriteFiles(t, f.dir, map[string]string{"mailcow.conf.example": "FTS_HEAP=512\n"})
				f.git(t, "stash", "-q")
				gittest.Commit(t, f.dir, "local", map[string]string{"mailcow.conf.example": "FTS_HEAP=1024\n"})
				if _, err := gittest.Run(f.dir, nil, "stash", "pop", "-q"); err == nil {
					t.Fatal("stash pop did not conflict")
				}
			},
			problems: []string{"unmerged paths: mailcow.conf.example: resolve and `git add`, or `git reset --merge`"},
		},
		{
			name: "stale index.lock",
			setup: func(t *testing.T, f *fixture) {
				makeStale(t, filepath.Join(f.dir, ".git", "index.lock"), at, 3*time.Hour+5*time.Minute)
			},
			// A git in another checkout is not this repository's.
			procs: map[int]string{1: "systemd", 4242: "dockerd", 77: "github-runner", 78: "git@elsewhere", 79: "git-upload-pack@elsewhere"},
			check: func(t *testing.T, f *fixture, st *State) {
				if st.IndexLock == nil || st.IndexLock.GitRunning || st.IndexLock.Age != 3*time.Hour+5*time.Minute {
					t.Errorf("index lock %+v", st.IndexLock)
				}
			},
			problems: []string{"stale .git/index.lock (3h old, no git running): remove it with `rm .git/index.lock`"},
		},
		{
			name: "index.lock with git running",
			setup: func(t *testing.T, f *fixture) {
				makeStale(t, filepath.Join(f.dir, ".git", "index.lock"), at, 40*time.Second)
			},
			procs: map[int]string{1: "systemd", 900: "git", 901: "git-remote-http@env", 902: "git@elsewhere"},
			check: func(t *testing.T, f *fixture, st *State) {
				if st.IndexLock == nil || !st.IndexLock.GitRunning || !reflect.DeepEqual(st.IndexLock.GitPIDs, []int{900, 901}) {
					t.Errorf("index lock %+v", st.IndexLock)
				}
			},
			problems: []string{".git/index.lock exists (40s old) and git is running (pid 900, 901): wait for git to finish, then run update.sh again"},
		},
		{
			name:  "HEAD pointing at a missing ref",
			setup: func(t *testing.T, f *fixture) { f.git(t, "symbolic-ref", "HEAD", "refs/heads/gone") },
			check: func(t *testing.T, f *fixture, st *State) {
				if !st.HeadRefMissing || st.Branch != "gone" || st.Head != "" || st.Detached {
					t.Errorf("got %+v", st)
				}
			},
			problems: []string{"HEAD points at refs/heads/gone, which does not exist: point HEAD at an existing branch with `git symbolic-ref HEAD refs/heads/master`"},
		},
		{
			name:  "packed refs only",
			setup: func(t *testing.T, f *fixture) { f.git(t, "pack-refs", "--all") },
			check: func(t *testing.T, f *fixture, st *State) {
				if _, err := os.Stat(filepath.Join(f.dir, ".git", "refs", "heads", "master")); err == nil {
					t.Fatal("refs/heads/master is still loose")
				}
				if st.Branch != "master" || st.Head != f.c2 || st.Upstream == nil {
					t.Errorf("got %+v", st)
				}
			},
		},
		{
			name: "rebase in progress",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "checkout", "-q", "-b", "local", "v1")
				gittest.Commit(t, f.dir, "local", map[string]string{"data/conf/phpfpm/php-fpm.d/pools.conf": "mine\n"})
				if _, err := gittest.Run(f.dir, nil, "rebase", "master"); err == nil {
					t.Fatal("rebase did not stop")
				}
			},
			check: func(t *testing.T, f *fixture, st *State) {
				if st.Operation != "rebase" || !st.Detached {
					t.Errorf("operation %q detached %v", st.Operation, st.Detached)
				}
				if _, ok := st.Problem(KindOperation); !ok {
					t.Errorf("no operation problem in %v", st.Problems)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fixNow(t, at)
			f := newFixture(t)
			fakeProc(t, tt.procs, f.dir)
			if tt.setup != nil {
				tt.setup(t, f)
			}
			st, err := Inspect(f.dir)
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, f, st)
			}
			if tt.problems != nil || tt.check == nil {
				var got []string
				for _, p := range st.Problems {
					got = append(got, p.String())
				}
				want := make([]string, len(tt.problems))
				for i, p := range tt.problems {
					want[i] = strings.ReplaceAll(p, "%c1%", f.c1[:12])
				}
				if len(want) == 0 {
					want = nil
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("problems:\n got %q\nwant %q", got, want)
				}
			}
		})
	}
}

// conflict leaves f in a real merge conflict on two files.
func conflict(t *testing.T, f *fixture) {
	t.Helper()
	f.git(t, "checkout", "-q", "-b", "local", "v1")
	gittest.Commit(t, f.dir, "local edits", map[string]string{
		"data/conf/phpfpm/php-fpm.d/pools.conf": "[web-worker]\nphp_admin_value[memory_limit] = 2048M\n",
		"mailcow.conf.example":                  "FTS_HEAP=1024\n",
	})
	gittest.Commit(t, f.up, "upstream edits", map[string]string{"mailcow.conf.example": "FTS_HEAP=256\n"})
	f.git(t, "fetch", "-q", "origin")
	if _, err := gittest.Run(f.dir, nil, "merge", "origin/master"); err == nil {
		t.Fatal("merge did not conflict")
	}
}

func TestInspectErrors(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T) string
		want    error
		message []string // substrings of the error message
	}{
		{
			name:    "no repo",
			setup:   func(t *testing.T) string { return t.TempDir() },
			want:    ErrNotRepo,
			message: []string{"no .git in it"},
		},
		{
			name:    "missing directory",
			setup:   func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") },
			want:    ErrNotRepo,
			message: []string{"nope", "does not exist"},
		},
		{
			name: "bare repo",
			setup: func(t *testing.T) string {
				dir := t.TempDir()
				gittest.Git(t, dir, "init", "-q", "--bare")
				return dir
			},
			want:    ErrBare,
			message: []string{"no .git"},
		},
		{
			name: "core.bare in a .git",
			setup: func(t *testing.T) string {
				f := newFixture(t)
				f.git(t, "config", "core.bare", "true")
				return f.dir
			},
			want:    ErrBare,
			message: []string{"core.bare = true"},
		},
		{
			name: "garbage in HEAD",
			setup: func(t *testing.T) string {
				f := newFixture(t)
				if err := os.WriteFile(filepath.Join(f.dir, ".git", "HEAD"), []byte("garbage\x00\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return f.dir
			},
			want:    ErrCorruptHead,
			message: []string{".git/HEAD", `"garbage\x00"`},
		},
		{
			name: "HEAD missing",
			setup: func(t *testing.T) string {
				f := newFixture(t)
				if err := os.Remove(filepath.Join(f.dir, ".git", "HEAD")); err != nil {
					t.Fatal(err)
				}
				return f.dir
			},
			want:    ErrCorruptHead,
			message: []string{".git/HEAD", "file is missing"},
		},
		{
			name: "HEAD with an invalid ref",
			setup: func(t *testing.T) string {
				f := newFixture(t)
				if err := os.WriteFile(filepath.Join(f.dir, ".git", "HEAD"), []byte("ref: refs/heads/../../config\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return f.dir
			},
			want:    ErrCorruptHead,
			message: []string{"invalid ref name"},
		},
		{
			name: "corrupt loose branch ref",
			setup: func(t *testing.T) string {
				f := newFixture(t)
				if err := os.WriteFile(filepath.Join(f.dir, ".git", "refs", "heads", "master"), []byte("zzz\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return f.dir
			},
			want:    ErrCorrupt,
			message: []string{"refs/heads/master", `"zzz"`},
		},
		{
			name: "corrupt index",
			setup: func(t *testing.T) string {
				f := newFixture(t)
				if err := os.WriteFile(filepath.Join(f.dir, ".git", "index"), []byte("DIRC junk"), 0o644); err != nil {
					t.Fatal(err)
				}
				return f.dir
			},
			want:    ErrCorrupt,
			message: []string{".git/index"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.setup(t)
			_, err := Inspect(dir)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			for _, m := range tt.message {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not contain %q", err, m)
				}
			}
		})
	}
}

func TestInspectGitdirFile(t *testing.T) {
	root := t.TempDir()
	up := filepath.Join(root, "up")
	gittest.Init(t, up)
	c := gittest.Commit(t, up, "one", map[string]string{"a": "1\n"})
	gittest.Git(t, root, "clone", "-q", "--separate-git-dir", filepath.Join(root, "gitdir"), up, filepath.Join(root, "work"))
	st, err := Inspect(filepath.Join(root, "work"))
	if err != nil {
		t.Fatal(err)
	}
	if st.GitDir != filepath.Join(root, "gitdir") || st.Head != c || st.Branch != "master" {
		t.Errorf("got %+v", st)
	}
}

func TestGitProcesses(t *testing.T) {
	repo := t.TempDir()
	fakeProc(t, map[int]string{10: "git", 2: "bash", 30: "git-upload-pack@env", 4: "gitea", 5: "mcupdate", 6: "git@elsewhere"}, repo)
	if got, want := gitProcesses(repo, filepath.Join(repo, ".git")), []int{10, 30}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	procDir = filepath.Join(t.TempDir(), "missing")
	if got := gitProcesses(repo, filepath.Join(repo, ".git")); got != nil {
		t.Errorf("missing /proc: got %v", got)
	}
}

// TestIndexLockOnlyThisRepo runs real git processes (git cat-file
// --batch waits for its input) and reads the real /proc: a git working in
// another checkout leaves this repository's index.lock stale; one working
// in it, by directory or by GIT_DIR, makes it live.
func TestIndexLockOnlyThisRepo(t *testing.T) {
	if _, err := os.Stat("/proc/self/cwd"); err != nil {
		t.Skip("no /proc")
	}
	f := newFixture(t)
	other := newFixture(t)
	lock := filepath.Join(f.dir, ".git", "index.lock")
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	start := func(dir string, env ...string) int {
		t.Helper()
		cmd := exec.Command("git", "cat-file", "--batch")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			in.Close()
			_ = cmd.Wait()
		})
		return cmd.Process.Pid
	}
	start(other.dir)
	st, err := Inspect(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.IndexLock == nil || st.IndexLock.GitRunning {
		t.Fatalf("a git in another checkout: index lock %+v", st.IndexLock)
	}
	if p, _ := st.Problem(KindIndexLock); !strings.HasPrefix(p.What, "stale .git/index.lock") {
		t.Errorf("problem %q, want a stale lock", p.What)
	}

	inSub := start(filepath.Join(f.dir, "data"))
	byEnv := start(other.dir, "GIT_DIR="+filepath.Join(f.dir, ".git"))
	st, err = Inspect(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.IndexLock == nil || !reflect.DeepEqual(st.IndexLock.GitPIDs, sortedInts(inSub, byEnv)) {
		t.Fatalf("gits in this repository (pids %d, %d): index lock %+v", inSub, byEnv, st.IndexLock)
	}
	p, _ := st.Problem(KindIndexLock)
	if want := fmt.Sprintf("and git is running (pid %s)", joinInts(sortedInts(inSub, byEnv))); !strings.Contains(p.What, want) {
		t.Errorf("problem %q, want %q", p.What, want)
	}
}

func sortedInts(a ...int) []int {
	sort.Ints(a)
	return a
}

func TestHumanAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 5 * time.Second: "5s", 90 * time.Second: "1m",
		3*time.Hour + 59*time.Minute: "3h", 47 * time.Hour: "47h", 72 * time.Hour: "3d",
	} {
		if got := humanAge(d); got != want {
			t.Errorf("humanAge(%v) = %q, want %q", d, got, want)
		}
	}
}
