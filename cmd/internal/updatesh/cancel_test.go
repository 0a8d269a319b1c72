package updatesh

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

// TestRunCancelStopsMerge cancels the context while git merge runs (a
// stand-in git whose merge forks a helper that never ends, as a real
// merge forks hooks and helpers): Run returns the context's error, and
// the helper, in git's process group, is killed too.
func TestRunCancelStopsMerge(t *testing.T) {
	in := newInstall(t)
	gittest.Commit(t, in.up, "release 2", map[string]string{"data/conf/postfix/main.cf": "x\n"})
	in.git(t, "fetch", "-q", "origin")
	target := in.git(t, "rev-parse", "origin/master")
	gittest.WriteFiles(t, in.dir, map[string]string{"data/conf/rspamd/local.d/greylist.conf": "enabled = false;\n"})

	real, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	mark := filepath.Join(bin, "helper.pid")
	script := "#!/bin/sh\nif [ \"$1\" = merge ]; then\n  sleep 300 &\n  echo $! > \"$MARK.tmp\" && mv \"$MARK.tmp\" \"$MARK\"\n  wait\n  exit 0\nfi\nexec '" + real + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	helper := make(chan int, 1)
	go func() {
		// Cancel as soon as the merge's helper runs.
		for ctx.Err() == nil {
			if b, err := os.ReadFile(mark); err == nil {
				pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				helper <- pid
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	res, err := Run(in.dir, Options{Target: target, Date: date, Env: append(gittest.Env(), "MARK="+mark), Ctx: ctx})
	if !errors.Is(err, context.Canceled) || res != nil {
		t.Fatalf("Run = %+v, %v; want nil, context.Canceled", res, err)
	}
	pid := <-helper
	if pid <= 0 {
		t.Fatalf("helper pid %d", pid)
	}
	// The helper was killed with its group: it is gone, or a zombie
	// waiting for a reaper. Polled, not timed: a helper left running
	// would sleep for 300 seconds.
	for i := 0; ; i++ {
		stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil || syscall.Kill(pid, 0) != nil {
			break
		}
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			break
		}
		if i == 1000 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the merge's helper %d still runs after the cancel", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The "Before update" commit happened; no step ran after the merge.
	if log := in.git(t, "log", "-1", "--format=%s"); !strings.HasPrefix(log, "Before update on ") {
		t.Errorf("HEAD is %q, want the Before update commit", log)
	}
}

// A context cancelled before Run starts runs no git at all.
func TestRunCancelledBeforeStart(t *testing.T) {
	in := newInstall(t)
	head := in.git(t, "rev-parse", "HEAD")
	gittest.WriteFiles(t, in.dir, map[string]string{"data/conf/rspamd/local.d/greylist.conf": "enabled = false;\n"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res, err := Run(in.dir, Options{Date: date, Env: gittest.Env(), Ctx: ctx}); !errors.Is(err, context.Canceled) || res != nil {
		t.Fatalf("Run = %+v, %v; want nil, context.Canceled", res, err)
	}
	if got := in.git(t, "rev-parse", "HEAD"); got != head {
		t.Errorf("HEAD moved to %s", got)
	}
}
