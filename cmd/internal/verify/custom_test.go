package verify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

// install makes an upstream repository with one release and a clone of
// it, as mailcow is installed; it returns the clone.
func install(t *testing.T) (up, dir string) {
	t.Helper()
	root := t.TempDir()
	up, dir = filepath.Join(root, "upstream"), filepath.Join(root, "mailcow")
	gittest.Init(t, up)
	gittest.Commit(t, up, "mailcow 2026-01", map[string]string{
		"docker-compose.yml":                     "services:\n  dovecot-mailcow:\n    image: dovecot:1\n",
		"data/conf/postfix/main.cf":              "message_size_limit = 104857600\n",
		"data/conf/rspamd/local.d/greylist.conf": "enabled = true;\n",
		"data/conf/sogo/sogo.conf":               "WOWorkersCount = 5;\n",
		"update.sh":                              "#!/bin/bash\n",
	})
	gittest.Git(t, root, "clone", "-q", up, dir)
	return up, dir
}

func TestFindCustomizations(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, up, dir string)
		want  []string // "file where [deleted]"
		src   string
	}{
		{name: "fresh clone", setup: func(*testing.T, string, string) {}, src: BaseMergeBase},
		{
			name: "uncommitted, staged and deleted",
			setup: func(t *testing.T, up, dir string) {
				gittest.WriteFiles(t, dir, map[string]string{
					"docker-compose.yml":       "services:\n  dovecot-mailcow:\n    image: dovecot:1\n    mem_limit: 4g\n",
					"data/conf/sogo/sogo.conf": "WOWorkersCount = 40;\n",
					"local-notes.txt":          "mine\n", // untracked: not reported
				})
				gittest.Git(t, dir, "add", "data/conf/sogo/sogo.conf")
				if err := os.Remove(filepath.Join(dir, "update.sh")); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"data/conf/sogo/sogo.conf work tree", "docker-compose.yml work tree", "update.sh work tree deleted"},
			src:  BaseMergeBase,
		},
		{
			name: "update.sh's Before update commit, upstream fetched but not merged",
			setup: func(t *testing.T, up, dir string) {
				gittest.Commit(t, dir, "Before update on 2026-03-01", map[string]string{"data/conf/postfix/main.cf": "message_size_limit = 1\n"})
				gittest.Commit(t, up, "mailcow 2026-03", map[string]string{"data/conf/sogo/sogo.conf": "WOWorkersCount = 6;\n"})
				gittest.Git(t, dir, "fetch", "-q", "origin")
			},
			want: []string{"data/conf/postfix/main.cf committed"},
			src:  BaseMergeBase,
		},
		{
			name: "After update merge at HEAD: its second parent is the base",
			setup: func(t *testing.T, up, dir string) {
				gittest.Commit(t, dir, "Before update on 2026-03-01", map[string]string{"data/conf/rspamd/local.d/greylist.conf": "enabled = false;\n"})
				gittest.Commit(t, up, "mailcow 2026-03", map[string]string{
					"data/conf/sogo/sogo.conf":  "WOWorkersCount = 6;\n",
					"data/conf/postfix/main.cf": "message_size_limit = 104857600\nheader_size_limit = 4096000\n",
				})
				gittest.Git(t, dir, "fetch", "-q", "origin")
				gittest.Git(t, dir, "merge", "-q", "-Xtheirs", "-m", "After update on 2026-03-01", "origin/master")
				// origin moves on: the merge's parent is still the base.
				gittest.Commit(t, up, "mailcow 2026-05", map[string]string{"update.sh": "#!/bin/bash\n# 2026-05\n"})
				gittest.Git(t, dir, "fetch", "-q", "origin")
			},
			want: []string{"data/conf/rspamd/local.d/greylist.conf committed"},
			src:  BaseAfterUpdate,
		},
		{
			name: "committed then reverted in the work tree",
			setup: func(t *testing.T, up, dir string) {
				gittest.Commit(t, dir, "Before update on 2026-03-01", map[string]string{"data/conf/sogo/sogo.conf": "WOWorkersCount = 40;\n"})
				gittest.WriteFiles(t, dir, map[string]string{"data/conf/sogo/sogo.conf": "WOWorkersCount = 5;\n"})
			},
			want: nil,
			src:  BaseMergeBase,
		},
		{
			name: "no origin ref: HEAD is the base",
			setup: func(t *testing.T, up, dir string) {
				gittest.Git(t, dir, "update-ref", "-d", "refs/remotes/origin/master")
				gittest.Commit(t, dir, "local", map[string]string{"update.sh": "#!/bin/bash\nlocal\n"})
				gittest.WriteFiles(t, dir, map[string]string{"data/conf/postfix/main.cf": "x\n"})
			},
			want: []string{"data/conf/postfix/main.cf work tree"},
			src:  BaseHead,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up, dir := install(t)
			tt.setup(t, up, dir)
			c, err := FindCustomizations(dir, "master")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range c.Files {
				s := f.File + " " + f.Where
				if f.Deleted {
					s += " deleted"
				}
				got = append(got, s)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if c.BaseSource != tt.src {
				t.Errorf("base source %s, want %s", c.BaseSource, tt.src)
			}
		})
	}
}

// TestFindCustomizationsStat checks the stat shortcut both ways: a file
// whose stat data matches the index is not read, and an edit that keeps
// the size and the mtime is still found (the index is then racy or the
// ctime differs).
func TestFindCustomizationsStat(t *testing.T) {
	_, dir := install(t)
	// Let the index be newer than every file, then refresh it.
	old := time.Now().Add(-time.Hour)
	for _, f := range []string{"docker-compose.yml", "data/conf/postfix/main.cf", "data/conf/rspamd/local.d/greylist.conf", "data/conf/sogo/sogo.conf", "update.sh"} {
		if err := os.Chtimes(filepath.Join(dir, f), old, old); err != nil {
			t.Fatal(err)
		}
	}
	gittest.Git(t, dir, "update-index", "--refresh")
	c, err := FindCustomizations(dir, "master")
	if err != nil {
		t.Fatal(err)
	}
	if !c.TreeFromIndex {
		t.Errorf("a refreshed index after a clone: HEAD's tree read, want it from the cache tree")
	}
	if len(c.Files) != 0 || c.Hashed != 0 {
		t.Fatalf("clean tree: files %v, hashed %d; want none, 0", c.Files, c.Hashed)
	}
	// Same size, same mtime, other content.
	p := filepath.Join(dir, "data/conf/sogo/sogo.conf")
	if err := os.WriteFile(p, []byte("WOWorkersCount = 9;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	c, err = FindCustomizations(dir, "master")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Files) != 1 || c.Files[0].File != "data/conf/sogo/sogo.conf" || c.Hashed != 1 {
		t.Fatalf("files %v, hashed %d; want sogo.conf, 1", c.Files, c.Hashed)
	}
}

func TestHome(t *testing.T) {
	byFile := map[string][]string{
		"data/conf/rspamd/local.d/greylist.conf": {"greylist-off"},
		"data/conf/phpfpm/php-fpm.d/pools.conf":  {"php-fpm-pool-size", "php-memory-limit"},
	}
	tests := []struct{ file, want string }{
		{"docker-compose.yml", "docker-compose.override.yml"},
		{"data/conf/postfix/main.cf", "data/conf/postfix/extra.cf"},
		{"data/conf/dovecot/dovecot.conf", "data/conf/dovecot/extra.conf"},
		{"data/conf/dovecot/conf.d/fts.conf", "data/conf/dovecot/extra.conf"},
		{"data/conf/rspamd/local.d/greylist.conf", "patch greylist-off"},
		{"data/conf/rspamd/local.d/ratelimit.conf", "data/conf/rspamd/override.d/ratelimit.conf"},
		{"data/conf/phpfpm/php-fpm.d/pools.conf", "patch php-fpm-pool-size or php-memory-limit"},
		{"update.sh", ""},
	}
	for _, tt := range tests {
		if got := Home(tt.file, byFile); got != tt.want {
			t.Errorf("Home(%q) = %q, want %q", tt.file, got, tt.want)
		}
	}
}

// TestHomeLibrary checks the homes the shipped patches give.
func TestHomeLibrary(t *testing.T) {
	_, lib, err := resolvePatches(&emptyConfig)
	if err != nil {
		t.Fatal(err)
	}
	byFile := patchFiles(lib)
	for file, want := range map[string]string{
		"data/conf/phpfpm/php-conf.d/other.ini":   "php-memory-limit",
		"data/conf/rspamd/local.d/options.inc":    "rspamd-local-addrs",
		"data/conf/sogo/sogo.conf":                "sogo-workers",
		"data/conf/clamav/clamd.conf":             "message-size-limit",
		"data/conf/rspamd/local.d/antivirus.conf": "message-size-limit",
		"data/conf/rspamd/local.d/greylist.conf":  "greylist-off",
	} {
		if got := Home(file, byFile); !strings.Contains(got, "patch ") || !strings.Contains(got, want) {
			t.Errorf("Home(%q) = %q, want the patch %s", file, got, want)
		}
	}
}

func TestNearest(t *testing.T) {
	names := []string{"dovecot-mailcow", "postfix-mailcow", "watchdog-mailcow-ng"}
	for in, want := range map[string]string{"watchdog-mailcow": "watchdog-mailcow-ng", "postfix-mailcw": "postfix-mailcow", "my-app": ""} {
		if got := nearest(in, names); got != want {
			t.Errorf("nearest(%q) = %q, want %q", in, got, want)
		}
	}
}

var emptyConfig = func() config.Config { return *config.Default() }()
