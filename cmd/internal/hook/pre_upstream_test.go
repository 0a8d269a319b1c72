package hook

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
	"github.com/mcupdate/mcupdate/cmd/internal/updatesh"
)

// upstreamCase is an install whose upstream, already fetched, adds files;
// setup puts the work tree in the state update.sh finds it in.
type upstreamCase struct {
	name string
	// adds is what the upstream commit writes.
	adds map[string]string
	// local, when set, is committed on the install first (so the merge is
	// a real merge, not a fast-forward).
	local map[string]string
	setup func(t *testing.T, dir string)
	// wantStop is what the hook must decide; the test also checks that
	// it is exactly what update.sh's own steps, run without the hook,
	// make of the same install (a stop exactly when update.sh would fail).
	wantStop bool
}

func upstreamCases() []upstreamCase {
	write := func(files map[string]string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) { gittest.WriteFiles(t, dir, files) }
	}
	return []upstreamCase{
		{
			// update.sh of 2025-09 and later runs
			// `git checkout origin/master -- _modules` before the hook:
			// the files are staged, and its "Before update" commit takes
			// them (the 2025-08 modules split, issue 20).
			name: "staged modules",
			adds: map[string]string{"_modules/scripts/core.sh": "core\n", "_modules/scripts/new_options.sh": "opts\n"},
			setup: func(t *testing.T, dir string) {
				gittest.Git(t, dir, "checkout", "origin/master", "--", "_modules")
			},
		},
		{
			name:     "staged modules, with local commits",
			adds:     map[string]string{"_modules/scripts/core.sh": "core\n"},
			local:    map[string]string{"data/conf/postfix/main.cf": "main\nmy_line = 1\n"},
			setup:    func(t *testing.T, dir string) { gittest.Git(t, dir, "checkout", "origin/master", "--", "_modules") },
			wantStop: false,
		},
		{
			name:     "untracked, same content",
			adds:     map[string]string{"data/conf/postfix/custom_transport.pcre": "x\n"},
			setup:    write(map[string]string{"data/conf/postfix/custom_transport.pcre": "x\n"}),
			wantStop: true,
		},
		{
			name:     "untracked, with local commits",
			adds:     map[string]string{"data/conf/postfix/custom_transport.pcre": "x\n"},
			local:    map[string]string{"data/conf/postfix/main.cf": "main\nmy_line = 1\n"},
			setup:    write(map[string]string{"data/conf/postfix/custom_transport.pcre": "mine\n"}),
			wantStop: true,
		},
		{
			name:     "untracked file where upstream adds a directory",
			adds:     map[string]string{"data/conf/extra/a.conf": "a\n"},
			setup:    write(map[string]string{"data/conf/extra": "mine\n"}),
			wantStop: true,
		},
		{
			name:     "untracked files in a directory where upstream adds a file",
			adds:     map[string]string{"data/conf/thing": "a\n"},
			setup:    write(map[string]string{"data/conf/thing/mine.conf": "mine\n"}),
			wantStop: true,
		},
		{
			name: "ignored file upstream starts tracking",
			adds: map[string]string{"data/conf/rspamd/override.d/new.conf": "up\n"},
			setup: write(map[string]string{
				"data/conf/rspamd/override.d/new.conf": "mine\n",
			}),
		},
		{
			name:  "unrelated untracked file",
			adds:  map[string]string{"data/conf/postfix/custom_transport.pcre": "x\n"},
			setup: write(map[string]string{"data/conf/postfix/my_own.pcre": "mine\n"}),
		},
		{
			name:  "untracked file upstream does not add",
			adds:  map[string]string{"README.md": "readme v2\n"},
			setup: write(map[string]string{"data/conf/postfix/custom_transport.pcre": "mine\n"}),
		},
	}
}

// TestUpstreamStepAgreesWithUpdateSh runs, for each case, update.sh's real
// git steps on one copy of the install (no hook) and the hook's upstream
// step on another: the hook stops update.sh exactly when update.sh alone
// would fail or silently not update, never when it would complete.
func TestUpstreamStepAgreesWithUpdateSh(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	for _, tc := range upstreamCases() {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			up := filepath.Join(root, "upstream")
			gittest.Init(t, up)
			gittest.Commit(t, up, "mailcow 2026-01", map[string]string{
				".gitignore":                "data/conf/rspamd/override.d/*\n",
				"README.md":                 "readme\n",
				"data/conf/postfix/main.cf": "main\n",
			})
			var installs [2]string
			for i, name := range []string{"alone", "hooked"} {
				installs[i] = filepath.Join(root, name)
				gittest.Git(t, root, "clone", "-q", up, name)
			}
			gittest.Commit(t, up, "mailcow 2026-03", tc.adds)
			var heads [2]string
			for i, dir := range installs {
				if tc.local != nil {
					gittest.Commit(t, dir, "admin's edit", tc.local)
				}
				gittest.Git(t, dir, "fetch", "-q", "origin")
				tc.setup(t, dir)
				heads[i] = gittest.Git(t, dir, "rev-parse", "HEAD")
			}

			// update.sh alone.
			upHead := gittest.Git(t, up, "rev-parse", "HEAD")
			res, err := updatesh.Run(installs[0], updatesh.Options{Target: "origin/master", Date: "2026-03-01_00_00_00", Env: gittest.Env()})
			completes := err == nil && isAncestor(t, installs[0], upHead, "HEAD")
			if res != nil {
				t.Logf("update.sh alone: merge exit %d, aborted %v, err %v: %s", res.MergeExit, res.Aborted, err, res.Output)
			}

			// The hook.
			env := &Env{MailcowDir: installs[1], UI: ui.New(io.Discard, io.Discard, os.Getenv)}
			s, err := stepUpstream(context.Background(), env, &preState{head: heads[1], branch: "master"})
			t.Logf("hook: %s %s %v", s.Status, s.Message, s.Details)
			if s.Danger != tc.wantStop || (err != nil) != tc.wantStop {
				t.Errorf("hook stops update.sh: %v (err %v), want %v", s.Danger, err, tc.wantStop)
			}
			if completes == tc.wantStop {
				t.Errorf("update.sh alone completes: %v, but the case expects a stop %v: the hook must stop exactly the updates update.sh cannot complete", completes, tc.wantStop)
			}
		})
	}
}

func isAncestor(t *testing.T, dir, a, b string) bool {
	t.Helper()
	_, err := gittest.Run(dir, nil, "merge-base", "--is-ancestor", a, b)
	return err == nil
}

// TestUpstreamStepUnsure: when git cannot answer, the step warns and does
// not stop update.sh.
func TestUpstreamStepUnsure(t *testing.T) {
	dir := t.TempDir()
	gittest.Init(t, dir)
	gittest.Commit(t, dir, "one", map[string]string{"a": "a\n"})
	head := gittest.Git(t, dir, "rev-parse", "HEAD")
	gittest.Git(t, dir, "update-ref", "refs/remotes/origin/master", head)
	// origin/master now names a commit whose objects are gone.
	if err := os.WriteFile(filepath.Join(dir, ".git", "refs", "remotes", "origin", "master"), []byte("1111111111111111111111111111111111111111\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := &Env{MailcowDir: dir, UI: ui.New(io.Discard, io.Discard, os.Getenv)}
	s, err := stepUpstream(context.Background(), env, &preState{head: head, branch: "master"})
	if err != nil || s.Danger {
		t.Fatalf("a step that cannot tell stopped update.sh: %v %+v", err, s)
	}
	if s.Status != StatusWarning && s.Status != StatusSkipped {
		t.Fatalf("status %s, want a warning or skip: %s", s.Status, s.Message)
	}
}
