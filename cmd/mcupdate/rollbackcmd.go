package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/hook"
)

const rollbackHelp = `Go back to the state before an update: ID is an update the pre hook
recorded ('mcupdate rollback --list' shows them; the post hook's report
names its own as "record"); without ID, the last update.

  git        the branch (never a detached HEAD) back to the pre-update
             commit; the tip it leaves is kept as
             refs/mcupdate/backup/BRANCH-TIME-rollback, uncommitted changes
             of tracked files as ...-rollback-worktree; your uncommitted
             edits of then (update.sh's "Before update" commit) are
             uncommitted in the work tree again
  overrides  the pre-update snapshot of the overrides and mailcow.conf is
             restored; each file the update changed is kept beside it as
             FILE.mcupdate-new
  database   mailcow migrates its database forward only: when $db_version
             in data/web/inc/init_db.inc.php differs between the two
             commits, rollback refuses unless --allow-schema-change, and
             the database needs the backup taken before the update
             (helper-scripts/backup_and_restore.sh restore)
  compose    docker compose pull, up -d --remove-orphans, and a restart of
             the services whose files changed, with the configured compose
             command ([restart] compose); listed, not run, with
             --no-restart or [restart] enabled = off

--dry-run shows all of it and changes nothing. The next ./update.sh
updates normally. A report is written to the state directory.`

func runRollbackCmd(ctx context.Context, a *app, args []string) error {
	fs := a.flags("rollback")
	allow := fs.Bool("allow-schema-change", false, "roll back although the database schema changed (restore the database backup yourself)")
	noRestart := fs.Bool("no-restart", false, "list the compose commands instead of running them")
	list := fs.Bool("list", false, "list the updates that can be rolled back")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("rollback takes at most one ID")
	}
	if *list {
		if len(pos) > 0 {
			return usagef("rollback --list takes no ID")
		}
		return a.listUpdates()
	}
	env, err := a.hookEnv()
	if err != nil {
		return err
	}
	opt := hook.RollbackOptions{AllowSchemaChange: *allow, NoRestart: *noRestart}
	if len(pos) == 1 {
		opt.ID = pos[0]
	}
	_, err = hook.Rollback(ctx, env, opt)
	if errors.Is(err, hook.ErrSchemaChange) {
		return &hintedError{err, "restore the database backup taken before the update (" + hook.BackupScript + " restore), then run 'mcupdate rollback --allow-schema-change'"}
	}
	return err
}

// listUpdates prints the kept update records, newest first.
func (a *app) listUpdates() error {
	recs, err := a.state().Updates()
	if err != nil {
		a.ui.Warnf("%v", err)
	}
	if len(recs) == 0 {
		a.ui.Printf("no updates recorded in %s", a.g.stateDir)
		return nil
	}
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		what := "not completed (update.sh stopped before the post hook)"
		switch {
		case r.RolledBack != nil:
			what = "rolled back " + r.RolledBack.UTC().Format(time.RFC3339)
		case r.After != "":
			what = "updated to " + gitx.Short(r.After)
		}
		snap := r.SnapshotID
		if snap == "" {
			snap = "none"
		}
		fmt.Fprintf(a.stdout, "%-18s %s  %s on %s  snapshot %s  %s\n", r.ID, r.Time.UTC().Format(time.RFC3339), gitx.Short(r.Commit), r.Branch, snap, what)
	}
	return nil
}
