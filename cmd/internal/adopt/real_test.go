package adopt

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/upstreamtest"
	"github.com/mcupdate/mcupdate/cmd/internal/verify"
)

// issueEdits are issue 13's edits, made on a release's real files: an
// ip_wl.map line, a hand-written local_addrs list, sizes in clamd's units
// (with rspamd and postfix at the same size), the php memory limit in
// both files, greylisting off, sogo workers, a compose mem_limit.
var issueEdits = []struct {
	file, re, repl string
}{
	{"data/conf/rspamd/custom/ip_wl.map", `\z`, "192.0.2.10\n2001:db8::/48\n"},
	{"data/conf/rspamd/local.d/options.inc", `(?m)^local_addrs = .*$`, `local_addrs = ["/etc/rspamd/custom/mailcow_networks.map", "10.20.30.0/24"];`},
	{"data/conf/clamav/clamd.conf", `(?m)^(StreamMaxLength|MaxFileSize|MaxScanSize) .*$`, "${1} 50M"},
	{"data/conf/rspamd/local.d/antivirus.conf", `(?m)^(\s*)max_size = \d+;`, "${1}max_size = 52428800;"},
	{"data/conf/postfix/main.cf", `(?m)^message_size_limit = \d+$`, "message_size_limit = 52428800"},
	{"data/conf/phpfpm/php-fpm.d/pools.conf", `(?m)^php_admin_value\[memory_limit\] = 512M$`, "php_admin_value[memory_limit] = 2048M"},
	{"data/conf/phpfpm/php-conf.d/other.ini", `(?m)^memory_limit = 512M$`, "memory_limit = 2048M"},
	{"data/conf/rspamd/local.d/greylist.conf", `\z`, "enabled = false;\n"},
	{"data/conf/sogo/sogo.conf", `WOWorkersCount = "\d+";`, `WOWorkersCount = "40";`},
	{"docker-compose.yml", `(?m)^(    dovecot-mailcow:\n      image: .*\n)`, "${1}      mem_limit: 4g\n"},
}

// TestAdoptRealReleases runs adopt on an install of every release's real
// files with issue 13's edits: every one is protected, enabling the
// adopted patches changes no file, verify lists nothing unprotected, and
// a second adopt proposes nothing.
func TestAdoptRealReleases(t *testing.T) {
	up := upstreamtest.Dir(t)
	ents, err := os.ReadDir(up)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		tag := e.Name()
		t.Run(tag, func(t *testing.T) {
			root := t.TempDir()
			upDir, dir := filepath.Join(root, "upstream"), filepath.Join(root, "mailcow")
			gittest.Init(t, upDir)
			files := map[string]string{}
			src := filepath.Join(up, tag)
			if err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(src, p)
				data, err := os.ReadFile(p)
				if rel == "dot.gitignore" {
					rel = ".gitignore"
				}
				files[filepath.ToSlash(rel)] = string(data)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			// Tracked although .gitignore names them, as upstream's are
			// (ip_wl.map and the rspamd local.d files).
			gittest.WriteFiles(t, upDir, files)
			gittest.Git(t, upDir, "add", "-A", "-f")
			gittest.Git(t, upDir, "commit", "-q", "-m", "mailcow "+tag)
			gittest.Git(t, root, "clone", "-q", upDir, "mailcow")
			edited := map[string]bool{}
			for _, ed := range issueEdits {
				p := filepath.Join(dir, ed.file)
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				out := regexp.MustCompile(ed.re).ReplaceAllString(string(data), ed.repl)
				if out == string(data) {
					t.Logf("%s: %s has no %s (older release): not edited", tag, ed.file, ed.re)
					continue
				}
				edited[ed.file] = true
				if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			before := map[string]string{}
			for f := range edited {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				before[f] = string(b)
			}
			cfgPath := filepath.Join(root, "etc", "mcupdate.ini")
			cfg, err := config.Load(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Make(context.Background(), Options{MailcowDir: dir, Config: cfg, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			blocks := 0
			for _, it := range p.Items {
				for _, b := range it.Blocks {
					blocks++
					if it.By[b.ID] == ByNone {
						t.Errorf("%s %s: cannot protect: %s", it.File, b.ID, it.Why[b.ID])
					}
				}
			}
			if blocks < len(edited) {
				t.Errorf("%d customizations for %d edited files", blocks, len(edited))
			}
			for _, want := range []string{"message-size-limit", "php-memory-limit", "rspamd-ip-whitelist", "greylist-off", "sogo-workers"} {
				if !strings.Contains(" "+strings.Join(p.Enable, " ")+" ", " "+want+" ") {
					t.Errorf("%s not enabled: %v", want, p.Enable)
				}
			}
			if _, err := p.Apply(fsx.Real{}); err != nil {
				t.Fatal(err)
			}
			if cfg, err = config.Load(cfgPath); err != nil {
				t.Fatal(err)
			}
			lib, _ := patch.Library()
			var own map[string]*patch.Patch
			if cfg.PatchDir != "" {
				if own, err = patch.LoadDir(cfg.PatchDir); err != nil {
					t.Fatal(err)
				}
			}
			bound, _, err := patch.Resolve(patch.Settings{Enabled: cfg.Enabled, Params: cfg.Params}, lib, own)
			if err != nil {
				t.Fatal(err)
			}
			res, err := patch.Apply(fsx.Check{}, dir, bound, patch.ModeCheck)
			if err != nil || res.Drift() {
				t.Errorf("enabling the adopted patches would change files: %v", err)
				for _, pr := range res.Patches {
					for _, er := range pr.Edits {
						if er.State != patch.StateAlreadyApplied {
							t.Logf("%s/%s: %s\n%s", pr.Name, er.Edit, er.State, er.Diff)
						}
					}
				}
			}
			for f, want := range before {
				got, _ := os.ReadFile(filepath.Join(dir, f))
				moved := f == "docker-compose.yml" || f == "data/conf/postfix/main.cf"
				if moved && string(got) != files[f] {
					t.Errorf("%s is not upstream's again after the move", f)
				}
				if !moved && string(got) != want {
					t.Errorf("%s changed", f)
				}
			}
			_, unpro, err := verify.UnprotectedFiles(dir, "master", bound)
			if err != nil || len(unpro) != 0 {
				t.Errorf("verify lists unprotected %v (%v)", unpro, err)
			}
			p2, err := Make(context.Background(), Options{MailcowDir: dir, Config: cfg, Now: now})
			if err != nil || len(p2.Items) != 0 {
				t.Errorf("a second adopt: %v items, %v", len(p2.Items), err)
			}
		})
	}
}
