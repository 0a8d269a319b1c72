package verify

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
)

// A check the caller names in Skip is reported as skipped with the
// caller's detail and does not run; the others run as always.
func TestRunSkip(t *testing.T) {
	_, dir := install(t)
	cfg := config.Default()
	cfg.IPv6 = false
	opt := Options{MailcowDir: dir, Config: cfg, StateDir: filepath.Join(t.TempDir(), "state")}

	r, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Check(CheckOverrides); c.Status != StatusWarn {
		t.Fatalf("overrides without a snapshot: %+v, want warn", *c)
	}

	opt.Skip = map[string]string{CheckOverrides: "compared by the post hook", CheckUnprotected: "not wanted"}
	r, err = Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	for name, detail := range opt.Skip {
		if c := r.Check(name); c.Status != StatusSkipped || c.Detail != detail || c.Name != name {
			t.Errorf("%s: %+v, want skipped: %s", name, *c, detail)
		}
	}
	if c := r.Check(CheckGit); c.Status != StatusOK {
		t.Errorf("git: %+v, want ok", *c)
	}
	if len(r.Checks) != len(CheckNames) || len(r.Unprotected) != 0 {
		t.Errorf("%d checks, %d unprotected; want %d, 0", len(r.Checks), len(r.Unprotected), len(CheckNames))
	}
}
