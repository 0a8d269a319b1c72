package restart

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeDocker writes a docker stand-in that records its arguments.
func fakeDocker(t *testing.T, fail string) (bin, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "docker.log")
	script := "#!/bin/sh\necho \"$PWD: docker $*\" >> " + log + "\n"
	if fail != "" {
		script += "case \"$*\" in *" + fail + "*) echo 'Error: no such service: " + fail + "' >&2; exit 1;; esac\n"
	}
	bin = filepath.Join(dir, "docker")
	require.NoError(t, os.WriteFile(bin, []byte(script), 0o755))
	return bin, log
}

func TestRun(t *testing.T) {
	cases := []struct {
		name string
		plan Plan
		fail string
		want []string
		err  string
	}{
		{name: "nothing", plan: Plan{}, want: nil},
		{name: "restart only", plan: Plan{"rspamd-mailcow": Restart, "postfix-mailcow": Restart},
			want: []string{"docker compose restart postfix-mailcow rspamd-mailcow"}},
		{name: "recreate and restart", plan: Plan{"dovecot-mailcow": Recreate, "php-fpm-mailcow": Restart},
			want: []string{"docker compose up -d dovecot-mailcow", "docker compose restart php-fpm-mailcow"}},
		{name: "whole project", plan: Plan{All: Recreate, "rspamd-mailcow": Restart},
			want: []string{"docker compose up -d", "docker compose restart rspamd-mailcow"}},
		{name: "failure reported with output", plan: Plan{"sogo-mailcow": Restart}, fail: "sogo-mailcow",
			want: []string{"docker compose restart sogo-mailcow"}, err: "no such service: sogo-mailcow"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bin, log := fakeDocker(t, c.fail)
			dir := t.TempDir()
			_, err := Run(context.Background(), dir, []string{bin, "compose"}, c.plan)
			if c.err != "" {
				require.ErrorContains(t, err, c.err)
			} else {
				require.NoError(t, err)
			}
			data, _ := os.ReadFile(log)
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				if l != "" {
					require.True(t, strings.HasPrefix(l, dir+": "), "ran in the mailcow dir: %s", l)
					got = append(got, strings.TrimPrefix(l, dir+": "))
				}
			}
			require.Equal(t, c.want, got)
		})
	}
}

func TestPlanRecreateWins(t *testing.T) {
	p := Plan{}
	p.Add("dovecot-mailcow", Recreate)
	p.Add("dovecot-mailcow", Restart)
	require.Equal(t, Recreate, p["dovecot-mailcow"])
}

func TestServiceFor(t *testing.T) {
	for rel, want := range map[string]string{
		"data/conf/rspamd/override.d/ratelimit.conf": "rspamd-mailcow",
		"data/conf/postfix/extra.cf":                 "postfix-mailcow",
		"data/conf/nginx/site.custom":                "nginx-mailcow",
		"data/hooks/dovecot/startup.sh":              "dovecot-mailcow",
		"mailcow.conf":                               "",
	} {
		svc, _, ok := ServiceFor(rel)
		require.Equal(t, want, svc, rel)
		require.Equal(t, want != "", ok, rel)
	}
}

// TestRunStopsOnCancel: SIGTERM while docker compose runs (the context
// is cancelled) kills the fake docker and the long-lived child it forked,
// and Run returns within 2 s; killing docker alone left the child holding
// the output pipe, and Run waited for it.
func TestRunStopsOnCancel(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	bin := filepath.Join(dir, "docker")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\nsleep 30 &\necho $! > "+pidFile+"\nwait\n"), 0o755))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, dir, []string{bin, "compose"}, Plan{"dovecot-mailcow": Recreate, "postfix-mailcow": Restart})
		done <- err
	}()
	var child int
	for deadline := time.Now().Add(10 * time.Second); child == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	require.NotZero(t, child, "the fake docker did not start its child")
	cancel()
	select {
	case err := <-done:
		require.Error(t, err)
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2s of the cancel")
	}
	for deadline := time.Now().Add(time.Second); syscall.Kill(child, 0) == nil; time.Sleep(10 * time.Millisecond) {
		if st, _ := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat"); strings.Contains(string(st), ") Z ") {
			break // dead, waiting for its reaper
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(child, syscall.SIGKILL)
			t.Fatalf("docker's child %d outlived the cancel", child)
		}
	}
}
