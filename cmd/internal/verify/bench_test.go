package verify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/snapshot"
)

// BenchmarkVerify runs every check on a release-sized install: 3,500
// tracked files, a local commit, a few uncommitted edits, three patches
// enabled, a snapshot of the overrides. The budget is 150 ms per run.
func BenchmarkVerify(b *testing.B) {
	opt := benchSetup(b)
	dir := opt.MailcowDir

	r, err := Run(context.Background(), opt)
	if err != nil {
		b.Fatal(err)
	}
	if u := r.Check(CheckUnprotected); len(r.Unprotected) != 4 || u.Status != StatusWarn {
		b.Fatalf("unprotected = %v (%s)", r.Unprotected, u.Detail)
	}
	for _, c := range r.Checks {
		if c.Status == StatusFail {
			b.Fatalf("%s failed: %s %v", c.Name, c.Detail, c.Items)
		}
	}
	cs, err := FindCustomizations(dir, "master")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cs.Hashed), "hashed-files")
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Run(context.Background(), opt); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapSys)/(1<<20), "heap-sys-MiB")
	if per := b.Elapsed() / time.Duration(b.N); per > 150*time.Millisecond {
		b.Errorf("verify took %v per run, budget 150ms", per)
	}
}

// benchSetup builds the benchmark's install and returns its options.
func benchSetup(b *testing.B) Options {
	b.Helper()
	root := b.TempDir()
	dir := filepath.Join(root, "mailcow")
	gittest.Large(b, dir, 3500, 20)
	gittest.Commit(b, dir, "mailcow files", map[string]string{
		".gitignore":                             "mailcow.conf\ndocker-compose.override.yml\ndata/conf/postfix/extra.cf\n",
		"docker-compose.yml":                     "services:\n  dovecot-mailcow:\n    image: dovecot:1\n  postfix-mailcow:\n    image: postfix:1\n",
		"data/conf/postfix/main.cf":              "message_size_limit = 104857600\n",
		"data/conf/rspamd/local.d/greylist.conf": "enabled = true;\n",
	})
	gittest.Git(b, dir, "update-ref", "refs/remotes/origin/master", "HEAD")
	gittest.Git(b, dir, "config", "branch.master.remote", "origin")
	gittest.Git(b, dir, "config", "branch.master.merge", "refs/heads/master")
	gittest.Commit(b, dir, "Before update on 2026-03-01", map[string]string{"data/conf/d01/s00/file00001.conf": "local\n"})
	gittest.WriteFiles(b, dir, map[string]string{
		"mailcow.conf":                           "DBPASS=benchmark-secret-123\n",
		"docker-compose.override.yml":            "services:\n  dovecot-mailcow:\n    mem_limit: 4g\n",
		"data/conf/postfix/extra.cf":             "message_size_limit = 104857600\n",
		"data/conf/rspamd/local.d/greylist.conf": "enabled = false;\n",
		"data/conf/d02/s00/file00002.conf":       "edited\n",
		"data/conf/d03/s00/file00003.conf":       "edited\n",
		"data/conf/d04/s00/file00004.conf":       "edited\n",
	})
	pdir := filepath.Join(root, "patches")
	own := map[string]string{}
	for i := 5; i < 7; i++ {
		own[fmt.Sprintf("own%d.ini", i)] = fmt.Sprintf("description = own %d\nservices = x\nrestart = restart\n\n[edit k]\nfile = data/conf/d%02d/s00/file%05d.conf\nkind = line\nline = other = %d\nmatch = ^other =\n", i, i, i, i)
	}
	gittest.WriteFiles(b, pdir, own)
	cfg := config.Default()
	cfg.Enabled = []string{"greylist-off", "own5", "own6"}
	cfg.PatchDir = pdir
	state := filepath.Join(root, "state")
	if _, err := snapshot.Create(fsx.Real{}, snapshot.Options{MailcowDir: dir, Store: filepath.Join(state, "snapshots"),
		Paths: cfg.SnapshotPaths, Dirs: cfg.SnapshotDirs, Keep: 1, Now: time.Now()}); err != nil {
		b.Fatal(err)
	}
	dj := filepath.Join(root, "daemon.json")
	if err := os.WriteFile(dj, []byte(`{"ipv6": true}`), 0o644); err != nil {
		b.Fatal(err)
	}
	return Options{MailcowDir: dir, Config: cfg, StateDir: state, DaemonJSON: dj,
		DockerMajor: func(context.Context, time.Duration) (int, string, error) { return 28, "28.2.2", nil }}

}
