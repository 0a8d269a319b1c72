package risk

import (
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

// releaseMerge builds a release-sized update: a 3,600-file tree, an
// upstream release changing 45 files (docker-compose.yml among them), a
// local "Before update" commit and update.sh's real merge. It returns the
// install's directory.
func releaseMerge(tb testing.TB) string {
	tb.Helper()
	root := tb.TempDir()
	up, inst := filepath.Join(root, "upstream"), filepath.Join(root, "mailcow")
	gittest.Large(tb, up, 3600, 50)
	gittest.Commit(tb, up, "compose", map[string]string{"docker-compose.yml": baseCompose})
	gittest.Git(tb, root, "clone", "-q", up, inst)
	gittest.WriteFiles(tb, inst, map[string]string{
		"mailcow.conf":                     conf,
		"docker-compose.yml":               strings.Replace(baseCompose, "dovecot:2.3.21.1-1\n", "dovecot:2.3.21.1-1\n    mem_limit: 4g\n", 1),
		"data/conf/d01/s00/file00001.conf": "# local edit\n",
		"data/conf/d02/s00/file00002.conf": "# local edit\n",
	})
	release := map[string]string{"docker-compose.yml": strings.Replace(baseCompose, "dovecot:2.3.21.1-1", "dovecot:2.3.21.1-2", 1)}
	for i := 0; i < 44; i++ {
		n := 100 + i*73
		release[fmt.Sprintf("data/conf/d%02d/s%02d/file%05d.conf", n%40, (n/40)%10, n)] = fmt.Sprintf("# file %d, release 2026-07\nkey_%d = new\n", n, n)
	}
	gittest.Commit(tb, up, "release 2026-07", release)
	gittest.Git(tb, inst, "add", "-u")
	gittest.Git(tb, inst, "commit", "-q", "-am", "Before update on 2026-07-01")
	gittest.Git(tb, inst, "fetch", "-q", "origin")
	gittest.Git(tb, inst, "-c", "merge.defaultToUpstream=true", "merge", "-q", "-Xtheirs", "-Xpatience", "-m", "After update on 2026-07-01")
	if n := strings.Count(gittest.Git(tb, inst, "diff", "--name-only", "HEAD~1"), "\n") + 1; n < 40 {
		tb.Fatalf("release merge changes %d files, want 40 or more", n)
	}
	return inst
}

func TestReleaseMerge(t *testing.T) {
	inst := releaseMerge(t)
	r := analyze(t, Options{Dir: inst, OldMailcowConf: []byte(conf)})
	if f := find(r, High, "docker-compose.yml", "dropped by the merge"); f == nil || len(f.Lost) != 1 {
		t.Errorf("lost mem_limit not found:\n%s", dump(r))
	}
	if n := r.Count(Low); n != 44 {
		t.Errorf("Count(Low) = %d, want 44:\n%s", n, dump(r))
	}
}

func BenchmarkAnalyze(b *testing.B) {
	inst := releaseMerge(b)
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := Analyze(Options{Dir: inst, OldMailcowConf: []byte(conf)})
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Render(io.Discard, RenderOptions{Width: 100}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapSys)/(1<<20), "heap-sys-MB")
	b.ReportMetric(float64(after.Sys)/(1<<20), "sys-MB")
}

func BenchmarkGitDiffHEAD1(b *testing.B) {
	inst := releaseMerge(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command("git", "diff", "HEAD~1")
		cmd.Dir = inst
		cmd.Env = gittest.Env()
		cmd.Stdout = io.Discard
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
	}
}
