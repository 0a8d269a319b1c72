package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/secret"
)

const patchesHelp = `List every patch mcupdate knows: the shipped ones and the admin's own
([patches] dir), enabled or not, with each parameter's type and the value
in use: the one set in mcupdate.ini (with its line), else the patch's
default. The values of secret parameters never appear. Whether an enabled
patch is in place: 'mcupdate status'.`

type patchParam struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
	// From is where the value comes from: mcupdate.ini's line, "default",
	// or "unset".
	From string `json:"from"`
}

type patchInfo struct {
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Origin      string       `json:"origin"` // "shipped" or the file
	Enabled     bool         `json:"enabled"`
	Position    int          `json:"position,omitempty"` // 1-based in [patches] enable
	Services    []string     `json:"services,omitempty"`
	Params      []patchParam `json:"params"`
}

func runPatchesCmd(_ context.Context, a *app, args []string) error {
	fs := a.flags("patches")
	asJSON := fs.Bool("json", false, "print the list as JSON")
	enabledOnly := fs.Bool("enabled", false, "list only the enabled patches")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("patches takes no arguments")
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	lib, err := patch.Library()
	if err != nil {
		return err
	}
	all, ownNames, err := withOwnPatches(cfg, lib)
	if err != nil {
		return err
	}
	list := patchList(cfg, all, lib, ownNames, *enabledOnly)
	if *asJSON {
		return a.writePatchesJSON(list)
	}
	return a.writePatchesText(list)
}

// withOwnPatches returns the shipped patches lib with the admin's own
// ([patches] dir) added, an own patch replacing the shipped one of its
// name, and the names of the own ones.
func withOwnPatches(cfg *config.Config, lib map[string]*patch.Patch) (map[string]*patch.Patch, map[string]bool, error) {
	all := map[string]*patch.Patch{}
	for n, p := range lib {
		all[n] = p
	}
	ownNames := map[string]bool{}
	if cfg.PatchDir != "" {
		own, err := patch.LoadDir(cfg.PatchDir)
		if err != nil {
			return nil, nil, &configError{fmt.Errorf("%s: [patches] dir: %w", cfg.Path, err)}
		}
		for n, p := range own {
			all[n] = p // an own patch replaces the shipped one of its name
			ownNames[n] = true
		}
	}
	return all, ownNames, nil
}

// patchList describes the patches of all by name, only the enabled ones
// with enabledOnly.
func patchList(cfg *config.Config, all, lib map[string]*patch.Patch, ownNames map[string]bool, enabledOnly bool) []patchInfo {
	position := map[string]int{}
	for i, n := range cfg.Enabled {
		if _, ok := position[n]; !ok {
			position[n] = i + 1
		}
	}
	list := []patchInfo{}
	for _, n := range patch.Names(all) {
		p := all[n]
		pi := patchInfo{Name: n, Description: p.Description, Origin: "shipped", Position: position[n], Services: p.Services, Params: []patchParam{}}
		if ownNames[n] {
			pi.Origin = p.Origin
			if lib[n] != nil {
				pi.Origin += " (replaces the shipped one)"
			}
		}
		pi.Enabled = pi.Position > 0
		if enabledOnly && !pi.Enabled {
			continue
		}
		for _, k := range p.Params {
			pi.Params = append(pi.Params, paramInUse(cfg, n, p, k))
		}
		list = append(list, pi)
	}
	return list
}

// paramInUse describes patch n's parameter k and the value in use: set
// in mcupdate.ini, else the patch's default; a secret's value redacted.
func paramInUse(cfg *config.Config, n string, p *patch.Patch, k string) patchParam {
	pp := patchParam{Name: k, Type: p.Types[k].Spec}
	if pp.Type == "" {
		pp.Type = "text"
	}
	if v, ok := cfg.Params[n][k]; ok {
		pp.Value, pp.From = v, cfg.ParamOrigin(n, k)
		if pp.From == "" {
			pp.From = cfg.Path
		}
	} else if v, ok := p.Defaults[k]; ok {
		pp.Value, pp.From = v, "default"
	} else {
		pp.From = "unset"
	}
	if secret.IsName(k) && pp.Value != "" {
		pp.Value = secret.Redacted
	}
	return pp
}

// writePatchesJSON prints the list as `patches --json` does.
func (a *app) writePatchesJSON(list []patchInfo) error {
	data, err := json.MarshalIndent(struct {
		Schema  int         `json:"schema"`
		Patches []patchInfo `json:"patches"`
	}{1, list}, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.stdout, "%s\n", a.secrets.Bytes(data))
	return err
}

// writePatchesText prints the list a patch a line, its parameters
// below it.
func (a *app) writePatchesText(list []patchInfo) error {
	var b strings.Builder
	for _, p := range list {
		state := "off"
		if p.Enabled {
			state = fmt.Sprintf("enabled #%d", p.Position)
		}
		fmt.Fprintf(&b, "%-24s %-11s %s\n", p.Name, state, p.Description)
		if p.Origin != "shipped" {
			fmt.Fprintf(&b, "  own patch: %s\n", p.Origin)
		}
		for _, pp := range p.Params {
			v := pp.Value
			if pp.From == "unset" {
				v = "(unset: required)"
			} else {
				v = fmt.Sprintf("%q", v)
			}
			fmt.Fprintf(&b, "  %-22s %-18s %s  (%s)\n", pp.Name, pp.Type, v, pp.From)
		}
	}
	if len(list) == 0 {
		b.WriteString("no patches\n")
	}
	_, err := fmt.Fprint(a.stdout, a.secrets.String(b.String()))
	return err
}
