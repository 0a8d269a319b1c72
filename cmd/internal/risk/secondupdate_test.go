package risk

import (
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
)

// TestSecondUpdate is issue 9's story: an edit update.sh committed in an
// earlier run ("Before update") and that a later merge drops is a loss,
// although this run has no "Before update" commit at all.
func TestSecondUpdate(t *testing.T) {
	cases := []struct {
		name string
		// edit customizes the install at release A.
		edit func(t *testing.T, s *scenario)
		// between runs after the update to B, before the update to C.
		between  func(t *testing.T, s *scenario)
		wantLost bool
	}{
		{
			name: "committed by update.sh in an earlier run",
			edit: func(t *testing.T, s *scenario) {
				edit(t, s.inst, "docker-compose.yml", "dovecot:2.3.21.1-1\n", "dovecot:2.3.21.1-1\n    mem_limit: 4g\n")
			},
			wantLost: true,
		},
		{
			name: "committed by the admin by hand",
			edit: func(t *testing.T, s *scenario) {
				edit(t, s.inst, "docker-compose.yml", "dovecot:2.3.21.1-1\n", "dovecot:2.3.21.1-1\n    mem_limit: 4g\n")
				gittest.Git(t, s.inst, "commit", "-q", "-am", "dovecot memory")
			},
			wantLost: true,
		},
		{
			name: "reverted by the admin between the updates",
			edit: func(t *testing.T, s *scenario) {
				edit(t, s.inst, "docker-compose.yml", "dovecot:2.3.21.1-1\n", "dovecot:2.3.21.1-1\n    mem_limit: 4g\n")
			},
			between: func(t *testing.T, s *scenario) {
				edit(t, s.inst, "docker-compose.yml", "    mem_limit: 4g\n", "")
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newScenario(t)
			tc.edit(t, s)
			// Release B changes another file: the edit is kept.
			s.upstream(t, "data/conf/sogo/sogo.conf", "WOWorkersCount = 5;", "WOWorkersCount = 10;")
			s.update(t)
			if !strings.Contains(s.read(t, "docker-compose.yml"), "mem_limit: 4g") {
				t.Fatal("precondition: the first update already dropped the edit")
			}
			r := analyze(t, Options{Dir: s.inst, PatchedFiles: map[string]bool{}})
			if f := find(r, High, "docker-compose.yml", ""); f != nil {
				t.Fatalf("first update: %s reported, but the edit was kept:\n%s", f.Reason, dump(r))
			}
			if got := outcomes(r); got["docker-compose.yml"] != ledger.Kept {
				t.Errorf("first update: outcomes %v, want docker-compose.yml kept", got)
			}
			if tc.between != nil {
				tc.between(t, s)
			}
			// Release C bumps the dovecot image next to the edit.
			s.upstream(t, "docker-compose.yml", "dovecot:2.3.21.1-1", "dovecot:2.3.21.1-2")
			s.update(t)
			r = analyze(t, Options{Dir: s.inst, PatchedFiles: map[string]bool{}})
			f := find(r, High, "docker-compose.yml", "dropped by the merge")
			if !tc.wantLost {
				if f != nil {
					t.Fatalf("an edit the admin reverted is reported lost:\n%s", dump(r))
				}
				return
			}
			if r.Before != "" && tc.name == "committed by update.sh in an earlier run" {
				t.Fatalf("precondition: the second update made a Before update commit %s", r.Before)
			}
			if f == nil {
				t.Fatalf("second update: no HIGH finding for the dropped edit:\n%s", dump(r))
			}
			if len(f.Lost) != 1 || f.Lost[0] != "+    mem_limit: 4g" {
				t.Errorf("lost = %q", f.Lost)
			}
			var lost *ledger.Result
			for i, c := range r.Custom {
				if c.Outcome == ledger.Lost {
					lost = &r.Custom[i]
				}
			}
			if lost == nil || lost.Block.Where != "service dovecot-mailcow" || lost.Block.File != "docker-compose.yml" {
				t.Errorf("customizations: %+v", r.Custom)
			}
		})
	}
}

func outcomes(r *Report) map[string]ledger.Outcome {
	m := map[string]ledger.Outcome{}
	for _, c := range r.Custom {
		m[c.Block.File] = c.Outcome
	}
	return m
}
