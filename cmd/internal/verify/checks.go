package verify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/mcupdate/mcupdate/cmd/internal/compose"
	"github.com/mcupdate/mcupdate/cmd/internal/daemonjson"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gitstate"
	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/snapshot"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// knownBranches are the branches upstream mailcow publishes.
var knownBranches = map[string]bool{"master": true, "nightly": true, "legacy": true}

func checkGit(opt Options, st *gitstate.State, err error) Check {
	if err != nil {
		fix := gitx.Hint(err)
		if fix == "" {
			fix = "the mailcow dir must be the git checkout update.sh works on"
		}
		return Check{Status: StatusFail, Detail: err.Error(), Fix: fix}
	}
	c := Check{Status: StatusOK}
	var fixes []string
	for _, p := range st.Problems {
		c.Items = append(c.Items, p.What)
		fixes = append(fixes, p.Fix)
	}
	want := opt.Config.Branch
	switch {
	case st.Detached:
		// A Problem already says so.
	case want != "" && st.Branch != want:
		c.Items = append(c.Items, fmt.Sprintf("on branch %s, but %s sets [general] branch = %s", st.Branch, opt.Config.Path, want))
		fixes = append(fixes, fmt.Sprintf("git checkout %s (or change [general] branch)", want))
	case want == "" && !knownBranches[st.Branch]:
		c.Items = append(c.Items, fmt.Sprintf("on branch %s: update.sh fetches origin/%s, which upstream does not publish", st.Branch, st.Branch))
		fixes = append(fixes, fmt.Sprintf("git checkout master (or set [general] branch = %s in %s)", st.Branch, opt.Config.Path))
	}
	if len(c.Items) > 0 {
		c.Status = StatusFail
		c.Detail = fmt.Sprintf("%d problem(s) would stop update.sh's git steps", len(c.Items))
		c.Fix = strings.Join(fixes, "; ")
		return c
	}
	c.Detail = "on branch " + st.Branch
	if st.Upstream != nil {
		c.Detail += fmt.Sprintf(", tracking %s/%s", st.Upstream.Remote, strings.TrimPrefix(st.Upstream.Merge, "refs/heads/"))
	}
	return c
}

func checkDaemonJSON(ctx context.Context, opt Options) Check {
	if !opt.Config.IPv6 {
		return Check{Status: StatusSkipped, Detail: "disabled ([docker] ipv6 = off)"}
	}
	det := daemonjson.DetectIPv6(ctx, daemonjson.Host{MailcowDir: opt.MailcowDir, ProcRoot: opt.ProcRoot, Timeout: opt.Config.DockerTimeout})
	if !det.Asks() {
		return Check{Status: StatusOK, Detail: fmt.Sprintf("not needed: update.sh detects no IPv6 on this host (%s) and leaves %s alone", det.Reason, opt.DaemonJSON)}
	}
	major, raw, verr := opt.DockerMajor(ctx, opt.Config.DockerTimeout)
	docker := "Docker " + raw
	var items []string
	if det.IPv6 == daemonjson.IPv6Unsure {
		items = append(items, "IPv6 detection unsure ("+det.Reason+"): checked as if update.sh asks")
	}
	if verr != nil {
		major, docker = 0, "unknown Docker version"
		items = append(items, ui.FirstLine(verr.Error())+": only \"ipv6\" checked, as update.sh does")
	}
	req := daemonjson.RequirementsFor(major, opt.Config.FixedCIDRv6)
	fix := fmt.Sprintf("mcupdate's pre hook adds the keys at the next update without restarting Docker; to do it now, edit %s", opt.DaemonJSON)
	data, err := os.ReadFile(opt.DaemonJSON)
	if errors.Is(err, fs.ErrNotExist) {
		return Check{Status: StatusFail, Detail: opt.DaemonJSON + " is missing: update.sh would create it and restart Docker", Fix: fix, Items: items}
	}
	if err != nil {
		return Check{Status: StatusFail, Detail: err.Error(), Fix: "make " + opt.DaemonJSON + " readable", Items: items}
	}
	if _, _, err := daemonjson.Ensure(data, req); err != nil {
		var de *daemonjson.Error
		msg := err.Error()
		if errors.As(err, &de) && de.Path == "" {
			msg = opt.DaemonJSON + ": " + msg
		}
		return Check{Status: StatusFail, Detail: ui.FirstLine(msg) + ": update.sh stops on this file with mailcow down", Fix: "fix the JSON in " + opt.DaemonJSON + " (an empty object {} is valid)", Items: items}
	}
	if miss := daemonjson.Missing(data, req); len(miss) > 0 {
		for _, m := range miss {
			items = append(items, "missing "+m)
		}
		return Check{Status: StatusFail, Detail: fmt.Sprintf("%s fails update.sh's IPv6 checks for %s: update.sh would restart Docker", opt.DaemonJSON, docker), Fix: fix, Items: items}
	}
	return Check{Status: StatusOK, Detail: fmt.Sprintf("%s passes update.sh's IPv6 checks for %s", opt.DaemonJSON, docker), Items: items}
}

func checkPatches(opt Options, bound []*patch.Bound, cfgErr error) Check {
	if cfgErr != nil {
		return Check{Status: StatusFail, Detail: ui.FirstLine(cfgErr.Error()), Fix: "fix " + opt.Config.Path + " (see 'mcupdate --help')"}
	}
	if len(bound) == 0 {
		return Check{Status: StatusSkipped, Detail: "no patches enabled"}
	}
	// The apply path itself, with every write refused.
	res, _ := patch.Apply(fsx.Check{}, opt.MailcowDir, bound, patch.ModeCheck)
	c := Check{Status: StatusOK}
	var drift, broken int
	for _, pr := range res.Patches {
		for _, er := range pr.Edits {
			switch er.State {
			case patch.StateAlreadyApplied, patch.StateApplied, patch.StateSkipped:
			case patch.StateWouldChange:
				drift++
				c.Items = append(c.Items, fmt.Sprintf("drift: patch %s, edit %s: %s is not as the patch sets it", pr.Name, er.Edit, er.File))
			default:
				broken++
				msg := fmt.Sprintf("patch %s, edit %s: %s: %s", pr.Name, er.Edit, er.File, er.State)
				if er.Err != nil {
					msg = er.Err.Error()
				}
				c.Items = append(c.Items, string(er.State)+": "+ui.FirstLine(msg))
			}
		}
		if pr.Err != nil && len(pr.Edits) == 0 {
			broken++
			c.Items = append(c.Items, ui.FirstLine(pr.Err.Error()))
		}
	}
	switch {
	case broken > 0:
		c.Status = StatusFail
		c.Detail = fmt.Sprintf("%d patch(es) enabled; %d edit(s) cannot be applied, %d drifted", len(bound), broken, drift)
		c.Fix = "the file changed upstream: adapt the patch to the new file (test with 'mcupdate replay'); then 'mcupdate apply'"
	case drift > 0:
		c.Status = StatusFail
		c.Detail = fmt.Sprintf("%d patch(es) enabled; %d edit(s) not in place", len(bound), drift)
		c.Fix = "mcupdate apply (see the changes first with 'mcupdate apply --dry-run')"
	default:
		names := make([]string, len(bound))
		for i, b := range bound {
			names[i] = b.Name
		}
		c.Detail = fmt.Sprintf("%d patch(es) in place: %s", len(bound), strings.Join(names, ", "))
	}
	return c
}

func checkOverrides(opt Options) Check {
	store := filepath.Join(opt.StateDir, "snapshots")
	m, err := snapshot.Load(store, snapshot.Latest)
	if errors.Is(err, snapshot.ErrNotFound) {
		return Check{Status: StatusWarn, Detail: "no snapshot of the override files yet", Fix: "mcupdate snapshot create"}
	}
	if err != nil {
		return Check{Status: StatusFail, Detail: ui.FirstLine(err.Error()), Fix: "mcupdate snapshot create (a broken snapshot can be removed from " + store + ")"}
	}
	changes, err := snapshot.Diff(m, opt.MailcowDir)
	if err != nil {
		return Check{Status: StatusFail, Detail: ui.FirstLine(err.Error()), Fix: "make the mailcow dir readable"}
	}
	c := Check{Status: StatusOK}
	var missing, modified, added int
	for _, ch := range changes {
		item := string(ch.Kind) + ": " + ch.Path
		if ch.Detail != "" {
			item += " (" + ch.Detail + ")"
		}
		switch ch.Kind {
		case snapshot.Missing, snapshot.TypeChanged:
			missing++
		case snapshot.Modified:
			modified++
		case snapshot.Added:
			added++
		default:
			continue
		}
		c.Items = append(c.Items, item)
	}
	switch {
	case missing > 0:
		c.Status = StatusFail
		c.Detail = fmt.Sprintf("%d file(s) of snapshot %s missing, %d modified, %d added", missing, m.ID, modified, added)
		c.Fix = "mcupdate snapshot restore latest PATH (or 'mcupdate snapshot create' if they were removed on purpose)"
	case modified+added > 0:
		c.Status = StatusWarn
		c.Detail = fmt.Sprintf("%d file(s) modified, %d added since snapshot %s", modified, added, m.ID)
		c.Fix = "mcupdate snapshot create, to accept the changes"
	default:
		c.Detail = fmt.Sprintf("%d file(s) as in snapshot %s", len(m.Entries), m.ID)
	}
	return c
}

func checkOverrideRefs(opt Options, in *mailcowFiles) Check {
	const base, over = ComposeFile, ComposeOverrideFile
	bf, of, berr, oerr := in.compose()
	var ce *compose.Error
	switch {
	case of == nil && oerr == nil:
		return Check{Status: StatusSkipped, Detail: "no " + over}
	case oerr != nil && !errors.As(oerr, &ce):
		return Check{Status: StatusFail, Detail: oerr.Error(), Fix: "make " + over + " readable"}
	case bf == nil && berr == nil:
		return Check{Status: StatusFail, Detail: base + ": " + syscall.ENOENT.Error(), Fix: "git checkout -- " + base}
	case berr != nil && !errors.As(berr, &ce):
		return Check{Status: StatusFail, Detail: berr.Error(), Fix: "git checkout -- " + base}
	case berr != nil:
		return Check{Status: StatusFail, Detail: ui.FirstLine(berr.Error()), Fix: "git diff " + base + " shows what changed"}
	case oerr != nil:
		return Check{Status: StatusFail, Detail: ui.FirstLine(oerr.Error()), Fix: "fix the YAML of " + over}
	}
	names := bf.Names()
	c := Check{Status: StatusOK}
	var bad []string
	for _, name := range of.Names() {
		s := of.Services[name]
		if _, ok := bf.Services[name]; ok || s.HasImage {
			continue
		}
		item := fmt.Sprintf("service %s (%s line %d) is not in %s", name, over, s.Line, base)
		if n := nearest(name, names); n != "" {
			item += ": renamed to " + n + "?"
		}
		c.Items = append(c.Items, item)
		bad = append(bad, name)
	}
	if len(bad) > 0 {
		c.Status = StatusFail
		c.Detail = fmt.Sprintf("%s names %d service(s) %s does not have: compose would start a broken partial service", over, len(bad), base)
		c.Fix = fmt.Sprintf("rename or remove %s in %s", strings.Join(bad, ", "), over)
		return c
	}
	c.Detail = fmt.Sprintf("all %d service(s) of %s are in %s", len(of.Services), over, base)
	return c
}

func checkMessageSize(opt Options) Check {
	m, err := ReadMessageSizes(opt.MailcowDir)
	if err != nil {
		return Check{Status: StatusFail, Detail: err.Error(), Fix: "fix the value (postfix: bytes; clamd: K, M or G; rspamd: bytes, k/m/g or kb/mb/gb)"}
	}
	if m.Postfix == nil {
		return Check{Status: StatusSkipped, Detail: strings.Join(m.Notes, "; ")}
	}
	c := Check{Status: StatusOK, Items: []string{"postfix " + m.Postfix.String()}}
	for _, s := range m.Scanners {
		c.Items = append(c.Items, s.String())
	}
	for _, n := range m.Notes {
		c.Items = append(c.Items, n+": not checked")
	}
	small := m.Small()
	if len(small) == 0 {
		c.Detail = fmt.Sprintf("rspamd and clamd scan mail up to postfix's limit (%s)", humanBytes(m.Postfix.Bytes))
		return c
	}
	keys := make([]string, len(small))
	for i, s := range small {
		keys[i] = s.Key
	}
	// mailcow itself ships rspamd and clamd limits below postfix's, so on
	// a stock install this is a warning; with message-size-limit enabled
	// the admin asked for one size everywhere, and drift is a failure.
	c.Status = StatusWarn
	for _, name := range opt.Config.Enabled {
		if name == "message-size-limit" {
			c.Status = StatusFail
		}
	}
	c.Detail = fmt.Sprintf("%s below postfix's message_size_limit (%s): larger mail passes unscanned or fails the scan", strings.Join(keys, ", "), humanBytes(m.Postfix.Bytes))
	size := "SIZE"
	if b := m.Postfix.Bytes; b != Unlimited && b%(1<<20) == 0 {
		size = fmt.Sprintf("%dM", b>>20)
	}
	c.Fix = fmt.Sprintf("enable the message-size-limit patch in %s ([patches] enable = message-size-limit, [patch message-size-limit] MESSAGE_SIZE = %s), then 'mcupdate apply'", opt.Config.Path, size)
	return c
}

func checkUnprotected(opt Options, st *gitstate.State, bound []*patch.Bound, lib map[string]*patch.Patch) (Check, []Unprotected) {
	current := ""
	if st != nil {
		current = st.Branch
	}
	cs, unpro, err := UnprotectedFiles(opt.MailcowDir, Branch(opt.Config.Branch, current), bound)
	if err != nil {
		return Check{Status: StatusFail, Detail: ui.FirstLine(err.Error()), Fix: "see the git check"}, nil
	}
	byFile := patchFiles(lib)
	var out []Unprotected
	c := Check{Status: StatusOK}
	nCovered := len(cs.Files) - len(unpro)
	for _, f := range unpro {
		u := Unprotected{File: f.File, Home: Home(f.File, byFile), Where: f.Where, Deleted: f.Deleted}
		out = append(out, u)
		item := f.File + " (" + f.Where
		if f.Deleted {
			item += ", deleted"
		}
		item += ")"
		switch {
		case strings.HasPrefix(u.Home, "patch "):
			item += ": protect it with " + u.Home
		case u.Home != "":
			item += ": move it to " + u.Home
		default:
			item += ": no safer home: write a patch of your own"
		}
		c.Items = append(c.Items, item)
	}
	short := gitx.Short(cs.Base)
	if len(out) > 0 {
		c.Status = StatusWarn
		c.Detail = fmt.Sprintf("%d local edit(s) of tracked files against upstream %s that update.sh may drop; %d covered by patches", len(out), short, nCovered)
		c.Fix = fmt.Sprintf("move each edit to its safer home (an override file, or enable the patch), then undo it: git checkout %s -- FILE", short)
		return c, out
	}
	c.Detail = fmt.Sprintf("no unprotected edits of tracked files against upstream %s; %d covered by patches", short, nCovered)
	return c, out
}

// UnprotectedFiles finds the customizations of the checkout in dir (see
// FindCustomizations) and returns those of files no patch in bound edits:
// what the unprotected check lists, and what `mcupdate adopt` protects.
func UnprotectedFiles(dir, branch string, bound []*patch.Bound) (*Customizations, []Customization, error) {
	cs, err := FindCustomizations(dir, branch)
	if err != nil {
		return nil, nil, err
	}
	covered := map[string]bool{}
	for _, b := range bound {
		for _, f := range b.Files() {
			covered[f] = true
		}
	}
	var out []Customization
	for _, f := range cs.Files {
		if !covered[f.File] {
			out = append(out, f)
		}
	}
	return cs, out, nil
}

// Branch is the branch verify compares with: [general] branch, else the
// checked-out one, else master.
func Branch(cfgBranch, current string) string {
	switch {
	case cfgBranch != "":
		return cfgBranch
	case current != "":
		return current
	}
	return "master"
}

// checkLeftovers lists the temp files killed mcupdate runs left (a run
// killed mid-write leaves its temp beside the file): in the directories of
// the mailcow dir mcupdate writes to (its top level, the snapshotted
// directories and files, the files of the enabled patches), the state dir
// and beside daemon.json. The next write to a directory removes the ones
// there, but a directory no later run writes to would keep them: this
// check is where they show. A temp a running mcupdate holds (its flock) is
// not listed. A warning: they harm nothing. The rest of the tree (data/web
// alone holds thousands of files) is not walked: mcupdate writes nothing
// there.
func checkLeftovers(opt Options, bound []*patch.Bound) Check {
	dirs := map[string]bool{}
	walk := func(root string) {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if d != nil && d.IsDir() && p != root {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() && d.Name() == ".git" && filepath.Dir(p) == opt.MailcowDir {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasPrefix(d.Name(), fsx.TempPrefix) {
				dirs[filepath.Dir(p)] = true
			}
			return nil
		})
	}
	in := func(rel string) string { return filepath.Join(opt.MailcowDir, filepath.FromSlash(rel)) }
	dirs[opt.MailcowDir] = true
	for _, d := range opt.Config.SnapshotDirs {
		walk(in(d))
	}
	for _, p := range opt.Config.SnapshotPaths {
		dirs[filepath.Dir(in(p))] = true
	}
	for _, b := range bound {
		for _, f := range b.Files() {
			dirs[filepath.Dir(in(f))] = true
		}
	}
	if opt.StateDir != "" {
		walk(opt.StateDir)
	}
	if opt.DaemonJSON != "" {
		dirs[filepath.Dir(opt.DaemonJSON)] = true
		if t, err := fsx.ResolveLink(opt.DaemonJSON); err == nil {
			dirs[filepath.Dir(t)] = true
		}
	}
	var found []string
	for d := range dirs {
		ts, _ := fsx.Temps(d)
		found = append(found, ts...)
	}
	sort.Strings(found)
	if len(found) == 0 {
		return Check{Status: StatusOK, Detail: "no temp file left by a killed mcupdate run"}
	}
	return Check{
		Status: StatusWarn,
		Detail: fmt.Sprintf("%d temp file(s) left by a killed mcupdate run", len(found)),
		Fix:    "remove them (rm " + strings.Join(found, " ") + "); each is a half-written copy, the file beside it is whole",
		Items:  found,
	}
}
