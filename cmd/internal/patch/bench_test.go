package patch

import (
	"os"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/upstreamtest"
)

// benchParams are realistic values for every shipped patch.
func benchParams() map[string]map[string]string {
	out := map[string]map[string]string{}
	for n, c := range conformance {
		out[n] = c.params
	}
	return out
}

// BenchmarkApplyAll applies all shipped patches to a real-size mailcow
// tree: the first iteration changes files, the others find everything
// already applied, which is what the post hook meets on most updates.
func BenchmarkApplyAll(b *testing.B) {
	up := upstreamDir(b)
	tags := upstreamtest.Tags(b, up)
	dir := b.TempDir()
	stageTag(b, up, tags[len(tags)-1], dir)
	lib, err := Library()
	if err != nil {
		b.Fatal(err)
	}
	enabled := Names(lib)
	if os.Geteuid() != 0 {
		// chown to uid 82 needs root.
		enabled = enabled[:0]
		for _, n := range Names(lib) {
			if n != "twig-cache-perms" {
				enabled = append(enabled, n)
			}
		}
	}
	ps, _, err := Resolve(Settings{Enabled: enabled, Params: benchParams()}, lib, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("first", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			d := b.TempDir()
			stageTag(b, up, tags[len(tags)-1], d)
			b.StartTimer()
			if _, err := Apply(osWriter{}, d, ps, ModeApply); err != nil {
				b.Fatal(err)
			}
		}
	})
	if _, err := Apply(osWriter{}, dir, ps, ModeApply); err != nil {
		b.Fatal(err)
	}
	b.Run("again", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			res, err := Apply(osWriter{}, dir, ps, ModeApply)
			if err != nil || res.Drift() {
				b.Fatal(err, res.Drift())
			}
		}
	})
	b.Run("check", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := Apply(&refuseWriter{}, dir, ps, ModeCheck); err != nil {
				b.Fatal(err)
			}
		}
	})
}
