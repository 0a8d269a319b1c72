package hook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/errlist"
	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// Revert takes the enabled patches' edits out of the mailcow dir, for
// install.sh --uninstall --revert, and keeps every other change the admin
// made to the same files.
//
// For each file a patch edits, the patches are applied, in a scratch
// directory, to the file as it was before mcupdate: the committed version
// (HEAD) for a tracked file, none for an untracked one. The difference
// between that and the patched result is what the patches did; it is
// taken out of the file as it is now with a three-way merge (`git
// merge-file`): a file that is exactly what the patches made of nothing
// (a map file they created) is removed; one where the merge conflicts is
// left as it is and named. Edits of modes and owners, and settings in
// mailcow.conf (gitignored, so its version before mcupdate is unknown),
// are left in place and named. Nothing is restarted.
func Revert(ctx context.Context, env *Env) (*Report, error) {
	start := env.Now()
	r := newReport("revert", env)
	lock, err := env.State.Lock("mcupdate apply --revert")
	if err != nil {
		return nil, err
	}
	defer func() { _ = lock.Release() }()
	if err := env.confine(); err != nil {
		return nil, err
	}
	s, err := env.stepRevert(ctx)
	env.print(s)
	r.add(s, err)
	env.finish(r, start)
	return r, r.Err()
}

func (env *Env) stepRevert(ctx context.Context) (Step, error) {
	s := Step{Name: "revert"}
	bound, _, err := env.LoadPatches()
	if err != nil {
		return failStep(s, err)
	}
	if len(bound) == 0 {
		s.Status, s.Message = StatusOK, "no patches enabled: nothing to revert"
		return s, nil
	}
	files, modeNotes := revertFiles(bound)
	s.Details = append(s.Details, modeNotes...)

	scratch, err := os.MkdirTemp(env.TempDir, "mcupdate-revert-")
	if err != nil {
		return failStep(s, err)
	}
	defer os.RemoveAll(scratch)
	base := filepath.Join(scratch, "mailcow")
	before, err := env.committedVersions(ctx, files)
	if err != nil {
		s.Status, s.Message = StatusError, "read the committed files: "+err.Error()
		return s, err
	}
	if err := writeScratch(base, files, before); err != nil {
		return failStep(s, err)
	}
	// The patches applied to the files as they were before mcupdate.
	if _, err := patch.Apply(scratchWriter{}, base, bound, patch.ModeApply); err != nil {
		env.UI.Debugf("revert: applying to the committed versions: %v", err)
	}

	var reverted, removed, kept []string
	var errs []error
	for _, f := range files {
		outcome, why, err := env.revertFile(ctx, scratch, base, f, before)
		switch {
		case err != nil:
			errs = append(errs, err)
		case outcome == revertReverted:
			reverted = append(reverted, f)
		case outcome == revertRemoved:
			removed = append(removed, f)
		case outcome == revertKept:
			kept = append(kept, f+": "+why)
		}
	}
	return env.revertReport(s, len(bound), reverted, removed, kept, errs)
}

// revertFiles lists, sorted, the files the patches edit other than by
// modes and owners only, and a line for each edit of modes and owners,
// which a revert leaves in place.
func revertFiles(bound []*patch.Bound) (files, modeNotes []string) {
	seen := map[string]bool{}
	modeOnly := map[string]bool{}
	for _, b := range bound {
		for _, e := range b.Edits {
			if e.Kind == patch.KindMode {
				modeOnly[e.File] = true
				modeNotes = append(modeNotes, fmt.Sprintf("left in place: patch %s, edit %s: modes and owners of %s (their values before are not known)", b.Name, e.Name, e.File))
			}
		}
		for _, e := range b.Edits {
			if e.Kind != patch.KindMode {
				modeOnly[e.File] = false
			}
		}
		for _, f := range b.Files() {
			if !seen[f] && !modeOnly[f] {
				seen[f] = true
				files = append(files, f)
			}
		}
	}
	sort.Strings(files)
	return files, modeNotes
}

// committedVersions reads files as committed (HEAD); a file that is not
// tracked has no entry.
func (env *Env) committedVersions(ctx context.Context, files []string) (map[string][]byte, error) {
	g := &gitx.Runner{Dir: env.MailcowDir, Timeout: gitTimeout}
	specs := make([]string, len(files))
	for i, f := range files {
		specs[i] = "HEAD:" + f
	}
	blobs, err := g.Blobs(ctx, specs, 64<<20)
	if err != nil {
		return nil, err
	}
	before := map[string][]byte{}
	for i, f := range files {
		if b := blobs[specs[i]]; !b.Missing && b.Data != nil {
			before[f] = b.Data
		}
	}
	return before, nil
}

// writeScratch writes the committed versions of files under base, and
// the directory of every file, tracked or not, for the patches to write
// in.
func writeScratch(base string, files []string, before map[string][]byte) error {
	for _, f := range files {
		p := filepath.Join(base, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		data, tracked := before[f]
		if !tracked {
			continue
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// revertOutcome is what revertFile did to a file.
type revertOutcome int

const (
	revertNothing  revertOutcome = iota // nothing of the patches in it
	revertReverted                      // the patches' edits taken out
	revertRemoved                       // created by the patches, removed
	revertKept                          // left as it is, for the reason given
)

// revertFile takes the patches' edits out of the mailcow dir's f: the
// difference between its committed version (before) and that patched
// (under base) is taken out of the file as it is now. scratch is where
// the three-way merge works.
func (env *Env) revertFile(ctx context.Context, scratch, base, f string, before map[string][]byte) (revertOutcome, string, error) {
	cur, curErr := os.ReadFile(filepath.Join(env.MailcowDir, filepath.FromSlash(f)))
	if errors.Is(curErr, fs.ErrNotExist) {
		return revertNothing, "", nil
	}
	if curErr != nil {
		return revertNothing, "", curErr
	}
	patched, perr := os.ReadFile(filepath.Join(base, filepath.FromSlash(f)))
	if perr != nil && !errors.Is(perr, fs.ErrNotExist) {
		return revertNothing, "", perr
	}
	orig, tracked := before[f]
	if bytes.Equal(patched, orig) || (!tracked && perr != nil) {
		return revertNothing, "", nil // the patches change nothing in the committed version
	}
	if f == "mailcow.conf" {
		return revertKept, "the patches' settings are left (mailcow.conf is not tracked: its values before mcupdate are not known)", nil
	}
	abs := filepath.Join(env.MailcowDir, filepath.FromSlash(f))
	if bytes.Equal(cur, patched) && !tracked {
		if err := env.Sys.Remove(abs); err != nil {
			return revertNothing, "", err
		}
		return revertRemoved, "", nil
	}
	var out []byte
	if !tracked {
		// No version before mcupdate: take the patches' lines out.
		out = withoutLines(cur, patched)
	} else {
		merged, clean, err := mergeFile(ctx, scratch, cur, patched, orig)
		if err != nil {
			return revertNothing, "", fmt.Errorf("%s: %w", f, err)
		}
		if !clean {
			return revertKept, "your later edits overlap the patches' lines: left as it is, take them out by hand", nil
		}
		out = merged
	}
	if bytes.Equal(out, cur) {
		return revertNothing, "", nil
	}
	if err := env.Sys.WriteFile(abs, out, 0o644); err != nil {
		return revertNothing, "", err
	}
	return revertReverted, "", nil
}

// revertReport fills in the step from what the revert did to the
// files; nBound is the number of enabled patches.
func (env *Env) revertReport(s Step, nBound int, reverted, removed, kept []string, errs []error) (Step, error) {
	verb, rverb := "reverted", "removed"
	if env.DryRun {
		verb, rverb = "would revert", "would remove"
	}
	for _, f := range reverted {
		s.Details = append(s.Details, verb+" "+f)
	}
	for _, f := range removed {
		s.Details = append(s.Details, rverb+" "+f+" (the patches created it)")
	}
	for _, k := range kept {
		s.Details = append(s.Details, "left in place: "+k)
	}
	if err := errlist.Join(errs...); err != nil {
		s.Status, s.Message = StatusError, err.Error()
		return s, err
	}
	switch {
	case len(reverted)+len(removed) == 0:
		s.Status, s.Message = StatusOK, "none of the enabled patches' edits is in the mailcow dir"
	default:
		s.Status = StatusChanged
		s.Message = fmt.Sprintf("%s the edits of %d enabled patches in %s; restart mailcow's services to use the files", verb, nBound, ui.Count(len(reverted)+len(removed), "file"))
	}
	if len(kept) > 0 {
		s.Status = StatusWarning
	}
	return s, nil
}

// withoutLines is cur without the first occurrence of each of lines'
// lines.
func withoutLines(cur, lines []byte) []byte {
	drop := map[string]int{}
	for _, l := range bytes.SplitAfter(lines, []byte("\n")) {
		if len(l) > 0 {
			drop[strings.TrimRight(string(l), "\n")]++
		}
	}
	var out []byte
	for _, l := range bytes.SplitAfter(cur, []byte("\n")) {
		k := strings.TrimRight(string(l), "\n")
		if len(l) > 0 && drop[k] > 0 {
			drop[k]--
			continue
		}
		out = append(out, l...)
	}
	return out
}

func failStep(s Step, err error) (Step, error) {
	s.Status, s.Message = StatusError, err.Error()
	return s, err
}

// mergeFile takes what turned base into patched out of cur: `git
// merge-file -p CUR PATCHED BASE`. clean is false on a conflict.
func mergeFile(ctx context.Context, dir string, cur, patched, base []byte) (out []byte, clean bool, err error) {
	names := []string{"current", "patched", "before"}
	for i, data := range [][]byte{cur, patched, base} {
		if err := os.WriteFile(filepath.Join(dir, names[i]), data, 0o600); err != nil {
			return nil, false, err
		}
	}
	r := gitx.Runner{Dir: dir, Timeout: time.Minute}
	out, err = r.Run(ctx, "merge-file", "-p", "--", names[0], names[1], names[2])
	if err == nil {
		return out, true, nil
	}
	if code := gitx.ExitCode(err); code > 0 && code < 127 {
		return nil, false, nil // the number of conflicts
	}
	return nil, false, err
}

// scratchWriter writes the scratch copies: plain files, no owners.
type scratchWriter struct{}

func (scratchWriter) WriteFile(name string, data []byte, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		return err
	}
	return os.WriteFile(name, data, perm)
}
func (scratchWriter) Chmod(name string, perm fs.FileMode) error { return os.Chmod(name, perm) }
func (scratchWriter) Lchown(string, int, int) error             { return nil }

var _ patch.Writer = scratchWriter{}
