package replay

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/risk"
	"github.com/mcupdate/mcupdate/cmd/internal/verify"
)

func TestNearest(t *testing.T) {
	tags := []string{"2025-09", "2025-10", "2025-10a", "2026-01", "2026-01a", "2026-03", "nightly-2026-01"}
	tests := []struct {
		name string
		want []string
	}{
		{"2026-02", []string{"2026-03", "2026-01", "2026-01a", "2025-09"}}, // a tie: the newer first
		{"2025-10b", []string{"2025-10", "2025-10a"}},
		{"2026", []string{"2026-03", "2026-01a", "2026-01"}},
		{"v1.2.3", nil},
		{"2026-01", []string{"2026-01", "2026-01a", "2026-03"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := nearest(tc.name, tags, 4)
			if len(tc.want) > 0 && !reflect.DeepEqual(got[:min(len(got), len(tc.want))], tc.want) || len(tc.want) == 0 && len(got) > 0 {
				t.Errorf("nearest(%q) = %q; want it to start with %q", tc.name, got, tc.want)
			}
		})
	}
}

func TestURLSecret(t *testing.T) {
	tests := []struct{ url, in, want string }{
		{"https://moo:t0ken@git.example.org/m.git", "fatal: unable to access 'https://moo:t0ken@git.example.org/m.git/'", "fatal: unable to access 'https://moo:xxxxx@git.example.org/m.git/'"},
		{"https://git.example.org/m.git", "https://git.example.org/m.git", "https://git.example.org/m.git"},
		{"https://moo@git.example.org/m.git", "moo", "moo"},
		{"/srv/mailcow.git", "/srv/mailcow.git", "/srv/mailcow.git"},
		{"git@github.com:mailcow/mailcow-dockerized.git", "x", "x"},
	}
	for _, tc := range tests {
		if got := urlSecret(tc.url)(tc.in); got != tc.want {
			t.Errorf("urlSecret(%q)(%q) = %q; want %q", tc.url, tc.in, got, tc.want)
		}
	}
}

func TestVanished(t *testing.T) {
	tests := []struct {
		name     string
		check    verify.Check
		services []string
	}{
		{"one renamed", verify.Check{Name: verify.CheckOverrideRefs, Status: verify.StatusFail, Detail: "d",
			Items: []string{"service watchdog-mailcow (docker-compose.override.yml line 11) is not in docker-compose.yml: renamed to watchdog-mailcow-ng?"}},
			[]string{"watchdog-mailcow"}},
		{"two", verify.Check{Items: []string{"service a (x line 1) is not in y", "service b (x line 5) is not in y"}}, []string{"a", "b"}},
		{"no items", verify.Check{Detail: "docker-compose.yml: cannot parse"}, []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range vanished(tc.check) {
				if r.Verdict != Broken || r.Kind != KindVanishedService || r.File != "docker-compose.override.yml" || r.Message == "" {
					t.Errorf("reason %+v", r)
				}
				got = append(got, r.Service)
			}
			if !reflect.DeepEqual(got, tc.services) {
				t.Errorf("services %q; want %q", got, tc.services)
			}
		})
	}
}

func TestPatchReasons(t *testing.T) {
	anchor := &patch.EditError{Patch: "p", Edit: "pools", File: "pools.conf", Err: &patch.AnchorError{Anchor: "section [web-worker]", Err: patch.ErrAnchorMissing}}
	res := func(states ...patch.State) *patch.Result {
		pr := patch.PatchResult{Name: "p"}
		for i, s := range states {
			er := patch.EditResult{Edit: []string{"pools", "php-ini"}[i], File: []string{"pools.conf", "other.ini"}[i], State: s}
			if s == patch.StateAnchorMissing {
				er.Err = anchor
			}
			pr.Edits = append(pr.Edits, er)
		}
		return &patch.Result{Patches: []patch.PatchResult{pr}}
	}
	tests := []struct {
		name      string
		pre, post *patch.Result
		want      []string // verdict kind edit anchor
	}{
		{"untouched", res(patch.StateAlreadyApplied, patch.StateAlreadyApplied), res(patch.StateAlreadyApplied, patch.StateAlreadyApplied), nil},
		{"clobbered and re-applied", res(patch.StateWouldChange, patch.StateAlreadyApplied), res(patch.StateAlreadyApplied, patch.StateAlreadyApplied),
			[]string{"REAPPLIED reapplied pools "}},
		{"anchor gone, coupled edit", res(patch.StateAnchorMissing, patch.StateSkipped), res(patch.StateAnchorMissing, patch.StateSkipped),
			[]string{"BROKEN anchor-missing pools section [web-worker]", "BROKEN coupled-edit php-ini "}},
		{"still differs", res(patch.StateWouldChange, patch.StateAlreadyApplied), res(patch.StateWouldChange, patch.StateAlreadyApplied),
			[]string{"BROKEN edit-failed pools "}},
		{"file gone", res(patch.StateFileMissing), res(patch.StateFileMissing), []string{"BROKEN file-missing pools "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range patchReasons(tc.pre, tc.post) {
				got = append(got, strings.Join([]string{string(r.Verdict), r.Kind, r.Edit, r.Anchor}, " "))
				if r.Message == "" || r.Patch != "p" || r.File == "" {
					t.Errorf("reason %+v lacks its patch, file or message", r)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestInputErrors(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
		want string
	}{
		{"no upstream", Options{From: "a", To: []string{"b"}}, "--upstream is required"},
		{"no from", Options{Upstream: "u", To: []string{"b"}}, "--from is required"},
		{"both", Options{Upstream: "u", From: "a", To: []string{"b"}, Tags: "*"}, "--to and --tags exclude each other"},
		{"neither", Options{Upstream: "u", From: "a"}, "name the targets"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.TempDir = t.TempDir()
			_, err := Run(t.Context(), tc.opt)
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run = %v; want an InputError saying %q", err, tc.want)
			}
			assertEmpty(t, tc.opt.TempDir)
		})
	}
}

// An OK target's HIGH finding shows with its reason in the table: a count
// alone says nothing (issue 12).
func TestWriteTextShowsHighReasons(t *testing.T) {
	r := &Report{Upstream: "up", From: RefInfo{Ref: "2026-01", Commit: "0123456789abcdef"}, Mode: "direct",
		Targets: []Target{{Ref: "2026-03", Base: "2026-01", Verdict: OK, Risk: risk.JSONCounts{High: 1},
			Findings: []Finding{{Risk: "HIGH", File: "data/conf/sogo/sogo.conf", Reason: "upstream removed a setting that patch sogo-workers sets"}}}}}
	var b strings.Builder
	if err := r.WriteText(&b, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "    ? high              data/conf/sogo/sogo.conf: upstream removed a setting that patch sogo-workers sets\n") {
		t.Errorf("output:\n%s", b.String())
	}
}
