package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fixture"
)

// TestMain doubles as the child process of the signal tests: with
// REPLAY_CHILD set, the test binary runs one replay the way mcupdate's
// Main does (its context cancelled on SIGINT and SIGTERM) and exits.
func TestMain(m *testing.M) {
	if mode := os.Getenv("REPLAY_CHILD"); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

func child(mode string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Parse("child.ini", fixture.AdminConfig())
	if err != nil {
		fmt.Println("config:", err)
		return 1
	}
	opt := Options{Upstream: os.Getenv("REPLAY_UPSTREAM"), From: "2026-01", To: []string{"2026-03", "2026-05"},
		TempDir: os.Getenv("REPLAY_TMP"), Config: cfg}
	if mode == "target" {
		// Stop between two targets until the parent's signal arrives.
		opt.Progress = func(t string, done bool) {
			if t == "2026-05" && !done {
				fmt.Println("started", t)
				<-ctx.Done()
			}
		}
	}
	_, err = Run(ctx, opt)
	fmt.Println("result:", err)
	if errors.Is(err, ErrInterrupted) {
		return 3
	}
	return 1
}

func fixtureUpstream(t *testing.T) string {
	t.Helper()
	up := filepath.Join(t.TempDir(), "up")
	if err := fixture.BuildUpstream(up, ""); err != nil {
		t.Fatal(err)
	}
	return up
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in %s: %s", dir, e.Name())
	}
}

// TestCancelBetweenTargets cancels the context as the second target
// starts: Run says it was interrupted and removes the scratch directory.
func TestCancelBetweenTargets(t *testing.T) {
	up := fixtureUpstream(t)
	tmp := t.TempDir()
	cfg, err := config.Parse("test.ini", fixture.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, chain := range []bool{false, true} {
		t.Run(fmt.Sprintf("chain=%v", chain), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var seen []string
			rep, err := Run(ctx, Options{Upstream: up, From: "2026-01", Tags: "2026-*", Chain: chain, TempDir: tmp, Config: cfg,
				Progress: func(target string, done bool) {
					seen = append(seen, fmt.Sprintf("%s:%v", target, done))
					if target == "2026-05" && !done {
						cancel()
					}
				}})
			if rep != nil || !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %v, %v; want ErrInterrupted wrapping context.Canceled", rep, err)
			}
			if got := strings.Join(seen, " "); got != "2026-03:false 2026-03:true 2026-05:false" {
				t.Errorf("progress %q: the replay went on after the cancellation", got)
			}
			assertEmpty(t, tmp)
		})
	}
}

// TestSignal interrupts a replay process with SIGINT or SIGTERM, once
// between targets, once while git clone's remote helper runs (a
// grandchild of the replay) and once while update.sh's git merge runs (a
// stand-in git whose merge forks a helper): the process ends promptly,
// reports the interruption, kills the helper and removes its scratch
// directory.
func TestSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	up := fixtureUpstream(t)
	marker := fmt.Sprintf("61.%d", os.Getpid()) // a sleep no other process runs
	realGit, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	slowMerge := t.TempDir()
	script := "#!/bin/sh\nif [ \"$1\" = merge ]; then\n  sleep " + marker + " &\n  wait\n  exit 0\nfi\nexec '" + realGit + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(slowMerge, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, mode, upstream string
		sig                  syscall.Signal
		ready                func(out *bytes.Buffer) bool
		path                 string // put before $PATH
	}{
		{"between targets SIGINT", "target", up, syscall.SIGINT,
			func(out *bytes.Buffer) bool { return strings.Contains(out.String(), "started 2026-05") }, ""},
		{"between targets SIGTERM", "target", up, syscall.SIGTERM,
			func(out *bytes.Buffer) bool { return strings.Contains(out.String(), "started 2026-05") }, ""},
		{"during git clone SIGINT", "clone", "ext::sleep " + marker, syscall.SIGINT,
			func(*bytes.Buffer) bool { return len(sleepers(marker)) > 0 }, ""},
		{"during git merge SIGINT", "merge", up, syscall.SIGINT,
			func(*bytes.Buffer) bool { return len(sleepers(marker)) > 0 }, slowMerge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "REPLAY_CHILD="+tc.mode, "REPLAY_UPSTREAM="+tc.upstream, "REPLAY_TMP="+tmp,
				"GIT_ALLOW_PROTOCOL=ext:file")
			if tc.path != "" {
				cmd.Env = append(cmd.Env, "PATH="+tc.path+string(os.PathListSeparator)+os.Getenv("PATH"))
			}
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for !tc.ready(out.snapshot()) {
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					killSleepers(marker)
					_ = cmd.Wait()
					t.Fatalf("the replay never got there; output:\n%s", out.snapshot())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 3 {
					t.Errorf("exit: %v; want status 3 (interrupted); output:\n%s", err, out.snapshot())
				}
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				killSleepers(marker)
				t.Fatalf("the replay did not end after %v; output:\n%s", tc.sig, out.snapshot())
			}
			if !strings.Contains(out.snapshot().String(), "replay interrupted") {
				t.Errorf("output does not say the replay was interrupted:\n%s", out.snapshot())
			}
			if s := sleepers(marker); len(s) > 0 {
				killSleepers(marker)
				t.Errorf("git's helper still runs: pids %v", s)
			}
			assertEmpty(t, tmp)
		})
	}
}

// sleepers returns the pids of processes running `sleep marker`.
func sleepers(marker string) []string {
	var pids []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		args := strings.Split(string(b), "\x00")
		if err == nil && len(args) == 3 && filepath.Base(args[0]) == "sleep" && args[1] == marker {
			pids = append(pids, filepath.Base(filepath.Dir(p)))
		}
	}
	return pids
}

// killSleepers ends the test's own sleep processes after a failure.
func killSleepers(marker string) {
	for _, p := range sleepers(marker) {
		if pid, err := strconv.Atoi(p); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
