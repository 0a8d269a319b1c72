package predict

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
)

func TestSparseEscape(t *testing.T) {
	for in, want := range map[string]string{
		"data/conf/a.conf":   "data/conf/a.conf",
		"data/x y/[1]*?.map": `data/x\ y/\[1\]\*\?.map`,
		"#hash!":             `\#hash\!`,
	} {
		if got := sparseEscape(in); got != want {
			t.Errorf("sparseEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRun: an uncommitted edit the merge drops, a committed one it keeps;
// the install (HEAD, index, work tree, objects) is as before, and the
// scratch directory is gone.
func TestRun(t *testing.T) {
	root := t.TempDir()
	up, inst := filepath.Join(root, "up"), filepath.Join(root, "inst")
	gittest.Init(t, up)
	gittest.Commit(t, up, "2026-01", map[string]string{"a.conf": "x = 1\ny = 1\n", "b.conf": "p = 1\n\n\n\nq = 1\n"})
	gittest.Git(t, root, "clone", "-q", up, inst)
	gittest.Commit(t, inst, "Before update on 2026-02", map[string]string{"b.conf": "p = 1\n\n\n\nq = 1\nmine = 1\n"})
	gittest.Commit(t, up, "2026-03", map[string]string{"a.conf": "x = 2\ny = 1\n", "b.conf": "p = 2\n\n\n\nq = 1\n"})
	gittest.Git(t, inst, "fetch", "-q")
	gittest.WriteFiles(t, inst, map[string]string{"a.conf": "x = 1 # mine\ny = 1\n"})
	head := gittest.Git(t, inst, "rev-parse", "HEAD")
	upc := gittest.Git(t, inst, "rev-parse", "origin/master")
	state := func() string {
		idx, err := os.ReadFile(filepath.Join(inst, ".git", "index"))
		if err != nil {
			t.Fatal(err)
		}
		return gittest.Git(t, inst, "rev-parse", "HEAD") + gittest.Git(t, inst, "status", "--porcelain") + gittest.Git(t, inst, "count-objects", "-v") + string(idx)
	}
	before := state()
	tmp := filepath.Join(root, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	p, err := Run(context.Background(), Options{Dir: inst, Head: head, Upstream: upc, TempDir: tmp, Env: gittest.Env()})
	if err != nil {
		t.Fatal(err)
	}
	if after := state(); after != before {
		t.Errorf("the prediction changed the install")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("scratch left behind: %v", left)
	}
	if !p.Before || p.Aborted || p.MergeExit != 0 {
		t.Errorf("prediction %+v", p)
	}
	got := map[string]ledger.Outcome{}
	for _, r := range p.Results {
		got[r.Block.File] = r.Outcome
	}
	if got["a.conf"] != ledger.Lost || got["b.conf"] != ledger.Kept {
		t.Errorf("outcomes %v, want a.conf lost (upstream changed its line) and b.conf kept", got)
	}
	var lost []string
	for _, r := range p.Losses() {
		lost = append(lost, r.Block.File)
	}
	if strings.Join(lost, ",") != "a.conf" {
		t.Errorf("losses %v", lost)
	}
}
