package gitstate

import (
	"os/exec"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

// BenchmarkInspect runs Inspect on a release-sized checkout (4000 files,
// 2000 commits), beside the git commands that answer the same questions.
func BenchmarkInspect(b *testing.B) {
	dir := b.TempDir()
	gittest.Large(b, dir, 4000, 2000)
	gittest.Git(b, dir, "remote", "add", "origin", "https://github.com/mailcow/mailcow-dockerized")
	gittest.Git(b, dir, "update-ref", "refs/remotes/origin/master", "HEAD")
	gittest.Git(b, dir, "branch", "--set-upstream-to=origin/master")

	b.Run("mcupdate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			st, err := Inspect(dir)
			if err != nil {
				b.Fatal(err)
			}
			if !st.OK() {
				b.Fatal(st.Problems)
			}
		}
	})
	for _, c := range []struct {
		name string
		args []string
	}{
		{"git-rev-parse-abbrev-ref", []string{"rev-parse", "--abbrev-ref", "HEAD"}},
		{"git-symbolic-ref", []string{"symbolic-ref", "-q", "HEAD"}},
		{"git-status-porcelain", []string{"status", "--porcelain"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			env := gittest.Env()
			for b.Loop() {
				cmd := exec.Command("git", c.args...)
				cmd.Dir, cmd.Env = dir, env
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
			}
		})
	}
}

// BenchmarkRepairDryRun plans the repair of a checkout detached 1000
// commits behind master: the ancestry check walks those commits before it
// decides the old tip needs a backup.
func BenchmarkRepairDryRun(b *testing.B) {
	dir := b.TempDir()
	gittest.Large(b, dir, 4000, 2000)
	gittest.Git(b, dir, "checkout", "-q", "master~1000")
	for _, c := range []struct {
		name string
		rev  string
	}{
		{"behind-1000", "master~1000"},
		{"at-tip", "master"},
	} {
		b.Run(c.name, func(b *testing.B) {
			gittest.Git(b, dir, "checkout", "-q", "--detach", c.rev)
			b.ReportAllocs()
			for b.Loop() {
				r, err := RepairDetached(dir, RepairOptions{DryRun: true})
				if err != nil {
					b.Fatal(err)
				}
				if !r.Changed || (r.Backup != "") != (c.rev != "master") {
					b.Fatalf("got %+v", r)
				}
			}
		})
	}
}
