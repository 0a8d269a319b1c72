package gitx

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

// sameMergeBase checks the repository's merge base of each pair against
// git's, and reports how many it answered itself.
func sameMergeBase(t *testing.T, repo *Repo, dir string, pairs [][2]string) (here int) {
	t.Helper()
	ctx := context.Background()
	byGit := &Runner{Dir: dir, Env: gittest.Env()}
	for _, p := range pairs {
		if _, known := repo.mergeBase(p[0], p[1]); known {
			here++
		}
		got, err1 := repo.Git().MergeBase(ctx, p[0], p[1])
		want, err2 := byGit.MergeBase(ctx, p[0], p[1])
		if got != want || (err1 == nil) != (err2 == nil) {
			t.Errorf("merge base of %.12s and %.12s: %s %v here, %s %v by git", p[0], p[1], got, err1, want, err2)
		}
	}
	return here
}

// TestMergeBaseHere: histories with merges, an ancestor, the same commit,
// unrelated histories and a criss-cross merge (two bases: git's to pick).
func TestMergeBaseHere(t *testing.T) {
	dir := t.TempDir()
	gittest.Init(t, dir)
	rev := func(r string) string { return gittest.Git(t, dir, "rev-parse", r) }
	root := gittest.Commit(t, dir, "root", map[string]string{"a": "1\n"})
	gittest.Git(t, dir, "checkout", "-q", "-b", "side")
	s1 := gittest.Commit(t, dir, "s1", map[string]string{"s": "1\n"})
	gittest.Git(t, dir, "checkout", "-q", "master")
	m1 := gittest.Commit(t, dir, "m1", map[string]string{"m": "1\n"})
	gittest.Git(t, dir, "merge", "-q", "--no-edit", "side")
	merged := rev("HEAD")
	gittest.Git(t, dir, "checkout", "-q", "side")
	s2 := gittest.Commit(t, dir, "s2", map[string]string{"s": "2\n"})
	// Criss-cross: each side merges the other's tip.
	gittest.Git(t, dir, "checkout", "-q", "-b", "x1", m1)
	gittest.Git(t, dir, "merge", "-q", "--no-edit", s1)
	x1 := rev("HEAD")
	gittest.Git(t, dir, "checkout", "-q", "-b", "x2", s1)
	gittest.Git(t, dir, "merge", "-q", "--no-edit", m1)
	x2 := rev("HEAD")
	orphan := gittest.Git(t, dir, "commit-tree", "-m", "orphan", rev("HEAD^{tree}"))
	repo, err := Open(dir, Options{Env: gittest.Env()})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	pairs := [][2]string{{merged, s2}, {s2, merged}, {root, merged}, {merged, merged}, {m1, s1}, {x1, x2}, {merged, orphan}}
	if here := sameMergeBase(t, repo, dir, pairs); here != len(pairs)-1 {
		t.Errorf("answered %d of %d here, want all but the criss-cross", here, len(pairs))
	}
	if _, known := repo.mergeBase(x1, x2); known {
		t.Error("two merge bases: git must pick")
	}
	// Replaced history is git's to read.
	gittest.Git(t, dir, "replace", "--graft", s2, root)
	repo2, err := Open(dir, Options{Env: gittest.Env()})
	if err != nil {
		t.Fatal(err)
	}
	defer repo2.Close()
	if _, known := repo2.mergeBase(merged, s2); known {
		t.Error("a replace ref: git must answer")
	}
	sameMergeBase(t, repo2, dir, pairs)
}

// TestMergeBaseRealMailcow: every pair of mailcow releases of the last
// years, as a merge base of an update finds it (skipped without the real
// repository).
func TestMergeBaseRealMailcow(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mailcow")
	gittest.RealCheckout(t, dir, "2026-07a", "2026-07a")
	var tags []string
	for _, tag := range strings.Fields(gittest.Git(t, dir, "tag", "--list", "202[4-6]-*")) {
		tags = append(tags, gittest.Git(t, dir, "rev-parse", tag+"^{commit}"))
	}
	if len(tags) < 10 {
		t.Fatalf("only %d release tags", len(tags))
	}
	// An install's history: a Before update commit on a release, merged
	// with a later one.
	gittest.Git(t, dir, "checkout", "-q", "-B", "master", tags[0])
	gittest.WriteFiles(t, dir, map[string]string{"data/conf/postfix/extra.cf": "x = 1\n"})
	gittest.Git(t, dir, "add", "-f", "data/conf/postfix/extra.cf")
	gittest.Git(t, dir, "commit", "-q", "-m", "Before update")
	before := gittest.Git(t, dir, "rev-parse", "HEAD")
	repo, err := Open(dir, Options{Env: gittest.Env()})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	var pairs [][2]string
	for i := 0; i < len(tags); i += 3 {
		for j := i + 1; j < len(tags); j += 5 {
			pairs = append(pairs, [2]string{tags[i], tags[j]})
		}
		pairs = append(pairs, [2]string{before, tags[i]})
	}
	here := sameMergeBase(t, repo, dir, pairs)
	t.Logf("%d pairs, %d answered here", len(pairs), here)
	if here == 0 {
		t.Error("no merge base answered here")
	}
}
