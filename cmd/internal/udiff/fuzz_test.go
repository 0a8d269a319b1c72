package udiff

import (
	"fmt"
	"strings"
	"testing"
)

// apply rebuilds b from a and the hunks that turn a into b.
func apply(t *testing.T, a string, hunks []Hunk) string {
	t.Helper()
	la := Lines(a)
	var out strings.Builder
	next := 0 // index in la of the next line not yet copied
	for _, h := range hunks {
		start := h.OldStart - 1
		if h.OldLines == 0 {
			start = h.OldStart
		}
		if start < next || start > len(la) {
			t.Fatalf("hunk at %d overlaps or is out of range (next %d, %d lines)", h.OldStart, next, len(la))
		}
		for _, l := range la[next:start] {
			out.WriteString(l)
		}
		next = start
		for _, l := range h.Lines {
			text, noEOL := strings.CutSuffix(l, "\n\\ No newline at end of file")
			switch text[0] {
			case ' ', '-':
				if next >= len(la) || strings.TrimRight(la[next], "\r\n") != strings.TrimSuffix(text[1:], "\r") {
					t.Fatalf("hunk line %q does not match line %d of a", l, next+1)
				}
				if text[0] == ' ' {
					out.WriteString(la[next])
				}
				next++
			case '+':
				out.WriteString(text[1:])
				if !noEOL {
					out.WriteString("\n")
				}
			}
		}
	}
	for _, l := range la[next:] {
		out.WriteString(l)
	}
	return out.String()
}

// FuzzHunks checks that the hunks of any two texts turn the first into
// the second.
func FuzzHunks(f *testing.F) {
	f.Add("a\nb\nc\n", "a\nB\nc\n")
	f.Add("a\nb", "a\nc")
	f.Add("", "x\n")
	f.Add("x\ny\nx\ny\n", "y\nx\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		// CR before LF is kept in the text the hunks compare, not shown.
		if strings.Contains(a+b, "\r") {
			return
		}
		if got := apply(t, a, Hunks(a, b)); got != b {
			t.Fatalf("hunks of %q → %q rebuild %q", a, b, got)
		}
	})
}

// TestHunksManyLines is a regression test: go-diff numbers distinct lines
// as runes and panicked on files of more than about 1.1 million lines
// (apply --dry-run and verify of a huge patched file).
func TestHunksManyLines(t *testing.T) {
	var sb strings.Builder
	for i := 0; i < 1_200_000; i++ {
		fmt.Fprintf(&sb, "line %d\n", i)
	}
	a := sb.String()
	b := strings.Replace(a, "line 600000\n", "changed\n", 1)
	hunks := Hunks(a, b)
	if len(hunks) != 1 || hunks[0].OldStart != 600_001-Context || hunks[0].OldLines != 2*Context+1 {
		t.Fatalf("hunks = %+v", hunks)
	}
	// A changed middle too long to diff is shown removed and added whole.
	c := strings.ReplaceAll(a, "line", "LINE")
	hunks = Hunks(a, c)
	if len(hunks) != 1 || hunks[0].OldLines != 1_200_000 || hunks[0].NewLines != 1_200_000 {
		t.Fatalf("whole-file hunk: %d hunks", len(hunks))
	}
	if got := apply(t, a, hunks); got != c {
		t.Fatal("whole-file hunk does not rebuild the new text")
	}
}
