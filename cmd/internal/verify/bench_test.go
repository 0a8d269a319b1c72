package verify

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/snapshot"
	"github.com/mcupdate/mcupdate/cmd/internal/upstreamtest"
)

// BenchmarkVerify runs every check on a release-sized install: 3,500
// tracked files, a local commit, a few uncommitted edits, three patches
// enabled, a snapshot of the overrides, and the real files of the latest
// release in ../shared/upstream (when there) with edits that make every
// pitfall check read all it reads: an override with networks and dns, a
// mynetworks, an indexer vsz_limit, userns-remap. The budget is 150 ms
// per run.
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
	for _, name := range []string{CheckExtraNetworks, CheckOverrideDNS, CheckFTSMemory, CheckUsernsRemap} {
		if c := r.Check(name); c.Status != StatusWarn {
			b.Fatalf("%s: %s %s, want the warning the setup provokes", name, c.Status, c.Detail)
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
	files := map[string]string{
		".gitignore":                             "mailcow.conf\ndocker-compose.override.yml\ndata/conf/postfix/extra.cf\ndata/conf/dovecot/extra.conf\ndata/assets/ssl/\n",
		"docker-compose.yml":                     "services:\n  dovecot-mailcow:\n    image: dovecot:1\n    dns: [172.22.1.254]\n  postfix-mailcow:\n    image: postfix:1\n",
		"data/conf/postfix/main.cf":              "message_size_limit = 104857600\n",
		"data/conf/rspamd/local.d/greylist.conf": "enabled = true;\n",
	}
	for rel, content := range realReleaseFiles(b) {
		if _, ours := files[rel]; !ours || rel == "docker-compose.yml" {
			files[rel] = content
		}
	}
	gittest.Commit(b, dir, "mailcow files", files)
	gittest.Git(b, dir, "update-ref", "refs/remotes/origin/master", "HEAD")
	gittest.Git(b, dir, "config", "branch.master.remote", "origin")
	gittest.Git(b, dir, "config", "branch.master.merge", "refs/heads/master")
	gittest.Commit(b, dir, "Before update on 2026-03-01", map[string]string{"data/conf/d01/s00/file00001.conf": "local\n"})
	gittest.WriteFiles(b, dir, map[string]string{
		"mailcow.conf":                           "DBPASS=benchmark-secret-123\nMAILCOW_HOSTNAME=mail.example.org\nADDITIONAL_SAN=autodiscover.example.org,imap.*\nFTS_HEAP=128\n",
		"docker-compose.override.yml":            "services:\n  dovecot-mailcow:\n    mem_limit: 4g\n    dns: [192.0.2.53]\n    networks:\n      mailcow-network:\n        aliases: [imap]\n      proxy:\nnetworks:\n  proxy:\n    external: true\n",
		"data/conf/postfix/extra.cf":             "message_size_limit = 104857600\nmynetworks = 127.0.0.0/8 [::1]/128\n  172.22.1.0/24 [fd4d:6169:6c63:6f77::]/64\n",
		"data/conf/dovecot/extra.conf":           "service indexer-worker {\n  vsz_limit = 2G\n}\n",
		TLSCert:                                  string(makeCert(b, []string{"mail.example.org", "autodiscover.example.org"}, time.Now().Add(-time.Hour), time.Now().AddDate(0, 3, 0))),
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
	dj := filepath.Join(root, "etc", "docker", "daemon.json")
	gittest.WriteFiles(b, root, map[string]string{"etc/docker/daemon.json": `{"ipv6": true, "userns-remap": "default"}`, "etc/subuid": "dockremap:165536:65536\n"})
	return Options{MailcowDir: dir, Config: cfg, StateDir: state, DaemonJSON: dj,
		DockerMajor: func(context.Context, time.Duration) (int, string, error) { return 28, "28.2.2", nil }}

}

// benchTag is the release whose real files the benchmarks use.
const benchTag = "2026-07a"

// realReleaseFiles returns the real files of benchTag from
// ../shared/upstream, by path in the mailcow dir; none when the folder is
// absent (the benchmark then runs on its own small files).
func realReleaseFiles(tb testing.TB) map[string]string {
	tb.Helper()
	up, ok := upstreamtest.Find()
	if !ok {
		tb.Logf("no ../shared/upstream: the pitfall checks read small files of the benchmark's own")
		return nil
	}
	src := filepath.Join(up, benchTag)
	out := map[string]string{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "dot.gitignore" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// BenchmarkPitfalls runs the eight pitfall checks alone, as Run does (one
// read of each file, shared), on the real files of benchTag with an
// admin's edits that make each of them warn or fail: their share of a
// verify run.
func BenchmarkPitfalls(b *testing.B) {
	opt := upstreamInstall(b, benchTag)
	dir := opt.MailcowDir
	writeTree(b, dir, map[string]string{
		PostfixExtraCf:      relayExtraCf,
		ComposeOverrideFile: "services:\n  postfix-mailcow:\n    dns: [192.0.2.53]\n    networks:\n      mailcow-network:\n        aliases: [dovecot]\n      proxy:\nnetworks:\n  proxy:\n    external: true\n",
		DovecotExtraConf:    "service indexer-worker {\n  vsz_limit = 2G\n}\n",
	})
	appendFile(b, dir, MailcowConf, "ADDITIONAL_SAN=imap.example.org\n")
	replaceIn(b, dir, PHPOtherINI, "memory_limit = 512M", "memory_limit = 2048M")
	if err := os.WriteFile(opt.DaemonJSON, []byte(`{"userns-remap": "default"}`), 0o644); err != nil {
		b.Fatal(err)
	}
	run := func() []Check {
		in := newMailcowFiles(opt)
		out := make([]Check, len(pitfallChecks))
		for i, p := range pitfallChecks {
			out[i] = p.run(in)
		}
		return out
	}
	for i, c := range run() {
		if c.Status == StatusOK || c.Status == StatusSkipped {
			b.Fatalf("%s: %s %s, want the warning or failure the edits provoke", pitfallChecks[i].name, c.Status, c.Detail)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run()
	}
	if per := b.Elapsed() / time.Duration(b.N); per > 10*time.Millisecond {
		b.Errorf("the pitfall checks took %v per run, budget 10ms", per)
	}
}

// BenchmarkRealMailcow runs verify on a clone of the real
// mailcow-dockerized repository at benchTag (3,700 tracked files), with
// `git status` on the same clone as the yardstick. It needs a local
// mirror: MCUPDATE_BENCH_MIRROR=/path/to/mailcow-dockerized(.git); it is
// skipped without one (no network in tests).
func BenchmarkRealMailcow(b *testing.B) {
	mirror := os.Getenv("MCUPDATE_BENCH_MIRROR")
	if mirror == "" {
		b.Skip("MCUPDATE_BENCH_MIRROR is not set: no mailcow-dockerized mirror to clone")
	}
	root := b.TempDir()
	dir := filepath.Join(root, "mailcow")
	gittest.Git(b, root, "clone", "-q", "--no-checkout", mirror, dir)
	gittest.Git(b, dir, "checkout", "-q", "-B", "master", benchTag)
	gittest.Git(b, dir, "branch", "-q", "-u", "origin/master", "master")
	writeTree(b, dir, map[string]string{
		MailcowConf: stockConf,
		TLSCert:     string(makeCert(b, []string{"mail.example.org"}, time.Now().Add(-time.Hour), time.Now().AddDate(0, 3, 0))),
	})
	writeTree(b, root, map[string]string{"etc/docker/daemon.json": `{"ipv6": true}`})
	opt := Options{MailcowDir: dir, Config: config.Default(), StateDir: filepath.Join(root, "state"),
		DaemonJSON:  filepath.Join(root, "etc", "docker", "daemon.json"),
		DockerMajor: func(context.Context, time.Duration) (int, string, error) { return 28, "28.2.2", nil }}
	r, err := Run(context.Background(), opt)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range r.Checks {
		if c.Status == StatusFail {
			b.Fatalf("%s failed on the real repository: %s %v", c.Name, c.Detail, c.Items)
		}
	}
	b.Run("verify", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := Run(context.Background(), opt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pitfalls", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			in := newMailcowFiles(opt)
			for _, p := range pitfallChecks {
				p.run(in)
			}
		}
	})
	b.Run("git-status", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			gittest.Git(b, dir, "status", "--porcelain")
		}
	})
}
