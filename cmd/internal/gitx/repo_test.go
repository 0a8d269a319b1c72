package gitx

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

// upstream builds a small upstream repository with history worth
// deltas: three releases of a few files, on master, tagged.
func upstream(t *testing.T, dir string) {
	t.Helper()
	gittest.Init(t, dir)
	body := strings.Repeat("# a line of a mailcow config file that repeats\n", 200)
	for i, tag := range []string{"2026-01", "2026-03", "2026-05"} {
		gittest.Commit(t, dir, "mailcow "+tag, map[string]string{
			"docker-compose.yml":               fmt.Sprintf("services:\n  dovecot-mailcow:\n    image: dovecot:%d\n", i) + body,
			"data/conf/postfix/main.cf":        body + fmt.Sprintf("message_size_limit = %d\n", i),
			fmt.Sprintf("data/web/f%d.php", i): "<?php\n",
		})
		gittest.Git(t, dir, "tag", tag)
	}
	gittest.Git(t, dir, "config", "uploadpack.allowFilter", "true")
}

// layout is one way to lay out a checkout of upstream.
type layout struct {
	name string
	// make builds the checkout under root from upstream up and returns
	// its work tree.
	make func(t *testing.T, root, up string) string
	// check looks at the discovered layout.
	check func(t *testing.T, l *Layout)
}

func layouts() []layout {
	clone := func(t *testing.T, root, up string, args ...string) string {
		t.Helper()
		dir := filepath.Join(root, "mailcow")
		gittest.Git(t, root, append(append([]string{"clone", "-q"}, args...), up, dir)...)
		return dir
	}
	return []layout{
		{"plain", func(t *testing.T, root, up string) string { return clone(t, root, up) },
			func(t *testing.T, l *Layout) {
				if l.GitDir != filepath.Join(l.WorkTree, ".git") || l.Linked || l.GitFile != "" || len(l.ObjectDirs) != 1 || l.Describe() != "plain clone" {
					t.Errorf("layout %+v (%s)", l, l.Describe())
				}
			}},
		{"shared", func(t *testing.T, root, up string) string { return clone(t, root, up, "--shared") },
			func(t *testing.T, l *Layout) {
				if len(l.ObjectDirs) != 2 || !strings.Contains(l.Describe(), "alternates") {
					t.Errorf("objects %v (%s)", l.ObjectDirs, l.Describe())
				}
			}},
		{"reference relative", func(t *testing.T, root, up string) string {
			dir := clone(t, root, up, "--reference", up)
			// git writes an absolute path; admins who move both trees
			// together write a relative one, resolved against objects/.
			rel, err := filepath.Rel(filepath.Join(dir, ".git", "objects"), filepath.Join(up, ".git", "objects"))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, ".git", "objects", "info", "alternates"), "# borrowed\n"+rel+"\n")
			return dir
		}, func(t *testing.T, l *Layout) {
			if len(l.ObjectDirs) != 2 || !strings.HasSuffix(l.ObjectDirs[1], filepath.Join("up", ".git", "objects")) {
				t.Errorf("objects %v", l.ObjectDirs)
			}
		}},
		{"submodule", func(t *testing.T, root, up string) string {
			stack := filepath.Join(root, "stack")
			gittest.Init(t, stack)
			gittest.Git(t, stack, "-c", "protocol.file.allow=always", "submodule", "add", "-q", up, "mailcow")
			gittest.Git(t, stack, "commit", "-q", "-m", "mailcow as a submodule")
			return filepath.Join(stack, "mailcow")
		}, func(t *testing.T, l *Layout) {
			if l.GitFile == "" || !strings.Contains(l.GitDir, filepath.Join(".git", "modules", "mailcow")) || l.Linked {
				t.Errorf("layout %+v", l)
			}
		}},
		{"worktree", func(t *testing.T, root, up string) string {
			main := clone(t, root, up)
			dir := filepath.Join(root, "wt")
			gittest.Git(t, main, "worktree", "add", "-q", "-b", "nightly", dir, "2026-03")
			return dir
		}, func(t *testing.T, l *Layout) {
			if !l.Linked || l.CommonDir != filepath.Join(filepath.Dir(l.WorkTree), "mailcow", ".git") || !strings.Contains(l.Describe(), "linked worktree") {
				t.Errorf("layout %+v", l)
			}
		}},
		{"shallow", func(t *testing.T, root, up string) string { return clone(t, root, "file://"+up, "--depth", "1") },
			func(t *testing.T, l *Layout) {
				if !l.Shallow {
					t.Errorf("not shallow: %+v", l)
				}
			}},
		{"partial", func(t *testing.T, root, up string) string { return clone(t, root, "file://"+up, "--filter=blob:none") },
			func(t *testing.T, l *Layout) {
				if l.Promisor != "origin" {
					t.Errorf("promisor %q", l.Promisor)
				}
			}},
		{"gc", func(t *testing.T, root, up string) string {
			dir := clone(t, root, up)
			gittest.Git(t, dir, "gc", "-q", "--aggressive", "--prune=now")
			return dir
		}, func(t *testing.T, l *Layout) {
			if _, err := os.Stat(filepath.Join(l.GitDir, "refs", "tags", "2026-01")); err == nil {
				t.Error("refs not packed")
			}
		}},
		{"loose", func(t *testing.T, root, up string) string {
			dir := filepath.Join(root, "mailcow")
			gittest.Git(t, root, "init", "-q", dir)
			gittest.Git(t, dir, "fetch", "-q", up, "refs/tags/*:refs/tags/*", "master:refs/remotes/origin/master")
			// unpack-objects leaves every object loose.
			for _, p := range globPacks(t, dir) {
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				os.Remove(p)
				os.Remove(strings.TrimSuffix(p, ".pack") + ".idx")
				if _, err := gittest.Run(dir, data, "unpack-objects", "-q"); err != nil {
					t.Fatal(err)
				}
			}
			gittest.Git(t, dir, "checkout", "-q", "-b", "master", "origin/master")
			return dir
		}, func(t *testing.T, l *Layout) {}},
	}
}

func globPacks(t *testing.T, dir string) []string {
	t.Helper()
	ps, err := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.pack"))
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOpenLayouts opens every layout and reads what git reads: HEAD, the
// tags, and every file of HEAD's tree, byte for byte as git cat-file
// gives it.
func TestOpenLayouts(t *testing.T) {
	for _, lt := range layouts() {
		t.Run(lt.name, func(t *testing.T) {
			root := t.TempDir()
			up := filepath.Join(root, "up")
			upstream(t, up)
			dir := lt.make(t, root, up)
			r, err := Open(dir, Options{Env: gittest.Env()})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			lt.check(t, r.Layout)
			c, err := r.ResolveCommit("HEAD")
			if err != nil {
				t.Fatal(err)
			}
			if want := gittest.Git(t, dir, "rev-parse", "HEAD"); c.Hash.String() != want {
				t.Fatalf("HEAD %s, git says %s", c.Hash, want)
			}
			for _, rev := range []string{"2026-01", "2026-05", "origin/master", "HEAD~1", "refs/tags/2026-03"} {
				want, gitErr := gittest.Run(dir, nil, "rev-parse", "--verify", "-q", rev+"^{commit}")
				got, err := r.ResolveCommit(rev)
				switch {
				case gitErr != nil && !errors.Is(err, ErrUnknownRevision):
					t.Errorf("%s: git knows no such commit, got %v", rev, err)
				case gitErr == nil && err != nil:
					t.Errorf("%s: %v, git says %s", rev, err, want)
				case gitErr == nil && got.Hash.String() != want:
					t.Errorf("%s: %s, git says %s", rev, got.Hash, want)
				}
			}
			tree, err := c.Tree()
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			err = tree.Files().ForEach(func(f *object.File) error {
				n++
				got, err := f.Contents()
				if err != nil {
					return fmt.Errorf("%s: %w", f.Name, err)
				}
				if want := gittest.Git(t, dir, "cat-file", "blob", f.Hash.String()); strings.TrimSpace(got) != want {
					return fmt.Errorf("%s differs from git's", f.Name)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := len(strings.Fields(gittest.Git(t, dir, "ls-tree", "-r", "--name-only", "HEAD"))); n != want {
				t.Errorf("%d files, git lists %d", n, want)
			}
		})
	}
}

// TestStoreReadsEveryObject compares every object the store reads with
// git's own reading, in a repository of deltas (gc --aggressive), with a
// version 2 and a version 1 pack index.
func TestStoreReadsEveryObject(t *testing.T) {
	root := t.TempDir()
	up := filepath.Join(root, "up")
	upstream(t, up)
	for i := 0; i < 20; i++ {
		gittest.Commit(t, up, "more", map[string]string{
			"docker-compose.yml": strings.Repeat(fmt.Sprintf("line %d\n", i), 50) + strings.Repeat("# a line of a mailcow config file that repeats\n", 200),
		})
	}
	gittest.Git(t, up, "gc", "-q", "--aggressive", "--prune=now")
	want := catAll(t, up)
	if deltas := gittest.Git(t, up, "verify-pack", "-v", globPacks(t, up)[0]); !strings.Contains(deltas, "chain length = 2") {
		t.Fatalf("no delta chains in the pack:\n%s", deltas)
	}
	for _, v := range []string{"2", "1"} {
		t.Run("idx v"+v, func(t *testing.T) {
			if v == "1" {
				p := globPacks(t, up)[0]
				idx := strings.TrimSuffix(p, ".pack") + ".idx"
				os.Remove(idx)
				gittest.Git(t, up, "index-pack", "--index-version=1", "-o", idx, p)
			}
			s, err := newStore([]string{filepath.Join(up, ".git", "objects")})
			if err != nil {
				t.Fatal(err)
			}
			defer s.close()
			if v == "1" && !s.dbs[0].packs[0].v1 {
				t.Fatal("index not read as version 1")
			}
			for h, o := range want {
				typ, b, err := s.read(h)
				if err != nil {
					t.Fatalf("%s: %v", h, err)
				}
				if typ != o.t || string(b) != string(o.b) {
					t.Fatalf("%s: %s of %d bytes, git says %s of %d", h, typ, len(b), o.t, len(o.b))
				}
			}
			if _, _, err := s.read(plumbing.NewHash("0123456789012345678901234567890123456789")); !errors.Is(err, errNotHere) {
				t.Errorf("absent object: %v", err)
			}
		})
	}
}

// catAll reads every object of the repository in dir with git.
func catAll(t *testing.T, dir string) map[plumbing.Hash]*memObject {
	t.Helper()
	cmd := exec.Command("git", "cat-file", "--batch-all-objects", "--batch")
	cmd.Dir, cmd.Env = dir, gittest.Env()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(out)
	objs := map[plumbing.Hash]*memObject{}
	for {
		line, err := br.ReadString('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(line)
		typ, _ := plumbing.ParseObjectType(f[1])
		n, _ := strconv.Atoi(f[2])
		b := make([]byte, n+1)
		if _, err := io.ReadFull(br, b); err != nil {
			t.Fatal(err)
		}
		objs[plumbing.NewHash(f[0])] = &memObject{h: plumbing.NewHash(f[0]), t: typ, b: b[:n]}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(objs) < 20 {
		t.Fatalf("git lists %d objects", len(objs))
	}
	return objs
}

// TestMissingObjects checks that an object a layout does not have is
// fetched where git fetches it, and otherwise named with the layout and
// what to do, never a bare "object not found".
func TestMissingObjects(t *testing.T) {
	root := t.TempDir()
	up := filepath.Join(root, "up")
	upstream(t, up)
	old := gittest.Git(t, up, "rev-parse", "2026-01:docker-compose.yml")

	t.Run("partial clone fetches", func(t *testing.T) {
		dir := filepath.Join(root, "partial")
		gittest.Git(t, root, "clone", "-q", "--filter=blob:none", "file://"+up, dir)
		if missing := gittest.Git(t, dir, "rev-list", "--objects", "--missing=print", "2026-01"); !strings.Contains(missing, "?"+old) {
			t.Fatalf("the clone has the blob already:\n%s", missing)
		}
		r, err := Open(dir, Options{Env: gittest.Env()})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		b, err := r.BlobObject(plumbing.NewHash(old))
		if err != nil {
			t.Fatal(err)
		}
		if b.Size == 0 {
			t.Fatal("empty blob")
		}
		// Without the promisor remote, the error names the layout.
		gone := plumbing.NewHash(gittest.Git(t, up, "rev-parse", "2026-03:docker-compose.yml"))
		if err := os.Rename(up, up+".moved"); err != nil {
			t.Fatal(err)
		}
		defer os.Rename(up+".moved", up)
		_, err = r.BlobObject(gone)
		var me *MissingObjectError
		if !errors.As(err, &me) || !errors.Is(err, plumbing.ErrObjectNotFound) {
			t.Fatalf("error %v, want a *MissingObjectError", err)
		}
		for _, s := range []string{"partial clone of remote origin", "could not fetch it from remote origin", gone.String()} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not say %q", err, s)
			}
		}
		if !strings.Contains(me.Hint(), "git fetch origin") {
			t.Errorf("hint %q", me.Hint())
		}
	})

	t.Run("shallow", func(t *testing.T) {
		dir := filepath.Join(root, "shallow")
		gittest.Git(t, root, "clone", "-q", "--depth", "1", "file://"+up, dir)
		r, err := Open(dir, Options{Env: gittest.Env()})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		head, err := r.ResolveCommit("HEAD")
		if err != nil {
			t.Fatal(err)
		}
		_, err = head.Parent(0)
		if !errors.Is(err, plumbing.ErrObjectNotFound) || !strings.Contains(err.Error(), "history the shallow clone cut off") {
			t.Fatalf("error %v", err)
		}
		var me *MissingObjectError
		if !errors.As(err, &me) || !strings.Contains(me.Hint(), "fetch --unshallow") {
			t.Errorf("hint of %v", err)
		}
		_, err = r.MergeBase(t.Context(), "HEAD", gittest.Git(t, up, "rev-parse", "2026-01"))
		if !errors.Is(err, ErrNoMergeBase) {
			// git cannot even read the commit: an error still, not a base.
			if err == nil {
				t.Fatal("merge base found beyond the shallow boundary")
			}
		}
	})

	t.Run("alternates gone", func(t *testing.T) {
		src := filepath.Join(root, "src")
		gittest.Git(t, root, "clone", "-q", up, src)
		dir := filepath.Join(root, "shared")
		gittest.Git(t, root, "clone", "-q", "--shared", src, dir)
		if err := os.RemoveAll(filepath.Join(src, ".git", "objects")); err != nil {
			t.Fatal(err)
		}
		r, err := Open(dir, Options{Env: gittest.Env()})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		_, err = r.ResolveCommit("HEAD")
		if !errors.Is(err, plumbing.ErrObjectNotFound) || !strings.Contains(err.Error(), "borrows objects from are gone: "+filepath.Join(src, ".git", "objects")) {
			t.Fatalf("error %v", err)
		}
	})
}

// TestSafeDirectory reproduces git's refusal of a checkout another user
// owns, and its acceptance once safe.directory lists it.
func TestSafeDirectory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown a checkout to another user")
	}
	root := t.TempDir()
	up := filepath.Join(root, "up")
	upstream(t, up)
	dir := filepath.Join(root, "mailcow")
	gittest.Git(t, root, "clone", "-q", up, dir)
	chownR(t, dir, 1000)
	home := t.TempDir()
	env := append(gittest.Env(), "HOME="+home, "SUDO_UID=")
	// gittest.Env turns the global config off; git reads HOME's here.
	env = append(env, "GIT_CONFIG_GLOBAL="+filepath.Join(home, ".gitconfig"))
	_, err := Open(dir, Options{Env: env})
	var le *LayoutError
	if !errors.Is(err, ErrUnsafe) || !errors.As(err, &le) {
		t.Fatalf("error %v, want ErrUnsafe", err)
	}
	for _, s := range []string{dir, "uid 1000", "dubious ownership"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if want := "git config --global --add safe.directory " + dir; !strings.Contains(le.Hint(), want) {
		t.Errorf("hint %q, want %q", le.Hint(), want)
	}
	writeFile(t, filepath.Join(home, ".gitconfig"), "[safe]\n\tdirectory = "+dir+"\n")
	r, err := Open(dir, Options{Env: env})
	if err != nil {
		t.Fatalf("with safe.directory: %v", err)
	}
	r.Close()
}

func chownR(t *testing.T, dir string, uid int) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCorruptPackIndex: a pack index that cannot be read does not stop
// the repository from opening (git reads on without it too); an object
// only it held is named missing with the broken index.
func TestCorruptPackIndex(t *testing.T) {
	root := t.TempDir()
	up := filepath.Join(root, "up")
	upstream(t, up)
	gittest.Git(t, up, "gc", "-q")
	idx := strings.TrimSuffix(globPacks(t, up)[0], ".pack") + ".idx"
	if err := os.Chmod(idx, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(idx, []byte("\xfftOc\x00\x00\x00\x02short"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(up, Options{Env: gittest.Env()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.ResolveCommit("HEAD")
	if !errors.Is(err, plumbing.ErrObjectNotFound) || !strings.Contains(err.Error(), "these packs cannot be read: "+idx) {
		t.Fatalf("error %v", err)
	}
}
