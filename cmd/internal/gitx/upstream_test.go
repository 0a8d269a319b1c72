package gitx

import (
	"context"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

// TestRevParseHere: the revisions the hooks resolve (HEAD, refs, a
// branch's upstream, peeled tags) are answered from the repository as
// git answers them, also where the answer is "no such commit"; and
// AbbrevRef names the upstream as git does, also when a ref of the same
// short name makes git choose a longer one.
func TestRevParseHere(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	up, dir := root+"/up", root+"/clone"
	gittest.Init(t, up)
	gittest.Commit(t, up, "one", map[string]string{"a": "1\n"})
	gittest.Git(t, up, "tag", "-a", "-m", "annotated", "2026-01")
	gittest.Git(t, up, "tag", "light")
	gittest.Commit(t, up, "two", map[string]string{"a": "2\n"})
	gittest.Git(t, root, "clone", "-q", up, dir)
	gittest.Git(t, dir, "branch", "-q", "local-up", "HEAD~1")
	gittest.Git(t, dir, "branch", "-q", "--track", "follows-local", "local-up")
	gittest.Git(t, dir, "branch", "-q", "no-up")
	gittest.Git(t, dir, "config", "branch.gone-remote.remote", "nowhere")
	gittest.Git(t, dir, "config", "branch.gone-remote.merge", "refs/heads/master")
	repo, err := Open(dir, Options{Env: gittest.Env()})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	here := repo.Git()
	byGit := &Runner{Dir: dir, Env: gittest.Env()}
	revs := []string{"HEAD", "master", "master@{upstream}", "master@{u}", "follows-local@{upstream}",
		"refs/remotes/origin/master", "refs/remotes/origin/HEAD", "origin/master", "origin", "2026-01", "light",
		"refs/tags/2026-01", "nope", "refs/remotes/origin/nope", "ORIG_HEAD"}
	check := func() {
		t.Helper()
		for _, rev := range revs {
			h1, ok1, err1 := here.RevParse(ctx, rev)
			h2, ok2, err2 := byGit.RevParse(ctx, rev)
			if h1 != h2 || ok1 != ok2 || (err1 == nil) != (err2 == nil) {
				t.Errorf("RevParse(%s): %s %v %v here, %s %v %v by git", rev, h1, ok1, err1, h2, ok2, err2)
			}
		}
		for _, rev := range []string{"no-up@{upstream}", "gone-remote@{upstream}"} {
			_, ok1, err1 := here.RevParse(ctx, rev)
			_, ok2, err2 := byGit.RevParse(ctx, rev)
			if ok1 != ok2 || (err1 == nil) != (err2 == nil) {
				t.Errorf("RevParse(%s): %v %v here, %v %v by git", rev, ok1, err1, ok2, err2)
			}
		}
		for _, rev := range []string{"master@{upstream}", "master@{u}", "follows-local@{upstream}"} {
			a1, err1 := here.AbbrevRef(ctx, rev)
			a2, err2 := byGit.AbbrevRef(ctx, rev)
			if a1 != a2 || (err1 == nil) != (err2 == nil) {
				t.Errorf("AbbrevRef(%s): %q %v here, %q %v by git", rev, a1, err1, a2, err2)
			}
		}
	}
	check()
	if h, _ := repo.upstreamRef("master@{upstream}"); h != "refs/remotes/origin/master" {
		t.Errorf("the upstream of master is %q here", h)
	}
	// A branch named like the remote-tracking one: git's short name
	// must not be taken for it.
	gittest.Git(t, dir, "branch", "-q", "origin/master", "HEAD~1")
	check()
	gittest.Git(t, dir, "pack-refs", "--all")
	check()
}
