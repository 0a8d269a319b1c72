package gitstate

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

var repairAt = time.Date(2026, 7, 14, 3, 4, 5, 0, time.FixedZone("CEST", 2*3600))

const backupSuffix = "-20260714T010405Z"

func TestRepairDetached(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, f *fixture) // leaves HEAD detached
		branch string                         // RepairOptions.Branch
		// want: branch and source chosen, old tip ("c1", "c2", "" or a
		// literal hash after setup), whether a backup is kept, whether the
		// upstream had to be set.
		wantBranch, wantSource string
		wantOldTip             func(f *fixture) string
		wantBackup             bool
		wantUpstreamSet        bool
	}{
		{
			name:       "detached at a tag",
			setup:      func(t *testing.T, f *fixture) { f.git(t, "checkout", "-q", "v1") },
			wantBranch: "master", wantSource: SourceReflog,
			wantOldTip: func(f *fixture) string { return f.c2 },
			wantBackup: true,
		},
		{
			name: "documented roll-back to the Before update commit",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "reset", "-q", "--hard", "v1")
				gittest.WriteFiles(t, f.dir, map[string]string{"data/conf/phpfpm/php-fpm.d/pools.conf": "[web-worker]\nphp_admin_value[memory_limit] = 2048M\n"})
				f.git(t, "add", "-u")
				f.git(t, "commit", "-q", "-am", "Before update on 2026-07-01")
				before := f.git(t, "rev-parse", "HEAD")
				f.git(t, "merge", "-q", "-Xtheirs", "-Xpatience", "-m", "After update on 2026-07-01", "origin/master")
				f.git(t, "checkout", "-q", before)
			},
			wantBranch: "master", wantSource: SourceReflog,
			wantOldTip: nil, // the merge commit, checked below
			wantBackup: true,
		},
		{
			name: "detached at the branch tip",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "checkout", "-q", "--detach")
			},
			wantBranch: "master", wantSource: SourceReflog,
			wantOldTip: func(f *fixture) string { return f.c2 },
		},
		{
			name: "branch behind HEAD moves without a backup",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "checkout", "-q", "--detach")
				f.git(t, "branch", "-f", "master", "v1")
			},
			wantBranch: "master", wantSource: SourceReflog,
			wantOldTip: func(f *fixture) string { return f.c1 },
		},
		{
			name: "reflog says nightly",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "checkout", "-q", "nightly")
				gittest.Commit(t, f.dir, "local nightly work", map[string]string{"x": "1\n"})
				f.git(t, "checkout", "-q", "HEAD~1")
			},
			wantBranch: "nightly", wantSource: SourceReflog,
			wantBackup: true,
		},
		{
			name: "config branch wins over the reflog",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "checkout", "-q", "v1")
			},
			branch:     "legacy",
			wantBranch: "legacy", wantSource: SourceConfig,
			wantUpstreamSet: true, // legacy exists only at origin
		},
		{
			name: "upstream unset is set",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "branch", "--unset-upstream")
				f.git(t, "checkout", "-q", "--detach")
			},
			wantBranch: "master", wantSource: SourceReflog,
			wantOldTip:      func(f *fixture) string { return f.c2 },
			wantUpstreamSet: true,
		},
		{
			name: "no reflog falls back to master",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "checkout", "-q", "v1")
				if err := os.Remove(filepath.Join(f.dir, ".git", "logs", "HEAD")); err != nil {
					t.Fatal(err)
				}
			},
			wantBranch: "master", wantSource: SourceMaster,
			wantOldTip: func(f *fixture) string { return f.c2 },
			wantBackup: true,
		},
		{
			name: "packed refs only",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "checkout", "-q", "v1")
				f.git(t, "pack-refs", "--all")
				if _, err := os.Stat(filepath.Join(f.dir, ".git", "refs", "heads", "master")); err == nil {
					t.Fatal("refs/heads/master is still loose")
				}
			},
			wantBranch: "master", wantSource: SourceReflog,
			wantOldTip: func(f *fixture) string { return f.c2 },
			wantBackup: true,
		},
		{
			name: "local uncommitted edits stay",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "checkout", "-q", "v1")
				gittest.WriteFiles(t, f.dir, map[string]string{
					"data/conf/phpfpm/php-fpm.d/pools.conf": "edited, not staged\n",
					"mailcow.conf.example":                  "staged\n",
					"data/conf/postfix/extra.cf":            "untracked\n",
				})
				f.git(t, "add", "mailcow.conf.example")
			},
			wantBranch: "master", wantSource: SourceReflog,
			wantOldTip: func(f *fixture) string { return f.c2 },
			wantBackup: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakeProc(t, nil, "")
			f := newFixture(t)
			tt.setup(t, f)
			head := f.git(t, "rev-parse", "HEAD")
			oldTip, _ := gittest.Run(f.dir, nil, "rev-parse", "-q", "--verify", "refs/heads/"+tt.wantBranch)
			if tt.wantOldTip != nil && oldTip != tt.wantOldTip(f) {
				t.Fatalf("setup: %s at %s, want %s", tt.wantBranch, oldTip, tt.wantOldTip(f))
			}
			status := f.git(t, "status", "--porcelain", "--untracked-files=all")
			index := readFile(t, filepath.Join(f.dir, ".git", "index"))
			work := snapshot(t, f.dir, true)

			r, err := RepairDetached(f.dir, RepairOptions{Branch: tt.branch, Now: repairAt})
			if err != nil {
				t.Fatal(err)
			}
			if !r.Changed || r.Branch != tt.wantBranch || r.Source != tt.wantSource || r.Head != head || r.OldTip != oldTip {
				t.Errorf("got changed %v branch %q source %q head %s old tip %s; want %q %q %s %s",
					r.Changed, r.Branch, r.Source, r.Head, r.OldTip, tt.wantBranch, tt.wantSource, head, oldTip)
			}
			if r.UpstreamSet != tt.wantUpstreamSet {
				t.Errorf("upstream set %v, want %v", r.UpstreamSet, tt.wantUpstreamSet)
			}

			// The index and work tree are untouched, byte for byte.
			if got := readFile(t, filepath.Join(f.dir, ".git", "index")); got != index {
				t.Error("the index changed")
			}
			diffSnapshots(t, "work tree", work, snapshot(t, f.dir, true))

			// The real git agrees.
			if got := f.git(t, "rev-parse", "--abbrev-ref", "HEAD"); got != tt.wantBranch {
				t.Errorf("git rev-parse --abbrev-ref HEAD = %q, want %q", got, tt.wantBranch)
			}
			if got := f.git(t, "rev-parse", tt.wantBranch); got != head {
				t.Errorf("%s at %s, want %s", tt.wantBranch, got, head)
			}
			if got := f.git(t, "status", "--porcelain", "--untracked-files=all"); got != status {
				t.Errorf("git status changed:\n%s\nwas:\n%s", got, status)
			}
			if got := f.git(t, "rev-parse", "--symbolic-full-name", "@{u}"); got != "refs/remotes/origin/"+tt.wantBranch {
				t.Errorf("@{u} = %q", got)
			}
			if out, err := gittest.Run(f.dir, nil, "fsck", "--no-progress", "--strict"); err != nil || out != "" {
				t.Errorf("git fsck: %q %v", out, err)
			}
			if got := f.git(t, "reflog", "-1", "--format=%gs", "HEAD"); got != "mcupdate: repair detached HEAD: moving from "+head+" to "+tt.wantBranch {
				t.Errorf("HEAD reflog: %q", got)
			}
			if oldTip != head {
				if got := f.git(t, "reflog", "-1", "--format=%H %gs", tt.wantBranch); !strings.HasPrefix(got, head+" mcupdate: repair detached HEAD: ") {
					t.Errorf("%s reflog: %q", tt.wantBranch, got)
				}
			}

			backup := "refs/mcupdate/backup/" + tt.wantBranch + backupSuffix
			if tt.wantBackup {
				if r.Backup != backup {
					t.Errorf("backup %q, want %q", r.Backup, backup)
				}
				if got := f.git(t, "rev-parse", backup); got != oldTip {
					t.Errorf("backup at %s, want the old tip %s", got, oldTip)
				}
				if !strings.Contains(strings.Join(r.Actions, "\n"), "kept the old tip "+oldTip[:12]) {
					t.Errorf("actions do not mention the backup: %q", r.Actions)
				}
			} else {
				if r.Backup != "" {
					t.Errorf("backup %q, want none", r.Backup)
				}
				if out, _ := gittest.Run(f.dir, nil, "for-each-ref", "refs/mcupdate/"); out != "" {
					t.Errorf("unexpected refs: %s", out)
				}
			}

			// A second run finds nothing to do.
			again, err := RepairDetached(f.dir, RepairOptions{Branch: tt.branch, Now: repairAt})
			if err != nil || again.Changed {
				t.Errorf("second run: changed %v, %v", again != nil && again.Changed, err)
			}
			st, err := Inspect(f.dir)
			if err != nil || !st.OK() {
				t.Errorf("after repair: %v %+v", err, st)
			}
		})
	}
}

func TestRepairDryRunWritesNothing(t *testing.T) {
	fakeProc(t, nil, "")
	f := newFixture(t)
	f.git(t, "branch", "--unset-upstream")
	f.git(t, "checkout", "-q", "v1")
	before := snapshot(t, f.dir, false)
	r, err := RepairDetached(f.dir, RepairOptions{DryRun: true, Now: repairAt})
	if err != nil {
		t.Fatal(err)
	}
	diffSnapshots(t, "checkout", before, snapshot(t, f.dir, false))
	if got := f.git(t, "rev-parse", "--abbrev-ref", "HEAD"); got != "HEAD" {
		t.Errorf("HEAD moved to %s in a dry run", got)
	}
	git := filepath.Join(f.dir, ".git")
	want := []string{
		filepath.Join(git, "refs/mcupdate/backup/master"+backupSuffix),
		filepath.Join(git, "refs/heads/master"),
		filepath.Join(git, "logs/refs/heads/master"),
		filepath.Join(git, "config"),
		filepath.Join(git, "HEAD"),
		filepath.Join(git, "logs/HEAD"),
	}
	if !reflect.DeepEqual(r.Writes, want) {
		t.Errorf("writes:\n got %q\nwant %q", r.Writes, want)
	}
	if !r.DryRun || !r.Changed || !r.UpstreamSet || r.Backup == "" || len(r.Actions) != 4 {
		t.Errorf("got %+v", r)
	}
}

func TestRepairThroughSystem(t *testing.T) {
	fakeProc(t, nil, "")
	f := newFixture(t)
	f.git(t, "checkout", "-q", "v1")
	before := snapshot(t, f.dir, false)

	// The check system refuses the first write: nothing may have changed.
	_, err := RepairDetached(f.dir, RepairOptions{System: fsx.Check{}, Now: repairAt})
	if !errors.Is(err, fsx.ErrWriteRefused) {
		t.Fatalf("error %v, want ErrWriteRefused", err)
	}
	diffSnapshots(t, "checkout", before, snapshot(t, f.dir, false))

	// The recorder gets the exact bytes the real run writes.
	rec := &fsx.Recorder{}
	if _, err := RepairDetached(f.dir, RepairOptions{System: rec, Now: repairAt}); err != nil {
		t.Fatal(err)
	}
	data, err := rec.ReadFile(filepath.Join(f.dir, ".git", "HEAD"))
	if err != nil || string(data) != "ref: refs/heads/master\n" {
		t.Errorf("HEAD would hold %q (%v)", data, err)
	}
	data, _ = rec.ReadFile(filepath.Join(f.dir, ".git", "logs", "HEAD"))
	last := strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
	want := f.c1 + " " + f.c1 + " mcupdate <mcupdate@localhost> 1783991045 +0200\tmcupdate: repair detached HEAD: moving from " + f.c1 + " to master"
	if got := last[len(last)-1]; got != want {
		t.Errorf("HEAD reflog line:\n got %q\nwant %q", got, want)
	}
}

func TestRepairNotDetached(t *testing.T) {
	fakeProc(t, nil, "")
	f := newFixture(t)
	before := snapshot(t, f.dir, false)
	r, err := RepairDetached(f.dir, RepairOptions{Now: repairAt})
	if err != nil {
		t.Fatal(err)
	}
	if r.Changed || len(r.Writes) != 0 || r.State == nil || r.State.Branch != "master" {
		t.Errorf("got %+v", r)
	}
	diffSnapshots(t, "checkout", before, snapshot(t, f.dir, false))
}

func TestRepairRefusedAndErrors(t *testing.T) {
	at := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		setup  func(t *testing.T, f *fixture)
		procs  map[int]string
		branch string
		want   error
		kinds  []Kind // for ErrRefused
		msg    string // substring of the error
		ok     bool   // the repair succeeds
	}{
		{
			name: "merge in progress",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "checkout", "-q", "v1")
				gittest.Commit(t, f.dir, "local", map[string]string{"local.txt": "x\n"})
				f.git(t, "merge", "-q", "--no-ff", "--no-commit", "origin/master")
			},
			want:  ErrRefused,
			kinds: []Kind{KindMergeInProgress},
			msg:   "a merge is in progress: finish it with `git commit` or abort it with `git merge --abort`",
		},
		{
			name: "merge conflict while detached",
			setup: func(t *testing.T, f *fixture) {
				conflict(t, f)
				f.git(t, "merge", "--abort")
				f.git(t, "checkout", "-q", "--detach")
				if _, err := gittest.Run(f.dir, nil, "merge", "origin/master"); err == nil {
					t.Fatal("no conflict")
				}
			},
			want:  ErrRefused,
			kinds: []Kind{KindMergeInProgress, KindUnmerged},
			msg:   "unmerged paths: data/conf/phpfpm/php-fpm.d/pools.conf, mailcow.conf.example",
		},
		{
			name: "unmerged index while detached",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "checkout", "-q", "--detach")
				gittest.WriteFiles(t, f.dir, map[string]string{"mailcow.conf.example": "FTS_HEAP=512\n"})
				f.git(t, "stash", "-q")
				gittest.Commit(t, f.dir, "local", map[string]string{"mailcow.conf.example": "FTS_HEAP=1024\n"})
				if _, err := gittest.Run(f.dir, nil, "stash", "pop", "-q"); err == nil {
					t.Fatal("stash pop did not conflict")
				}
			},
			want:  ErrRefused,
			kinds: []Kind{KindUnmerged},
		},
		{
			name: "rebase stopped on a conflict",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "checkout", "-q", "-b", "local", "v1")
				gittest.Commit(t, f.dir, "local", map[string]string{"data/conf/phpfpm/php-fpm.d/pools.conf": "mine\n"})
				if _, err := gittest.Run(f.dir, nil, "rebase", "master"); err == nil {
					t.Fatal("rebase did not stop")
				}
			},
			want:  ErrRefused,
			kinds: []Kind{KindOperation, KindUnmerged},
			msg:   "a rebase is in progress",
		},
		{
			name: "index.lock held by a running git",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "checkout", "-q", "v1")
				makeStale(t, filepath.Join(f.dir, ".git", "index.lock"), at, time.Second)
			},
			procs: map[int]string{321: "git"},
			want:  ErrRefused,
			kinds: []Kind{KindIndexLock},
			msg:   "git is running (pid 321)",
		},
		{
			name: "stale index.lock does not stop the repair",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "checkout", "-q", "v1")
				makeStale(t, filepath.Join(f.dir, ".git", "index.lock"), at, 3*time.Hour)
			},
			ok: true,
		},
		{
			name: "HEAD.lock",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "checkout", "-q", "v1")
				makeStale(t, filepath.Join(f.dir, ".git", "HEAD.lock"), at, time.Minute)
			},
			want: ErrLocked,
			msg:  ".git/HEAD.lock: locked by git: another git command may be running; if none is, remove it with `rm .git/HEAD.lock`",
		},
		{
			name: "no master and no reflog",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "checkout", "-q", "-b", "main")
				f.git(t, "branch", "-D", "master")
				f.git(t, "update-ref", "-d", "refs/remotes/origin/master")
				f.git(t, "update-ref", "-d", "refs/remotes/origin/HEAD")
				f.git(t, "checkout", "-q", "--detach")
				if err := os.Remove(filepath.Join(f.dir, ".git", "logs", "HEAD")); err != nil {
					t.Fatal(err)
				}
			},
			want: ErrNoBranch,
			msg:  "set `branch` in the [general] section of mcupdate.ini",
		},
		{
			name: "reflog names a deleted branch only",
			setup: func(t *testing.T, f *fixture) {
				f.git(t, "checkout", "-q", "-b", "tmp")
				f.git(t, "checkout", "-q", "--detach")
				f.git(t, "branch", "-D", "tmp", "master")
				f.git(t, "update-ref", "-d", "refs/remotes/origin/master")
			},
			want: ErrNoBranch,
		},
		{
			name:   "invalid branch in the config",
			setup:  func(t *testing.T, f *fixture) { f.git(t, "checkout", "-q", "v1") },
			branch: "mas ter",
			want:   ErrInvalidBranch,
			msg:    "branch from [general] branch: invalid branch name \"mas ter\"",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fixNow(t, at)
			f := newFixture(t)
			fakeProc(t, tt.procs, f.dir)
			tt.setup(t, f)
			before := snapshot(t, f.dir, false)
			r, err := RepairDetached(f.dir, RepairOptions{Branch: tt.branch})
			if tt.ok {
				if err != nil || !r.Changed {
					t.Fatalf("repair: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if tt.kinds != nil {
				var re *RefusedError
				if !errors.As(err, &re) {
					t.Fatalf("%v is not a *RefusedError", err)
				}
				var kinds []Kind
				for _, p := range re.Problems {
					kinds = append(kinds, p.Kind)
				}
				if !reflect.DeepEqual(kinds, tt.kinds) {
					t.Errorf("kinds %v, want %v", kinds, tt.kinds)
				}
			}
			diffSnapshots(t, "checkout", before, snapshot(t, f.dir, false))
		})
	}
}

// TestRepairWriteFailure injects a failure on the HEAD write: the branch
// and backup written before it stay, HEAD stays detached, and a rerun
// finishes the job.
func TestRepairWriteFailure(t *testing.T) {
	fakeProc(t, nil, "")
	f := newFixture(t)
	f.git(t, "checkout", "-q", "v1")
	sys := &failOn{System: fsx.Real{}, name: filepath.Join(f.dir, ".git", "HEAD")}
	_, err := RepairDetached(f.dir, RepairOptions{System: sys, Now: repairAt})
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("error %v", err)
	}
	if got := f.git(t, "rev-parse", "--abbrev-ref", "HEAD"); got != "HEAD" {
		t.Fatalf("HEAD is %s after a failed write", got)
	}
	if got := f.git(t, "rev-parse", "refs/mcupdate/backup/master"+backupSuffix); got != f.c2 {
		t.Errorf("backup at %s, want %s", got, f.c2)
	}
	r, err := RepairDetached(f.dir, RepairOptions{Now: repairAt})
	if err != nil {
		t.Fatal(err)
	}
	if r.Backup != "" || r.OldTip != f.c1 {
		t.Errorf("rerun: backup %q old tip %s", r.Backup, r.OldTip)
	}
	if got := f.git(t, "rev-parse", "--abbrev-ref", "HEAD"); got != "master" {
		t.Errorf("HEAD is %s after the rerun", got)
	}
}

var errDiskFull = errors.New("no space left on device")

type failOn struct {
	fsx.System
	name string
}

func (s *failOn) WriteFile(name string, data []byte, perm fs.FileMode) error {
	if name == s.name {
		return &fs.PathError{Op: "write", Path: name, Err: errDiskFull}
	}
	return s.System.WriteFile(name, data, perm)
}

func TestRepairBackupNameTaken(t *testing.T) {
	fakeProc(t, nil, "")
	f := newFixture(t)
	f.git(t, "checkout", "-q", "v1")
	// A backup of another tip made in the same second.
	f.git(t, "update-ref", "refs/mcupdate/backup/master"+backupSuffix, f.c1)
	r, err := RepairDetached(f.dir, RepairOptions{Now: repairAt})
	if err != nil {
		t.Fatal(err)
	}
	want := "refs/mcupdate/backup/master" + backupSuffix + "-2"
	if r.Backup != want || f.git(t, "rev-parse", want) != f.c2 {
		t.Errorf("backup %q", r.Backup)
	}
}

func TestRepairLogAllRefUpdatesOff(t *testing.T) {
	fakeProc(t, nil, "")
	f := newFixture(t)
	f.git(t, "config", "core.logAllRefUpdates", "false")
	f.git(t, "config", "user.name", "Admin")
	f.git(t, "config", "user.email", "admin@example.org")
	f.git(t, "checkout", "-q", "-b", "fresh", "v1")
	f.git(t, "checkout", "-q", "--detach")
	f.git(t, "branch", "-D", "fresh")
	if _, err := RepairDetached(f.dir, RepairOptions{Branch: "fresh", Now: repairAt}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.dir, ".git", "logs", "refs", "heads", "fresh")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("reflog of fresh created with core.logAllRefUpdates=false: %v", err)
	}
	if got := f.git(t, "rev-parse", "--abbrev-ref", "HEAD"); got != "fresh" {
		t.Errorf("HEAD is %s", got)
	}
	// The repository's identity signs the reflog entry.
	if got := f.git(t, "reflog", "-1", "--format=%gn <%ge>", "HEAD"); got != "Admin <admin@example.org>" {
		t.Errorf("reflog identity %q", got)
	}
}
