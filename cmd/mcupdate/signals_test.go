package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fixture"
)

// signalDocker is a fake docker whose compose commands take a while: with
// FAKE_COMPOSE=child it forks a long-lived child and waits for it (as
// docker compose does), writing the child's pid to $WORK/child.pid; else
// it sleeps a second in the foreground.
const signalDocker = `#!/bin/sh
echo "docker $*" >> "$WORK/docker.log"
[ "$1" = compose ] || exit 0
if [ "$FAKE_COMPOSE" = child ]; then
  sleep 30 &
  echo $! > "$WORK/child.pid"
  wait
  exit 0
fi
sleep 1
`

// TestSignals runs the built binary as update.sh would and disturbs it
// the ways a server does: SIGTERM while docker compose runs, a closed
// stdout, a lost terminal (SIGHUP).
func TestSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildMcupdate(t)

	// start starts mcupdate with args; stdout and stderr go to the given
	// files, or to buffers when nil.
	start := func(in *install, stdout, stderr *os.File, args ...string) (*exec.Cmd, *bytes.Buffer) {
		t.Helper()
		cmd := exec.Command(in.bin, args...)
		cmd.Dir, cmd.Env = in.work, in.env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if stdout != nil {
			cmd.Stdout = stdout
		}
		if stderr != nil {
			cmd.Stderr = stderr
		}
		must(t, cmd.Start())
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}
		})
		return cmd, &out
	}
	// waitFor waits until file holds want.
	waitFor := func(file, want string) string {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if b, err := os.ReadFile(file); err == nil && strings.Contains(string(b), want) {
				return string(b)
			}
		}
		t.Fatalf("%s never held %q", file, want)
		return ""
	}
	// updated is an install after update.sh's git steps to the second
	// release, with the pre hook run first, and a docker whose compose
	// commands take a while.
	updated := func(t *testing.T) *install {
		in := newInstall(t, bin)
		must(t, os.WriteFile(filepath.Join(in.work, "bin", "docker"), []byte(signalDocker), 0o755))
		wantOK(t, in.run("hook", "pre"))
		in.update(fixture.Tags()[1])
		if b, _ := os.ReadFile(in.path("data/conf/rspamd/local.d/greylist.conf")); bytes.Contains(b, []byte("enabled = false;")) {
			t.Fatal("the update did not clobber greylist.conf: the test would prove nothing")
		}
		return in
	}
	// reapplied checks that the post hook re-applied the patches and
	// wrote its report, whatever happened to its output.
	reapplied := func(t *testing.T, in *install) {
		t.Helper()
		if b, _ := os.ReadFile(in.path("data/conf/rspamd/local.d/greylist.conf")); !bytes.Contains(b, []byte("enabled = false;")) {
			t.Errorf("greylist-off was not re-applied:\n%s", b)
		}
		data, err := os.ReadFile(filepath.Join(in.state, "last-post.json"))
		if err != nil {
			t.Fatalf("no report: %v", err)
		}
		var r struct {
			Steps []struct{ Name, Status string }
		}
		must(t, json.Unmarshal(data, &r))
		var steps []string
		for _, s := range r.Steps {
			steps = append(steps, s.Name+"="+s.Status)
		}
		if got := strings.Join(steps, " "); !strings.Contains(got, "patches=changed") || !strings.Contains(got, "risk") {
			t.Errorf("report steps %s: want every step, the patches re-applied", got)
		}
	}
	notSignalled := func(t *testing.T, cmd *exec.Cmd, err error) {
		t.Helper()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("mcupdate died of %v", ws.Signal())
		}
	}

	// SIGTERM while docker compose runs: docker and the child it forked
	// are killed together, and mcupdate returns within 2 s (it waited
	// ~29 s for the orphaned child holding the output pipe).
	t.Run("SIGTERM during compose", func(t *testing.T) {
		in := newInstall(t, bin)
		must(t, os.WriteFile(filepath.Join(in.work, "bin", "docker"), []byte(signalDocker), 0o755))
		in.write(in.config, []byte(strings.Replace(string(fixture.AdminConfig()), "FTS_HEAP = 512", "FTS_HEAP = 768", 1)), 0o600)
		in.env = append(in.env, "FAKE_COMPOSE=child")
		cmd, out := start(in, nil, nil, "apply")
		pidFile := filepath.Join(in.work, "child.pid")
		child, err := strconv.Atoi(strings.TrimSpace(waitFor(pidFile, "\n")))
		must(t, err)
		must(t, cmd.Process.Signal(syscall.SIGTERM))
		done := make(chan error, 1)
		began := time.Now()
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatalf("mcupdate apply did not return within 2s of SIGTERM\n%s", out)
		}
		t.Logf("returned %v after SIGTERM, exit %d", time.Since(began).Round(time.Millisecond), cmd.ProcessState.ExitCode())
		if cmd.ProcessState.ExitCode() != exitFailed {
			t.Errorf("exit %d, want 1 (the restart failed)\n%s", cmd.ProcessState.ExitCode(), out)
		}
		if !strings.Contains(out.String(), "restart failed") {
			t.Errorf("no restart failure reported:\n%s", out)
		}
		for deadline := time.Now().Add(time.Second); syscall.Kill(child, 0) == nil; time.Sleep(10 * time.Millisecond) {
			if st, _ := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat"); strings.Contains(string(st), ") Z ") {
				break
			}
			if time.Now().After(deadline) {
				_ = syscall.Kill(child, syscall.SIGKILL)
				t.Fatalf("docker's child %d outlived mcupdate", child)
			}
		}
	})

	// A closed stdout and stderr (`./update.sh 2>&1 | head` after head
	// exited): the post hook died of SIGPIPE after restoring the
	// overrides, before re-applying the patches.
	t.Run("closed stdout", func(t *testing.T) {
		in := updated(t)
		r, w, err := os.Pipe()
		must(t, err)
		must(t, r.Close())
		cmd, _ := start(in, w, w, "hook", "post")
		must(t, w.Close())
		notSignalled(t, cmd, cmd.Wait())
		reapplied(t, in)
	})

	// The terminal is gone (SIGHUP) while the post hook restarts a
	// service, and its output with it: the hook finishes.
	t.Run("SIGHUP", func(t *testing.T) {
		in := updated(t)
		r, w, err := os.Pipe()
		must(t, err)
		cmd, _ := start(in, w, w, "hook", "post")
		must(t, w.Close())
		waitFor(in.dockerL, "compose")
		must(t, r.Close())
		must(t, cmd.Process.Signal(syscall.SIGHUP))
		notSignalled(t, cmd, cmd.Wait())
		reapplied(t, in)
	})
}
