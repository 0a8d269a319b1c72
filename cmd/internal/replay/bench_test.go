package replay

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

// Replay's targets (issue 5) are measured here, beside the git CLI doing
// the bare job, never asserted in a timed test:
//
//	go test -run '^$' -bench 'Replay10|BareGit10' -count 3 ./cmd/internal/replay
//
// Both replay 10 tags of a 3,600-file upstream, starting with the clone.
// BenchmarkReplay10 should take at most 1.3 times BenchmarkBareGit10, and
// its peak-rss-MB stay under 128.

const (
	benchFiles   = 3600
	benchCommits = 40
	benchTargets = 10
)

var (
	benchOnce sync.Once
	benchUp   string
	benchCfg  *config.Config
	benchErr  error
)

// benchPath is the file gittest.Large names i.
func benchPath(i int) string {
	return fmt.Sprintf("data/conf/d%02d/s%02d/file%05d.conf", i%40, (i/40)%10, i)
}

// benchUpstream builds the upstream once: gittest.Large's history, tag
// from at HEAD~10 and t01…t10 on the ten commits after it; and an own
// patch that edits a file upstream changes at t05, so one merge clobbers
// it and the post hook re-applies it.
func benchUpstream(b *testing.B) (string, *config.Config) {
	b.Helper()
	benchOnce.Do(func() {
		root, err := os.MkdirTemp("", "mcupdate-replay-bench-")
		if err != nil {
			benchErr = err
			return
		}
		benchUp = filepath.Join(root, "up")
		gittest.Large(b, benchUp, benchFiles, benchCommits)
		gittest.Git(b, benchUp, "tag", "from", fmt.Sprintf("HEAD~%d", benchTargets))
		for i := 1; i <= benchTargets; i++ {
			gittest.Git(b, benchUp, "tag", fmt.Sprintf("t%02d", i), fmt.Sprintf("HEAD~%d", benchTargets-i))
		}
		// Commit c of gittest.Large rewrites files (c*7 + k*13) % n.
		c := benchCommits - benchTargets + 4 // tag t05
		file := benchPath(c * 7 % benchFiles)
		key := fmt.Sprintf("key_%d", c*7%benchFiles)
		pdir := filepath.Join(root, "patches")
		if benchErr = os.MkdirAll(pdir, 0o755); benchErr != nil {
			return
		}
		patch := fmt.Sprintf("description = bench\n\n[edit key]\nfile = %s\nkind = line\nmatch = ^%s =\nline = %s = admin\n", file, key, key)
		if benchErr = os.WriteFile(filepath.Join(pdir, "bench.ini"), []byte(patch), 0o644); benchErr != nil {
			return
		}
		benchCfg, benchErr = config.Parse("bench.ini", []byte("[patches]\nenable = bench\ndir = "+pdir+"\n"))
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchUp, benchCfg
}

func BenchmarkReplay10(b *testing.B) {
	up, cfg := benchUpstream(b)
	tmp := b.TempDir()
	var ms runtime.MemStats
	var peakHeap uint64
	start := cpuTime()
	for b.Loop() {
		rep, err := Run(context.Background(), Options{Upstream: up, From: "from", Tags: "t*", Config: cfg, TempDir: tmp, Env: gittest.Env()})
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Targets) != benchTargets || rep.Counts.OK != 4 || rep.Counts.Reapplied != 6 {
			var v []string
			for _, t := range rep.Targets {
				v = append(v, t.Ref+"="+string(t.Verdict))
			}
			b.Fatalf("replay of %d targets: %s; want t01-t04 OK, t05-t10 REAPPLIED (direct mode: each includes t05)", len(rep.Targets), strings.Join(v, " "))
		}
		runtime.ReadMemStats(&ms)
		peakHeap = max(peakHeap, ms.HeapSys)
	}
	b.ReportMetric(float64(peakHeap)/(1<<20), "heap-sys-MB")
	reportRSS(b, start)
}

// BenchmarkBareGit10 is the git CLI alone doing what the replay runs:
// the clone, then per target the checkout of from, the admin's edit,
// update.sh's commit and merge.
func BenchmarkBareGit10(b *testing.B) {
	up, _ := benchUpstream(b)
	tmp := b.TempDir()
	c := benchCommits - benchTargets + 4
	file, key := benchPath(c*7%benchFiles), fmt.Sprintf("key_%d", c*7%benchFiles)
	n := 0
	start := cpuTime()
	for b.Loop() {
		n++
		work := filepath.Join(tmp, fmt.Sprintf("w%d", n))
		gittest.Git(b, "", "clone", "--no-checkout", "-q", "--", up, work)
		for i := 1; i <= benchTargets; i++ {
			gittest.Git(b, work, "checkout", "-q", "-f", "-B", "master", "from", "--")
			p := filepath.Join(work, filepath.FromSlash(file))
			data, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			lines := strings.Split(string(data), "\n")
			for j, l := range lines {
				if strings.HasPrefix(l, key+" =") {
					lines[j] = key + " = admin"
				}
			}
			if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
				b.Fatal(err)
			}
			gittest.Git(b, work, "commit", "-q", "-am", "Before update")
			if _, err := gittest.Run(work, nil, "merge", "-q", "-Xtheirs", "-Xpatience", "-m", "After update", fmt.Sprintf("t%02d", i)); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.RemoveAll(work); err != nil {
			b.Fatal(err)
		}
	}
	reportRSS(b, start)
}

// cpuTime is the CPU time (user and system) of this process and of the
// children it waited for: on a shared machine it varies much less than
// the wall time.
func cpuTime() cpuSeconds {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return cpuSeconds{self: tv(self.Utime) + tv(self.Stime), kids: tv(kids.Utime) + tv(kids.Stime)}
}

// cpuSeconds splits the CPU time between this process (the Go work) and
// the children it waited for (git).
type cpuSeconds struct{ self, kids float64 }

// reportRSS reports the CPU seconds per replay since start (in all, of
// the Go work, of the git commands), the peak
// resident set of the test process and of the largest git it waited for.
func reportRSS(b *testing.B, start cpuSeconds) {
	now := cpuTime()
	self, kids := (now.self-start.self)/float64(b.N), (now.kids-start.kids)/float64(b.N)
	b.ReportMetric(self+kids, "cpu-s/op")
	b.ReportMetric(self, "go-cpu-s/op")
	b.ReportMetric(kids, "git-cpu-s/op")
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-rss-MB")
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "git-peak-rss-MB")
	}
}
