package patch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/errlist"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/secret"
	"github.com/mcupdate/mcupdate/cmd/internal/udiff"
)

// Writer is where [Apply] writes. cmd/internal/fsx's System, Recorder and
// Check satisfy it. When the Writer also has ReadFile (as the dry-run
// recorder has), reads go through it so two edits of one file compose; a
// Writer with Remove lets a failed patch remove the files it created.
type Writer interface {
	WriteFile(name string, data []byte, perm fs.FileMode) error
	Chmod(name string, perm fs.FileMode) error
	Lchown(name string, uid, gid int) error
}

type fileReader interface {
	ReadFile(name string) ([]byte, error)
}

type remover interface {
	Remove(name string) error
}

// linkResolver says where a write through a link lands; fsx's systems
// have it.
type linkResolver interface {
	ResolveLink(name string) (string, error)
}

// LinkedFile is the one file mcupdate edits through a symbolic link that
// may lead outside the mailcow dir, at the link's target: update.sh does
// the same (sed -i --follow-symlinks), and admins keep mailcow.conf in
// /etc or a secrets mount, with mailcow's .env linking to it. Every
// other write stays inside the mailcow dir.
const LinkedFile = "mailcow.conf"

// Mode is what [Apply] does with the changes it computed.
type Mode int

const (
	// ModeApply writes the changes.
	ModeApply Mode = iota
	// ModeDryRun writes them to the Writer (a recorder) and reports them
	// as would-change, with diffs.
	ModeDryRun
	// ModeCheck writes nothing at all and reports the drift.
	ModeCheck
)

// State is the outcome of one edit.
type State string

// The edit states.
const (
	StateAlreadyApplied State = "already-applied"
	StateApplied        State = "applied"
	// StateWouldChange is a change found by a dry run or a check.
	StateWouldChange   State = "would-change"
	StateAnchorMissing State = "anchor-missing"
	StateFileMissing   State = "file-missing"
	// StateFailed is any other error: an ambiguous anchor, an unsafe
	// path, a failed read or write.
	StateFailed State = "failed"
	// StateSkipped is an edit that was ready but not written because
	// another edit of its patch failed: a patch is applied all or none.
	StateSkipped State = "skipped"
)

// EditResult is the outcome of one edit.
type EditResult struct {
	Edit  string
	Kind  Kind
	File  string // relative to the mailcow dir
	State State
	// Diff is a unified diff of the edit's change (for a mode edit, a
	// list of the permission and owner changes), with secret parameter
	// values masked and every secret hidden, context lines included: the
	// secret settings of the file (its old and new version) and the
	// values of mailcow.conf's. Empty when nothing changes.
	Diff string
	Err  error
}

// PatchResult is the outcome of one patch.
type PatchResult struct {
	Name  string
	Edits []EditResult
	// Changed lists the files the patch changed (or would change),
	// relative to the mailcow dir, sorted.
	Changed  []string
	Services []string
	Restart  Restart
	Err      error

	// undo is what the patch's writes replaced, for [PatchResult.Revert];
	// nil when nothing was written.
	undo *undoLog
}

// undoLog is what one patch's writes replaced: each file's content
// before the patch (or that it did not exist), and the chmod and chown
// done, in the order they were made.
type undoLog struct {
	files []fileUndo
	modes []modeOp
}

type fileUndo struct {
	abs string
	old fileState
}

// ErrNothingToRevert is returned by [PatchResult.Revert] for a patch that
// wrote nothing.
var ErrNothingToRevert = errors.New("the patch wrote nothing to revert")

// Revert puts every file the patch wrote back to its content before the
// patch (a file the patch created is removed) and undoes its chmod and
// chown, all of them even when one fails: a patch's files are reverted
// together, each atomically through w. Only a patch applied with
// [ModeApply] can be reverted, and only before a later write of the same
// files by something else: the content is the one this run saw.
func (p *PatchResult) Revert(w Writer) error {
	if p.undo == nil {
		return ErrNothingToRevert
	}
	var errs []error
	for i := len(p.undo.modes) - 1; i >= 0; i-- {
		if err := p.undo.modes[i].undo(w); err != nil {
			errs = append(errs, fmt.Errorf("patch %s: restoring %s: %w", p.Name, p.undo.modes[i].path, err))
		}
	}
	for _, f := range p.undo.files {
		if err := restoreFile(w, f.abs, f.old); err != nil {
			errs = append(errs, fmt.Errorf("patch %s: restoring %s: %w", p.Name, f.abs, err))
		}
	}
	if len(errs) == 0 {
		p.undo = nil
	}
	return joinErrs(errs)
}

// restoreFile writes old back at abs, or removes abs when it did not
// exist.
func restoreFile(w Writer, abs string, old fileState) error {
	if old.exists {
		return w.WriteFile(abs, []byte(old.data), 0o644)
	}
	if rm, ok := w.(remover); ok {
		return rm.Remove(abs)
	}
	return errors.New("the writer cannot remove the file this patch created")
}

// Result is the outcome of [Apply].
type Result struct {
	Patches []PatchResult
}

// Drift reports whether any edit was not already applied: what verify
// fails on.
func (r *Result) Drift() bool {
	for _, p := range r.Patches {
		for _, e := range p.Edits {
			if e.State != StateAlreadyApplied {
				return true
			}
		}
	}
	return false
}

// Services returns the services to restart and those to recreate because
// a patch changed (or, for a dry run, would change) their files. A service
// to recreate is not also restarted.
func (r *Result) Services() (restart, recreate []string) {
	how := map[string]Restart{}
	for _, p := range r.Patches {
		if len(p.Changed) == 0 || p.Err != nil {
			continue
		}
		for _, s := range p.Services {
			if how[s] != RestartRecreate {
				how[s] = p.Restart
			}
		}
	}
	for s, h := range how {
		if h == RestartRecreate {
			recreate = append(recreate, s)
		} else {
			restart = append(restart, s)
		}
	}
	sort.Strings(restart)
	sort.Strings(recreate)
	return restart, recreate
}

// EditError is the failure of one edit, naming the patch, the edit and the
// file. Err wraps a sentinel such as [ErrAnchorMissing].
type EditError struct {
	Patch, Edit, File string
	Err               error
	mask              masker
}

func (e *EditError) Error() string {
	// An anchor may hold a parameter's value: secret ones are masked.
	return e.mask.mask(fmt.Sprintf("patch %s, edit %s: %s: %v", e.Patch, e.Edit, e.File, e.Err))
}

func (e *EditError) Unwrap() error { return e.Err }

// joinErrs collects errs into one multierror, one error a line, leaving
// out nil ones; nil when none is left. It is the one way this package
// collects errors.
func joinErrs(errs []error) error { return errlist.Join(errs...) }

// fileState is a file's content as the run sees it: on disk, or as an
// earlier patch of this run left it.
type fileState struct {
	data   string
	exists bool
}

type run struct {
	w       Writer
	root    string
	realDir string
	mode    Mode
	files   map[string]fileState // by absolute path
	secrets *secret.Redactor     // mailcow.conf's secrets, read once for the first diff
	undo    *undoLog             // what the last patch's writes replaced
}

// Seams for tests.
var (
	readFile  = os.ReadFile
	lstat     = os.Lstat
	walkDir   = filepath.WalkDir
	evalLinks = filepath.EvalSymlinks
)

// Apply runs the bound patches against the mailcow dir, in order. Each
// patch is computed in full first and written all or none; one failing
// patch does not stop the others. The error lists every failure; the
// Result is complete either way.
func Apply(w Writer, mailcowDir string, ps []*Bound, mode Mode) (*Result, error) {
	realDir, err := evalLinks(mailcowDir)
	if err != nil {
		return &Result{}, fmt.Errorf("mailcow dir %s: %w", mailcowDir, err)
	}
	r := &run{w: w, root: mailcowDir, realDir: realDir, mode: mode, files: map[string]fileState{}}
	res := &Result{}
	var errs []error
	for _, b := range ps {
		r.undo = nil
		pr := r.patch(b)
		if pr.Err == nil {
			pr.undo = r.undo
		}
		if pr.Err != nil {
			errs = append(errs, pr.Err)
		}
		res.Patches = append(res.Patches, pr)
	}
	return res, joinErrs(errs)
}

// planned is one edit's computed change.
type planned struct {
	be       *boundEdit
	abs      string
	old, new fileState
	modes    []modeOp
	res      *EditResult
}

func stateOf(err error) State {
	switch {
	case errors.Is(err, ErrAnchorMissing):
		return StateAnchorMissing
	case errors.Is(err, ErrFileMissing):
		return StateFileMissing
	}
	return StateFailed
}

func (r *run) patch(b *Bound) PatchResult {
	pr := PatchResult{Name: b.Name, Services: b.Services, Restart: b.Restart}
	// Room for the checks' results: planned edits point into this array.
	pr.Edits = make([]EditResult, len(b.edits), len(b.edits)+len(b.Checks))
	// Within the patch, edits see each other's results.
	view := map[string]fileState{}
	var plans []*planned
	var errs []error
	for i, be := range b.edits {
		pr.Edits[i] = EditResult{Edit: be.Name, Kind: be.Kind, File: be.File, State: StateAlreadyApplied}
		p, err := r.plan(b, be, &pr.Edits[i], view)
		if err != nil {
			err = &EditError{Patch: b.Name, Edit: be.Name, File: be.File, Err: err, mask: b.mask}
			pr.Edits[i].State, pr.Edits[i].Err = stateOf(err), err
			errs = append(errs, err)
			continue
		}
		if p != nil {
			plans = append(plans, p)
		}
	}
	// The checks see the files as the edits leave them; one that fails
	// stops the patch like a failed edit, and is reported as one.
	for _, c := range b.Checks {
		if err, broken := r.check(b, c, view); err != nil {
			err = &CheckError{Patch: b.Name, Check: c.Name, File: c.File, Err: err, Broken: broken}
			pr.Edits = append(pr.Edits, EditResult{Edit: c.Name, Kind: KindCheck, File: c.File, State: StateFailed, Err: err})
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		for _, p := range plans {
			p.res.State = StateSkipped
		}
		pr.Err = joinErrs(errs)
		return pr
	}
	if err := r.write(b, plans); err != nil {
		pr.Err = err
		return pr
	}
	pr.Changed = r.done(plans)
	return pr
}

// plan computes one edit's change against the files as the patch's
// earlier edits leave them (view, which it updates); nil when the edit
// is in place. Its diff goes to res.
func (r *run) plan(b *Bound, be *boundEdit, res *EditResult, view map[string]fileState) (*planned, error) {
	abs, err := r.safePath(be.File, be.File == LinkedFile)
	if err != nil {
		return nil, err
	}
	p := &planned{be: be, abs: abs, res: res}
	if mp, ok := be.kind.(modePlanner); ok {
		if p.modes, err = mp.plan(abs, be); err != nil || len(p.modes) == 0 {
			return nil, err
		}
		res.Diff = describeModes(r.root, p.modes)
		return p, nil
	}
	cur, ok := view[abs]
	if !ok {
		if cur, err = r.read(abs); err != nil {
			return nil, err
		}
	}
	if !cur.exists && !be.create {
		return nil, fmt.Errorf("%w (set create = true if the patch may create it)", ErrFileMissing)
	}
	out, err := edit(cur.data, be)
	if err != nil {
		return nil, err
	}
	if out == cur.data && cur.exists {
		return nil, nil
	}
	view[abs] = fileState{data: out, exists: true}
	p.old, p.new = cur, fileState{data: out, exists: true}
	res.Diff = r.redact(cur.data, out, b.mask.maskDiff(udiff.Unified("a/"+be.File, "b/"+be.File, cur.data, out)))
	return p, nil
}

// done marks a patch's written plans applied (would-change, for a dry
// run or check), makes the run see their files as they are now, and
// returns the files changed, sorted.
func (r *run) done(plans []*planned) []string {
	changed := map[string]bool{}
	for _, p := range plans {
		if r.mode == ModeApply {
			p.res.State = StateApplied
		} else {
			p.res.State = StateWouldChange
		}
		changed[p.be.File] = true
		if p.modes == nil {
			r.files[p.abs] = p.new
		}
	}
	var out []string
	for f := range changed {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// check runs one check against its file as this patch's edits leave it
// (view), else as the run sees it; broken says the parameter breaks the
// rule (else the file could not be read). A missing file has no value to
// break.
func (r *run) check(b *Bound, c *Check, view map[string]fileState) (err error, broken bool) {
	abs, err := r.safePath(c.File, c.File == "mailcow.conf")
	if err != nil {
		return err, false
	}
	cur, ok := view[abs]
	if !ok {
		if cur, err = r.read(abs); err != nil {
			return err, false
		}
	}
	if !cur.exists {
		return nil, false
	}
	err = c.run(b, cur.data)
	return err, err != nil
}

// redact hides every secret in the diff of old → new: the secret
// settings of both versions, context lines included (a dry run of
// fts-heap showed mailcow.conf's DBPASS line as context), and every value
// mailcow.conf sets as a secret, wherever it stands.
func (r *run) redact(old, new, diff string) string {
	if r.secrets == nil {
		conf, _ := r.read(filepath.Join(r.root, "mailcow.conf"))
		r.secrets = secret.NewRedactor([]byte(conf.data))
	}
	return r.secrets.Learn([]byte(old), []byte(new)).String(diff)
}

// read returns a file's content as this run sees it.
func (r *run) read(abs string) (fileState, error) {
	if st, ok := r.files[abs]; ok {
		return st, nil
	}
	var data []byte
	var err error
	if fr, ok := r.w.(fileReader); ok {
		data, err = fr.ReadFile(abs)
	} else {
		data, err = readFile(abs)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fileState{}, nil
	case err != nil:
		return fileState{}, err
	}
	return fileState{data: string(data), exists: true}, nil
}

// write writes a patch's planned changes. When one write fails, the ones
// already made are undone, so the patch stays all or none. In ModeApply
// it leaves in r.undo what a later [PatchResult.Revert] needs.
func (r *run) write(b *Bound, plans []*planned) error {
	if r.mode == ModeCheck || len(plans) == 0 {
		return nil
	}
	// The last plan of a file carries its final content; its first plan
	// carries the content to restore.
	final := map[string]*planned{}
	first := map[string]*planned{}
	var order []string
	for _, p := range plans {
		if p.modes != nil {
			continue
		}
		if _, ok := first[p.abs]; !ok {
			first[p.abs] = p
			order = append(order, p.abs)
		}
		final[p.abs] = p
	}
	var done []string
	var doneModes []modeOp
	undo := func(cause error, failedFile string) error {
		errs := []error{cause}
		for i := len(doneModes) - 1; i >= 0; i-- {
			if err := doneModes[i].undo(r.w); err != nil {
				errs = append(errs, fmt.Errorf("patch %s: restoring %s: %w", b.Name, doneModes[i].path, err))
			}
		}
		for _, abs := range done {
			if err := restoreFile(r.w, abs, first[abs].old); err != nil {
				errs = append(errs, fmt.Errorf("patch %s: restoring %s: %w", b.Name, abs, err))
			}
		}
		for _, p := range plans {
			if p.be.File == failedFile {
				p.res.State, p.res.Err = StateFailed, cause
			} else {
				p.res.State = StateSkipped
			}
		}
		return joinErrs(errs)
	}
	for _, abs := range order {
		p := final[abs]
		if err := r.w.WriteFile(abs, []byte(p.new.data), p.be.perm); err != nil {
			return undo(&EditError{Patch: b.Name, Edit: p.be.Name, File: p.be.File, Err: err, mask: b.mask}, p.be.File)
		}
		done = append(done, abs)
	}
	for _, p := range plans {
		for _, op := range p.modes {
			if err := op.do(r.w); err != nil {
				return undo(&EditError{Patch: b.Name, Edit: p.be.Name, File: p.be.File, Err: err, mask: b.mask}, p.be.File)
			}
			doneModes = append(doneModes, op)
		}
	}

	if r.mode == ModeApply {
		r.undo = &undoLog{modes: doneModes}
		for _, abs := range done {
			r.undo.files = append(r.undo.files, fileUndo{abs: abs, old: first[abs].old})
		}
	}
	return nil
}

// safePath joins rel to the mailcow dir and refuses a result that a
// symlink leads out of it. allowLink permits a symlink as the last
// component (update.sh itself follows a symlinked mailcow.conf): the path
// returned is then the link's final target, so the write lands there
// explicitly; a Writer never follows a link out on its own.
func (r *run) safePath(rel string, allowLink bool) (string, error) {
	abs := filepath.Join(r.root, filepath.FromSlash(rel))
	check := abs
	if allowLink {
		check = filepath.Dir(abs)
	}
	real, err := evalExisting(check)
	if err != nil {
		return "", err
	}
	if real != r.realDir && !strings.HasPrefix(real, r.realDir+string(filepath.Separator)) {
		return "", fmt.Errorf("path %w: it resolves to %s", fsx.ErrUnsafePath, real)
	}
	if allowLink {
		if lr, ok := r.w.(linkResolver); ok {
			return lr.ResolveLink(abs)
		}
		return evalExisting(abs)
	}
	return abs, nil
}

// evalExisting resolves the symlinks of the longest existing prefix of p.
func evalExisting(p string) (string, error) {
	real, err := evalLinks(p)
	if err == nil {
		return real, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	parent := filepath.Dir(p)
	if parent == p {
		return p, nil
	}
	rp, err := evalExisting(parent)
	if err != nil {
		return "", err
	}
	return filepath.Join(rp, filepath.Base(p)), nil
}
