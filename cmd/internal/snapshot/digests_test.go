package snapshot

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

var anySHA = regexp.MustCompile(`[0-9a-f]{64}`)

// FuzzDigests checks the one-pass digest scan Prune runs over a manifest
// it cannot parse against the regexp it replaces.
func FuzzDigests(f *testing.F) {
	h := strings.Repeat("0123456789abcdef", 4)
	f.Add([]byte(`{"sha256":"` + h + `"}`))
	f.Add([]byte(h + h + "ab" + h[:63] + "G" + h))
	f.Add([]byte(strings.Repeat("a", 200)))
	f.Fuzz(func(t *testing.T, data []byte) {
		want := anySHA.FindAll(data, -1)
		got := digests(data)
		if len(got) != len(want) {
			t.Fatalf("digests: %d, regexp: %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("digest %d: %q, regexp %q", i, got[i], want[i])
			}
		}
	})
}

// TestDigestsHuge: a planted 50 MB manifest is scanned in well under a
// second (the regexp took more than 20).
func TestDigestsHuge(t *testing.T) {
	data := bytes.Repeat([]byte(`{"sha256":"`+strings.Repeat("0123456789abcdef", 4)+`"},`), 50<<20/80)
	start := time.Now()
	if n := len(digests(data)); n != 50<<20/80 {
		t.Fatalf("%d digests", n)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}
