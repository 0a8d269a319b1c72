package hook

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
)

// TestRevertEveryShippedPatch: on a real release with every shipped patch
// enabled and applied, and an edit of the admin's own in a file the
// patches edit too, Revert leaves the tracked files as `git status` and
// `git diff` showed them before mcupdate, removes the map file a patch
// created, and a second Revert changes nothing.
func TestRevertEveryShippedPatch(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("twig-cache-perms changes an owner: needs root")
	}
	up := clobberUpstreamDir(t)
	release := readRelease(t, up)
	lib, err := patch.Library()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	upDir := filepath.Join(root, "upstream")
	gittest.Init(t, upDir)
	gittest.WriteFiles(t, upDir, release)
	gittest.Git(t, upDir, "add", "-A", "-f")
	gittest.Git(t, upDir, "commit", "-q", "-m", clobberTag)
	dir := filepath.Join(root, "mailcow")
	gittest.Git(t, root, "clone", "-q", upDir, dir)
	gittest.WriteFiles(t, dir, adminFiles)
	// The admin's own edit, before mcupdate, in a file patches edit too.
	pools := filepath.Join(dir, "data/conf/phpfpm/php-fpm.d/pools.conf")
	data, err := os.ReadFile(pools)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 {
		t.Fatal("pools.conf is empty")
	}
	data = append([]byte("; the admin's note, before mcupdate\n"), data...)
	if err := os.WriteFile(pools, data, 0o644); err != nil {
		t.Fatal(err)
	}
	state := func() string {
		return gittest.Git(t, dir, "status", "--porcelain", "--untracked-files=no") + "\n" + gittest.Git(t, dir, "diff")
	}
	before := state()

	var out bytes.Buffer
	env := clobberEnv(t, root, dir, "docker", "", nil, &out)
	env.Config.Enabled = patch.Names(lib)
	delete(env.Config.Params, "")
	for _, n := range env.Config.Enabled {
		if p := clobberCases[n].params; p != nil {
			env.Config.Params[n] = p
		}
	}
	env.Config.Restart = false
	if _, err := Apply(context.Background(), env, PostOptions{NoRestart: true}); err != nil {
		t.Fatalf("apply: %v\n%s", err, out.String())
	}
	if state() == before {
		t.Fatal("the patches changed no tracked file")
	}
	mapFile := filepath.Join(dir, "data/conf/rspamd/custom/mcupdate_local_addrs.map")
	if _, err := os.Stat(mapFile); err != nil {
		t.Fatalf("rspamd-local-addrs created no map file: %v", err)
	}

	out.Reset()
	r, err := Revert(context.Background(), env)
	if err != nil {
		t.Fatalf("revert: %v\n%s", err, out.String())
	}
	if after := state(); after != before {
		t.Errorf("tracked files after the revert differ from before mcupdate:\nbefore:\n%s\nafter:\n%s\noutput:\n%s", before, after, out.String())
	}
	if _, err := os.Stat(mapFile); !os.IsNotExist(err) {
		t.Errorf("the patch's map file is still there: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "data/conf/postfix/extra.cf")); string(got) != adminFiles["data/conf/postfix/extra.cf"] {
		t.Errorf("extra.cf after the revert:\n%s\nwant the admin's:\n%s", got, adminFiles["data/conf/postfix/extra.cf"])
	}
	if !strings.Contains(out.String(), "left in place: patch twig-cache-perms") {
		t.Errorf("the mode edit is not named:\n%s", out.String())
	}
	if r.Steps[0].Status == StatusOK {
		t.Errorf("revert step %+v", r.Steps[0])
	}
	// Again: nothing left to take out.
	out.Reset()
	r, err = Revert(context.Background(), env)
	if err != nil || strings.Contains(out.String(), "reverted ") || r.Steps[0].Status == StatusChanged {
		t.Errorf("second revert: %v\n%s", err, out.String())
	}
}
