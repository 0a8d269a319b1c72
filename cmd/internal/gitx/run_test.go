package gitx

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

func TestRunnerDropsLocationVars(t *testing.T) {
	dir := t.TempDir()
	gittest.Init(t, dir)
	other := t.TempDir()
	gittest.Init(t, other)
	// A hook run from inside a git hook inherits GIT_DIR: the runner must
	// still read the repository in Dir.
	r := &Runner{Dir: dir, Env: append(gittest.Env(), "GIT_DIR="+filepath.Join(other, ".git"), "GIT_WORK_TREE="+other)}
	top, err := r.Output(context.Background(), "rev-parse", "--show-toplevel")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.EvalSymlinks(dir)
	if top != want {
		t.Fatalf("git ran in %s, want %s", top, want)
	}
}

func TestRunnerErrorCarriesStderrAndExitCode(t *testing.T) {
	dir := t.TempDir()
	gittest.Init(t, dir)
	r := &Runner{Dir: dir, Env: gittest.Env(), Redact: func(s string) string { return strings.ReplaceAll(s, "s3cret", "xxxxx") }}
	_, err := r.Run(context.Background(), "rev-parse", "--verify", "s3cret-branch")
	var ge *Error
	if !errors.As(err, &ge) {
		t.Fatalf("error %v is not a *gitx.Error", err)
	}
	if ge.ExitCode != 128 || ExitCode(err) != 128 {
		t.Errorf("exit code %d, want 128", ge.ExitCode)
	}
	msg := err.Error()
	if !strings.Contains(msg, "fatal:") || !strings.Contains(msg, dir) || strings.Contains(msg, "s3cret") {
		t.Errorf("error %q: want git's stderr, the directory, and the secret hidden", msg)
	}
}

func TestRunnerIsolated(t *testing.T) {
	dir := t.TempDir()
	gittest.Init(t, dir)
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte("[merge]\n\tff = only\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "HOME="+home, "GIT_CONFIG_GLOBAL="+filepath.Join(home, ".gitconfig"))
	open := &Runner{Dir: dir, Env: env}
	if v, _ := open.Output(context.Background(), "config", "merge.ff"); v != "only" {
		t.Fatalf("a plain runner must read the user's config, got merge.ff=%q", v)
	}
	iso := &Runner{Dir: dir, Env: env, Isolated: true}
	if v, _ := iso.Output(context.Background(), "config", "merge.ff"); v != "" {
		t.Errorf("an isolated runner read the user's config: merge.ff=%q", v)
	}
	if v, _ := iso.Output(context.Background(), "var", "GIT_COMMITTER_IDENT"); !strings.HasPrefix(v, "mcupdate <mcupdate@localhost>") {
		t.Errorf("isolated identity %q", v)
	}
}

// TestRunnerCancelKillsGroup: a cancelled command stops at once, with the
// children git started (here a hook-like sleep through an alias).
func TestRunnerCancelKillsGroup(t *testing.T) {
	dir := t.TempDir()
	gittest.Init(t, dir)
	r := &Runner{Dir: dir, Env: append(gittest.Env(), "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=alias.hang", "GIT_CONFIG_VALUE_0=!sleep 30")}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.Run(ctx, "hang")
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cancel took %v: the sleeping child was not killed with git", d)
	}
}

func TestRunnerTimeout(t *testing.T) {
	dir := t.TempDir()
	gittest.Init(t, dir)
	r := &Runner{Dir: dir, Timeout: 100 * time.Millisecond, Env: append(gittest.Env(), "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=alias.hang", "GIT_CONFIG_VALUE_0=!sleep 30")}
	_, err := r.Run(context.Background(), "hang")
	if err == nil || !strings.Contains(err.Error(), "no answer within 100ms") {
		t.Fatalf("err %v, want a timeout naming the limit", err)
	}
}

func TestQueries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	gittest.Init(t, dir)
	base := gittest.Commit(t, dir, "base", map[string]string{".gitignore": "*.log\n", "a": "a\n", "d/b": "b\n"})
	up := gittest.Commit(t, dir, "up", map[string]string{"a": "a2\n", "new/x": "x\n"})
	r := &Runner{Dir: dir, Env: gittest.Env()}
	if h, ok, err := r.RevParse(ctx, "HEAD"); err != nil || !ok || h != up {
		t.Fatalf("RevParse HEAD = %s %v %v", h, ok, err)
	}
	if _, ok, err := r.RevParse(ctx, "refs/remotes/origin/nope"); ok || err != nil {
		t.Fatalf("RevParse of a missing ref: ok %v err %v", ok, err)
	}
	if mb, err := r.MergeBase(ctx, base, up); err != nil || mb != base {
		t.Fatalf("MergeBase = %s %v", mb, err)
	}
	cs, err := r.DiffTree(ctx, base, up, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, string(c.Status)+" "+c.Path)
	}
	if strings.Join(got, ",") != "M a,A new/x" {
		t.Errorf("DiffTree = %q", got)
	}
	gittest.WriteFiles(t, dir, map[string]string{"u/one": "1", "z.log": "ignored"})
	if u, err := r.Untracked(ctx, []string{"u", "z.log", "a"}); err != nil || strings.Join(u, ",") != "u/one" {
		t.Errorf("Untracked = %q %v", u, err)
	}
	if ig, err := r.Ignored(ctx, []string{"u", "z.log"}); err != nil || strings.Join(ig, ",") != "z.log" {
		t.Errorf("Ignored = %q %v", ig, err)
	}
	// A pathspec is literal: "*" names a file called *, not every file.
	if u, err := r.Untracked(ctx, []string{"*"}); err != nil || len(u) != 0 {
		t.Errorf("Untracked(*) = %q %v", u, err)
	}
	// Paths with nothing there (one below a file) list nothing, as git
	// would, without asking it; the same paths with something there are
	// git's to list.
	none := []string{"gone", "gone/x", "a/below-a-file", "d/none"}
	for _, f := range []func(context.Context, []string) ([]string, error){r.Untracked, r.Ignored} {
		if got, err := f(ctx, none); err != nil || len(got) != 0 {
			t.Errorf("nothing there: %q %v", got, err)
		}
	}
	gittest.WriteFiles(t, dir, map[string]string{"gone/x": "1", "d/none.log": "2"})
	if u, err := r.Untracked(ctx, append(none, "d/none.log")); err != nil || strings.Join(u, ",") != "gone/x" {
		t.Errorf("Untracked = %q %v", u, err)
	}
	if ig, err := r.Ignored(ctx, append(none, "d/none.log")); err != nil || strings.Join(ig, ",") != "d/none.log" {
		t.Errorf("Ignored = %q %v", ig, err)
	}
	orphan := gittest.Git(t, dir, "commit-tree", "-m", "orphan", gittest.Git(t, dir, "rev-parse", "HEAD^{tree}"))
	if _, err := r.MergeBase(ctx, base, orphan); !errors.Is(err, ErrNoMergeBase) {
		t.Errorf("MergeBase of unrelated commits: %v, want ErrNoMergeBase", err)
	}
}
