package udiff

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUnifiedMatchesDiffU compares the hunks with the system's diff -u,
// which is the format admins know.
func TestUnifiedMatchesDiffU(t *testing.T) {
	if _, err := exec.LookPath("diff"); err != nil {
		t.Skip("no diff(1) on PATH to compare with")
	}
	long := func(n int, mut map[int]string) string {
		var sb strings.Builder
		for i := 1; i <= n; i++ {
			if s, ok := mut[i]; ok {
				sb.WriteString(s)
				continue
			}
			sb.WriteString("line " + string(rune('a'+i%26)) + " " + strings.Repeat("x", i%5) + "\n")
		}
		return sb.String()
	}
	cases := []struct{ name, a, b string }{
		{"one change", "a\nb\nc\n", "a\nB\nc\n"},
		{"insert at start", "a\nb\n", "z\na\nb\n"},
		{"append", "a\nb\n", "a\nb\nc\n"},
		{"delete all", "a\nb\n", ""},
		{"from empty", "", "a\n"},
		{"no final newline", "a\nb", "a\nc"},
		{"two far hunks", long(40, nil), long(40, map[int]string{3: "X\n", 30: "Y\n"})},
		{"two near hunks merge", long(40, nil), long(40, map[int]string{10: "X\n", 16: "Y\n"})},
		{"gap of exactly 7", long(40, nil), long(40, map[int]string{10: "X\n", 18: "Y\n"})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			pa, pb := filepath.Join(dir, "a"), filepath.Join(dir, "b")
			require.NoError(t, os.WriteFile(pa, []byte(c.a), 0o644))
			require.NoError(t, os.WriteFile(pb, []byte(c.b), 0o644))
			out, _ := exec.Command("diff", "-u", "--label", "a", "--label", "b", pa, pb).Output()
			require.Equal(t, string(out), Unified("a", "b", c.a, c.b))
		})
	}
}

func TestUnifiedEqual(t *testing.T) {
	require.Equal(t, "", Unified("a", "b", "same\n", "same\n"))
}
