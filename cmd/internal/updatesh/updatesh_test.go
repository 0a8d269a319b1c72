package updatesh

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

const date = "2026-05-01_12_00_00"

// install is a mailcow-like clone of an upstream repository: origin and
// tracking config as a real install has.
type install struct{ up, dir string }

func newInstall(t *testing.T) *install {
	t.Helper()
	root := t.TempDir()
	in := &install{up: filepath.Join(root, "upstream"), dir: filepath.Join(root, "mailcow")}
	gittest.Init(t, in.up)
	gittest.Commit(t, in.up, "release 1", map[string]string{
		".gitignore":                             "mailcow.conf\n",
		"data/conf/phpfpm/php-fpm.d/pools.conf":  "[web-worker]\npm = dynamic\nphp_admin_value[memory_limit] = 512M\npm.max_children = 20\n",
		"data/conf/postfix/main.cf":              "smtpd_banner = mailcow\nmessage_size_limit = 104857600\n",
		"data/conf/rspamd/local.d/greylist.conf": "enabled = true;\n",
	})
	gittest.Git(t, root, "clone", "-q", in.up, in.dir)
	gittest.WriteFiles(t, in.dir, map[string]string{"mailcow.conf": "DBPASS=secret\n"})
	return in
}

func (in *install) git(t *testing.T, args ...string) string {
	t.Helper()
	return gittest.Git(t, in.dir, args...)
}

func (in *install) read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(in.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (in *install) run(t *testing.T) (*Result, error) {
	t.Helper()
	return Run(in.dir, Options{Date: date, Env: gittest.Env()})
}

// noMergeState fails when a merge is half done: MERGE_HEAD, unmerged
// index entries or changes to tracked files.
func (in *install) noMergeState(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(in.dir, ".git", "MERGE_HEAD")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("MERGE_HEAD left")
	}
	if st := in.git(t, "status", "--porcelain", "--untracked-files=no"); st != "" {
		t.Errorf("git status not clean:\n%s", st)
	}
}

func TestRunLocalEditsMergeTheirs(t *testing.T) {
	in := newInstall(t)
	// The admin raises the memory limit and turns greylisting off.
	gittest.WriteFiles(t, in.dir, map[string]string{
		"data/conf/phpfpm/php-fpm.d/pools.conf":  "[web-worker]\npm = dynamic\nphp_admin_value[memory_limit] = 2048M\npm.max_children = 20\n",
		"data/conf/rspamd/local.d/greylist.conf": "enabled = false;\n",
	})
	// Upstream changes the same line of pools.conf and another file.
	up := gittest.Commit(t, in.up, "release 2", map[string]string{
		"data/conf/phpfpm/php-fpm.d/pools.conf": "[web-worker]\npm = dynamic\nphp_admin_value[memory_limit] = 1024M\npm.max_children = 20\n",
		"data/conf/postfix/main.cf":             "smtpd_banner = mailcow ESMTP\nmessage_size_limit = 104857600\n",
	})
	old := in.git(t, "rev-parse", "HEAD")

	res, err := in.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if res.MergeExit != 0 || res.Aborted || res.Removed != nil {
		t.Errorf("result %+v", res)
	}
	if res.Before == "" || res.Before == old {
		t.Fatalf("Before = %q: no commit of the local edits", res.Before)
	}
	if msg := in.git(t, "log", "-1", "--format=%s", res.Before); msg != "Before update on "+date {
		t.Errorf("Before commit message %q", msg)
	}
	if p := in.git(t, "rev-parse", res.Before+"^"); p != old {
		t.Errorf("Before's parent %s, want the old HEAD %s", p, old)
	}
	if head := in.git(t, "rev-parse", "HEAD"); res.Head != head {
		t.Errorf("Head %s, HEAD %s", res.Head, head)
	}
	if msg := in.git(t, "log", "-1", "--format=%s", "HEAD"); msg != "After update on "+date {
		t.Errorf("merge message %q", msg)
	}
	if parents := in.git(t, "log", "-1", "--format=%P", "HEAD"); parents != res.Before+" "+up {
		t.Errorf("merge parents %q, want Before and upstream", parents)
	}
	// -Xtheirs: the conflicting hunk silently goes to upstream's side,
	// the admin's other edit stays.
	if got := in.read(t, "data/conf/phpfpm/php-fpm.d/pools.conf"); !strings.Contains(got, "memory_limit] = 1024M") {
		t.Errorf("pools.conf after merge:\n%s", got)
	}
	if got := in.read(t, "data/conf/rspamd/local.d/greylist.conf"); got != "enabled = false;\n" {
		t.Errorf("greylist.conf after merge: %q", got)
	}
	if got := in.read(t, "data/conf/postfix/main.cf"); !strings.Contains(got, "ESMTP") {
		t.Errorf("main.cf lacks upstream's change:\n%s", got)
	}
	if got := in.read(t, "mailcow.conf"); got != "DBPASS=secret\n" {
		t.Errorf("ignored mailcow.conf changed: %q", got)
	}
	if v := in.git(t, "config", "merge.defaultToUpstream"); v != "true" {
		t.Errorf("merge.defaultToUpstream = %q", v)
	}
	in.noMergeState(t)
}

func TestRunNoLocalChangesFastForwards(t *testing.T) {
	for _, target := range []string{"", "origin/master"} {
		t.Run("target "+target, func(t *testing.T) {
			in := newInstall(t)
			up := gittest.Commit(t, in.up, "release 2", map[string]string{"data/conf/postfix/main.cf": "smtpd_banner = new\n"})
			if target != "" {
				in.git(t, "fetch", "-q", "origin")
			}
			old := in.git(t, "rev-parse", "HEAD")
			res, err := Run(in.dir, Options{Target: target, Date: date, Env: gittest.Env()})
			if err != nil {
				t.Fatal(err)
			}
			if res.Before != "" {
				t.Errorf("Before = %q with nothing to commit", res.Before)
			}
			if res.Head != up || in.git(t, "rev-parse", "HEAD") != up {
				t.Errorf("Head %s, want upstream's %s (fast-forward)", res.Head, up)
			}
			// HEAD~1 is not the pre-update state after a fast-forward; ORIG_HEAD is.
			if o := in.git(t, "rev-parse", "ORIG_HEAD"); o != old {
				t.Errorf("ORIG_HEAD %s, want %s", o, old)
			}
			if res.MergeExit != 0 || res.Aborted {
				t.Errorf("result %+v", res)
			}
			in.noMergeState(t)
		})
	}
}

// A modify/delete conflict is the one -Xtheirs does not resolve: git merge
// exits 1 and update.sh deletes the file, whichever side deleted it.
func TestRunModifyDeleteConflict(t *testing.T) {
	const greylist = "data/conf/rspamd/local.d/greylist.conf"
	tests := []struct {
		name   string
		local  func(t *testing.T, in *install) // the admin's change
		upward map[string]string               // upstream's change; "" content deletes
	}{
		{"upstream deletes a file the admin edited (UD)", func(t *testing.T, in *install) {
			gittest.WriteFiles(t, in.dir, map[string]string{greylist: "enabled = false;\n"})
		}, map[string]string{greylist: ""}},
		{"admin deleted a file upstream edits (DU)", func(t *testing.T, in *install) {
			if err := os.Remove(filepath.Join(in.dir, greylist)); err != nil {
				t.Fatal(err)
			}
		}, map[string]string{greylist: "enabled = true;\nexpire = 1d;\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInstall(t)
			tt.local(t, in)
			for name, content := range tt.upward {
				if content == "" {
					gittest.Git(t, in.up, "rm", "-q", name)
					delete(tt.upward, name)
				}
			}
			up := gittest.Commit(t, in.up, "release 2", merge(tt.upward, map[string]string{"data/conf/postfix/main.cf": "smtpd_banner = new\n"}))

			res, err := in.run(t)
			if err != nil {
				t.Fatalf("%v\n%s", err, res.Output)
			}
			if res.MergeExit != 1 || res.Aborted {
				t.Errorf("MergeExit %d Aborted %v, want 1 false", res.MergeExit, res.Aborted)
			}
			if !reflect.DeepEqual(res.Removed, []string{greylist}) {
				t.Errorf("Removed %q", res.Removed)
			}
			if !strings.Contains(res.Output, "CONFLICT (modify/delete)") {
				t.Errorf("merge output:\n%s", res.Output)
			}
			if _, err := os.Stat(filepath.Join(in.dir, greylist)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s still there", greylist)
			}
			if tracked := in.git(t, "ls-files", greylist); tracked != "" {
				t.Errorf("%s still tracked", greylist)
			}
			// The clean-up commit is a merge of both sides.
			if parents := in.git(t, "log", "-1", "--format=%P", "HEAD"); parents != res.Before+" "+up {
				t.Errorf("HEAD's parents %q, want Before %s and upstream %s", parents, res.Before, up)
			}
			if msg := in.git(t, "log", "-1", "--format=%s"); msg != "After update on "+date {
				t.Errorf("message %q", msg)
			}
			if res.Head != in.git(t, "rev-parse", "HEAD") {
				t.Errorf("Head %s", res.Head)
			}
			if got := in.read(t, "data/conf/postfix/main.cf"); got != "smtpd_banner = new\n" {
				t.Errorf("upstream's other change missing: %q", got)
			}
			in.noMergeState(t)
		})
	}
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// An untracked file of the admin's that upstream now adds: git refuses
// ("untracked working tree files would be overwritten by merge") before
// touching anything. After a "Before update" commit the merge is a real
// merge and git exits 2: update.sh says "something went wrong" and exits,
// and Run reports ErrAborted with the install as it was.
func TestRunUntrackedFileUpstreamAddsAborts(t *testing.T) {
	in := newInstall(t)
	gittest.WriteFiles(t, in.dir, map[string]string{
		"data/conf/rspamd/local.d/greylist.conf": "enabled = false;\n", // a local edit: not a fast-forward
		"data/conf/rspamd/custom/my.map":         "10.0.0.0/8\n",
	})
	gittest.Commit(t, in.up, "release 2", map[string]string{"data/conf/rspamd/custom/my.map": "# upstream's\n"})
	res, err := in.run(t)
	if !errors.Is(err, ErrAborted) {
		t.Fatalf("error %v, want ErrAborted", err)
	}
	if res == nil || !res.Aborted || res.MergeExit != 2 {
		t.Fatalf("result %+v, want Aborted with exit 2", res)
	}
	if !strings.Contains(err.Error(), "untracked working tree files would be overwritten") {
		t.Errorf("error %q does not carry git's reason", err)
	}
	if got := in.read(t, "data/conf/rspamd/custom/my.map"); got != "10.0.0.0/8\n" {
		t.Errorf("the admin's file changed: %q", got)
	}
	// As with update.sh, the Before commit stays and HEAD is on it.
	if head := in.git(t, "rev-parse", "HEAD"); res.Before == "" || head != res.Before {
		t.Errorf("HEAD %s, Before %s", head, res.Before)
	}
	if got := in.read(t, "data/conf/rspamd/local.d/greylist.conf"); got != "enabled = false;\n" {
		t.Errorf("local edit lost: %q", got)
	}
	if st := in.git(t, "status", "--porcelain"); st != "?? data/conf/rspamd/custom/" {
		t.Errorf("status %q", st)
	}
	in.noMergeState(t)
}

// The same untracked file without local edits: the fast-forward fails
// with exit 1, which update.sh takes for a modify/delete conflict. Its
// clean-up commits the admin's untracked file with git add -A on the old
// HEAD and goes on as if updated: the install is NOT updated and nothing
// says so. Run repeats update.sh's steps faithfully; the caller can see
// it from Head not containing the target.
func TestRunUntrackedFileFastForwardIsNotUpdated(t *testing.T) {
	in := newInstall(t)
	gittest.WriteFiles(t, in.dir, map[string]string{"data/conf/rspamd/custom/my.map": "10.0.0.0/8\n"})
	up := gittest.Commit(t, in.up, "release 2", map[string]string{"data/conf/rspamd/custom/my.map": "# upstream's\n"})
	old := in.git(t, "rev-parse", "HEAD")
	res, err := in.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if res.MergeExit != 1 || res.Aborted || res.Before != "" || res.Removed != nil {
		t.Errorf("result %+v", res)
	}
	if !strings.Contains(res.Output, "untracked working tree files would be overwritten") {
		t.Errorf("output %q", res.Output)
	}
	if p := in.git(t, "log", "-1", "--format=%P"); p != old {
		t.Errorf("HEAD's parents %q, want only the old HEAD %s", p, old)
	}
	if _, err := gittest.Run(in.dir, nil, "merge-base", "--is-ancestor", up, "HEAD"); err == nil {
		t.Error("upstream's commit is in HEAD")
	}
	if tracked := in.git(t, "ls-files", "data/conf/rspamd/custom/my.map"); tracked == "" {
		t.Error("the admin's file was not committed")
	}
	if got := in.read(t, "data/conf/rspamd/custom/my.map"); got != "10.0.0.0/8\n" {
		t.Errorf("the admin's file changed: %q", got)
	}
	in.noMergeState(t)
}

func TestRunErrors(t *testing.T) {
	t.Run("not a repository", func(t *testing.T) {
		dir := t.TempDir()
		_, err := Run(dir, Options{Date: date, Env: gittest.Env()})
		if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "not a git repository") {
			t.Errorf("error %v, want one naming %s and carrying git's stderr", err, dir)
		}
	})
	t.Run("detached HEAD", func(t *testing.T) {
		in := newInstall(t)
		gittest.Commit(t, in.up, "release 2", map[string]string{"data/conf/postfix/main.cf": "x\n"})
		in.git(t, "checkout", "-q", "--detach")
		res, err := in.run(t)
		if !errors.Is(err, ErrAborted) || !res.Aborted || res.MergeExit != 128 {
			t.Fatalf("%+v, %v; want ErrAborted with exit 128", res, err)
		}
		if !strings.Contains(err.Error(), "No current branch") {
			t.Errorf("error %q", err)
		}
		in.noMergeState(t)
	})
	t.Run("unknown target", func(t *testing.T) {
		in := newInstall(t)
		res, err := Run(in.dir, Options{Target: "no-such-ref", Date: date, Env: gittest.Env()})
		if !errors.Is(err, ErrAborted) || !res.Aborted {
			t.Fatalf("%+v, %v", res, err)
		}
	})
}
