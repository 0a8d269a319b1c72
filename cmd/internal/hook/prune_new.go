package hook

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/errlist"
)

// pruneKeptNew keeps update.sh's versions (FILE.mcupdate-new) of the
// newest [snapshot] keep updates and removes older ones, as the
// snapshots and daemon.json's backups are pruned. An update is a post
// hook run: the current one (started at start) and those whose reports
// are in the state dir; a file written before the oldest of the newest
// keep runs started is older than all of them. With fewer runs on
// record nothing is removed. Only regular files named
// <override>.mcupdate-new are looked at, where overrides live: beside
// the configured paths and below the configured directories. It returns
// the files removed (or, in a dry run, that would be).
func (env *Env) pruneKeptNew(start time.Time) ([]string, error) {
	keep := max(env.Config.SnapshotKeep, 1)
	runs := []time.Time{start}
	names, _ := filepath.Glob(filepath.Join(env.State.Path, "report-*-post.json"))
	for _, n := range names {
		stamp := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(n), "report-"), "-post.json")
		if t, err := time.Parse("20060102T150405.000Z", stamp); err == nil && t.Before(start) {
			runs = append(runs, t)
		}
	}
	if len(runs) < keep {
		return nil, nil
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].After(runs[j]) })
	oldest := runs[keep-1]
	type kept struct {
		path string
		mod  int64
	}
	seen := map[string]bool{}
	var all []kept
	var errs []error
	add := func(p string, fi fs.FileInfo) {
		if seen[p] || !fi.Mode().IsRegular() {
			return
		}
		seen[p] = true
		all = append(all, kept{p, fi.ModTime().UnixNano()})
	}
	for _, rel := range env.Config.SnapshotPaths {
		p := filepath.Join(env.MailcowDir, filepath.FromSlash(rel)) + NewSuffix
		if fi, err := os.Lstat(p); err == nil {
			add(p, fi)
		}
	}
	for _, rel := range env.Config.SnapshotDirs {
		root := filepath.Join(env.MailcowDir, filepath.FromSlash(rel))
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				errs = append(errs, err)
				return nil
			}
			if d.IsDir() && d.Name() == ".git" {
				return filepath.SkipDir
			}
			if !strings.HasSuffix(d.Name(), NewSuffix) || d.Name() == NewSuffix || !d.Type().IsRegular() {
				return nil
			}
			if fi, err := d.Info(); err == nil {
				add(p, fi)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].path < all[j].path })
	var removed []string
	for _, k := range all {
		if k.mod >= oldest.UnixNano() {
			continue
		}
		if err := env.Sys.Remove(k.path); err != nil {
			errs = append(errs, fmt.Errorf("prune %s: %w", k.path, err))
			continue
		}
		rel, _ := filepath.Rel(env.MailcowDir, k.path)
		removed = append(removed, filepath.ToSlash(rel))
	}
	return removed, errlist.Join(errs...)
}
