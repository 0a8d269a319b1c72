package hook

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/mcupdate/mcupdate/cmd/internal/snapshot"
)

// SnapshotStore is where the snapshots live below the state directory.
func (env *Env) SnapshotStore() string { return filepath.Join(env.State.Path, "snapshots") }

// stepSnapshot copies the gitignored overrides (and the configured paths)
// before update.sh can lose them. An unreadable file is skipped and
// reported; it never aborts the snapshot.
func stepSnapshot(_ context.Context, env *Env, ps *preState) (Step, error) {
	s := Step{Name: "snapshot"}
	m, err := snapshot.Create(env.Sys, snapshot.Options{
		MailcowDir: env.MailcowDir,
		Store:      env.SnapshotStore(),
		Paths:      env.Config.SnapshotPaths,
		Dirs:       env.Config.SnapshotDirs,
		Keep:       env.Config.SnapshotKeep,
		Commit:     ps.head,
		Now:        env.Now(),
		// Ten runs without a change leave one snapshot, and the record
		// names it.
		SkipUnchanged: true,
	})
	if m == nil {
		s.Status, s.Message = StatusError, err.Error()
		return s, err
	}
	for _, sk := range m.Skipped {
		s.Details = append(s.Details, fmt.Sprintf("skipped %s: %s", sk.Path, sk.Reason))
	}
	if err != nil {
		// The snapshot was taken; pruning old ones failed.
		what := "taken"
		if m.Reused {
			what = "unchanged, kept"
		}
		s.Status, s.Message = StatusWarning, fmt.Sprintf("snapshot %s %s (%d files), but: %v", m.ID, what, len(m.Entries), err)
		ps.snapshotID = m.ID
		return s, nil
	}
	if m.Reused {
		ps.snapshotID = m.ID
		s.Status, s.Message = StatusOK, fmt.Sprintf("nothing changed since snapshot %s (%d files): no new one taken", m.ID, len(m.Entries))
		if len(m.Skipped) > 0 {
			s.Status = StatusWarning
			s.Message += fmt.Sprintf(", %d skipped", len(m.Skipped))
		}
		return s, nil
	}
	if env.DryRun {
		s.Status, s.Message = StatusSkipped, fmt.Sprintf("dry run: would snapshot %d files", len(m.Entries))
		return s, nil
	}
	ps.snapshotID = m.ID
	s.Status, s.Message = StatusOK, fmt.Sprintf("snapshot %s: %d files in %s", m.ID, len(m.Entries), env.SnapshotStore())
	if len(m.Skipped) > 0 {
		s.Status = StatusWarning
		s.Message += fmt.Sprintf(", %d skipped", len(m.Skipped))
	}
	return s, nil
}
