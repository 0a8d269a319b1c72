package hook

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fixture"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
	"github.com/mcupdate/mcupdate/cmd/internal/updatesh"
)

// TestPredictionComesTrue takes the fixtures' install through every
// release, as a server that took each update: at each, the pre hook's
// prediction of every customization's outcome must equal what the post
// hook then finds, release by release, with the admin's patches enabled
// (some customizations protected, some not) — and the prediction must
// leave the install exactly as it was.
func TestPredictionComesTrue(t *testing.T) {
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
	var out bytes.Buffer
	newEnv := hookTestEnv(t, root, inst, cfg, &out)
	t.Setenv("PATH", fakeDockerDir(t)+string(os.PathListSeparator)+os.Getenv("PATH"))
	ctx := context.Background()
	losses := 0
	for _, tag := range tags[1:] {
		out.Reset()
		// update.sh fetched the release before its pre hook runs.
		gittest.Git(t, inst, "update-ref", "refs/remotes/origin/master", gittest.Git(t, inst, "rev-parse", tag+"^{commit}"))
		before := worktreeState(t, inst)
		pre, _ := Pre(ctx, newEnv())
		if pre == nil || pre.Prediction == nil {
			t.Fatalf("%s: no prediction:\n%s", tag, out.String())
		}
		if after := worktreeState(t, inst); after != before {
			t.Fatalf("%s: the prediction changed the install:\n%s\n---\n%s", tag, before, after)
		}
		predicted := outcomes(pre.Prediction.Results)
		res, err := updatesh.Run(inst, updatesh.Options{Target: "origin/master", Date: tag, Env: gittest.Env()})
		if err != nil {
			t.Fatalf("%s: update.sh's steps: %v (%+v)", tag, err, res)
		}
		if _, err := Post(ctx, newEnv(), PostOptions{NoRestart: true}); err != nil {
			t.Logf("%s: post hook: %v", tag, err)
		}
		var rr struct {
			Custom []ledger.Result `json:"customizations"`
		}
		b, err := os.ReadFile(filepath.Join(root, "state", RiskFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rr); err != nil {
			t.Fatal(err)
		}
		actual := outcomes(rr.Custom)
		if predicted != actual {
			t.Errorf("%s: predicted\n%s\nbut the post hook found\n%s\noutput:\n%s", tag, predicted, actual, out.String())
		}
		losses += strings.Count(actual, " lost") + strings.Count(actual, " deleted")
		t.Logf("%s: %d customizations: %s", tag, len(rr.Custom), strings.ReplaceAll(actual, "\n", "; "))
	}
	if losses == 0 {
		t.Fatal("no release lost anything: the test no longer checks a predicted loss")
	}
}

// hookTestEnv returns a maker of the hooks' environment for tests: cfg
// with restarts off, a daemon.json that passes, the state dir and scratch
// repositories in root, the output in out, a clock a minute further at
// every call.
func hookTestEnv(t *testing.T, root, inst string, cfg *config.Config, out *bytes.Buffer) func() *Env {
	t.Helper()
	cfg.Restart = false
	dj := filepath.Join(root, "daemon.json")
	if err := os.WriteFile(dj, []byte(`{"ipv6": true, "fixed-cidr-v6": "fd00:dead:beef:c0::/80"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	return func() *Env {
		return &Env{
			MailcowDir: inst, Config: cfg, State: state.Dir{Path: filepath.Join(root, "state")}, DaemonJSON: dj,
			Sys: fsx.Real{}, UI: ui.New(out, out, os.Getenv), TempDir: root,
			Now: func() time.Time { now = now.Add(time.Minute); return now },
		}
	}
}

func outcomes(rs []ledger.Result) string {
	var lines []string
	for _, r := range rs {
		lines = append(lines, r.Block.ID+" "+r.Block.File+" "+string(r.Outcome))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// worktreeState is git's view of the install: HEAD, the index and the
// work tree's changes, and the objects count.
func worktreeState(t *testing.T, dir string) string {
	t.Helper()
	idx, err := os.ReadFile(filepath.Join(dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	objs := gittest.Git(t, dir, "count-objects")
	return gittest.Git(t, dir, "rev-parse", "HEAD") + "\n" + gittest.Git(t, dir, "status", "--porcelain", "--ignored") + "\n" + objs + "\n" + string(rune(len(idx)))
}

// fakeDockerDir holds a docker that answers `docker version` and accepts
// everything else.
func fakeDockerDir(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	script := "#!/bin/sh\nif [ \"$1\" = version ]; then echo 28.2.2; fi\nexit 0\n"
	if err := os.WriteFile(filepath.Join(bin, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}
