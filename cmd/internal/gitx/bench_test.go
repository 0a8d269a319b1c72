package gitx

import (
	"context"
	"path/filepath"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

// BenchmarkReadTwoCommits opens the real mailcow repository (one pack of
// 85,000 objects) and reads HEAD and origin/master with their root trees,
// the read the pre hook's upstream step did with go-git: through gitx,
// through go-git's own storage (which indexes the whole pack first), and
// through git (rev-parse and cat-file --batch, two processes).
//
//	go test -run '^$' -bench ReadTwoCommits ./cmd/internal/gitx
func BenchmarkReadTwoCommits(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "mailcow")
	gittest.RealCheckout(b, dir, "2026-07", "2026-07a")
	b.Run("gitx", func(b *testing.B) {
		for b.Loop() {
			r, err := Open(dir, Options{})
			if err != nil {
				b.Fatal(err)
			}
			for _, rev := range []string{"HEAD", "origin/master"} {
				c, err := r.ResolveCommit(rev)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Tree(); err != nil {
					b.Fatal(err)
				}
			}
			_ = r.Close()
		}
	})
	b.Run("go-git", func(b *testing.B) {
		for b.Loop() {
			r, err := git.PlainOpen(dir)
			if err != nil {
				b.Fatal(err)
			}
			for _, rev := range []string{"HEAD", "origin/master"} {
				h, err := r.ResolveRevision(plumbing.Revision(rev))
				if err != nil {
					b.Fatal(err)
				}
				c, err := r.CommitObject(*h)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Tree(); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("git", func(b *testing.B) {
		g := &Runner{Dir: dir, Env: gittest.Env()}
		ctx := context.Background()
		for b.Loop() {
			out, err := g.Output(ctx, "rev-parse", "HEAD", "origin/master")
			if err != nil {
				b.Fatal(err)
			}
			blobs, err := g.Blobs(ctx, []string{out[:40], out[len(out)-40:], "HEAD^{tree}", "origin/master^{tree}"}, 1<<20)
			if err != nil || len(blobs) != 4 {
				b.Fatal(err)
			}
		}
	})
}
