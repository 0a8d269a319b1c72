package gitx

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

// TestLocalQueries checks that a Repo's runner answers DiffTree and Blobs
// from the repository exactly as git does: additions, deletions, content
// and mode changes, type changes (file to symlink), a file replaced by a
// directory, filters, and missing paths.
func TestLocalQueries(t *testing.T) {
	dir := t.TempDir()
	gittest.Init(t, dir)
	from := gittest.Commit(t, dir, "one", map[string]string{
		"a.txt": "a\n", "d/b.txt": "b\n", "d/e/c.txt": "c\n", "x": "file\n", "run.sh": "echo\n", "link": "target\n", "gone/1": "1\n",
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Remove(filepath.Join(dir, "x")))
	must(os.RemoveAll(filepath.Join(dir, "gone")))
	must(os.Remove(filepath.Join(dir, "link")))
	must(os.Symlink("a.txt", filepath.Join(dir, "link")))
	gittest.WriteFiles(t, dir, map[string]string{"x/inside": "now a dir\n", "d/e/c.txt": "changed\n", "new/n.txt": "n\n", "a-b": "sorts between\n"})
	must(os.Chmod(filepath.Join(dir, "run.sh"), 0o755))
	gittest.Git(t, dir, "add", "-A")
	gittest.Git(t, dir, "commit", "-q", "-m", "two")

	r, err := Open(dir, Options{Env: gittest.Env()})
	must(err)
	defer r.Close()
	cli := &Runner{Dir: dir, Env: gittest.Env()}
	ctx := context.Background()
	for _, tc := range []struct{ from, to, filter string }{
		{from, "HEAD", ""}, {"HEAD", from, ""}, {from, "HEAD", "A"}, {from, "HEAD", "DT"}, {"HEAD~1", "HEAD^{tree}", "M"},
	} {
		want, err := cli.DiffTree(ctx, tc.from, tc.to, tc.filter)
		must(err)
		got, err := r.diffTree(tc.from, tc.to, tc.filter)
		must(err)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("diffTree(%s, %s, %q):\n got %v\nwant %v", tc.from, tc.to, tc.filter, got, want)
		}
		if len(want) == 0 {
			t.Errorf("diffTree(%s, %s, %q): git lists nothing: the case proves nothing", tc.from, tc.to, tc.filter)
		}
	}
	specs := []string{"HEAD:d/e/c.txt", from + ":d/e/c.txt", "HEAD:nope", "HEAD:x/inside", "HEAD:a.txt/x", "HEAD:d", gittest.Git(t, dir, "rev-parse", "HEAD:a.txt")}
	want, err := cli.Blobs(ctx, specs, 1<<20)
	must(err)
	got, err := r.blobs(specs, 1<<20)
	must(err)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("blobs:\n got %+v\nwant %+v", got, want)
	}
	if got, err := r.Git().Blobs(ctx, []string{":a.txt"}, 100); err != nil || string(got[":a.txt"].Data) != "a\n" {
		t.Errorf("an index spec, left to git: %+v %v", got, err)
	}
}

// TestDiffTreesEntries: DiffTrees gives each side's id and mode as
// `git diff-tree -r --raw` does (the risk diff and verify read the base's
// blob from it), for additions, deletions, content, mode and type
// changes and a file replaced by a directory.
func TestDiffTreesEntries(t *testing.T) {
	dir := t.TempDir()
	gittest.Init(t, dir)
	gittest.Commit(t, dir, "one", map[string]string{"a.txt": "a\n", "d/b.txt": "b\n", "x": "file\n", "run.sh": "echo\n", "link": "t\n", "gone/1": "1\n"})
	for _, err := range []error{
		os.Remove(filepath.Join(dir, "x")), os.RemoveAll(filepath.Join(dir, "gone")),
		os.Remove(filepath.Join(dir, "link")), os.Symlink("a.txt", filepath.Join(dir, "link")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	gittest.WriteFiles(t, dir, map[string]string{"x/inside": "dir\n", "d/b.txt": "B\n", "new.txt": "n\n"})
	if err := os.Chmod(filepath.Join(dir, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, dir, "add", "-A")
	gittest.Git(t, dir, "commit", "-q", "-m", "two")
	r, err := Open(dir, Options{Env: gittest.Env()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tree := func(rev string) plumbing.Hash {
		h, err := r.treeOf(rev)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	got, err := r.DiffTrees(tree("HEAD~1"), tree("HEAD"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range got {
		lines = append(lines, fmt.Sprintf(":%06o %06o %s %s %c\t%s", uint32(c.From.Mode), uint32(c.To.Mode), c.From.Hash, c.To.Hash, c.Status, c.Path))
	}
	want := gittest.Git(t, dir, "diff-tree", "-r", "--no-renames", "--raw", "--no-abbrev", "HEAD~1", "HEAD")
	if strings.Join(lines, "\n") != strings.TrimSpace(want) {
		t.Errorf("DiffTrees:\n%s\ngit diff-tree --raw:\n%s", strings.Join(lines, "\n"), want)
	}
	if len(got) < 7 {
		t.Errorf("only %d changes: the case proves little", len(got))
	}
}

// TestObjectID: the id git hash-object gives a blob, and the empty blob.
func TestObjectID(t *testing.T) {
	dir := t.TempDir()
	gittest.Init(t, dir)
	data := []byte("hello\x00world\n")
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(gittest.Git(t, dir, "hash-object", "f"))
	if got := ObjectID(plumbing.BlobObject, data).String(); got != want {
		t.Errorf("blob: %s, git says %s", got, want)
	}
	if got := ObjectID(plumbing.BlobObject, nil).String(); got != "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391" {
		t.Errorf("empty blob: %s", got)
	}
}
