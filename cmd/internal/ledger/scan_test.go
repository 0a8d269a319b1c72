package ledger

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
)

func TestScan(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	gittest.Init(t, dir)
	base := gittest.Commit(t, dir, "upstream", map[string]string{
		"committed.conf": "a = 1\n",
		"staged.conf":    "s = 1\n",
		"worktree.conf":  "w = 1\n",
		"deleted.conf":   "d = 1\n",
		"bin.dat":        "x\x00y\n",
	})
	gittest.Commit(t, dir, "Before update on 2026-03-01", map[string]string{"committed.conf": "a = 1\nmine = 1\n", "added.conf": "new = 1\n"})
	gittest.WriteFiles(t, dir, map[string]string{"staged.conf": "s = 2\n", "worktree.conf": "w = 1\nw2 = 1\n", "bin.dat": "x\x00z\n", "untracked.conf": "u\n"})
	gittest.Git(t, dir, "add", "staged.conf")
	if err := os.Remove(filepath.Join(dir, "deleted.conf")); err != nil {
		t.Fatal(err)
	}
	g := &gitx.Runner{Dir: dir, Env: gittest.Env()}

	set, err := Scan(ctx, g, base, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range set.Blocks {
		var ls []string
		for _, l := range b.Lines {
			ls = append(ls, l.String())
		}
		got = append(got, b.File+":"+strings.Join(ls, "|"))
	}
	want := "added.conf:+new = 1,committed.conf:+mine = 1,staged.conf:-s = 1|+s = 2,worktree.conf:+w2 = 1"
	if strings.Join(got, ",") != want {
		t.Errorf("work tree scan:\n got %s\nwant %s", strings.Join(got, ","), want)
	}
	if len(set.Skipped) != 1 || !strings.Contains(set.Skipped[0], "bin.dat: binary") {
		t.Errorf("skipped %q", set.Skipped)
	}
	if !set.Blocks[0].NewFile || set.Blocks[1].NewFile {
		t.Errorf("NewFile: %+v", set.Blocks[:2])
	}

	// The same against a commit: only what it holds.
	head := gittest.Git(t, dir, "rev-parse", "HEAD")
	set, err = Scan(ctx, g, base, head, nil)
	if err != nil {
		t.Fatal(err)
	}
	if files := strings.Join(set.Files(), ","); files != "added.conf,committed.conf" {
		t.Errorf("commit scan files %s", files)
	}
	// The scan wrote nothing: no index.lock, the index unchanged.
	if _, err := os.Stat(filepath.Join(dir, ".git", "index.lock")); err == nil {
		t.Error("index.lock left behind")
	}
}

func TestDescribe(t *testing.T) {
	if got, want := Describe("c1a2", "data/conf/postfix/extra.cf", "", "`+a`"), "c1a2 data/conf/postfix/extra.cf: `+a`"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := Describe("c1a2", "f.conf", "service x", "+a / -b"), "c1a2 f.conf (service x): +a / -b"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
