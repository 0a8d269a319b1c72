package crashtest

// Two runs at once: one holds the state dir's lock, the other exits 3
// naming it (its pid), and nothing is written by both. A lock held by a
// SIGKILLed run does not block the next.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

type started struct {
	args           []string
	pid            int
	code           int
	stdout, stderr bytes.Buffer
	wait           func()
}

func (w *world) start(args ...string) *started {
	w.t.Helper()
	s := &started{args: args}
	cmd := w.command(context.Background(), args...)
	cmd.Stdout, cmd.Stderr = &s.stdout, &s.stderr
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	s.pid = cmd.Process.Pid
	s.wait = func() {
		_ = cmd.Wait()
		s.code = cmd.ProcessState.ExitCode()
	}
	return s
}

var holderRE = regexp.MustCompile(`another mcupdate run holds the lock: pid (\d+) \(mcupdate ([a-z ]+)\)`)

func TestTwoRunsAtOnce(t *testing.T) {
	pairs := [][2][]string{
		{{"apply", "--no-restart"}, {"apply", "--no-restart"}},
		{{"hook", "pre"}, {"hook", "post", "--no-restart"}},
		{{"hook", "post", "--no-restart"}, {"apply", "--no-restart"}},
	}
	const rounds = 5
	for _, pair := range pairs {
		name := strings.Join(pair[0], " ") + " + " + strings.Join(pair[1], " ")
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.initMailcow(crashTracked(), w.crashPatches())
			for i := 0; i < 20; i++ {
				w.write(w.path(overrideFile(i)), overrideAdmin(i), 0o640)
			}
			w.mustRun("hook", "pre")
			// What one run alone makes of the tree.
			w.resetTracked()
			before := snapshotTree(t, w.dir, filepath.Join(w.dir, ".git"))
			w.mustRun("apply", "--no-restart")
			want := snapshotTree(t, w.dir, filepath.Join(w.dir, ".git"))
			// A run that writes the patch targets: apply or hook post.
			writes := func(r *started) bool { return r.args[0] == "apply" || r.args[1] == "post" }
			excluded := 0
			for round := 0; round < rounds; round++ {
				w.resetTracked()
				a, b := w.start(pair[0]...), w.start(pair[1]...)
				a.wait()
				b.wait()
				runs := []*started{a, b}
				for i, r := range runs {
					other := runs[1-i]
					switch r.code {
					case 0:
					case 3:
						excluded++
						m := holderRE.FindStringSubmatch(r.stderr.String())
						if m == nil {
							t.Errorf("round %d: %s exited 3 without naming the holder: %s", round, strings.Join(r.args, " "), r.stderr.String())
						} else if m[1] != fmt.Sprint(other.pid) || !strings.HasPrefix(strings.Join(other.args, " "), m[2]) {
							t.Errorf("round %d: %s names pid %s (mcupdate %s), want %d (%s)", round, strings.Join(r.args, " "), m[1], m[2], other.pid, strings.Join(other.args, " "))
						}
					default:
						t.Errorf("round %d: %s exit %d: %s%s", round, strings.Join(r.args, " "), r.code, r.stdout.String(), r.stderr.String())
					}
				}
				if a.code == 3 && b.code == 3 {
					t.Errorf("round %d: both runs exited 3", round)
				}
				if a.code != 3 && b.code != 3 && pair[0][0] == "apply" {
					// Both ran: only possible one after the other, and
					// the second then found everything in place.
					t.Logf("round %d: both ran (one after the other)", round)
				}
				if !t.Failed() {
					got := snapshotTree(t, w.dir, filepath.Join(w.dir, ".git"))
					for p := range got {
						if strings.HasSuffix(p, ".mcupdate-new") {
							delete(got, p)
						}
					}
					// The tree is what the run that wrote made of it, or,
					// when the lock kept that run out, as it was.
					exp, what := want, "what one run makes of it"
					if !(writes(a) && a.code == 0) && !(writes(b) && b.code == 0) {
						exp, what = before, "as before (the writing run was kept out)"
					}
					bad := 0
					for p, v := range exp {
						if got[p] != v {
							bad++
						}
					}
					if bad > 0 {
						t.Errorf("round %d: %d files are not %s", round, bad, what)
					}
				}
				noTemps(t, w, "two runs at once")
			}
			t.Logf("%s: %d rounds, %d runs kept out by the lock with the holder named", name, rounds, excluded)
			if excluded == 0 {
				t.Errorf("no run was ever kept out: the runs never overlapped")
			}
		})
	}
}

// A run SIGKILLed while it holds the lock: the kernel drops the flock,
// the next run goes ahead although the holder line is still in the file.
func TestLockOfKilledRun(t *testing.T) {
	w := newWorld(t)
	w.initMailcow(crashTracked(), w.crashPatches())
	lock := filepath.Join(w.state, "lock")
	for round := 0; round < 5; round++ {
		w.resetTracked()
		s := w.start("apply", "--no-restart")
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, _ := os.ReadFile(lock)
			if bytes.Contains(b, []byte(fmt.Sprintf("pid %d ", s.pid))) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the run never took the lock")
			}
			time.Sleep(200 * time.Microsecond)
		}
		_ = syscall.Kill(s.pid, syscall.SIGKILL)
		s.wait()
		if b, _ := os.ReadFile(lock); !bytes.Contains(b, []byte(fmt.Sprintf("pid %d ", s.pid))) {
			t.Logf("round %d: the run ended before the kill", round)
		}
		r := w.run("apply", "--no-restart")
		if r.code != 0 {
			t.Fatalf("round %d: the run after the killed one: %s", round, r)
		}
	}
}

// A holder SIGKILLed while it was starting git or docker leaves the lock
// to the child for the moment between fork and exec (the long crash run
// hit it once in 600 kills: exit 3 naming the dead pid). Lock waits a
// moment when the pid on the holder line is gone; a live holder still
// means exit 3 at once.
func TestLockOfDeadHolderHeldByChild(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("needs flock(1)")
	}
	w := newWorld(t)
	w.initMailcow(nil, "[docker]\nipv6 = off\n[restart]\nenabled = off\n")
	w.mustRun("apply")
	lock := filepath.Join(w.state, "lock")
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pid  int
		want int
	}{{gone.Process.Pid, 0}, {os.Getpid(), 3}} {
		w.write(lock, fmt.Sprintf("pid %d (mcupdate hook pre) since 2026-11-22T06:00:00Z\n", tc.pid), 0o600)
		// The child: holds the lock for 200ms, as a program between
		// fork and exec does for far less.
		child := exec.Command("flock", "-x", lock, "sleep", "0.2")
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		r := w.run("apply")
		_ = child.Wait()
		if r.code != tc.want {
			t.Errorf("holder line pid %d: exit %d, want %d: %s", tc.pid, r.code, tc.want, r)
		}
	}
}
