package patch

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/udiff"
	"github.com/mcupdate/mcupdate/cmd/internal/upstreamtest"
)

// upstreamDir finds <repo>/../shared/upstream, or skips.
func upstreamDir(t testing.TB) string { t.Helper(); return upstreamtest.Dir(t) }

// testMailcowConf is a trimmed mailcow.conf in the real one's shape.
const testMailcowConf = `# ------------------------------
# mailcow web ui configuration
# ------------------------------
MAILCOW_HOSTNAME=mail.example.org
MAILCOW_PASS_SCHEME=BLF-CRYPT
DBNAME=mailcow
DBUSER=mailcow
DBPASS=Zm9vYmFyYmF6cXV4
DBROOT=cXV4YmF6YmFyZm9v
REDISPASS=c2VjcmV0c2VjcmV0
HTTP_PORT=80
HTTP_BIND=
TZ=Europe/Berlin
COMPOSE_PROJECT_NAME=mailcowdockerized
# Dovecot: max FTS heap in MB
FTS_HEAP=128
FTS_PROCS=1
SKIP_CLAMD=n
`

// stageTag copies a tag's files into a fresh mailcow dir, with a
// mailcow.conf and a template cache.
func stageTag(t testing.TB, up, tag, dir string) {
	t.Helper()
	src := filepath.Join(up, tag)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		if rel == "dot.gitignore" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, dir, map[string]string{
		"mailcow.conf":                          testMailcowConf,
		"data/web/templates/cache/.gitkeep":     "",
		"data/web/templates/cache/ab/cd.php":    "<?php\n",
		"data/conf/rspamd/custom/.placeholder":  "",
		"data/conf/postfix/.placeholder-keepme": "",
	})
}

// conformance says, per shipped patch, the parameters an admin would set,
// what must be in which file afterwards, and which changed lines are the
// patch's (every other line must stay byte for byte).
var conformance = map[string]struct {
	params  map[string]string
	want    map[string][]string // file → lines that must be present
	touched *regexp.Regexp      // changed lines must match this
}{
	"php-memory-limit": {
		params: map[string]string{"MEMORY_LIMIT": "2048M"},
		want: map[string][]string{
			"data/conf/phpfpm/php-fpm.d/pools.conf": {"php_admin_value[memory_limit] = 2048M"},
			"data/conf/phpfpm/php-conf.d/other.ini": {"memory_limit = 2048M"},
		},
		touched: regexp.MustCompile(`^(php_admin_value\[memory_limit\]|memory_limit) = (512M|2048M)$`),
	},
	"php-fpm-pool-size": {
		params:  map[string]string{"MAX_CHILDREN": "80"},
		want:    map[string][]string{"data/conf/phpfpm/php-fpm.d/pools.conf": {"pm.max_children = 80"}},
		touched: regexp.MustCompile(`^pm\.max_children = (50|80)$`),
	},
	"fts-heap": {
		params:  map[string]string{"FTS_HEAP": "1024"},
		want:    map[string][]string{"mailcow.conf": {"FTS_HEAP=1024"}},
		touched: regexp.MustCompile(`^FTS_HEAP=`),
	},
	"rspamd-local-addrs": {
		params: map[string]string{"LOCAL_ADDRS": "10.0.0.0/8, 192.168.10.5"},
		want: map[string][]string{
			"data/conf/rspamd/custom/mcupdate_local_addrs.map": {"10.0.0.0/8", "192.168.10.5"},
			"data/conf/rspamd/local.d/options.inc":             {`local_addrs = ["/etc/rspamd/custom/mailcow_networks.map", "/etc/rspamd/custom/mcupdate_local_addrs.map"];`},
		},
		touched: regexp.MustCompile(`^local_addrs = `),
	},
	"rspamd-ip-whitelist": {
		params:  map[string]string{"IPS": "192.0.2.10 2001:db8::/48"},
		want:    map[string][]string{"data/conf/rspamd/custom/ip_wl.map": {"# BEGIN mcupdate rspamd-ip-whitelist/ip-wl", "192.0.2.10", "2001:db8::/48", "# END mcupdate rspamd-ip-whitelist/ip-wl"}},
		touched: regexp.MustCompile(`^(# (BEGIN|END) mcupdate rspamd-ip-whitelist/ip-wl|192\.0\.2\.10|2001:db8::/48)$`),
	},
	"postfix-ipv4-outbound": {
		want: map[string][]string{"data/conf/postfix/extra.cf": {"smtp_address_preference = ipv4"}},
	},
	"sogo-workers": {
		params:  map[string]string{"WORKERS": "40", "VMEM_LIMIT": "512"},
		want:    map[string][]string{"data/conf/sogo/sogo.conf": {`    WOWorkersCount = "40";`, `    SxVMemLimit = 512;`}},
		touched: regexp.MustCompile(`^    (WOWorkersCount = "(20|40)";|SxVMemLimit = (384|512);)$`),
	},
	"greylist-off": {
		want:    map[string][]string{"data/conf/rspamd/local.d/greylist.conf": {"enabled = false;"}},
		touched: regexp.MustCompile(`^enabled = false;$`),
	},
	"twig-cache-perms": {},
	"message-size-limit": {
		params: map[string]string{"MESSAGE_SIZE": "50M"},
		want: map[string][]string{
			"data/conf/postfix/extra.cf":              {"message_size_limit = 52428800"},
			"data/conf/rspamd/local.d/antivirus.conf": {"  max_size = 52428800;"},
			// Upstream's own "MaxScanSize 50M" is that size already: clamd
			// reads it as 52428800, so it is kept as written (issue 13).
			"data/conf/clamav/clamd.conf": {"StreamMaxLength 52428800", "MaxFileSize 52428800", "MaxScanSize 50M"},
		},
		touched: regexp.MustCompile(`^(\s*max_size = \d+;|(StreamMaxLength|MaxFileSize|MaxScanSize) \w+)$`),
	},
}

func TestConformance(t *testing.T) {
	up := upstreamDir(t)
	lib, err := Library()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range Names(lib) {
		if _, ok := conformance[n]; !ok {
			t.Errorf("shipped patch %s has no conformance case", n)
		}
	}
	for _, tag := range upstreamtest.Tags(t, up) {
		for _, name := range Names(lib) {
			c := conformance[name]
			t.Run(tag+"/"+name, func(t *testing.T) {
				if name == "twig-cache-perms" && os.Geteuid() != 0 {
					t.Skip("changing the owner to uid 82 needs root")
				}
				dir := t.TempDir()
				stageTag(t, up, tag, dir)
				before := snapshot(t, dir)
				b, err := Bind(lib[name], c.params)
				if err != nil {
					t.Fatal(err)
				}
				res, err := Apply(osWriter{}, dir, []*Bound{b}, ModeApply)
				if err != nil {
					t.Fatalf("first apply: %v", err)
				}
				for _, e := range res.Patches[0].Edits {
					if e.State != StateApplied && e.State != StateAlreadyApplied {
						t.Errorf("first apply: edit %s: state %s", e.Edit, e.State)
					}
				}
				after := snapshot(t, dir)

				w := &recWriter{next: osWriter{}}
				res2, err := Apply(w, dir, []*Bound{b}, ModeApply)
				if err != nil {
					t.Fatalf("second apply: %v", err)
				}
				for _, e := range res2.Patches[0].Edits {
					if e.State != StateAlreadyApplied {
						t.Errorf("second apply: edit %s: state %s, diff:\n%s", e.Edit, e.State, e.Diff)
					}
				}
				if len(w.ops) != 0 || len(res2.Patches[0].Changed) != 0 {
					t.Errorf("second apply wrote %v", w.ops)
				}

				for file, lines := range c.want {
					got := after[file]
					for _, l := range lines {
						if !hasLine(got, l) {
							t.Errorf("%s lacks line %q:\n%s", file, l, got)
						}
					}
				}
				edited := map[string]bool{}
				for _, f := range b.Files() {
					edited[f] = true
				}
				for _, f := range keys(before) {
					if !edited[f] && after[f] != before[f] {
						t.Errorf("%s changed, but the patch does not edit it", f)
					}
				}
				for _, f := range keys(after) {
					if _, ok := before[f]; !ok && !edited[f] {
						t.Errorf("%s created, but the patch does not edit it", f)
					}
				}
				for f := range edited {
					old, ok := before[f]
					if !ok || c.touched == nil {
						continue
					}
					for _, l := range changedLines(old, after[f]) {
						if !c.touched.MatchString(l) {
							t.Errorf("%s: line %q changed, outside what the patch edits", f, l)
						}
					}
				}
				if name == "twig-cache-perms" {
					filepath.WalkDir(filepath.Join(dir, "data/web/templates/cache"), func(p string, d fs.DirEntry, err error) error {
						if err != nil {
							t.Fatal(err)
						}
						fi, _ := d.Info()
						if st := fi.Sys().(*syscall.Stat_t); st.Uid != 82 || st.Gid != 82 {
							t.Errorf("%s owned by %d:%d, want 82:82", p, st.Uid, st.Gid)
						}
						return nil
					})
				}
			})
		}
	}
}

func hasLine(s, l string) bool {
	for _, x := range splitLines(s) {
		if body(x) == l {
			return true
		}
	}
	return false
}

// changedLines returns the bodies of the lines a diff removes or adds.
func changedLines(a, b string) []string {
	var out []string
	for _, l := range strings.Split(udiff.Unified("a", "b", a, b), "\n") {
		if strings.HasPrefix(l, "---") || strings.HasPrefix(l, "+++") {
			continue
		}
		if strings.HasPrefix(l, "-") || strings.HasPrefix(l, "+") {
			out = append(out, l[1:])
		}
	}
	return out
}
