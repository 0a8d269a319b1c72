package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/adopt"
	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gitstate"
	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/secret"
	"github.com/mcupdate/mcupdate/cmd/internal/udiff"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
	"github.com/mcupdate/mcupdate/cmd/internal/verify"
)

const adoptHelp = `Protect the customizations the install already has: every local edit
of a tracked file that no enabled patch covers (verify's "unprotected"
list) gets, in this order,

  its override home  a docker-compose.yml edit moves to
                     docker-compose.override.yml (as compose merges the two),
                     a postfix main.cf edit to extra.cf; the tracked file
                     goes back to upstream's version
  a shipped patch    its parameters read from the files as they are
                     (pools.conf's 2048M: php-memory-limit MEMORY_LIMIT = 2048M)
  an own patch       written to the patch dir ([patches] dir; default:
                     patches/ beside mcupdate.ini), its edit kind and
                     anchors chosen from the change

Enabling what adopt proposes changes nothing the services read: each patch
is checked against the files as they are, each own patch also against
upstream's version of its file. Without --write, adopt prints the lines it
would add to mcupdate.ini and the files it would write, and writes nothing.
Exit 1 when a customization cannot be protected (it says why).`

func runAdoptCmd(ctx context.Context, a *app, args []string) error {
	fs := a.flags("adopt")
	write := fs.Bool("write", false, "write the patches, the override files and mcupdate.ini")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("adopt takes no arguments")
	}
	if *write && a.g.dryRun {
		return usagef("adopt: --write and --dry-run exclude each other")
	}
	dir, err := a.mailcowDir()
	if err != nil {
		return err
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if *write {
		lock, err := a.state().Lock("mcupdate adopt")
		if err != nil {
			return err
		}
		defer func() { _ = lock.Release() }()
	}
	plan, err := adopt.Make(ctx, adopt.Options{MailcowDir: dir, Config: cfg, Now: time.Now()})
	if err != nil {
		return err
	}
	conf, _ := os.ReadFile(filepath.Join(dir, "mailcow.conf"))
	red := secret.NewRedactor(conf).String
	u := a.ui
	blocks := 0
	for _, it := range plan.Items {
		blocks += len(it.Blocks)
	}
	if blocks == 0 {
		u.Printf("mcupdate adopt: nothing to adopt: every customization of a tracked file is protected (against upstream %s)", gitx.Short(plan.Base))
		return nil
	}
	u.Printf("mcupdate adopt in %s: %s in %s against upstream %s", red(dir), ui.Count(blocks, "unprotected customization"), ui.Count(len(plan.Items), "file"), gitx.Short(plan.Base))
	printAdoptBlocks(u, plan, red)
	printAdoptWrites(u, plan, cfg.Path, red, *write)
	u.Printf("")
	if plan.Unprotected > 0 {
		u.Warnf("%s cannot be protected automatically: see why above; write a patch of your own for it (patches/README.md)", ui.Count(plan.Unprotected, "customization"))
	}
	if !*write {
		if len(plan.Writes) > 0 {
			u.Printf("mcupdate adopt: dry run: nothing written; 'mcupdate adopt --write' writes it")
		}
		if plan.Unprotected > 0 {
			return errSilent
		}
		return nil
	}
	return writeAdoption(u, plan, dir, cfg.Path, red)
}

// printAdoptBlocks shows each unprotected customization, its lines and
// how adopt protects it (or why it cannot).
func printAdoptBlocks(u *ui.UI, plan *adopt.Plan, red func(string) string) {
	for _, it := range plan.Items {
		for _, b := range it.Blocks {
			u.Printf("")
			u.Printf("%s", red(b.Label()))
			for _, l := range b.Lines {
				u.Printf("    %s", red(l.String()))
			}
			switch it.By[b.ID] {
			case adopt.ByShipped:
				var ps []string
				for _, kv := range plan.Params[it.Patch[b.ID]] {
					ps = append(ps, kv[0]+" = "+kv[1])
				}
				what := "shipped patch " + it.Patch[b.ID]
				if len(ps) > 0 {
					what += " (" + strings.Join(ps, ", ") + ")"
				}
				u.Printf("  -> %s", red(what))
			case adopt.ByOwn:
				u.Printf("  -> own patch %s", it.Patch[b.ID])
			case adopt.ByOverride:
				u.Printf("  -> move to %s", it.Patch[b.ID])
			case adopt.ByRevert:
				u.Printf("  -> %s", it.Patch[b.ID])
			default:
				u.Printf("  -> %s: %s", u.Red("cannot protect"), red(it.Why[b.ID]))
			}
			if w := it.Why[b.ID]; w != "" && it.By[b.ID] != adopt.ByNone {
				u.Printf("     (%s)", red(w))
			}
		}
	}
}

// printAdoptWrites shows the lines mcupdate.ini gets and the files adopt
// writes (with write) or would write, each with its diff.
func printAdoptWrites(u *ui.UI, plan *adopt.Plan, cfgPath string, red func(string) string, write bool) {
	if len(plan.ConfigLines) > 0 {
		u.Printf("")
		u.Printf("%s gets:", cfgPath)
		for _, l := range plan.ConfigLines {
			u.Printf("  %s", red(l))
		}
	}
	if len(plan.Writes) > 0 {
		u.Printf("")
		verb := "would write"
		if write {
			verb = "writes"
		}
		u.Printf("adopt %s:", verb)
		for _, w := range plan.Writes {
			state := ""
			if w.Old == nil {
				state = " (new)"
			}
			u.Printf("  %s%s: %s", red(w.Rel), state, red(w.What))
			from, to := "a/"+w.Rel, "b/"+w.Rel
			if filepath.IsAbs(w.Rel) {
				from, to = w.Rel, w.Rel
			}
			if w.Old == nil {
				from = "/dev/null"
			}
			diff := udiff.Unified(from, to, string(w.Old), string(w.New))
			for _, l := range strings.Split(strings.TrimRight(diff, "\n"), "\n") {
				if l != "" {
					u.Printf("    %s", red(l))
				}
			}
		}
	}
}

// writeAdoption makes the plan's writes and says what verify's
// unprotected rule finds after them.
func writeAdoption(u *ui.UI, plan *adopt.Plan, dir, cfgPath string, red func(string) string) error {
	done, err := plan.Apply(fsx.Real{})
	for _, d := range done {
		u.Printf("wrote %s", red(d))
	}
	if err != nil {
		return err
	}
	left, err := unprotectedAfter(dir, cfgPath)
	if err != nil {
		return err
	}
	for _, w := range plan.Writes {
		if strings.HasPrefix(w.What, "override") {
			u.Hintf("the override files changed: 'mcupdate snapshot create' makes them the ones verify and the post hook compare with")
			break
		}
	}
	if len(left) == 0 {
		u.Printf("mcupdate adopt: verify lists no unprotected customization now")
	} else {
		u.Printf("mcupdate adopt: verify still lists %s as unprotected: %s", ui.Count(len(left), "file"), red(strings.Join(left, ", ")))
	}
	if plan.Unprotected > 0 || len(left) > 0 {
		return errSilent
	}
	return nil
}

// unprotectedAfter runs verify's unprotected rule with the configuration
// as adopt left it.
func unprotectedAfter(dir, cfgPath string) ([]string, error) {
	c, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	l, err := patch.Load(c.PatchDir, c.PatchSettings())
	if err != nil {
		return nil, err
	}
	st, err := gitstate.Inspect(dir)
	if err != nil {
		return nil, err
	}
	_, unpro, err := verify.UnprotectedFiles(dir, verify.Branch(c.Branch, st.Branch), l.Bound)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range unpro {
		out = append(out, f.File)
	}
	return out, nil
}
