package hook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/daemonjson"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// stepDaemonJSON makes daemon.json pass update.sh's IPv6 checks for the
// running Docker, so update.sh neither prompts, nor restarts Docker, nor
// exits with mailcow already stopped. Docker is never restarted: the keys
// only have to be present for update.sh's checks; Docker reads them at
// its next start. On a host where update.sh detects no IPv6 (see
// daemonjson.DetectIPv6) it never reads daemon.json: the step leaves it
// alone.
func stepDaemonJSON(ctx context.Context, env *Env, _ *preState) (Step, error) {
	s := Step{Name: "daemon.json"}
	if !env.Config.IPv6 {
		s.Status, s.Message = StatusSkipped, "disabled ([docker] ipv6 = off)"
		return s, nil
	}
	det := daemonjson.DetectIPv6(ctx, daemonjson.Host{MailcowDir: env.MailcowDir, ProcRoot: env.ProcRoot, Timeout: env.Config.DockerTimeout})
	if !det.Asks() {
		// update.sh sets ENABLE_IPV6=false and never reads daemon.json.
		s.Status, s.Message = StatusOK, fmt.Sprintf("left alone: update.sh detects no IPv6 on this host (%s), so it does not check %s", det.Reason, env.DaemonJSON)
		return s, nil
	}
	if det.IPv6 == daemonjson.IPv6Unsure {
		s.Details = append(s.Details, "IPv6 detection unsure ("+det.Reason+"): making daemon.json pass update.sh's checks in case it asks")
	}
	major, raw, verr := daemonjson.DockerMajor(ctx, env.Config.DockerTimeout)
	if verr != nil {
		// update.sh asks for ipv6 alone when it cannot tell the version.
		major = 0
		s.Details = append(s.Details, fmt.Sprintf("%s: requiring what update.sh requires then", ui.FirstLine(verr.Error())))
	}
	req := daemonjson.RequirementsFor(major, env.Config.FixedCIDRv6)
	res, err := daemonjson.Fix(env.Sys, env.DaemonJSON, req, env.Now())
	if err != nil && !env.updateShReadsDaemonJSON() {
		// update.sh before 2025-09 never exits on daemon.json: stopping
		// it would be worse than update.sh alone. Docker itself will not
		// start with such a file, so it is still said loudly.
		s.Status, s.Message = StatusWarning, err.Error()
		s.Details = append(s.Details, "this release's update.sh does not check daemon.json, so the update goes on; Docker will not start with this file: fix it (e.g. put {} in it) before Docker restarts")
		return s, nil
	}
	if err != nil {
		s.Status, s.Message, s.Danger = StatusError, err.Error(), true
		s.Details = append(s.Details, "update.sh would stop with mailcow already down on this file: fix it (e.g. put {} in it), then run ./update.sh again")
		return s, err
	}
	for _, l := range res.Loud {
		env.UI.Warnf("%s: %s", env.DaemonJSON, l)
	}
	// The backups are kept like the snapshots: the newest [snapshot] keep.
	pruned, perr := daemonjson.PruneBackups(env.Sys, res.Target, env.Config.SnapshotKeep)
	if perr != nil && !errors.Is(perr, fs.ErrNotExist) {
		s.Details = append(s.Details, perr.Error())
	}
	if len(pruned) > 0 {
		verb := "removed"
		if env.DryRun {
			verb = "would remove"
		}
		s.Details = append(s.Details, fmt.Sprintf("%s %s beyond the newest %d ([snapshot] keep)", verb, ui.Count(len(pruned), "older backup"), max(env.Config.SnapshotKeep, 1)))
	}
	docker := "unknown Docker version"
	if major > 0 {
		docker = "Docker " + raw
	}
	switch {
	case !res.Changed():
		s.Status, s.Message = StatusOK, fmt.Sprintf("%s passes update.sh's IPv6 checks for %s", env.DaemonJSON, docker)
	case env.DryRun:
		s.Status, s.Message = StatusChanged, fmt.Sprintf("dry run: would set %s in %s (%s)", changeKeys(res), env.DaemonJSON, docker)
	default:
		s.Status = StatusChanged
		s.Message = fmt.Sprintf("set %s in %s for %s; Docker not restarted", changeKeys(res), env.DaemonJSON, docker)
		if res.Created {
			s.Message = fmt.Sprintf("created %s with %s for %s; Docker not restarted", env.DaemonJSON, changeKeys(res), docker)
		}
		if res.Backup != "" {
			s.Details = append(s.Details, "original kept as "+res.Backup)
		}
	}
	return s, nil
}

func changeKeys(res *daemonjson.Result) string {
	var keys []string
	for _, c := range res.Changes {
		keys = append(keys, fmt.Sprintf("%q", c.Key))
	}
	if len(keys) == 0 {
		return "the IPv6 keys"
	}
	return strings.Join(keys, ", ")
}

// updateShReadsDaemonJSON reports whether the update.sh in the mailcow dir
// (the one running: update.sh replaces itself and asks to be run again)
// checks daemon.json and exits on a bad one: its configure_ipv6 came with
// the 2025-08 modules split. When it cannot tell, it says yes: a missed
// stop leaves mailcow down, a stop only costs a re-run.
func (env *Env) updateShReadsDaemonJSON() bool {
	b, err := os.ReadFile(filepath.Join(env.MailcowDir, "update.sh"))
	if err != nil {
		return true
	}
	return bytes.Contains(b, []byte("configure_ipv6"))
}
