package adopt

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/udiff"
)

var (
	cfgSection = regexp.MustCompile(`^\s*\[\s*([^\]]*?)\s*\]\s*$`)
	cfgKey     = regexp.MustCompile(`^\s*([A-Za-z0-9_.-]+)\s*=\s*(.*?)\s*$`)
)

// configure adds the patches to enable, their parameters and the patch
// dir to mcupdate.ini, as text: the admin's comments and layout stay. The
// result is read back with the configuration's own parser and the
// patches bound, or nothing is proposed.
func (pl *planner) configure() error {
	if len(pl.plan.Enable) == 0 {
		return nil
	}
	cfgPath := pl.opt.Config.Path
	old, err := os.ReadFile(cfgPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	text, show, err := pl.configText(cfgPath, string(old))
	if err != nil {
		return err
	}
	if err := pl.checkConfig(cfgPath, text); err != nil {
		return err
	}
	_ = pl.ov.WriteFile(cfgPath, []byte(text), 0o600)
	pl.written[cfgPath] = true
	pl.plan.Writes = append(pl.plan.Writes, Write{Path: cfgPath, Rel: cfgPath, What: "configuration", Perm: 0o600})
	pl.plan.ConfigLines = show
	return nil
}

// configText returns old with the patches to enable, their parameters
// and the patch dir added, as text, and those additions as adopt shows
// them.
func (pl *planner) configText(cfgPath, old string) (string, []string, error) {
	hasOwn := false
	for _, n := range pl.plan.Enable {
		if pl.lib[n] == nil {
			hasOwn = true
		}
	}
	setDir := hasOwn && pl.plan.SetDir
	lines := udiff.Lines(old)
	patchesAt, enableAt, dirAt := findPatchesKeys(lines)
	names := strings.Join(pl.plan.Enable, " ")
	var show []string
	eol := "\n"
	ins := map[int][]string{} // after line index (-1: at the top of [patches])
	switch {
	case enableAt >= 0:
		l := strings.TrimRight(lines[enableAt], "\r\n")
		lines[enableAt] = l + " " + names + eol
		show = append(show, "[patches] enable = … "+names)
	case patchesAt >= 0:
		ins[patchesAt] = append(ins[patchesAt], "enable = "+names)
		show = append(show, "[patches] enable = "+names)
	}
	if setDir && dirAt < 0 && patchesAt >= 0 {
		ins[patchesAt] = append(ins[patchesAt], "dir = "+pl.plan.PatchDir)
		show = append(show, "[patches] dir = "+pl.plan.PatchDir)
	}
	var out strings.Builder
	for i, l := range lines {
		out.WriteString(l)
		if len(ins[i]) > 0 && !strings.HasSuffix(l, "\n") {
			out.WriteString(eol)
		}
		for _, x := range ins[i] {
			out.WriteString(x + eol)
		}
	}
	text := out.String()
	var tail []string
	if patchesAt < 0 {
		tail = append(tail, "[patches]")
		if setDir {
			tail = append(tail, "dir = "+pl.plan.PatchDir)
			show = append(show, "[patches] dir = "+pl.plan.PatchDir)
		}
		tail = append(tail, "enable = "+names)
		show = append(show, "[patches] enable = "+names)
	}
	for _, n := range pl.plan.Enable {
		ps := pl.plan.Params[n]
		if len(ps) == 0 {
			continue
		}
		if _, exists := pl.opt.Config.Params[n]; exists {
			return "", nil, fmt.Errorf("%s has a [patch %s] section already although the patch is not enabled: enable it or remove the section first", cfgPath, n)
		}
		tail = append(tail, "", "[patch "+n+"]")
		for _, kv := range ps {
			tail = append(tail, kv[0]+" = "+kv[1])
			show = append(show, "[patch "+n+"] "+kv[0]+" = "+kv[1])
		}
	}
	if len(tail) > 0 {
		if text != "" && !strings.HasSuffix(text, "\n") {
			text += eol
		}
		if text != "" {
			text += eol
		}
		text += "; added by mcupdate adopt on " + pl.opt.Now.UTC().Format("2006-01-02") + eol
		text += strings.Join(tail, eol) + eol
	}
	return text, show, nil
}

// findPatchesKeys returns the line indexes of mcupdate.ini's [patches]
// section and of its enable and dir keys, -1 for what is not there.
func findPatchesKeys(lines []string) (patchesAt, enableAt, dirAt int) {
	patchesAt, enableAt, dirAt = -1, -1, -1
	cur := ""
	for i, l := range lines {
		t := strings.TrimRight(l, "\r\n")
		if m := cfgSection.FindStringSubmatch(t); m != nil {
			cur = m[1]
			if cur == "patches" {
				patchesAt = i
			}
			continue
		}
		if cur != "patches" {
			continue
		}
		if m := cfgKey.FindStringSubmatch(t); m != nil {
			switch m[1] {
			case "enable":
				enableAt = i
			case "dir":
				dirAt = i
			}
		}
	}
	return patchesAt, enableAt, dirAt
}

// checkConfig reads text back as mcupdate will and binds its patches
// (the own ones adopt writes included): what does not read or bind is
// not proposed.
func (pl *planner) checkConfig(cfgPath, text string) error {
	c, err := config.Parse(cfgPath, []byte(text))
	if err != nil {
		return fmt.Errorf("the new %s would not read: %w", cfgPath, err)
	}
	own := map[string]*patch.Patch{}
	for k, v := range pl.own {
		own[k] = v
	}
	if c.PatchDir != "" {
		for _, w := range pl.plan.Writes {
			if !strings.HasPrefix(w.What, "own patch ") {
				continue
			}
			data, _ := pl.ov.ReadFile(w.Path)
			p, err := patch.Parse(w.Path, data)
			if err != nil {
				return err
			}
			own[p.Name] = p
		}
	}
	if _, _, err := patch.Resolve(patch.Settings{Enabled: c.Enabled, Params: c.Params}, pl.lib, own); err != nil {
		return fmt.Errorf("the new %s would not bind its patches: %w", cfgPath, err)
	}
	return nil
}
