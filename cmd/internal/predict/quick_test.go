package predict

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fixture"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/updatesh"
)

// preOptions are the options the pre hook passes: the install opened, its
// upstream base, its customizations scanned from the work tree.
func preOptions(t *testing.T, inst string, bound []*patch.Bound) (Options, *gitx.Repo) {
	t.Helper()
	ctx := context.Background()
	repo, err := gitx.Open(inst, gitx.Options{Env: gittest.Env()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	head := gittest.Git(t, inst, "rev-parse", "HEAD")
	up := gittest.Git(t, inst, "rev-parse", "origin/master")
	base, err := repo.Git().MergeBase(ctx, head, up)
	if err != nil {
		t.Fatal(err)
	}
	set, err := ledger.Scan(ctx, repo.Git(), base, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	return Options{Dir: inst, Head: head, Upstream: up, Patches: bound, TempDir: tmp, Env: gittest.Env(), Set: set, Repo: repo, Base: base}, repo
}

// both predicts the merge both ways, the scratch merge and quick, and
// fails when they disagree; it returns whether quick could answer.
func both(t *testing.T, name string, opt Options) bool {
	t.Helper()
	ctx := context.Background()
	sameBefore(t, name, opt)
	full := opt
	full.merge, full.gitBefore = true, true
	want, err := Run(ctx, full)
	if err != nil {
		t.Fatalf("%s: the scratch merge: %v", name, err)
	}
	scratch := t.TempDir()
	got, ok, err := quick(ctx, opt, scratch)
	if err != nil {
		t.Fatalf("%s: quick: %v", name, err)
	}
	// Run itself answers the same, whichever way it takes.
	viaRun, err := Run(ctx, opt)
	if err != nil {
		t.Fatalf("%s: Run: %v", name, err)
	}
	w, _ := json.MarshalIndent(want, "", " ")
	if r, _ := json.MarshalIndent(viaRun, "", " "); string(r) != string(w) {
		t.Errorf("%s: Run predicted\n%s\nthe scratch merge\n%s", name, r, w)
	}
	if !ok {
		return false
	}
	if g, _ := json.MarshalIndent(got, "", " "); string(g) != string(w) {
		t.Errorf("%s: quick predicted\n%s\nthe scratch merge\n%s", name, g, w)
	}
	return true
}

// sameBefore checks that the Before update commit made in process has the
// tree git add -u and write-tree make.
func sameBefore(t *testing.T, name string, opt Options) {
	t.Helper()
	objs := filepath.Join(t.TempDir(), "objects")
	if err := os.MkdirAll(filepath.Join(objs, "info"), 0o700); err != nil {
		t.Fatal(err)
	}
	c, known, err := beforeUpdateHere(context.Background(), opt, objs)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !known {
		return
	}
	inst := filepath.Join(opt.Repo.Layout.CommonDir, "objects")
	idx, err := os.ReadFile(opt.Repo.Layout.IndexPath())
	if err != nil {
		t.Fatal(err)
	}
	tmpIdx := filepath.Join(t.TempDir(), "index")
	if err := os.WriteFile(tmpIdx, idx, 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(opt.Repo.Layout.IndexPath()); err != nil {
		t.Fatal(err)
	} else if err := os.Chtimes(tmpIdx, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	gitObjs := filepath.Join(t.TempDir(), "objects")
	if err := os.Mkdir(gitObjs, 0o700); err != nil {
		t.Fatal(err)
	}
	git := func(objects string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = opt.Dir
		cmd.Env = append(gittest.Env(), "GIT_INDEX_FILE="+tmpIdx, "GIT_OBJECT_DIRECTORY="+objects, "GIT_ALTERNATE_OBJECT_DIRECTORIES="+inst)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: git %v: %v\n%s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(gitObjs, "add", "-u")
	want := git(gitObjs, "write-tree")
	if c == opt.Head {
		if h := git(gitObjs, "rev-parse", opt.Head+"^{tree}"); h != want {
			t.Errorf("%s: no Before update commit in process, but git's tree %s is not HEAD's %s", name, want, h)
		}
		return
	}
	if got := git(objs, "rev-parse", c+"^{tree}"); got != want {
		t.Errorf("%s: the Before update commit's tree in process is %s, git's %s", name, got, want)
	}
}

// TestQuickSameAsMerge takes the fixtures' install through every release
// with the admin's patches, with uncommitted edits each time (one of them
// where upstream changes nothing): wherever quick answers, its prediction
// is the scratch merge's, field for field.
func TestQuickSameAsMerge(t *testing.T) {
	root := t.TempDir()
	up, inst := filepath.Join(root, "upstream"), filepath.Join(root, "mailcow")
	if err := fixture.BuildUpstream(up, ""); err != nil {
		t.Fatal(err)
	}
	tags := fixture.Tags()
	if err := fixture.BuildInstall(inst, up, tags[0]); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(root, "mcupdate.ini"), fixture.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	lib, err := patch.Library()
	if err != nil {
		t.Fatal(err)
	}
	bound, _, err := patch.Resolve(patch.Settings{Enabled: cfg.Enabled, Params: cfg.Params, Origin: cfg.ParamOrigin, EnableOrigin: cfg.EnableOrigin()}, lib, nil)
	if err != nil {
		t.Fatal(err)
	}
	quickly, merged := 0, 0
	for i, tag := range tags[1:] {
		gittest.Git(t, inst, "update-ref", "refs/remotes/origin/master", gittest.Git(t, inst, "rev-parse", tag+"^{commit}"))
		for _, patches := range [][]*patch.Bound{bound, nil} {
			opt, _ := preOptions(t, inst, patches)
			if both(t, tag, opt) {
				quickly++
			} else {
				merged++
			}
		}
		if _, err := updatesh.Run(inst, updatesh.Options{Target: "origin/master", Date: tag, Env: gittest.Env()}); err != nil {
			t.Fatalf("%s: update.sh's steps: %v", tag, err)
		}
		// The next update starts from a clean work tree every other time.
		if i%2 == 0 {
			gittest.WriteFiles(t, inst, map[string]string{"data/conf/mcupdate-test.conf": "round = " + tag + "\n"})
			gittest.Git(t, inst, "add", "data/conf/mcupdate-test.conf")
		}
	}
	t.Logf("quick answered %d predictions, the scratch merge %d", quickly, merged)
	if quickly == 0 {
		t.Fatal("quick never answered: the test compares nothing")
	}
}

// TestQuickCases: small installs where quick must answer (and agree), or
// must leave the prediction to the scratch merge.
func TestQuickCases(t *testing.T) {
	base := map[string]string{
		"a.conf":     "x = 1\ny = 1\n",
		"b.conf":     "p = 1\n\n\n\nq = 1\n",
		"d/one.conf": "one = 1\n",
		"d/two.conf": "two = 2\n",
		"run.sh":     "#!/bin/sh\necho run\n",
	}
	for _, c := range []struct {
		name      string
		upstream  map[string]string // the release's changes
		upRemove  []string
		committed map[string]string // a Before update commit of an earlier update
		edits     map[string]string // uncommitted
		quick     bool
	}{
		{name: "disjoint, uncommitted", upstream: map[string]string{"a.conf": "x = 2\ny = 1\n"}, edits: map[string]string{"b.conf": "p = 1\n\n\n\nq = 1\nmine = 1\n"}, quick: true},
		{name: "disjoint, committed only", upstream: map[string]string{"a.conf": "x = 2\ny = 1\n"}, committed: map[string]string{"b.conf": "p = 1\nmine = 1\n\n\n\nq = 1\n"}, quick: true},
		{name: "disjoint, committed and undone", upstream: map[string]string{"a.conf": "x = 2\ny = 1\n"}, committed: map[string]string{"b.conf": "p = 1\nmine = 1\n\n\n\nq = 1\n"}, edits: map[string]string{"b.conf": base["b.conf"]}, quick: true},
		{name: "disjoint, committed and edited again", upstream: map[string]string{"d/one.conf": "one = 2\n"}, committed: map[string]string{"b.conf": "p = 1\nmine = 1\n\n\n\nq = 1\n"}, edits: map[string]string{"b.conf": "p = 1\nmine = 2\n\n\n\nq = 1\n"}, quick: true},
		{name: "disjoint, a new file", upstream: map[string]string{"a.conf": "x = 2\ny = 1\n"}, committed: map[string]string{"d/mine.conf": "mine = 1\n"}, quick: true},
		{name: "same file", upstream: map[string]string{"a.conf": "x = 2\ny = 1\n"}, edits: map[string]string{"a.conf": "x = 1 # mine\ny = 1\n"}},
		{name: "same file, committed", upstream: map[string]string{"b.conf": "p = 2\n\n\n\nq = 1\n"}, committed: map[string]string{"b.conf": "p = 1\n\n\n\nq = 1\nmine = 1\n"}},
		{name: "directory moved upstream", upstream: map[string]string{"e/one.conf": "one = 1\n", "e/two.conf": "two = 2\n"}, upRemove: []string{"d/one.conf", "d/two.conf"}, committed: map[string]string{"d/mine.conf": "mine = 1\n"}},
		{name: "a file where the install has a directory", upstream: map[string]string{"c": "file\n"}, committed: map[string]string{"c/mine.conf": "mine = 1\n"}},
		{name: "attributes upstream", upstream: map[string]string{".gitattributes": "*.conf eol=crlf\n"}, edits: map[string]string{"b.conf": "p = 1\n\n\n\nq = 1\nmine = 1\n"}},
		{name: "attributes of the install", upstream: map[string]string{"a.conf": "x = 2\ny = 1\n"}, committed: map[string]string{"d/.gitattributes": "*.conf eol=crlf\n", "d/one.conf": "one = 1\nmine = 1\n"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			upd, inst := filepath.Join(root, "up"), filepath.Join(root, "inst")
			gittest.Init(t, upd)
			gittest.Commit(t, upd, "2026-01", base)
			gittest.Git(t, upd, "update-index", "--chmod=+x", "run.sh")
			gittest.Git(t, upd, "commit", "-q", "--amend", "--no-edit")
			gittest.Git(t, root, "clone", "-q", upd, inst)
			if c.committed != nil {
				gittest.Commit(t, inst, "Before update on 2026-02", c.committed)
			}
			for _, f := range c.upRemove {
				gittest.Git(t, upd, "rm", "-q", f)
			}
			gittest.Commit(t, upd, "2026-03", c.upstream)
			gittest.Git(t, inst, "fetch", "-q")
			gittest.WriteFiles(t, inst, c.edits)
			opt, _ := preOptions(t, inst, nil)
			if got := both(t, c.name, opt); got != c.quick {
				t.Errorf("quick answered: %v, want %v", got, c.quick)
			}
		})
	}
}

func TestPlainConfigText(t *testing.T) {
	for text, want := range map[string]bool{
		"[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n": true,
		"[user]\n\tname = root\n[safe]\n\tdirectory = /opt/mailcow-dockerized\n":                                true,
		"[core]\n\tfilemode = false\n":                  false,
		"[core]\n\tautocrlf = input\n":                  false,
		"[core]\n\teol = crlf\n":                        false,
		"[filter \"lfs\"]\n\tclean = git-lfs clean\n":   false,
		"[core]\n\tattributesFile = ~/.attributes\n":    false,
		"[include]\n\tpath = other.conf\n":              false,
		"[core]\n\tsymlinks = false\n":                  false,
		"[core]\n\tignorecase = true\n":                 false,
		"[core]\n\tignorecase\n":                        false,
		"[core]\n\tFileMode = yes\n\tsymlinks=on\n":     true,
		"[core]\n\tsparseCheckout = true\n":             false,
		"[extensions]\n\tworktreeConfig = true\n":       false,
		"[merge]\n\tff = only\n[pull]\n\trebase = true": true,
	} {
		if got := plainConfigText(text); got != want {
			t.Errorf("plainConfigText(%q) = %v, want %v", text, got, want)
		}
	}
}

// TestInitScratch: the scratch repository made without git is the one git
// init makes here: the same files and config, as git reads them.
func TestInitScratch(t *testing.T) {
	root := t.TempDir()
	mine, theirs := filepath.Join(root, "mine"), filepath.Join(root, "git")
	if ok, err := initScratch(mine); err != nil || !ok {
		t.Fatalf("initScratch: %v %v", ok, err)
	}
	if err := os.Mkdir(theirs, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "init", "-q", "--template=", "-b", "mcupdate-predict")
	cmd.Dir, cmd.Env = theirs, append(gittest.Env(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	list := func(dir string) string {
		var out []string
		filepath.WalkDir(filepath.Join(dir, ".git"), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(dir, p)
			data := ""
			if !d.IsDir() {
				b, _ := os.ReadFile(p)
				data = string(b)
			}
			out = append(out, rel+" "+data)
			return nil
		})
		return strings.Join(out, "\n")
	}
	if m, g := list(mine), list(theirs); m != g {
		t.Errorf("made here:\n%s\ngit init:\n%s", m, g)
	}
	for _, key := range []string{"core.filemode", "core.bare", "core.logallrefupdates", "core.repositoryformatversion"} {
		if m, g := gittest.Git(t, mine, "config", key), gittest.Git(t, theirs, "config", key); m != g {
			t.Errorf("%s: %s here, %s by git init", key, m, g)
		}
	}
	if h := gittest.Git(t, mine, "symbolic-ref", "HEAD"); h != "refs/heads/mcupdate-predict" {
		t.Errorf("HEAD is %s", h)
	}
}
