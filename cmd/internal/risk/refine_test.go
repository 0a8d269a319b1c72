package risk

import (
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

// A main.cf line the merge dropped that stands in extra.cf (which
// overrides main.cf) still holds: MEDIUM, not HIGH.
func TestLostLineHeldByOverride(t *testing.T) {
	for _, inExtra := range []bool{false, true} {
		name := map[bool]string{false: "not in extra.cf", true: "in extra.cf"}[inExtra]
		t.Run(name, func(t *testing.T) {
			s := newScenario(t)
			s.upstream(t, "data/conf/postfix/main.cf", "message_size_limit = 104857600\n", "message_size_limit = 104857600\nheader_size_limit = 4096000\n")
			edit(t, s.inst, "data/conf/postfix/main.cf", "message_size_limit = 104857600", "message_size_limit = 157286400")
			s.update(t)
			if strings.Contains(s.read(t, "data/conf/postfix/main.cf"), "157286400") {
				t.Fatal("precondition: -Xtheirs kept the line")
			}
			if inExtra {
				gittest.WriteFiles(t, s.inst, map[string]string{"data/conf/postfix/extra.cf": "message_size_limit = 157286400\n"})
			}
			r := analyze(t, Options{Dir: s.inst})
			high := find(r, High, "data/conf/postfix/main.cf", "dropped by the merge")
			med := find(r, Medium, "data/conf/postfix/main.cf", "data/conf/postfix/extra.cf, which overrides it, has the same line")
			if inExtra && (high != nil || med == nil) || !inExtra && (high == nil || med != nil) {
				t.Fatalf("wrong ranking:\n%s", dump(r))
			}
		})
	}
}

// A patched file's HIGH diff shows upstream's change, not the admin's
// value going away: upstream renamed the setting the patch sets.
func TestPatchedFileShowsUpstreamChange(t *testing.T) {
	s := newScenario(t)
	s.upstream(t, "data/conf/sogo/sogo.conf", "WOWorkersCount = 5;", "SOGoWorkersCount = 5;")
	edit(t, s.inst, "data/conf/sogo/sogo.conf", "WOWorkersCount = 5;", "WOWorkersCount = 40;")
	s.update(t)
	// The patch re-applies the admin's value.
	gittest.WriteFiles(t, s.inst, map[string]string{"data/conf/sogo/sogo.conf": "SOGoWorkersCount = 5;\nWOWorkersCount = 40;\n"})
	r := analyze(t, Options{Dir: s.inst, PatchedFiles: map[string]bool{"data/conf/sogo/sogo.conf": true}, PatchNames: map[string]string{"data/conf/sogo/sogo.conf": "sogo-workers"}})
	f := find(r, High, "data/conf/sogo/sogo.conf", "upstream removed a setting that patch sogo-workers sets: WOWorkersCount (was 5; yours 40, line 2)")
	if f == nil {
		t.Fatalf("no HIGH patched-file finding:\n%s", dump(r))
	}
	if !strings.Contains(f.Diff, "-WOWorkersCount = 5;") || !strings.Contains(f.Diff, "+SOGoWorkersCount = 5;") || strings.Contains(f.Diff, "40") {
		t.Errorf("diff is not upstream's change:\n%s", f.Diff)
	}
}

// Upstream changing other settings of a patched file is no finding: the
// patch was re-applied, the file counts with the other changed files.
func TestPatchedFileOtherSettings(t *testing.T) {
	s := newScenario(t)
	s.upstream(t, "data/conf/sogo/sogo.conf", "WOWorkersCount = 5;", "WOWorkersCount = 5;\nSOGoMailDomain = x;")
	edit(t, s.inst, "data/conf/sogo/sogo.conf", "WOWorkersCount = 5;", "WOWorkersCount = 40;")
	s.update(t)
	// -Xtheirs took upstream's hunk; the patch puts the admin's value back.
	edit(t, s.inst, "data/conf/sogo/sogo.conf", "WOWorkersCount = 5;", "WOWorkersCount = 40;")
	r := analyze(t, Options{Dir: s.inst, PatchedFiles: map[string]bool{"data/conf/sogo/sogo.conf": true}})
	for _, f := range r.Findings {
		if f.File == "data/conf/sogo/sogo.conf" {
			t.Fatalf("finding for a patched file whose own setting upstream left alone: %+v\n%s", f, dump(r))
		}
	}
	if r.Count(Low) == 0 {
		t.Errorf("the changed file is not counted:\n%s", dump(r))
	}
}

// A patch that failed is HIGH, named with its error.
func TestFailedPatch(t *testing.T) {
	s := newScenario(t)
	s.upstream(t, "data/conf/sogo/sogo.conf", "WOWorkersCount = 5;", "WOWorkersCount = 6;")
	s.update(t)
	r := analyze(t, Options{Dir: s.inst, PatchedFiles: map[string]bool{"data/conf/sogo/sogo.conf": true},
		FailedPatches: map[string]string{"data/conf/sogo/sogo.conf": "patch sogo-workers could not be re-applied: anchor missing"}})
	if find(r, High, "data/conf/sogo/sogo.conf", "patch sogo-workers could not be re-applied: anchor missing") == nil {
		t.Fatalf("no HIGH for the failed patch:\n%s", dump(r))
	}
}

// Brief shows the table and the lost lines, no diffs.
func TestRenderBrief(t *testing.T) {
	s := newScenario(t)
	s.upstream(t, "docker-compose.yml", "dovecot:2.3.21.1-1", "dovecot:2.3.21.1-2")
	edit(t, s.inst, "docker-compose.yml", "dovecot:2.3.21.1-1\n", "dovecot:2.3.21.1-1\n    mem_limit: 4g\n")
	s.update(t)
	r := analyze(t, Options{Dir: s.inst})
	var full, brief strings.Builder
	if err := r.Render(&full, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Render(&brief, RenderOptions{Brief: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(full.String(), "--- a/docker-compose.yml") {
		t.Fatalf("the full render has no diff:\n%s", full.String())
	}
	for _, want := range []string{"HIGH", "+    mem_limit: 4g", "the diffs of the HIGH files: mcupdate diff"} {
		if !strings.Contains(brief.String(), want) {
			t.Errorf("brief render lacks %q:\n%s", want, brief.String())
		}
	}
	if strings.Contains(brief.String(), "--- a/") || strings.Contains(brief.String(), "@@") {
		t.Errorf("brief render shows a diff:\n%s", brief.String())
	}
}
