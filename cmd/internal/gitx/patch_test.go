package gitx

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

// TestPatches checks each file's text against `git diff` of that file
// alone, for names git quotes or that hold spaces, additions, deletions,
// binary files and a mode change.
func TestPatches(t *testing.T) {
	dir := t.TempDir()
	gittest.Init(t, dir)
	names := []string{"a b/c d.conf", "tab\there", `quote"d`, "ünïcode.txt", "plain.txt", "gone.txt", "bin.dat", "run.sh"}
	files := map[string]string{}
	for _, n := range names {
		files[n] = "line 1\nline 2\n" + n + "\n"
	}
	files["bin.dat"] = "\x00\x01binary"
	from := gittest.Commit(t, dir, "one", files)
	for _, n := range names {
		files[n] = "line 1\nchanged\n" + n + "\n"
	}
	files["bin.dat"] = "\x00\x02binary"
	delete(files, "gone.txt")
	files["new dir/added.txt"] = "new\n"
	gittest.WriteFiles(t, dir, files)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Remove(filepath.Join(dir, "gone.txt")))
	gittest.Git(t, dir, "add", "-A")
	must(os.Chmod(filepath.Join(dir, "run.sh"), 0o755))
	gittest.Git(t, dir, "update-index", "--chmod=+x", "run.sh")
	gittest.Git(t, dir, "commit", "-q", "-m", "two")
	to := gittest.Git(t, dir, "rev-parse", "HEAD")

	got, err := (&Runner{Dir: dir, Env: gittest.Env()}).Patches(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	want := append(names, "new dir/added.txt")
	if len(got) != len(want) {
		t.Errorf("%d files, want %d: %q", len(got), len(want), keys(got))
	}
	for _, n := range want {
		full := gittest.Git(t, dir, "-c", "core.quotePath=false", "diff", "--no-renames", from, to, "--", n)
		p, ok := got[n]
		if !ok {
			t.Errorf("%q: no patch; git:\n%s", n, full)
			continue
		}
		if p == "" || !strings.HasSuffix(full, strings.TrimSuffix(p, "\n")) {
			t.Errorf("%q: patch\n%s\nis not the end of git's\n%s", n, p, full)
		}
		if strings.Contains(p, "diff --git") || strings.Contains(p, "\nindex ") {
			t.Errorf("%q: header lines left in\n%s", n, p)
		}
	}
	if !strings.HasPrefix(got["bin.dat"], "Binary files a/bin.dat and b/bin.dat differ") {
		t.Errorf("binary: %q", got["bin.dat"])
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
