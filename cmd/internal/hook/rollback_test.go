package hook

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/snapshot"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
	"github.com/mcupdate/mcupdate/cmd/internal/updatesh"
)

// rollbackRig is an install cloned from a real upstream repository, with
// the fake docker as compose command.
type rollbackRig struct {
	root, up, dir, log string
	env                *Env
	out                *bytes.Buffer
	now                time.Time
}

func newRollbackRig(t *testing.T, first map[string]string) *rollbackRig {
	t.Helper()
	r := &rollbackRig{root: t.TempDir(), out: &bytes.Buffer{}, now: time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)}
	r.up = filepath.Join(r.root, "upstream")
	r.dir = filepath.Join(r.root, "mailcow")
	gittest.Init(t, r.up)
	gittest.Commit(t, r.up, "mailcow 2026-05", first)
	gittest.Git(t, r.root, "clone", "-q", r.up, "mailcow")
	gittest.WriteFiles(t, r.dir, map[string]string{"mailcow.conf": "DBPASS=secret\n"})
	r.log = filepath.Join(r.root, "docker.log")
	docker := fakeDockerAt(t, filepath.Join(r.root, "bin"), r.log)
	cfg := config.Default()
	cfg.Path = filepath.Join(r.root, "mcupdate.ini")
	cfg.IPv6 = false
	cfg.Compose = []string{docker, "compose"}
	r.env = &Env{
		MailcowDir: r.dir, Config: cfg, State: state.Dir{Path: filepath.Join(r.root, "state")},
		Sys: fsx.Real{}, UI: ui.New(r.out, r.out, os.Getenv),
		Now: func() time.Time { r.now = r.now.Add(time.Minute); return r.now },
	}
	return r
}

// record does what the pre hook's snapshot and record steps do.
func (r *rollbackRig) record(t *testing.T) state.Record {
	t.Helper()
	head := gittest.Git(t, r.dir, "rev-parse", "HEAD")
	m, err := snapshot.Create(fsx.Real{}, snapshot.Options{MailcowDir: r.dir, Store: r.env.SnapshotStore(), Commit: head, Now: r.env.Now()})
	if err != nil {
		t.Fatal(err)
	}
	rec := state.Record{Time: r.env.Now().UTC(), MailcowDir: r.dir, Commit: head, Branch: "master", SnapshotID: m.ID}
	rec.ID = r.env.State.NewRecordID(rec.Time)
	if err := r.env.State.SaveRecord(fsx.Real{}, rec); err != nil {
		t.Fatal(err)
	}
	if err := r.env.State.SaveUpdate(fsx.Real{}, rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// update runs update.sh's git steps and completes the record as the post
// hook does.
func (r *rollbackRig) update(t *testing.T, rec state.Record) {
	t.Helper()
	gittest.Git(t, r.dir, "fetch", "-q", "origin")
	if _, err := updatesh.Run(r.dir, updatesh.Options{Target: "origin/master", Date: "2026-07-01_12_00_00", Env: gittest.Env()}); err != nil {
		t.Fatal(err)
	}
	r.env.completeRecord(context.Background(), rec.ID)
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRollbackLeavesUpdateShOwnFiles: update.sh checks out its _modules
// (and itself) from origin before its "Before update" commit. The
// rollback puts the admin's uncommitted edits of then back, but not
// update.sh's own files of the new release; an admin's own edit of
// update.sh stays.
func TestRollbackLeavesUpdateShOwnFiles(t *testing.T) {
	for _, ownEdit := range []bool{false, true} {
		name := "update.sh as fetched"
		if ownEdit {
			name = "update.sh edited by the admin"
		}
		t.Run(name, func(t *testing.T) {
			r := newRollbackRig(t, map[string]string{
				".gitignore":                "mailcow.conf\n",
				"update.sh":                 "#!/bin/bash\necho 2026-05\n",
				"data/conf/postfix/main.cf": "a = 1\n",
			})
			gittest.Commit(t, r.up, "mailcow 2026-07", map[string]string{
				"update.sh":                  "#!/bin/bash\necho 2026-07\n",
				"_modules/scripts/core.sh":   "core\n",
				"data/conf/postfix/main.cf":  "a = 1\nb = 2\n",
				"data/conf/postfix/new.conf": "new\n",
			})
			// The admin's uncommitted edit, then update.sh's own fetch.
			gittest.WriteFiles(t, r.dir, map[string]string{"data/conf/postfix/main.cf": "a = 100\n"})
			gittest.Git(t, r.dir, "fetch", "-q", "origin")
			gittest.Git(t, r.dir, "checkout", "origin/master", "--", "_modules", "update.sh")
			wantUpdateSh := "#!/bin/bash\necho 2026-05\n"
			if ownEdit {
				wantUpdateSh = "#!/bin/bash\necho mine\n"
				gittest.WriteFiles(t, r.dir, map[string]string{"update.sh": wantUpdateSh})
			}
			before := gittest.Git(t, r.dir, "rev-parse", "HEAD")
			rec := r.record(t)
			r.update(t, rec)
			if got := read(t, filepath.Join(r.dir, "data/conf/postfix/new.conf")); got != "new\n" {
				t.Fatalf("not updated: %q", got)
			}

			if _, err := Rollback(context.Background(), r.env, RollbackOptions{}); err != nil {
				t.Fatalf("Rollback: %v\n%s", err, r.out)
			}
			t.Log(r.out)
			if got := gittest.Git(t, r.dir, "rev-parse", "HEAD"); got != before {
				t.Errorf("HEAD %s, want the pre-update commit %s", got, before)
			}
			if got := gittest.Git(t, r.dir, "symbolic-ref", "HEAD"); got != "refs/heads/master" {
				t.Errorf("HEAD is %s", got)
			}
			if got := read(t, filepath.Join(r.dir, "data/conf/postfix/main.cf")); got != "a = 100\n" {
				t.Errorf("main.cf %q, want the admin's uncommitted edit of then", got)
			}
			if got := read(t, filepath.Join(r.dir, "update.sh")); got != wantUpdateSh {
				t.Errorf("update.sh %q, want %q", got, wantUpdateSh)
			}
			for _, p := range []string{"_modules", "data/conf/postfix/new.conf"} {
				if _, err := os.Lstat(filepath.Join(r.dir, p)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s is still there (%v)", p, err)
				}
			}
			wantStatus := " M data/conf/postfix/main.cf"
			if ownEdit {
				wantStatus += "\n M update.sh"
			}
			if got := gittest.Git(t, r.dir, "status", "--porcelain", "-uno"); got != strings.TrimSpace(wantStatus) {
				t.Errorf("git status:\n%s\nwant:\n%s", got, wantStatus)
			}
			// The next update.sh updates normally.
			rec2 := r.record(t)
			r.update(t, rec2)
			if got := read(t, filepath.Join(r.dir, "data/conf/postfix/new.conf")); got != "new\n" {
				t.Errorf("the update after the rollback did not update: new.conf %q", got)
			}
			if got := gittest.Git(t, r.dir, "log", "-1", "--format=%s"); !strings.HasPrefix(got, "After update on ") {
				t.Errorf("HEAD after the second update: %q", got)
			}
		})
	}
}

// TestRollbackDefaultIsTheLastUpdate: a pre hook run whose update.sh
// stopped before the merge (the admin said no) is not an update; after a
// rollback, the default is that rollback's update, and nothing is left to
// do.
func TestRollbackDefaultIsTheLastUpdate(t *testing.T) {
	r := newRollbackRig(t, map[string]string{".gitignore": "mailcow.conf\n", "README.md": "v1\n"})
	gittest.Commit(t, r.up, "mailcow 2026-07", map[string]string{"README.md": "v2\n"})
	before := gittest.Git(t, r.dir, "rev-parse", "HEAD")
	rec := r.record(t)
	r.update(t, rec)
	after := gittest.Git(t, r.dir, "rev-parse", "HEAD")
	stopped := r.record(t) // ./update.sh again; the admin answers no
	if stopped.Commit != after {
		t.Fatal("setup")
	}
	rep, err := Rollback(context.Background(), r.env, RollbackOptions{})
	if err != nil {
		t.Fatalf("Rollback: %v\n%s", err, r.out)
	}
	if rep.Record != rec.ID {
		t.Errorf("rolled back %s, want the update %s (not the stopped run %s)", rep.Record, rec.ID, stopped.ID)
	}
	if got := gittest.Git(t, r.dir, "rev-parse", "HEAD"); got != before {
		t.Errorf("HEAD %s, want %s", got, before)
	}
	saved, err := r.env.State.LoadUpdate(rec.ID)
	if err != nil || saved.RolledBack == nil || !strings.HasPrefix(saved.Backup, "refs/mcupdate/backup/master-") {
		t.Fatalf("record not marked rolled back: %+v %v", saved, err)
	}
	if got := gittest.Git(t, r.dir, "rev-parse", saved.Backup); got != after {
		t.Errorf("backup ref at %s, want the post-update tip %s", got, after)
	}

	r.out.Reset()
	if _, err := Rollback(context.Background(), r.env, RollbackOptions{}); err != nil {
		t.Fatalf("second Rollback: %v\n%s", err, r.out)
	}
	if !strings.Contains(r.out.String(), "already rolled back") {
		t.Errorf("second rollback:\n%s", r.out)
	}
	if got := gittest.Git(t, r.dir, "rev-parse", "HEAD"); got != before {
		t.Errorf("second rollback moved HEAD to %s", got)
	}
	// The stopped run's commit is not an ancestor of HEAD any more: asked
	// for by id, it is refused, and nothing changes.
	r.out.Reset()
	_, err = Rollback(context.Background(), r.env, RollbackOptions{ID: stopped.ID})
	if err == nil || !strings.Contains(err.Error(), "is not in the history of HEAD") {
		t.Errorf("rollback to a commit after HEAD: %v\n%s", err, r.out)
	}
	if got := gittest.Git(t, r.dir, "rev-parse", "HEAD"); got != before {
		t.Errorf("refused rollback moved HEAD to %s", got)
	}
}

// TestRollbackKeepsWhatItOverwrites: the post-update work tree's own
// changes, an untracked file where the pre-update commit tracks one, and
// the overrides the update changed are all kept; a detached HEAD ends on
// the branch.
func TestRollbackKeepsWhatItOverwrites(t *testing.T) {
	r := newRollbackRig(t, map[string]string{
		".gitignore":                   "mailcow.conf\ndocker-compose.override.yml\n",
		"docker-compose.yml":           "services: {}\n",
		"data/conf/postfix/main.cf":    "a = 1\n",
		"data/conf/postfix/old.pcre":   "old\n",
		"data/conf/dovecot/extra.conf": "x\n",
	})
	gittest.WriteFiles(t, r.dir, map[string]string{"docker-compose.override.yml": "services: {mine: {}}\n"})
	gittest.Git(t, r.up, "rm", "-q", "data/conf/postfix/old.pcre")
	gittest.Commit(t, r.up, "mailcow 2026-07", map[string]string{"data/conf/postfix/main.cf": "a = 2\n"})
	before := gittest.Git(t, r.dir, "rev-parse", "HEAD")
	rec := r.record(t)
	r.update(t, rec)
	after := gittest.Git(t, r.dir, "rev-parse", "HEAD")
	// After the update: update.sh rewrote the override, the admin re-made
	// the file upstream deleted, edited a tracked file, detached HEAD.
	gittest.WriteFiles(t, r.dir, map[string]string{
		"docker-compose.override.yml": "services: {}\n",
		"mailcow.conf":                "DBPASS=secret\nNEW=1\n",
		"data/conf/postfix/old.pcre":  "my own\n",
		"data/conf/postfix/main.cf":   "a = 2\nmine = 1\n",
	})
	gittest.Git(t, r.dir, "checkout", "-q", "--detach", "HEAD")

	if _, err := Rollback(context.Background(), r.env, RollbackOptions{}); err != nil {
		t.Fatalf("Rollback: %v\n%s", err, r.out)
	}
	t.Log(r.out)
	if got := gittest.Git(t, r.dir, "symbolic-ref", "HEAD"); got != "refs/heads/master" {
		t.Errorf("HEAD is %s, want the branch", got)
	}
	if got := gittest.Git(t, r.dir, "rev-parse", "HEAD"); got != before {
		t.Errorf("HEAD %s, want %s", got, before)
	}
	for p, want := range map[string]string{
		"data/conf/postfix/main.cf":               "a = 1\n",
		"data/conf/postfix/old.pcre":              "old\n",
		"data/conf/postfix/old.pcre" + NewSuffix:  "my own\n",
		"docker-compose.override.yml":             "services: {mine: {}}\n",
		"docker-compose.override.yml" + NewSuffix: "services: {}\n",
		"mailcow.conf":                            "DBPASS=secret\n",
		"mailcow.conf" + NewSuffix:                "DBPASS=secret\nNEW=1\n",
		"data/conf/dovecot/extra.conf":            "x\n",
	} {
		if got := read(t, filepath.Join(r.dir, p)); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	if got := gittest.Git(t, r.dir, "status", "--porcelain", "-uno"); got != "" {
		t.Errorf("git status not clean:\n%s", got)
	}
	refs := gittest.Git(t, r.dir, "for-each-ref", "--format=%(refname)", "refs/mcupdate/backup/")
	var tip, wt string
	for _, ref := range strings.Split(refs, "\n") {
		if strings.HasSuffix(ref, "-rollback") {
			tip = ref
		} else if strings.HasSuffix(ref, "-rollback-worktree") {
			wt = ref
		}
	}
	if tip == "" || gittest.Git(t, r.dir, "rev-parse", tip) != after {
		t.Errorf("no backup of the post-update tip %s: %q", after, refs)
	}
	if wt == "" || gittest.Git(t, r.dir, "show", wt+":data/conf/postfix/main.cf") != "a = 2\nmine = 1" {
		t.Errorf("the work tree's changes are not kept: %q", refs)
	}
	logged := read(t, r.log)
	for _, want := range []string{"compose pull\n", "compose up -d --remove-orphans\n", "compose restart postfix-mailcow\n"} {
		if !strings.Contains(logged, want) {
			t.Errorf("docker log lacks %q:\n%s", want, logged)
		}
	}
}

// TestRollbackComposeFailure: a failed pull stops before up -d; the files
// are rolled back and the step says what is left to run.
func TestRollbackComposeFailure(t *testing.T) {
	r := newRollbackRig(t, map[string]string{".gitignore": "mailcow.conf\n", "README.md": "v1\n"})
	gittest.Commit(t, r.up, "mailcow 2026-07", map[string]string{"README.md": "v2\n"})
	before := gittest.Git(t, r.dir, "rev-parse", "HEAD")
	rec := r.record(t)
	r.update(t, rec)
	failing := filepath.Join(r.root, "failing-docker")
	if err := os.WriteFile(failing, []byte("#!/bin/sh\necho \"docker $*\" >> '"+r.log+"'\n[ \"$2\" = pull ] && { echo 'pull access denied' >&2; exit 1; }\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.env.Config.Compose = []string{failing, "compose"}
	_, err := Rollback(context.Background(), r.env, RollbackOptions{})
	if err == nil || !strings.Contains(err.Error(), "pull access denied") {
		t.Fatalf("Rollback: %v\n%s", err, r.out)
	}
	if got := gittest.Git(t, r.dir, "rev-parse", "HEAD"); got != before {
		t.Errorf("HEAD %s, want %s", got, before)
	}
	if logged := read(t, r.log); strings.Contains(logged, " up ") {
		t.Errorf("up -d ran after the failed pull:\n%s", logged)
	}
	if !strings.Contains(r.out.String(), "run the rest yourself: "+failing+" compose pull; "+failing+" compose up -d --remove-orphans") {
		t.Errorf("output does not say what is left:\n%s", r.out)
	}
}

// TestRollbackDryRunChangesNothing: the whole plan is shown, nothing in
// the install, its refs or its state changes.
func TestRollbackDryRunChangesNothing(t *testing.T) {
	r := newRollbackRig(t, map[string]string{".gitignore": "mailcow.conf\n", "README.md": "v1\n"})
	gittest.Commit(t, r.up, "mailcow 2026-07", map[string]string{"README.md": "v2\n"})
	rec := r.record(t)
	r.update(t, rec)
	gittest.WriteFiles(t, r.dir, map[string]string{"mailcow.conf": "DBPASS=secret\nNEW=1\n", "README.md": "edited\n"})
	tree := treeHash(t, r.dir)
	refs := gittest.Git(t, r.dir, "for-each-ref")
	r.env.DryRun, r.env.Sys = true, &fsx.Recorder{}
	if _, err := Rollback(context.Background(), r.env, RollbackOptions{}); err != nil {
		t.Fatalf("Rollback: %v\n%s", err, r.out)
	}
	for _, want := range []string{"dry run: would move branch master", "would restore mailcow.conf", "dry run: would run "} {
		if !strings.Contains(r.out.String(), want) {
			t.Errorf("dry run does not say %q:\n%s", want, r.out)
		}
	}
	if got := treeHash(t, r.dir); got != tree {
		t.Errorf("the dry run changed the install")
	}
	if got := gittest.Git(t, r.dir, "for-each-ref"); got != refs {
		t.Errorf("the dry run changed the refs:\n%s", got)
	}
	if _, err := os.Stat(r.log); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dry run ran docker")
	}
	if saved, _ := r.env.State.LoadUpdate(rec.ID); saved.RolledBack != nil {
		t.Errorf("the dry run marked the record")
	}
}

// TestRollbackToARunThatMergedNothing: the record of an update.sh that
// stopped before its merge, asked for by id, has no other pre-update work
// tree than the one there: the admin's uncommitted edits stay; a detached
// HEAD ends on the branch, whose other tip is kept.
func TestRollbackToARunThatMergedNothing(t *testing.T) {
	r := newRollbackRig(t, map[string]string{".gitignore": "mailcow.conf\n", "README.md": "v1\n"})
	gittest.Commit(t, r.up, "mailcow 2026-07", map[string]string{"README.md": "v2\n"})
	gittest.WriteFiles(t, r.dir, map[string]string{"README.md": "mine\n"})
	before := gittest.Git(t, r.dir, "rev-parse", "HEAD")
	stopped := r.record(t)
	// The admin made a commit of their own, then checked out the
	// pre-update commit by hand (the documented way), detached.
	gittest.Git(t, r.dir, "commit", "-q", "-am", "mine")
	mine := gittest.Git(t, r.dir, "rev-parse", "HEAD")
	gittest.Git(t, r.dir, "checkout", "-q", "--detach", before)
	gittest.WriteFiles(t, r.dir, map[string]string{"README.md": "mine, again\n"})

	if _, err := Rollback(context.Background(), r.env, RollbackOptions{ID: stopped.ID, NoRestart: true}); err != nil {
		t.Fatalf("Rollback: %v\n%s", err, r.out)
	}
	t.Log(r.out)
	if got := gittest.Git(t, r.dir, "symbolic-ref", "HEAD"); got != "refs/heads/master" {
		t.Errorf("HEAD is %s", got)
	}
	if got := gittest.Git(t, r.dir, "rev-parse", "HEAD"); got != before {
		t.Errorf("HEAD %s, want %s", got, before)
	}
	if got := read(t, filepath.Join(r.dir, "README.md")); got != "mine, again\n" {
		t.Errorf("README.md = %q: the work tree was touched", got)
	}
	saved, err := r.env.State.LoadUpdate(stopped.ID)
	if err != nil || saved.Backup == "" || gittest.Git(t, r.dir, "rev-parse", saved.Backup) != mine {
		t.Errorf("the branch's tip %s is not kept: %+v %v", mine, saved, err)
	}
}
