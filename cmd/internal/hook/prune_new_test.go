package hook

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

// TestPruneKeptNew: the newest [snapshot] keep FILE.mcupdate-new files
// stay, older ones go; links, files outside the overrides' places and
// other names are never touched.
func TestPruneKeptNew(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	files := []string{ // oldest first
		"data/conf/nginx/a.custom.mcupdate-new",
		"mailcow.conf.mcupdate-new",
		"data/conf/postfix/extra.cf.mcupdate-new",
		"docker-compose.override.yml.mcupdate-new",
		"data/conf/rspamd/local.d/x.conf.mcupdate-new",
	}
	others := []string{"data/web/x.mcupdate-new", "data/conf/nginx/a.custom", "data/conf/nginx/.mcupdate-new"}
	for i, f := range append(append([]string{}, files...), others...) {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
		mt := t0.Add(time.Duration(i) * time.Hour)
		if i >= len(files) {
			mt = t0.Add(-time.Hour) // older than all
		}
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a.custom", filepath.Join(dir, "data/conf/nginx/link.mcupdate-new")); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.SnapshotKeep = 2
	env := &Env{MailcowDir: dir, Config: cfg, Sys: fsx.Real{}}
	removed, err := env.pruneKeptNew()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{files[2], files[1], files[0]}
	if !reflect.DeepEqual(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	for _, f := range append(append([]string{files[3], files[4]}, others...), "data/conf/nginx/link.mcupdate-new") {
		if _, err := os.Lstat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, f := range want {
		if _, err := os.Lstat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s not removed: %v", f, err)
		}
	}
	if again, err := env.pruneKeptNew(); err != nil || len(again) != 0 {
		t.Errorf("second run removed %v, %v", again, err)
	}
}
