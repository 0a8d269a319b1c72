package main

import (
	"context"
	"path/filepath"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gitstate"
	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/snapshot"
)

const snapshotHelp = `Snapshots of the gitignored override files (mailcow.conf,
docker-compose.override.yml, every gitignored file under data/conf by
default: see [snapshot] in the configuration). The pre hook takes one
before every update.

  list                 the snapshots, newest first
  create               take a snapshot now
  restore ID [PATH...] put the files of snapshot ID ("latest" for the
                       newest) back, with their mode and owner; only the
                       given paths (files or directories) when named`

func runSnapshotCmd(_ context.Context, a *app, args []string) error {
	fs := a.flags("snapshot")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("snapshot needs an action: list, create or restore")
	}
	store := filepath.Join(a.g.stateDir, "snapshots")
	switch pos[0] {
	case "list":
		if len(pos) != 1 {
			return usagef("snapshot list takes no arguments")
		}
		return a.snapshotList(store)
	case "create":
		if len(pos) != 1 {
			return usagef("snapshot create takes no arguments")
		}
		return a.snapshotCreate(store)
	case "restore":
		if len(pos) < 2 {
			return usagef("snapshot restore needs an ID (see 'mcupdate snapshot list', or 'latest')")
		}
		return a.snapshotRestore(store, pos[1], pos[2:])
	}
	return usagef("unknown snapshot action %q: want list, create or restore", pos[0])
}

// snapshotList shows every snapshot whose manifest reads; one that does
// not (truncated, hand-edited) is an error line of its own, after the
// table, and makes the exit status 1.
func (a *app) snapshotList(store string) error {
	ms, err := snapshot.List(store)
	if len(ms) == 0 {
		if err == nil {
			a.ui.Printf("no snapshots in %s", store)
		}
		return err
	}
	a.ui.Printf("%-20s %-20s %-12s %6s %s", "ID", "TIME (UTC)", "COMMIT", "FILES", "SKIPPED")
	for _, m := range ms {
		a.ui.Printf("%-20s %-20s %-12s %6d %d", m.ID, m.Time.UTC().Format("2006-01-02 15:04:05"), gitx.Short(m.Commit), len(m.Entries), len(m.Skipped))
	}
	return err
}

func (a *app) snapshotCreate(store string) error {
	dir, err := a.mailcowDir()
	if err != nil {
		return err
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	lock, err := a.state().Lock("mcupdate snapshot create")
	if err != nil {
		return err
	}
	defer func() { _ = lock.Release() }()
	var head string
	if st, err := gitstate.Inspect(dir); err == nil {
		head = st.Head
	}
	m, err := snapshot.Create(a.system(), snapshot.Options{
		MailcowDir: dir, Store: store, Paths: cfg.SnapshotPaths, Dirs: cfg.SnapshotDirs,
		Keep: cfg.SnapshotKeep, Commit: head, Now: time.Now(),
	})
	if m == nil {
		return err
	}
	for _, sk := range m.Skipped {
		a.ui.Warnf("skipped %s: %s", sk.Path, sk.Reason)
	}
	if a.g.dryRun {
		a.ui.Printf("dry run: would take a snapshot of %d files", len(m.Entries))
		return nil
	}
	a.ui.Printf("snapshot %s: %d files", m.ID, len(m.Entries))
	return err
}

func (a *app) snapshotRestore(store, id string, paths []string) error {
	dir, err := a.mailcowDir()
	if err != nil {
		return err
	}
	lock, err := a.state().Lock("mcupdate snapshot restore")
	if err != nil {
		return err
	}
	defer func() { _ = lock.Release() }()
	sys := a.system()
	res, err := snapshot.Restore(sys, store, id, dir, paths)
	if res == nil {
		return err
	}
	verb := "restored"
	if _, dry := sys.(*fsx.Recorder); dry {
		verb = "would restore"
	}
	for _, p := range res.Restored {
		a.ui.Printf("%s %s", verb, p)
	}
	for _, n := range res.Notes {
		a.ui.Warnf("%s", n)
	}
	a.ui.Printf("snapshot %s: %d %s, %d already as in the snapshot%s", res.ID, len(res.Restored), verb, len(res.Unchanged), dryNote(a.g.dryRun))
	return err
}

func dryNote(dry bool) string {
	if dry {
		return " (dry run: nothing written)"
	}
	return ""
}
