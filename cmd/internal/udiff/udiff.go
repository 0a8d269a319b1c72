// Package udiff renders unified diffs (as `diff -u` and `git diff` print
// them) from two texts, with github.com/sergi/go-diff doing the line diff.
package udiff

import (
	"fmt"
	"strings"

	"github.com/sergi/go-diff/diffmatchpatch"
)

// Context is the number of unchanged lines shown around a change.
const Context = 3

type op struct {
	kind byte // ' ', '-', '+'
	text string
}

// Lines splits s into lines, each keeping its end of line; a last line
// without one is kept as it is.
func Lines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// maxDiffLines bounds the lines go-diff is given at once: it numbers the
// distinct lines as runes and panics past about 1.1 million of them. A
// longer changed middle is shown as removed and added whole.
const maxDiffLines = 100_000

// ops diffs a and b line by line. The lines equal at both ends are
// context without diffing, so a small edit of a huge file stays cheap.
func ops(a, b string) []op {
	la, lb := Lines(a), Lines(b)
	pre := 0
	for pre < len(la) && pre < len(lb) && la[pre] == lb[pre] {
		pre++
	}
	suf := 0
	for suf < len(la)-pre && suf < len(lb)-pre && la[len(la)-1-suf] == lb[len(lb)-1-suf] {
		suf++
	}
	var out []op
	for _, l := range la[:pre] {
		out = append(out, op{' ', l})
	}
	ma, mb := la[pre:len(la)-suf], lb[pre:len(lb)-suf]
	if len(ma)+len(mb) > maxDiffLines {
		for _, l := range ma {
			out = append(out, op{'-', l})
		}
		for _, l := range mb {
			out = append(out, op{'+', l})
		}
	} else {
		out = append(out, diffLines(strings.Join(ma, ""), strings.Join(mb, ""))...)
	}
	for _, l := range la[len(la)-suf:] {
		out = append(out, op{' ', l})
	}
	return out
}

func diffLines(a, b string) []op {
	dmp := diffmatchpatch.New()
	ca, cb, lines := dmp.DiffLinesToChars(a, b)
	diffs := dmp.DiffMain(ca, cb, false)
	diffs = dmp.DiffCharsToLines(diffs, lines)
	var out []op
	for _, d := range diffs {
		kind := byte(' ')
		switch d.Type {
		case diffmatchpatch.DiffDelete:
			kind = '-'
		case diffmatchpatch.DiffInsert:
			kind = '+'
		}
		for _, l := range Lines(d.Text) {
			out = append(out, op{kind, l})
		}
	}
	return out
}

// Hunk is one group of changes with its context.
type Hunk struct {
	OldStart, OldLines, NewStart, NewLines int
	// Lines are the hunk's lines, each starting with ' ', '-' or '+' and
	// without its end of line.
	Lines []string
}

// Hunks returns the hunks that turn a into b.
func Hunks(a, b string) []Hunk {
	all := ops(a, b)
	var hunks []Hunk
	oldLine, newLine := 1, 1
	type pos struct{ i, o, n int }
	var positions []pos
	for i, o := range all {
		positions = append(positions, pos{i, oldLine, newLine})
		switch o.kind {
		case ' ':
			oldLine++
			newLine++
		case '-':
			oldLine++
		case '+':
			newLine++
		}
	}
	i := 0
	for i < len(all) {
		if all[i].kind == ' ' {
			i++
			continue
		}
		start := i - Context
		if start < 0 {
			start = 0
		}
		for start < i && all[start].kind != ' ' {
			start++
		}
		end := i
		for end < len(all) {
			if all[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(all) && all[run].kind == ' ' {
				run++
			}
			if run == len(all) || run-end > 2*Context {
				end += min(Context, run-end)
				break
			}
			end = run
		}
		h := Hunk{OldStart: positions[start].o, NewStart: positions[start].n}
		for _, o := range all[start:end] {
			text := strings.TrimSuffix(strings.TrimSuffix(o.text, "\n"), "\r")
			line := string(o.kind) + text
			if !strings.HasSuffix(o.text, "\n") {
				line += "\n\\ No newline at end of file"
			}
			h.Lines = append(h.Lines, line)
			if o.kind != '+' {
				h.OldLines++
			}
			if o.kind != '-' {
				h.NewLines++
			}
		}
		// diff -u numbers an empty side from the line before it.
		if h.OldLines == 0 {
			h.OldStart--
		}
		if h.NewLines == 0 {
			h.NewStart--
		}
		hunks = append(hunks, h)
		i = end
	}
	return hunks
}

// Unified returns the unified diff from a (named oldName) to b (newName),
// or "" when they are equal.
func Unified(oldName, newName, a, b string) string {
	if a == b {
		return ""
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", oldName, newName)
	for _, h := range Hunks(a, b) {
		fmt.Fprintf(&sb, "@@ -%s +%s @@\n", rng(h.OldStart, h.OldLines), rng(h.NewStart, h.NewLines))
		for _, l := range h.Lines {
			sb.WriteString(l)
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

func rng(start, n int) string {
	if n == 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}
