package verify

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
)

// Issue 11 (minor): a temp file a killed run left in a directory no
// later run writes to stayed forever, unseen. verify lists every one in
// the mailcow dir, the state dir and beside daemon.json (a warning), not
// one a live run is writing, and not .git's.
func TestLeftoverTemps(t *testing.T) {
	_, dir := install(t)
	state := filepath.Join(t.TempDir(), "state")
	daemon := filepath.Join(t.TempDir(), "docker", "daemon.json")
	cfg := config.Default()
	cfg.IPv6 = false
	opt := Options{MailcowDir: dir, Config: cfg, StateDir: state, DaemonJSON: daemon}
	r, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Check(CheckLeftovers); c == nil || c.Status != StatusOK {
		t.Fatalf("leftovers on a clean install: %+v", c)
	}
	const tmp = ".mcupdate-tmp-"
	left := []string{
		filepath.Join(dir, "data/conf/sogo", tmp+"sogo.conf-123"),
		filepath.Join(dir, "data/conf/rspamd/override.d", tmp+"x.conf-9"),
		filepath.Join(state, "snapshots", "20260101T000000Z", tmp+"manifest.json-1"),
		filepath.Join(filepath.Dir(daemon), tmp+"daemon.json-7"),
	}
	spared := []string{
		filepath.Join(dir, ".git", tmp+"index-1"),
		filepath.Join(dir, "data/conf/sogo", tmp+"live-1"),
	}
	for _, p := range append(append([]string(nil), left...), spared...) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("needs flock(1)")
	}
	live := exec.Command("flock", "-x", spared[1], "sh", "-c", "echo locked; read x")
	in, _ := live.StdinPipe()
	out, _ := live.StdoutPipe()
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = in.Close(); _ = live.Wait() }()
	if _, err := out.Read(make([]byte, 7)); err != nil {
		t.Fatal(err)
	}
	r, err = Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	c := r.Check(CheckLeftovers)
	if c == nil || c.Status != StatusWarn || strings.Join(c.Items, "\n") != strings.Join(slices.Sorted(slices.Values(left)), "\n") {
		t.Fatalf("leftovers: %+v, want a warning listing %v", c, left)
	}
	if !r.OK {
		t.Error("leftover temps failed verify; they are a warning")
	}
	for _, p := range left {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("verify removed %s: %v", p, err)
		}
	}
}
