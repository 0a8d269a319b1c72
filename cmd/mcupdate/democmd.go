package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fixture"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/hook"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
	"github.com/mcupdate/mcupdate/cmd/internal/udiff"
	"github.com/mcupdate/mcupdate/cmd/internal/updatesh"
)

const demoHelp = `Show the whole update cycle on the fixtures built into mcupdate, with
no mailcow install and no Docker: an admin's customized mailcow at one
release, the pre hook, update.sh's own git steps to the next release
(commit "Before update", git merge -Xtheirs -Xpatience), what the merge
silently dropped, the post hook, and what came back. Everything happens
in a temporary directory, removed at the end unless --keep.`

func runDemoCmd(ctx context.Context, a *app, args []string) error {
	fs := a.flags("demo")
	keep := fs.Bool("keep", false, "keep the temporary directory and print its path")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("demo takes no arguments")
	}
	root, err := os.MkdirTemp(a.getenv("TMPDIR"), "mcupdate-demo-")
	if err != nil {
		return err
	}
	if *keep {
		defer a.ui.Printf("\nThe demo's files are in %s", root)
	} else {
		defer os.RemoveAll(root)
	}
	return a.demo(ctx, root)
}

// demoLine is one customization the demo follows through the update.
type demoLine struct {
	file, line string
}

func (a *app) demo(ctx context.Context, root string) error {
	u := a.ui
	tags := fixture.Tags()
	from, to := tags[0], tags[1]
	dir := filepath.Join(root, "mailcow")
	override := filepath.Join(dir, "docker-compose.override.yml")
	step := func(n int, format string, args ...any) {
		u.Printf("\n%s", u.Bold(fmt.Sprintf("%d. ", n)+fmt.Sprintf(format, args...)))
	}

	u.Printf("%s", u.Bold("mcupdate demo: one mailcow update, with and without mcupdate"))
	u.Printf("(fixtures built into mcupdate; no mailcow, no Docker; working in %s)", root)

	step(1, "An admin's mailcow at release %s, customized in place", from)
	env, custom, err := a.demoInstall(root, from, to)
	if err != nil {
		return err
	}

	step(2, "./update.sh starts and runs pre_update_hook.sh: mcupdate hook pre")
	if _, err := hook.Pre(ctx, env); err != nil {
		return err
	}

	step(3, "update.sh updates to %s: git commit \"Before update\", git merge -Xtheirs -Xpatience", to)
	wasLost, lost, err := a.demoUpdate(dir, to, override, custom)
	if err != nil {
		return err
	}

	step(4, "update.sh ends with post_update_hook.sh: mcupdate hook post")
	if _, err := hook.Post(ctx, env, hook.PostOptions{NoRestart: true}); err != nil {
		u.Warnf("the post hook reported problems: see above")
	}

	step(5, "What came back (+), what the merge kept (=), what is still lost (!)")
	a.demoOutcome(dir, override, custom, wasLost, lost)
	u.Printf("\nNext: install.sh --mailcow-dir /opt/mailcow-dockerized puts the hooks in place (README.md).")
	return nil
}

// demoInstall builds, under root, upstream's repository up to release
// to and an admin's customized mailcow at release from, prints the
// customizations, and returns the hooks' environment for it.
func (a *app) demoInstall(root, from, to string) (*hook.Env, []demoLine, error) {
	u := a.ui
	up, dir := filepath.Join(root, "upstream"), filepath.Join(root, "mailcow")
	if err := fixture.BuildUpstream(up, to); err != nil {
		return nil, nil, err
	}
	if err := fixture.BuildInstall(dir, up, from); err != nil {
		return nil, nil, err
	}
	// The demo's mailcow.conf holds (fake) secrets like a real one.
	secrets := a.learnSecrets(dir)
	cfg, err := config.Parse("mcupdate.ini (demo)", fixture.AdminConfig())
	if err != nil {
		return nil, nil, err
	}
	// No Docker here: say what would restart instead of restarting it.
	cfg.Restart = false
	cfg.DockerTimeout = 2 * time.Second
	custom, err := demoCustomizations(from)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range custom {
		u.Printf("   %-45s %s", c.file, c.line)
	}
	u.Printf("   mcupdate.ini enables: %s", strings.Join(cfg.Enabled, " "))
	daemon := filepath.Join(root, "etc", "docker", "daemon.json")
	if err := os.MkdirAll(filepath.Dir(daemon), 0o755); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(daemon, []byte(`{"log-driver": "local"}`+"\n"), 0o644); err != nil {
		return nil, nil, err
	}
	env := &hook.Env{
		MailcowDir: dir, Config: cfg, State: state.Dir{Path: filepath.Join(root, "state")},
		DaemonJSON: daemon, Sys: fsx.Real{}, UI: u, Now: time.Now, Secrets: secrets,
		TempDir: a.getenv("TMPDIR"),
	}
	return env, custom, nil
}

// demoUpdate does update.sh's git steps to release to in dir, empties
// the override file as old update.sh releases could, and prints and
// returns the customizations the update lost and their number (the
// override file is counted apart).
func (a *app) demoUpdate(dir, to, override string, custom []demoLine) (wasLost map[demoLine]bool, lost int, err error) {
	u := a.ui
	res, err := updatesh.Run(dir, updatesh.Options{Target: to, Date: time.Now().Format("2006-01-02_15_04_05"), Env: demoGitEnv()})
	if err != nil {
		return nil, 0, err
	}
	u.Printf("   merge exit %d; HEAD is now %q", res.MergeExit, "After update on …")
	// Simulated, and said so: update.sh releases before the 2025-08
	// modules split removed an ipv6nat-mailcow section from the override
	// with sed -i '/ipv6nat-mailcow:$/,/^$/d', which deletes to the end
	// of the file when no blank line follows.
	if err := os.WriteFile(override, nil, 0o644); err != nil {
		return nil, 0, err
	}
	u.Printf("   the demo then empties docker-compose.override.yml, as update.sh releases before 2025-08 could")
	u.Printf("   (their sed -i '/ipv6nat-mailcow:$/,/^$/d' deleted to the end of the file when no blank line followed)")
	u.Printf("   %s", u.Yellow("What the update silently dropped (upstream wins every conflict):"))
	wasLost = map[demoLine]bool{}
	for _, c := range custom {
		if ok, where := demoHas(dir, c); !ok || where != c.file {
			lost++
			wasLost[c] = true
			u.Printf("   %s %-43s %s", u.Red("-"), c.file, c.line)
		}
	}
	u.Printf("   %s %-43s %s", u.Red("-"), "docker-compose.override.yml", "(emptied)")
	u.Printf("   %d of %d customizations lost. Without mcupdate the server now runs like that.", lost+1, len(custom)+1)
	return wasLost, lost, nil
}

// demoOutcome prints, after the post hook, which of the customizations
// came back, which the merge kept and which are still lost; lost is the
// number the update lost.
func (a *app) demoOutcome(dir, override string, custom []demoLine, wasLost map[demoLine]bool, lost int) {
	u := a.ui
	back, kept := 0, 0
	for _, c := range custom {
		ok, where := demoHas(dir, c)
		switch {
		case ok && !wasLost[c]:
			kept++
			u.Printf("   = %-43s %s", c.file, c.line)
		case ok:
			back++
			note := ""
			if where != c.file {
				note = "  (in " + where + ", which overrides it)"
			}
			u.Printf("   %s %-43s %s%s", u.Green("+"), c.file, c.line, note)
		default:
			u.Printf("   %s %-43s %s  (no patch covers it: the risk diff above flags it, verify fails until it is back)", u.Red("!"), c.file, c.line)
		}
	}
	if data, err := os.ReadFile(override); err == nil && len(data) > 0 {
		back++
		u.Printf("   %s %-43s %s", u.Green("+"), "docker-compose.override.yml", "(restored from the snapshot)")
	}
	u.Printf("   %d of %d lost customizations are back, %d were kept; restarts a real run does are listed under \"restart\".", back, lost+1, kept)
}

// demoCustomizations lists, for each tracked file the admin edited, the
// lines the admin added to upstream's version.
func demoCustomizations(from string) ([]demoLine, error) {
	var out []demoLine
	for _, f := range fixture.TrackedEdits() {
		mine, err := fixture.File("admin/tracked/" + f)
		if err != nil {
			return nil, err
		}
		theirs, _ := fixture.File("upstream/" + from + "/" + f)
		for _, h := range udiff.Hunks(string(theirs), string(mine)) {
			for _, l := range h.Lines {
				if strings.HasPrefix(l, "+") && strings.TrimSpace(l[1:]) != "" {
					out = append(out, demoLine{file: f, line: strings.TrimSpace(l[1:])})
				}
			}
		}
	}
	return out, nil
}

// demoOverrides are the files mailcow reads after a tracked file, so a
// setting there wins: the message-size-limit patch writes postfix's
// extra.cf, not main.cf.
var demoOverrides = map[string]string{"data/conf/postfix/main.cf": "data/conf/postfix/extra.cf"}

// demoHas reports whether the customization is in effect: its line is in
// its file, or in the file that overrides it (where is that file then).
func demoHas(dir string, c demoLine) (ok bool, where string) {
	for _, f := range []string{c.file, demoOverrides[c.file]} {
		if f == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(data), "\n") {
			if strings.TrimSpace(l) == c.line {
				return true, f
			}
		}
	}
	return false, ""
}

// demoGitEnv keeps the user's git configuration out of the demo's
// commits; the install has its own identity (update.sh sets one too).
func demoGitEnv() []string {
	return append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
}
