package hook

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/snapshot"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// TestTenPreRunsOneSnapshot: ten pre hook runs with nothing changed leave
// one snapshot, and each run's record names it; a changed override then
// makes the next run take a new one.
func TestTenPreRunsOneSnapshot(t *testing.T) {
	root := t.TempDir()
	inst := filepath.Join(root, "mailcow")
	gittest.Init(t, inst)
	gittest.Commit(t, inst, "release", map[string]string{".gitignore": "mailcow.conf\n", "docker-compose.yml": "services: {}\n"})
	gittest.WriteFiles(t, inst, map[string]string{"mailcow.conf": "MAILCOW_HOSTNAME=mail.example.org\n"})
	t.Setenv("PATH", fakeDockerDir(t)+string(os.PathListSeparator)+os.Getenv("PATH"))
	cfg := config.Default()
	cfg.IPv6 = false
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	var out bytes.Buffer
	sd := state.Dir{Path: filepath.Join(root, "state")}
	run := func() string {
		t.Helper()
		out.Reset()
		env := &Env{
			MailcowDir: inst, Config: cfg, State: sd, DaemonJSON: filepath.Join(root, "daemon.json"),
			Sys: fsx.Real{}, UI: ui.New(&out, &out, os.Getenv), TempDir: root,
			Now: func() time.Time { now = now.Add(time.Second); return now },
		}
		if r, _ := Pre(context.Background(), env); r == nil {
			t.Fatalf("no report:\n%s", out.String())
		}
		rec, ok, err := sd.LoadRecord()
		if err != nil || !ok {
			t.Fatalf("no record: %v\n%s", err, out.String())
		}
		return rec.SnapshotID
	}
	store := filepath.Join(sd.Path, "snapshots")
	first := run()
	for i := 2; i <= 10; i++ {
		if id := run(); id != first {
			t.Fatalf("run %d recorded snapshot %s, want %s:\n%s", i, id, first, out.String())
		}
	}
	if !bytes.Contains(out.Bytes(), []byte("nothing changed since snapshot "+first)) {
		t.Errorf("the step does not say it kept the snapshot:\n%s", out.String())
	}
	ms, err := snapshot.List(store)
	if err != nil || len(ms) != 1 || ms[0].ID != first {
		t.Fatalf("after ten runs: %d snapshots (%v), want one, %s", len(ms), err, first)
	}
	gittest.WriteFiles(t, inst, map[string]string{"mailcow.conf": "MAILCOW_HOSTNAME=mx.example.org\n"})
	if id := run(); id == first {
		t.Fatalf("a changed mailcow.conf did not make a new snapshot:\n%s", out.String())
	}
	if ms, _ := snapshot.List(store); len(ms) != 2 {
		t.Errorf("%d snapshots, want 2", len(ms))
	}
}
