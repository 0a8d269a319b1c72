// Package adopt turns the customizations an install already has into
// protected ones: `mcupdate adopt`.
//
// An install that ran for years has edits of tracked files that no patch
// describes; the next `git merge -Xtheirs` of update.sh may drop any of
// them. For every customization verify lists as unprotected, [Make]
// proposes its protection, in this order:
//
//  1. its override home, where mailcow has one that no merge touches: a
//     docker-compose.yml edit moves to docker-compose.override.yml (read
//     as YAML, merged as compose merges the two files), a postfix main.cf
//     edit to extra.cf; the tracked file goes back to upstream's version;
//  2. a shipped patch, its parameters read from the files as they are
//     (pools.conf's 2048M → php-memory-limit MEMORY_LIMIT = 2048M);
//  3. an own patch written to the patch dir, its edit kind and anchors
//     chosen from the change (ini key, line by its key, block after the
//     line above it).
//
// Nothing is proposed that would change what the services read: every
// patch is run in check mode over the files as they will be and must find
// nothing to change (enabling it over the equal hand edit changes no
// file), every own patch is also run on upstream's version of its file and
// must bring the admin's lines back, and every move is checked by parsing
// the result. What cannot be protected so is said, with why.
package adopt

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

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gitstate"
	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
	"github.com/mcupdate/mcupdate/cmd/internal/verify"
)

// Options says what to adopt.
type Options struct {
	MailcowDir string
	Config     *config.Config
	Now        time.Time
}

// How a customization is protected.
const (
	ByOverride = "override"      // moved to its override home
	ByShipped  = "shipped patch" // a patch of the library, enabled
	ByOwn      = "own patch"     // a patch written to the patch dir
	ByRevert   = "revert"        // only blank lines differ: upstream's version back
	ByNone     = "none"          // cannot be protected automatically
)

// Item is one customized file and how its customizations are protected.
type Item struct {
	File string
	// Covered is true when an enabled patch edits the file already (verify
	// counts it protected): Blocks are the ones no patch sets.
	Covered bool
	Blocks  []ledger.Block
	// By maps each block (by ID) to how it is protected, and Patch to
	// the patch (shipped or own) or override file doing it.
	By    map[string]string
	Patch map[string]string
	// Why says, for a block By ByNone, why not.
	Why map[string]string
}

// Write is one file adopt writes.
type Write struct {
	Path string // absolute
	Rel  string // for people: relative to the mailcow dir when inside it
	Old  []byte // nil: a new file
	New  []byte
	Perm fs.FileMode
	What string
}

// Plan is what adopt found and would do.
type Plan struct {
	Base  string // the upstream commit compared with
	Items []*Item
	// Enable lists the patches to enable, Params the parameters of the
	// shipped ones (by patch, in the patch's order).
	Enable []string
	Params map[string][][2]string
	// PatchDir is where own patches go; SetDir is true when mcupdate.ini
	// must name it.
	PatchDir string
	SetDir   bool
	// ConfigLines are what mcupdate.ini gets, as lines to show.
	ConfigLines []string
	Writes      []Write
	// Unprotected counts the blocks left without protection.
	Unprotected int
}

// planner carries one Make.
type planner struct {
	opt     Options
	ctx     context.Context
	lib     map[string]*patch.Patch
	own     map[string]*patch.Patch
	enabled map[string]bool
	ov      *fsx.Recorder // the files as adopt leaves them
	plan    *Plan
	base    map[string][]byte // upstream's version of each file
	cur     map[string][]byte // the install's version now
	written map[string]bool   // overlay paths adopt writes
}

// Make finds the unprotected customizations and proposes a protection
// for each. It writes nothing.
func Make(ctx context.Context, opt Options) (*Plan, error) {
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	pl := &planner{opt: opt, ctx: ctx, ov: &fsx.Recorder{}, plan: &Plan{Params: map[string][][2]string{}},
		base: map[string][]byte{}, cur: map[string][]byte{}, written: map[string]bool{}, enabled: map[string]bool{}}
	cfg := opt.Config
	l, err := patch.Load(cfg.PatchDir, cfg.PatchSettings())
	if err != nil {
		return nil, err
	}
	pl.lib, pl.own = l.Lib, l.Own
	for _, n := range cfg.Enabled {
		pl.enabled[n] = true
	}
	st, err := gitstate.Inspect(opt.MailcowDir)
	if err != nil {
		return nil, err
	}
	cs, unpro, err := verify.UnprotectedFiles(opt.MailcowDir, verify.Branch(cfg.Branch, st.Branch), l.Bound)
	if err != nil {
		return nil, err
	}
	pl.plan.Base = cs.Base
	pl.plan.PatchDir = cfg.PatchDir
	if pl.plan.PatchDir == "" {
		pl.plan.PatchDir = filepath.Join(filepath.Dir(cfg.Path), "patches")
		pl.plan.SetDir = true
	}
	if err := pl.read(cs.Files); err != nil {
		return nil, err
	}
	pl.addItems(cs, unpro, l.Bound)
	pl.moves()
	pl.shipped()
	pl.owned()
	pl.markUnprotected()
	if err := pl.configure(); err != nil {
		return nil, err
	}
	pl.collect()
	return pl.plan, nil
}

// addItems puts in the plan an item for each changed file with blocks
// to protect: every block of a file no enabled patch edits (unpro), the
// blocks the patches do not set of one they edit (bound). A deleted
// file, and one where only blanks differ, get their one block decided
// here.
func (pl *planner) addItems(cs *verify.Customizations, unpro []verify.Customization, bound []*patch.Bound) {
	isUnpro := map[string]bool{}
	for _, f := range unpro {
		isUnpro[f.File] = true
	}
	for _, f := range cs.Files {
		it := &Item{File: f.File, By: map[string]string{}, Patch: map[string]string{}, Why: map[string]string{}}
		if !isUnpro[f.File] {
			// A file an enabled patch edits: verify counts it covered,
			// but only the lines the patches set are protected.
			if f.Deleted {
				continue
			}
			it.Covered = true
			it.Blocks = pl.notGoverned(bound, f.File, ledger.Blocks(f.File, pl.base[f.File], pl.cur[f.File], false, nil))
			if len(it.Blocks) > 0 {
				pl.plan.Items = append(pl.plan.Items, it)
			}
			continue
		}
		pl.plan.Items = append(pl.plan.Items, it)
		if f.Deleted {
			it.Blocks = []ledger.Block{{ID: "deleted", File: f.File}}
			it.By["deleted"], it.Why["deleted"] = ByNone, "the file is deleted here: no patch brings a deletion back (git checkout "+gitx.Short(cs.Base)+" -- "+f.File+" takes upstream's version)"
			continue
		}
		it.Blocks = ledger.Blocks(f.File, pl.base[f.File], pl.cur[f.File], false, nil)
		if len(it.Blocks) == 0 {
			// Only blank lines or trailing blanks differ: nothing a
			// service reads; upstream's version back ends it.
			it.Blocks = []ledger.Block{{ID: "blank", File: f.File}}
			it.By["blank"], it.Patch["blank"] = ByRevert, "upstream's version (only blank lines or trailing blanks differ)"
			pl.put(f.File, pl.base[f.File], "back to upstream's version: only blank lines or trailing blanks differ")
		}
	}
}

// markUnprotected marks each block no protection was found for, and
// counts them in the plan.
func (pl *planner) markUnprotected() {
	for _, it := range pl.plan.Items {
		for _, b := range it.Blocks {
			if it.By[b.ID] == "" {
				it.By[b.ID] = ByNone
				if it.Why[b.ID] == "" {
					it.Why[b.ID] = "no protection found"
				}
			}
			if it.By[b.ID] == ByNone {
				pl.plan.Unprotected++
			}
		}
	}
}

// notGoverned returns the blocks of file whose added lines the enabled
// patches (bound) do not all set.
func (pl *planner) notGoverned(bound []*patch.Bound, file string, blocks []ledger.Block) []ledger.Block {
	gov := map[string]bool{}
	content := string(pl.cur[file])
	for _, b := range bound {
		for _, l := range b.Governed(file, content) {
			gov[strings.TrimSpace(l)] = true
		}
	}
	var out []ledger.Block
	for _, b := range blocks {
		if !coveredBy(b, gov) {
			out = append(out, b)
		}
	}
	return out
}

// read loads upstream's and the install's version of each file.
func (pl *planner) read(unpro []verify.Customization) error {
	g := &gitx.Runner{Dir: pl.opt.MailcowDir, Timeout: time.Minute}
	var specs []string
	for _, f := range unpro {
		specs = append(specs, pl.plan.Base+":"+f.File)
	}
	blobs, err := g.Blobs(pl.ctx, specs, ledger.MaxFileBytes)
	if err != nil {
		return err
	}
	for _, f := range unpro {
		b := blobs[pl.plan.Base+":"+f.File]
		pl.base[f.File] = b.Data
		if f.Deleted {
			continue
		}
		data, err := os.ReadFile(pl.abs(f.File))
		if err != nil {
			return err
		}
		pl.cur[f.File] = data
	}
	return nil
}

func (pl *planner) abs(rel string) string {
	return filepath.Join(pl.opt.MailcowDir, filepath.FromSlash(rel))
}

// content returns rel as adopt leaves it so far.
func (pl *planner) content(rel string) (string, bool) {
	data, err := pl.ov.ReadFile(pl.abs(rel))
	if err != nil {
		return "", false
	}
	return string(data), true
}

// put records that adopt writes data to rel (inside the mailcow dir).
func (pl *planner) put(rel string, data []byte, what string) {
	p := pl.abs(rel)
	_ = pl.ov.WriteFile(p, data, 0o644)
	if !pl.written[p] {
		pl.written[p] = true
		pl.plan.Writes = append(pl.plan.Writes, Write{Path: p, Rel: rel, What: what})
	} else {
		for i := range pl.plan.Writes {
			if pl.plan.Writes[i].Path == p {
				pl.plan.Writes[i].What += "; " + what
			}
		}
	}
}

// collect fills in the old and new content of every write.
func (pl *planner) collect() {
	for i := range pl.plan.Writes {
		w := &pl.plan.Writes[i]
		if old, err := os.ReadFile(w.Path); err == nil {
			w.Old = old
		}
		w.New, _ = pl.ov.ReadFile(w.Path)
		if w.Perm == 0 {
			w.Perm = 0o644
		}
	}
	sort.SliceStable(pl.plan.Writes, func(i, j int) bool { return writeOrder(pl.plan.Writes[i]) < writeOrder(pl.plan.Writes[j]) })
}

// writeOrder: own patches first, then the override files, then the
// tracked files, mcupdate.ini last: a run stopped half-way leaves nothing
// enabled that is not there, and no edit in neither place.
func writeOrder(w Write) int {
	switch {
	case strings.HasPrefix(w.What, "own patch"):
		return 0
	case strings.HasPrefix(w.What, "override"):
		return 1
	case strings.HasPrefix(w.What, "configuration"):
		return 3
	}
	return 2
}

// moves moves docker-compose.yml and main.cf edits to their override
// homes, each file all or nothing.
func (pl *planner) moves() {
	for _, it := range pl.plan.Items {
		var home string
		var move func(base, cur, home []byte) ([]byte, error)
		switch it.File {
		case "docker-compose.yml":
			home, move = "docker-compose.override.yml", moveCompose
		case "data/conf/postfix/main.cf":
			home = "data/conf/postfix/extra.cf"
			move = func(base, cur, extra []byte) ([]byte, error) { return movePostfix(it.Blocks, extra, pl.opt.Now) }
		default:
			continue
		}
		if pending(it) == 0 || it.Covered {
			continue
		}
		old, _ := pl.content(home)
		out, err := move(pl.base[it.File], pl.cur[it.File], []byte(old))
		if err != nil {
			for _, b := range it.Blocks {
				it.Why[b.ID] = "not moved to " + home + ": " + err.Error()
			}
			continue
		}
		if !bytes.Equal(out, []byte(old)) {
			pl.put(home, out, "override: the edits of "+it.File)
		}
		pl.put(it.File, pl.base[it.File], "back to upstream's version: its edits are in "+home+" now")
		for _, b := range it.Blocks {
			it.By[b.ID], it.Patch[b.ID], it.Why[b.ID] = ByOverride, home, ""
		}
	}
}

// pending counts the blocks of it without a protection yet.
func pending(it *Item) int {
	n := 0
	for _, b := range it.Blocks {
		if it.By[b.ID] == "" {
			n++
		}
	}
	return n
}

// addedLines are the admin's added lines of rel, for a block edit's
// parameters.
func (pl *planner) addedLines(rel string) []string {
	var out []string
	for _, it := range pl.plan.Items {
		if it.File != rel {
			continue
		}
		for _, b := range it.Blocks {
			for _, l := range b.Lines {
				if l.Op == "+" {
					out = append(out, strings.TrimSpace(l.Text))
				}
			}
		}
	}
	return out
}

// shipped enables the library patches that protect customized lines and,
// with parameters read from the files, change nothing.
func (pl *planner) shipped() {
	byFile := map[string]*Item{}
	for _, it := range pl.plan.Items {
		if pending(it) > 0 {
			byFile[it.File] = it
		}
	}
	for _, name := range patch.Names(pl.lib) {
		p := pl.lib[name]
		if pl.enabled[name] || pl.own[name] != nil {
			continue
		}
		touches := false
		for _, e := range p.Edits {
			if byFile[e.File] != nil && pending(byFile[e.File]) > 0 {
				touches = true
			}
		}
		if !touches {
			continue
		}
		params, err := patch.Derive(p, pl.content, pl.addedLines)
		if err != nil {
			pl.note(byFile, p, "shipped patch "+name+" does not fit: "+ui.FirstLine(err.Error()))
			continue
		}
		b, err := patch.Bind(p, params)
		if err != nil {
			pl.note(byFile, p, "shipped patch "+name+" does not fit: "+ui.FirstLine(err.Error()))
			continue
		}
		if why := pl.changes(b); why != "" {
			pl.note(byFile, p, "shipped patch "+name+" "+why)
			continue
		}
		// Which customized blocks it protects: all their added lines are
		// lines its edits set.
		protects := 0
		for _, f := range b.Files() {
			it := byFile[f]
			if it == nil {
				continue
			}
			content, _ := pl.content(f)
			gov := map[string]bool{}
			for _, l := range b.Governed(f, content) {
				gov[strings.TrimSpace(l)] = true
			}
			for _, blk := range it.Blocks {
				if it.By[blk.ID] != "" || !coveredBy(blk, gov) {
					continue
				}
				it.By[blk.ID], it.Patch[blk.ID], it.Why[blk.ID] = ByShipped, name, ""
				protects++
			}
		}
		if protects == 0 {
			continue
		}
		pl.plan.Enable = append(pl.plan.Enable, name)
		pl.enabled[name] = true
		var ps [][2]string
		for _, n := range p.Params {
			ps = append(ps, [2]string{n, params[n]})
		}
		pl.plan.Params[name] = ps
	}
}

// note records why a shipped patch was not taken, on the blocks it edits.
func (pl *planner) note(byFile map[string]*Item, p *patch.Patch, why string) {
	for _, e := range p.Edits {
		if it := byFile[e.File]; it != nil {
			for _, b := range it.Blocks {
				if it.By[b.ID] == "" && it.Why[b.ID] == "" {
					it.Why[b.ID] = why
				}
			}
		}
	}
}

// coveredBy reports whether every added line of b is one gov holds, and
// the block adds at least one.
func coveredBy(b ledger.Block, gov map[string]bool) bool {
	n := 0
	for _, l := range b.Lines {
		if l.Op != "+" {
			continue
		}
		if !gov[strings.TrimSpace(l.Text)] {
			return false
		}
		n++
	}
	return n > 0
}

// changes runs b in check mode over the files as adopt leaves them and
// says what it would change, or "".
func (pl *planner) changes(b *patch.Bound) string {
	res, err := patch.Apply(checkOverlay{pl.ov}, pl.opt.MailcowDir, []*patch.Bound{b}, patch.ModeCheck)
	if res == nil {
		return "cannot be checked: " + ui.FirstLine(fmt.Sprint(err))
	}
	var what []string
	for _, pr := range res.Patches {
		for _, e := range pr.Edits {
			switch e.State {
			case patch.StateAlreadyApplied:
			case patch.StateWouldChange:
				what = append(what, "would change "+e.File+" (edit "+e.Edit+")")
			default:
				msg := string(e.State)
				if e.Err != nil {
					msg = ui.FirstLine(e.Err.Error())
				}
				what = append(what, "edit "+e.Edit+": "+msg)
			}
		}
		if pr.Err != nil && len(pr.Edits) == 0 {
			what = append(what, ui.FirstLine(pr.Err.Error()))
		}
	}
	return strings.Join(what, "; ")
}

// checkOverlay reads through the overlay and refuses every write.
type checkOverlay struct{ ov *fsx.Recorder }

func (c checkOverlay) ReadFile(name string) ([]byte, error) { return c.ov.ReadFile(name) }
func (checkOverlay) WriteFile(name string, _ []byte, _ fs.FileMode) error {
	return &fs.PathError{Op: "write", Path: name, Err: fsx.ErrWriteRefused}
}
func (checkOverlay) Chmod(name string, _ fs.FileMode) error {
	return &fs.PathError{Op: "chmod", Path: name, Err: fsx.ErrWriteRefused}
}
func (checkOverlay) Lchown(name string, _, _ int) error {
	return &fs.PathError{Op: "chown", Path: name, Err: fsx.ErrWriteRefused}
}

// owned writes an own patch for each file whose blocks are still
// unprotected.
func (pl *planner) owned() {
	taken := map[string]bool{}
	for n := range pl.lib {
		taken[n] = true
	}
	for n := range pl.own {
		taken[n] = true
	}
	for _, it := range pl.plan.Items {
		var todo []ledger.Block
		for _, b := range it.Blocks {
			if it.By[b.ID] == "" {
				todo = append(todo, b)
			}
		}
		if len(todo) == 0 {
			continue
		}
		name := ownName(it.File, taken, pl.plan.PatchDir)
		src, ok, why := pl.ownPatch(name, it, todo)
		for _, b := range todo {
			if w, bad := why[b.ID]; bad {
				it.Why[b.ID] = w
				continue
			}
			if ok {
				it.By[b.ID], it.Patch[b.ID], it.Why[b.ID] = ByOwn, name, ""
			}
		}
		if !ok {
			continue
		}
		taken[name] = true
		p := filepath.Join(pl.plan.PatchDir, name+".ini")
		_ = pl.ov.WriteFile(p, src, 0o644)
		pl.written[p] = true
		pl.plan.Writes = append(pl.plan.Writes, Write{Path: p, Rel: p, What: "own patch " + name + " for " + it.File})
		pl.plan.Enable = append(pl.plan.Enable, name)
	}
}

// ownName is adopted-<file's path below data/conf, with dashes>, made
// unique among the known patches and the files of the patch dir.
func ownName(rel string, taken map[string]bool, dir string) string {
	base := strings.TrimPrefix(rel, "data/conf/")
	base = strings.NewReplacer("/", "-", " ", "-").Replace(base)
	base = "adopted-" + strings.Trim(base, ".-")
	var clean []rune
	for _, r := range base {
		if r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			clean = append(clean, r)
		}
	}
	base = string(clean)
	name := base
	for i := 2; ; i++ {
		_, err := os.Lstat(filepath.Join(dir, name+".ini"))
		if !taken[name] && errors.Is(err, fs.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}

// Apply makes the plan's writes through sys, in the plan's order, and
// stops at the first failure (the error names the file).
func (p *Plan) Apply(sys fsx.System) ([]string, error) {
	var done []string
	for _, w := range p.Writes {
		if err := sys.MkdirAll(filepath.Dir(w.Path), 0o755); err != nil {
			return done, fmt.Errorf("%s: %w", w.Rel, err)
		}
		if err := sys.WriteFile(w.Path, w.New, w.Perm); err != nil {
			return done, fmt.Errorf("%s: %w", w.Rel, err)
		}
		done = append(done, w.Rel)
	}
	return done, nil
}
