// Package ledger knows the install's customizations: everything its
// tracked files have on top of upstream, whoever committed it and when.
//
// update.sh commits an admin's edits once ("Before update on …"), on the
// first update after they were made; from then on they live in the
// branch's history, and every later `git merge -Xtheirs` drops them just
// the same whenever upstream touches their hunk. So the customizations are
// not one commit: they are the difference between the upstream base (the
// newest upstream commit in the install's history, `git merge-base` of the
// install and upstream) and the install (HEAD plus the uncommitted work
// tree, as update.sh will commit it).
//
// [Scan] finds them, one [Block] per run of changed lines; [Block.Lost]
// tells which of a block's lines a file no longer reflects, and
// [Classify] what an update did to a block. The post hook, `mcupdate
// diff`, `verify` and `replay` all judge losses with these, and the
// [Ledger] in the state directory remembers every block across updates,
// so that a loss stays a failing check until the admin restores,
// protects or acknowledges it.
package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/udiff"
)

// MaxFileBytes is the largest file Scan reads; mailcow's configuration
// files are far smaller, and a larger one is not hand-edited.
const MaxFileBytes = 4 << 20

// Line is one changed line of a block.
type Line struct {
	// Op is "+" for a line the install added, "-" for one it removed.
	Op string `json:"op"`
	// Text is the line as the admin sees it, secrets redacted.
	Text string `json:"text"`
	// Sum identifies the line's real text (trailing space ignored)
	// without keeping it: the ledger must hold no secret. It stays in the
	// state dir: what is shown or sent leaves it out (see [Public]).
	Sum string `json:"sum,omitempty"`
}

// String returns the line diff-style, "+text" or "-text".
func (l Line) String() string { return l.Op + l.Text }

// Block is one customization: a run of changed lines in one file.
type Block struct {
	// ID names the block for the admin (`mcupdate ack ID`): the same
	// change of the same file always gets the same ID.
	ID string `json:"id"`
	// File is relative to the mailcow dir, slash-separated.
	File string `json:"file"`
	// Where places the block for a reader: "service dovecot-mailcow",
	// "[web-worker]", or "".
	Where string `json:"where,omitempty"`
	// NewFile is set when upstream has no such file: the admin added it.
	NewFile bool   `json:"new_file,omitempty"`
	Lines   []Line `json:"lines"`
	// At and End are where the block is in the install's file: its lines
	// At..End-1 (1-based; At == End for a block that only removed lines,
	// whose place is before line At). Removed is every line the run
	// removed, also those Lines leaves out (blank, or still elsewhere in
	// the file). Not kept in the ledger.
	At, End int      `json:"-"`
	Removed []string `json:"-"`
}

// Label is how messages name the block: "FILE (WHERE) ID".
func (b *Block) Label() string {
	if b.Where != "" {
		return fmt.Sprintf("%s (%s) %s", b.File, b.Where, b.ID)
	}
	return b.File + " " + b.ID
}

// Describe is how a message shows a customization in one line: "ID FILE
// (WHERE): WHAT", the place left out when there is none. The hooks' steps
// and verify's lost check show it so; what is the caller's (its lines, or
// why they are not shown).
func Describe(id, file, where, what string) string {
	if where != "" {
		file += " (" + where + ")"
	}
	return fmt.Sprintf("%s %s: %s", id, file, what)
}

// Added returns the block's added lines, diff-style.
func (b *Block) Added() []string {
	var out []string
	for _, l := range b.Lines {
		if l.Op == "+" {
			out = append(out, l.String())
		}
	}
	return out
}

// Set is what Scan found.
type Set struct {
	// Base is the upstream commit compared with; Mine the install's
	// commit, or "" for the work tree.
	Base, Mine string
	Blocks     []Block
	// Changes are the paths mine differs in from base, as git lists
	// them (also the deleted, binary and skipped ones).
	Changes []gitx.Change
	// Skipped names files not read (too large, binary), with why.
	Skipped []string
}

// Files returns the files with blocks, in order.
func (s *Set) Files() []string {
	var out []string
	for i, b := range s.Blocks {
		if i == 0 || s.Blocks[i-1].File != b.File {
			out = append(out, b.File)
		}
	}
	return out
}

// Scan finds the customizations of mine (a commit, or "" for the work
// tree of g.Dir: HEAD plus staged and unstaged edits of tracked files)
// against the upstream commit base. Files the install deleted are not
// blocks: update.sh keeps a deletion through any merge but a
// modify/delete conflict, which its clean-up resolves by deleting. red
// hides secrets in the lines kept for display.
func Scan(ctx context.Context, g *gitx.Runner, base, mine string, red func(string) string) (*Set, error) {
	var cs []gitx.Change
	var err error
	if mine == "" {
		cs, err = g.DiffWorkTree(ctx, base)
	} else {
		cs, err = g.DiffTree(ctx, base, mine, "")
	}
	if err != nil {
		return nil, err
	}
	set := &Set{Base: base, Mine: mine, Changes: cs}
	var specs []string
	for _, c := range cs {
		switch c.Status {
		case 'M', 'T':
			specs = append(specs, base+":"+c.Path)
			if mine != "" {
				specs = append(specs, mine+":"+c.Path)
			}
		case 'A':
			if mine != "" {
				specs = append(specs, mine+":"+c.Path)
			}
		}
	}
	blobs, err := g.Blobs(ctx, specs, MaxFileBytes)
	if err != nil {
		return nil, err
	}
	read := func(spec string) ([]byte, string) {
		b, ok := blobs[spec]
		switch {
		case !ok || b.Missing:
			return nil, "not in the object store"
		case b.Data == nil && b.Size > 0:
			return nil, fmt.Sprintf("%d bytes, more than %d", b.Size, MaxFileBytes)
		}
		return b.Data, ""
	}
	for _, c := range cs {
		if c.Status != 'M' && c.Status != 'T' && c.Status != 'A' {
			continue
		}
		var old, cur []byte
		var why string
		if c.Status != 'A' {
			if old, why = read(base + ":" + c.Path); why != "" {
				set.Skipped = append(set.Skipped, c.Path+" at the upstream base: "+why)
				continue
			}
		}
		if mine != "" {
			cur, why = read(mine + ":" + c.Path)
		} else {
			cur, why = readWorkTree(g.Dir, c.Path)
		}
		if why != "" {
			set.Skipped = append(set.Skipped, c.Path+": "+why)
			continue
		}
		if isBinary(old) || isBinary(cur) {
			set.Skipped = append(set.Skipped, c.Path+": binary")
			continue
		}
		set.Blocks = append(set.Blocks, Blocks(c.Path, old, cur, c.Status == 'A', red)...)
	}
	return set, nil
}

// readWorkTree reads a tracked file as git sees it: a symbolic link is its
// target's name.
func readWorkTree(dir, rel string) ([]byte, string) {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "deleted in the work tree"
	}
	if err != nil {
		return nil, err.Error()
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		t, err := os.Readlink(p)
		if err != nil {
			return nil, err.Error()
		}
		return []byte(t), ""
	case !fi.Mode().IsRegular():
		return nil, "not a regular file"
	case fi.Size() > MaxFileBytes:
		return nil, fmt.Sprintf("%d bytes, more than %d", fi.Size(), MaxFileBytes)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err.Error()
	}
	return b, ""
}

func isBinary(b []byte) bool {
	if len(b) > 8000 {
		b = b[:8000]
	}
	return bytes.IndexByte(b, 0) >= 0
}

// Blocks returns the customizations that turn old (upstream's file) into
// mine (the install's), one block per run of changed lines. Blank lines
// are not customizations; a removed line that mine still has elsewhere
// is not either (nothing can bring it "back").
func Blocks(file string, old, mine []byte, newFile bool, red func(string) string) []Block {
	if red == nil {
		red = func(s string) string { return s }
	}
	mineLines := strings.Split(string(mine), "\n")
	inMine := sums(mine)
	var out []Block
	for _, h := range udiff.Hunks(string(old), string(mine)) {
		newLine := h.NewStart
		if h.NewLines == 0 {
			newLine++ // diff -u numbers an empty side from the line before
		}
		var cur *Block
		flush := func() {
			if cur != nil && len(cur.Lines) > 0 {
				cur.ID = blockID(cur)
				out = append(out, *cur)
			}
			cur = nil
		}
		for _, l := range h.Lines {
			op, text := l[:1], norm(l[1:])
			if op == " " {
				flush()
				newLine++
				continue
			}
			if cur == nil {
				ind := len(text) - len(strings.TrimLeft(text, " "))
				cur = &Block{File: file, NewFile: newFile, Where: red(where(file, mineLines, newLine-1, ind)), At: newLine, End: newLine}
			}
			if op == "+" {
				newLine++
				cur.End = newLine
			}
			if op == "-" {
				cur.Removed = append(cur.Removed, text)
			}
			if strings.TrimSpace(text) == "" {
				continue
			}
			sum := lineSum(text)
			if op == "-" && inMine[sum] {
				continue
			}
			cur.Lines = append(cur.Lines, Line{Op: op, Text: red(text), Sum: sum})
		}
		flush()
	}
	return out
}

// blockID hashes the file and the block's lines: stable across updates
// for the same change, different for the same change in another file.
func blockID(b *Block) string {
	h := sha256.New()
	h.Write([]byte(b.File))
	for _, l := range b.Lines {
		h.Write([]byte{0})
		h.Write([]byte(l.Op))
		h.Write([]byte(l.Sum))
	}
	return hex.EncodeToString(h.Sum(nil))[:8]
}

func lineSum(normalized string) string {
	s := sha256.Sum256([]byte(normalized))
	return hex.EncodeToString(s[:8])
}

// norm drops what a diff or an editor adds to a line without meaning:
// trailing white space and the "no newline" marker.
func norm(l string) string {
	l, _, _ = strings.Cut(l, "\n\\ No newline at end of file")
	return strings.TrimRight(l, " \t\r")
}

// Sums returns the sums of content's lines, for [Block.Lost].
func Sums(content []byte) map[string]bool { return sums(content) }

func sums(content []byte) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(string(content), "\n") {
		if t := norm(l); strings.TrimSpace(t) != "" {
			m[lineSum(t)] = true
		}
	}
	return m
}

var (
	sectionRe = regexp.MustCompile(`^\s*\[([^\]]{1,80})\]\s*$`)
	yamlKeyRe = regexp.MustCompile(`^( *)([A-Za-z0-9_.-]{1,80}):\s*(#.*)?$`)
)

// where names what encloses line i (0-based) of a file, whose own
// indentation is indent: the compose service of a compose file ("service
// NAME"; an entry of another top-level section as "networks.NAME"), the
// [section] of an INI-style one.
func where(file string, lines []string, i, indent int) string {
	if i > len(lines) {
		i = len(lines)
	}
	if !strings.HasSuffix(file, ".yml") && !strings.HasSuffix(file, ".yaml") {
		for j := i - 1; j >= 0; j-- {
			if m := sectionRe.FindStringSubmatch(lines[j]); m != nil {
				return "[" + strings.TrimSpace(m[1]) + "]"
			}
		}
		return ""
	}
	// The YAML keys that hold the line: each a key alone on its line,
	// less indented than the one found before it.
	var path []string
	for j := i - 1; j >= 0 && indent > 0; j-- {
		m := yamlKeyRe.FindStringSubmatch(lines[j])
		if m == nil || len(m[1]) >= indent {
			continue
		}
		path = append([]string{m[2]}, path...)
		indent = len(m[1])
	}
	switch {
	case len(path) >= 2 && path[0] == "services":
		return "service " + path[1]
	case len(path) >= 2:
		return path[0] + "." + path[1]
	case len(path) == 1:
		return path[0]
	}
	return ""
}

// Lost returns the lines of the block that a file whose line sums are
// have no longer reflects: added lines that are missing, and, for a block
// that only removed lines, removed lines that are back.
func (b *Block) Lost(have map[string]bool) []Line {
	var lost []Line
	added := false
	for _, l := range b.Lines {
		if l.Op == "+" {
			added = true
			if !have[l.Sum] {
				lost = append(lost, l)
			}
		}
	}
	if added {
		return lost
	}
	for _, l := range b.Lines {
		if l.Op == "-" && have[l.Sum] {
			lost = append(lost, l)
		}
	}
	return lost
}
