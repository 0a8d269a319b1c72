package suggest

import (
	"path"
	"sort"
	"strings"
)

// MaxDistance is how far a candidate may be from name to be suggested:
// a third of name's bytes may be wrong, and at least three, so a short
// name with one slip still finds its match while an unrelated name finds
// nothing.
func MaxDistance(name string) int { return max(3, len(name)/3) }

// Distance is how far candidate is from name for a suggestion: the edit
// distance, but a name that is a prefix of the other (php-memory for
// php-memory-limit, 2026 for 2026-03) counts as one edit and one that
// stands inside the other as two, since someone who typed part of a name
// meant it.
func Distance(name, candidate string) int {
	d := Levenshtein(name, candidate)
	switch {
	case strings.HasPrefix(candidate, name) || strings.HasPrefix(name, candidate):
		d = min(d, 1)
	case strings.Contains(candidate, name) || strings.Contains(name, candidate):
		d = min(d, 2)
	}
	return d
}

// Closest returns the one candidate nearest to name, as [Nearest] ranks
// them; ok is false when none is within [MaxDistance].
func Closest(name string, candidates []string) (string, bool) {
	if near := Nearest(name, candidates, 1); len(near) == 1 {
		return near[0], true
	}
	return "", false
}

// Nearest returns up to n candidates within [MaxDistance] of name, the
// nearest first ([Distance]). Of two as near, the one whose first
// differing byte is nearer to name's comes first (2026-03 and 2026-05
// before 2026-09 for 2026-04); after that the order of candidates
// stands, so the caller says which of equals to prefer.
func Nearest(name string, candidates []string, n int) []string {
	return nearest(name, candidates, n, func(c string) int { return Distance(name, c) })
}

// NearestPath is [Nearest] for slash-separated paths. A name without a
// slash may be only a file name: then a path is as near as the nearer of
// itself and its base name (ratelimit.cnf finds
// data/conf/rspamd/override.d/ratelimit.conf).
func NearestPath(name string, paths []string, n int) []string {
	fileName := !strings.Contains(name, "/")
	return nearest(name, paths, n, func(p string) int {
		d := Distance(name, p)
		if fileName {
			d = min(d, Distance(name, path.Base(p)))
		}
		return d
	})
}

func nearest(name string, candidates []string, n int, dist func(string) int) []string {
	type scored struct {
		s       string
		d, diff int
	}
	limit := MaxDistance(name)
	var cs []scored
	for _, c := range candidates {
		if d := dist(c); d <= limit {
			cs = append(cs, scored{c, d, byteGap(name, c)})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].d != cs[j].d {
			return cs[i].d < cs[j].d
		}
		return cs[i].diff < cs[j].diff
	})
	out := make([]string, 0, min(n, len(cs)))
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].s)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// byteGap is how far apart a and b are at their first differing byte: 0
// when one is a prefix of the other.
func byteGap(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			d := int(a[i]) - int(b[i])
			return max(d, -d)
		}
	}
	return 0
}
