package hook

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
)

// TestPruneKeptNew: update.sh's versions kept by the newest [snapshot]
// keep post hook runs stay, whatever their number (one update can keep
// hundreds); older ones go. Links, files outside the overrides' places
// and other names are never touched; with fewer runs on record nothing is
// removed.
func TestPruneKeptNew(t *testing.T) {
	dir, sd := t.TempDir(), t.TempDir()
	t0 := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	run := func(i int) time.Time { return t0.Add(time.Duration(i) * 24 * time.Hour) }
	// Post hook runs on days 0..3; the current one on day 4.
	for i := 0; i < 4; i++ {
		if err := os.WriteFile(filepath.Join(sd, state.ReportName("post", run(i))), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Each file: the run (day) that kept it.
	files := map[string]int{
		"data/conf/nginx/a.custom.mcupdate-new":        0,
		"mailcow.conf.mcupdate-new":                    1,
		"data/conf/postfix/extra.cf.mcupdate-new":      2,
		"docker-compose.override.yml.mcupdate-new":     3,
		"data/conf/rspamd/local.d/x.conf.mcupdate-new": 4,
		"data/conf/rspamd/local.d/y.conf.mcupdate-new": 4,
		"data/conf/rspamd/local.d/z.conf.mcupdate-new": 4,
		"data/web/x.mcupdate-new":                      0, // not where overrides live
		"data/conf/nginx/a.custom":                     0, // not a kept version
		"data/conf/nginx/.mcupdate-new":                0,
	}
	for f, day := range files {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
		mt := run(day).Add(time.Minute) // written during its run
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a.custom", filepath.Join(dir, "data/conf/nginx/link.mcupdate-new")); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	env := &Env{MailcowDir: dir, Config: cfg, Sys: fsx.Real{}, State: state.Dir{Path: sd}}
	prune := func(keep int) []string {
		t.Helper()
		cfg.SnapshotKeep = keep
		removed, err := env.pruneKeptNew(run(4))
		if err != nil {
			t.Fatal(err)
		}
		return removed
	}
	if got := prune(6); got != nil {
		t.Errorf("five runs on record, keep 6: removed %v", got)
	}
	// keep 2: the current run's three files and run 3's one stay.
	want := []string{"data/conf/nginx/a.custom.mcupdate-new", "data/conf/postfix/extra.cf.mcupdate-new", "mailcow.conf.mcupdate-new"}
	if got := prune(2); !reflect.DeepEqual(got, want) {
		t.Errorf("keep 2: removed %v, want %v", got, want)
	}
	for f, day := range files {
		_, err := os.Lstat(filepath.Join(dir, f))
		gone := os.IsNotExist(err)
		if wantGone := day < 3 && f != "data/web/x.mcupdate-new" && f != "data/conf/nginx/a.custom" && f != "data/conf/nginx/.mcupdate-new"; gone != wantGone {
			t.Errorf("%s: gone %v, want %v", f, gone, wantGone)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "data/conf/nginx/link.mcupdate-new")); err != nil {
		t.Errorf("the link: %v", err)
	}
	// keep 1: only the current run's.
	if got := prune(1); !reflect.DeepEqual(got, []string{"docker-compose.override.yml.mcupdate-new"}) {
		t.Errorf("keep 1: removed %v", got)
	}
	if got := prune(1); len(got) != 0 {
		t.Errorf("again: removed %v", got)
	}
}
