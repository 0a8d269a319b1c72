package adopt

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/restart"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// lineKey is the setting a line sets: its first word (ini, postfix,
// clamd, sogo and rspamd keys, php-fpm keys with brackets).
var lineKey = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_.\-\[\]]*)(\s|=|:|;|$)`)

var iniSection = regexp.MustCompile(`^\[(.+)\]$`)

// ownPatch writes a patch for blocks of it.File: per block, an ini edit
// of a key in its section, a line edit that replaces the line setting the
// same key, or a line or block edit after the line above it. The patch is
// checked: in check mode over the files as adopt leaves them it changes
// nothing, and run on upstream's version of the file it brings every
// added line back. why names the blocks it cannot protect.
func (pl *planner) ownPatch(name string, it *Item, todo []ledger.Block) (src []byte, ok bool, why map[string]string) {
	why = map[string]string{}
	base, cur := string(pl.base[it.File]), string(pl.cur[it.File])
	curLines := strings.Split(strings.TrimSuffix(cur, "\n"), "\n")
	baseLines := strings.Split(strings.TrimSuffix(base, "\n"), "\n")
	inBlock := map[int]bool{} // 0-based lines of cur that blocks added
	for _, b := range it.Blocks {
		for i := b.At - 1; i < b.End-1; i++ {
			inBlock[i] = true
		}
	}
	var edits []string
	var wheres []string
	var protected []ledger.Block
	for _, b := range todo {
		es, err := blockEdits(b, it.File, curLines, baseLines, inBlock, len(edits))
		if err != nil {
			why[b.ID] = err.Error()
			continue
		}
		edits = append(edits, es...)
		protected = append(protected, b)
		if b.Where != "" {
			wheres = append(wheres, b.Where)
		}
	}
	if len(edits) == 0 {
		return nil, false, why
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "# Written by mcupdate adopt on %s: the admin's edit of %s, as it was\n", pl.opt.Now.UTC().Format("2006-01-02"), it.File)
	sb.WriteString("# then. update.sh's merge may drop it; this patch puts it back after every update.\n")
	desc := "The admin's edit of " + it.File
	if len(wheres) > 0 {
		desc += " (" + strings.Join(uniq(wheres), ", ") + ")"
	}
	fmt.Fprintf(&sb, "description = %s, adopted by mcupdate adopt.\n", desc)
	if svc, how, found := restart.ServiceFor(it.File); found {
		fmt.Fprintf(&sb, "services = %s\nrestart = %s\n", svc, how)
	}
	for _, e := range edits {
		sb.WriteString("\n" + e)
	}
	src = []byte(sb.String())
	p, err := patch.Parse(name+".ini", src)
	if err != nil {
		return nil, false, all(todo, "the own patch does not parse: "+ui.FirstLine(err.Error()))
	}
	bnd, err := patch.Bind(p, nil)
	if err != nil {
		return nil, false, all(todo, "the own patch does not bind: "+ui.FirstLine(err.Error()))
	}
	if w := pl.changes(bnd); w != "" {
		return nil, false, all(todo, "the own patch "+w)
	}
	// Run on upstream's version, it must bring the admin's lines back.
	rec := &fsx.Recorder{}
	abs := pl.abs(it.File)
	_ = rec.WriteFile(abs, pl.base[it.File], 0o644)
	if _, err := patch.Apply(rec, pl.opt.MailcowDir, []*patch.Bound{bnd}, patch.ModeDryRun); err != nil {
		return nil, false, all(todo, "the own patch fails on upstream's version: "+ui.FirstLine(err.Error()))
	}
	out, _ := rec.ReadFile(abs)
	have := ledger.Sums(out)
	for _, b := range protected {
		if lost := b.Lost(have); len(lost) > 0 {
			return nil, false, all(todo, fmt.Sprintf("the own patch would not bring back %q on upstream's version", lost[0].Text))
		}
	}
	return src, true, why
}

func all(bs []ledger.Block, why string) map[string]string {
	m := map[string]string{}
	for _, b := range bs {
		m[b.ID] = why
	}
	return m
}

func uniq(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// blockEdits writes the [edit] sections for one block. n numbers them.
func blockEdits(b ledger.Block, file string, cur, base []string, inBlock map[int]bool, n int) ([]string, error) {
	var plus, minus []string
	for _, l := range b.Lines {
		if l.Op == "+" {
			plus = append(plus, l.Text)
		} else {
			minus = append(minus, l.Text)
		}
	}
	if len(plus) == 0 {
		return nil, fmt.Errorf("the edit only removes lines (%q): a patch cannot remove lines", minus[0])
	}
	// Pair with every line the run removed: one still elsewhere in the
	// file (a key of another section) is replaced all the same.
	meaningful := map[string]bool{}
	for _, m := range minus {
		meaningful[m] = true
	}
	minus = nil
	for _, r := range b.Removed {
		if strings.TrimSpace(r) != "" {
			minus = append(minus, r)
		}
	}
	section := ""
	if m := iniSection.FindStringSubmatch(b.Where); m != nil {
		section = m[1]
	}
	var out []string
	next := func() string { n++; return fmt.Sprintf("e%d", n) }
	// Replacements: an added line that sets the key a removed one set.
	used := map[int]bool{}
	var additions []string
	for _, p := range plus {
		pk := keyOf(p)
		pair := -1
		for j, m := range minus {
			if !used[j] && pk != "" && keyOf(m) == pk {
				pair = j
				break
			}
		}
		if pair < 0 {
			additions = append(additions, p)
			continue
		}
		used[pair] = true
		e, err := replaceEdit(next(), file, section, minus[pair], p, cur, base)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	for j, m := range minus {
		if !used[j] && meaningful[m] {
			return nil, fmt.Errorf("the edit removes %q: a patch cannot remove lines", m)
		}
	}
	if len(additions) > 0 {
		e, err := addEdit(next(), file, b, additions, cur, base, inBlock)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func keyOf(l string) string {
	if strings.HasPrefix(strings.TrimSpace(l), "#") || strings.HasPrefix(strings.TrimSpace(l), ";") {
		return ""
	}
	if m := lineKey.FindStringSubmatch(l); m != nil {
		return m[1]
	}
	return ""
}

// replaceEdit replaces the line old (upstream's) with line: an ini edit
// when the file has sections and the line is "key = value", else a line
// edit matching the key, else one matching either line exactly.
func replaceEdit(name, file, section, old, line string, cur, base []string) (string, error) {
	key := keyOf(line)
	if section != "" {
		if k, v, ok := iniKV(line); ok && k == key {
			if kk, _, ok2 := iniKV(old); ok2 && kk == k {
				return fmt.Sprintf("[edit %s]\nfile = %s\nkind = ini\nsection = %s\nkey = %s\nvalue = %s\n", name, file, section, k, quote(v)), nil
			}
		}
	}
	match := `^\s*` + regexp.QuoteMeta(key) + `(\s|=|:|;|$)`
	re := regexp.MustCompile(match)
	if count(cur, re) == 1 && count(base, re) == 1 {
		return fmt.Sprintf("[edit %s]\nfile = %s\nkind = line\nline = %s\nmatch = %s\n", name, file, quote(line), quote(match)), nil
	}
	match = "^(" + regexp.QuoteMeta(old) + "|" + regexp.QuoteMeta(line) + `)\s*$`
	re = regexp.MustCompile(match)
	if count(cur, re) == 1 && count(base, re) == 1 {
		return fmt.Sprintf("[edit %s]\nfile = %s\nkind = line\nline = %s\nmatch = %s\n", name, file, quote(line), quote(match)), nil
	}
	return "", fmt.Errorf("%q: the line it replaces is not one of a kind in the file", line)
}

// iniKV splits "key = value".
func iniKV(l string) (string, string, bool) {
	k, v, ok := strings.Cut(l, "=")
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	return k, v, ok && k != "" && !strings.ContainsAny(k, " \t")
}

// addEdit inserts added lines after the line above the block (which must
// be one of a kind in the file and in upstream's), or at the end when the
// block ends the file.
func addEdit(name, file string, b ledger.Block, lines, cur, base []string, inBlock map[int]bool) (string, error) {
	anchor := ""
	for i := b.At - 2; i >= 0 && i < len(cur); i-- {
		if inBlock[i] || strings.TrimSpace(cur[i]) == "" {
			continue
		}
		anchor = cur[i]
		break
	}
	where := ""
	if anchor != "" {
		re := regexp.MustCompile("^" + regexp.QuoteMeta(anchor) + "$")
		if count(cur, re) == 1 && count(base, re) == 1 {
			where = "after = " + quote("^"+regexp.QuoteMeta(anchor)+"$") + "\n"
		}
	}
	if where == "" {
		atEnd := true
		for i := b.End - 1; i < len(cur); i++ {
			if strings.TrimSpace(cur[i]) != "" && !inBlock[i] {
				atEnd = false
			}
		}
		if !atEnd {
			return "", fmt.Errorf("%q: no line above it is one of a kind in the file, to anchor it", lines[0])
		}
		where = "position = end\n"
	}
	if len(lines) == 1 {
		return fmt.Sprintf("[edit %s]\nfile = %s\nkind = line\nline = %s\n%s", name, file, quote(lines[0]), where), nil
	}
	content := strings.Join(lines, "\n")
	if strings.Contains(content, `"""`) {
		return "", fmt.Errorf("%q: a line holds \"\"\"", lines[0])
	}
	return fmt.Sprintf("[edit %s]\nfile = %s\nkind = block\ncontent = \"\"\"\n%s\n\"\"\"\n%s", name, file, strings.ReplaceAll(content, "${", "$${"), where), nil
}

func count(ls []string, re *regexp.Regexp) int {
	n := 0
	for _, l := range ls {
		if re.MatchString(strings.TrimSuffix(l, "\r")) {
			n++
		}
	}
	return n
}

// quote writes v as a patch value that reads back as v: ${ escaped, in
// backquotes when blanks at its ends or a " ;" or " #" would be lost.
func quote(v string) string {
	v = strings.ReplaceAll(v, "${", "$${")
	if strings.TrimSpace(v) != v || strings.Contains(v, " ;") || strings.Contains(v, " #") || strings.Contains(v, "\t;") || strings.Contains(v, "\t#") ||
		strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "'") {
		return "`" + v + "`"
	}
	return v
}
