package settings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/upstreamtest"
)

func TestParseDialects(t *testing.T) {
	cases := []struct {
		file, content string
		want          map[string]string
	}{
		{"data/conf/postfix/main.cf", "# c\nmessage_size_limit = 104857600\nsmtpd_recipient_restrictions = a,\n  b,\n  c\n", map[string]string{
			"message_size_limit": "104857600", "smtpd_recipient_restrictions": "a, b, c"}},
		{"data/conf/phpfpm/php-fpm.d/pools.conf", "[global]\npid = x\n; c\n[web-worker]\nphp_admin_value[memory_limit] = 512M\npm.max_children = 20\n", map[string]string{
			"[global] pid": "x", "[web-worker] php_admin_value[memory_limit]": "512M", "[web-worker] pm.max_children": "20"}},
		{"data/conf/rspamd/local.d/actions.conf", "reject = 15;\n# c\ngroup \"x\" {\n  score = 1.0;\n}\nadd_header = 8;\n", map[string]string{
			"reject": "15", "group \"x\" score": "1.0", "add_header": "8"}},
		{"data/conf/rspamd/local.d/options.inc", "local_addrs = [192.168.0.0/16, 10.0.0.0/8];\ndns {\n  enable_dnssec = true;\n}\n", map[string]string{
			"local_addrs": "[192.168.0.0/16, 10.0.0.0/8]", "dns enable_dnssec": "true"}},
		{"data/conf/sogo/sogo.conf", "{\n    WOWorkersCount = \"20\";\n    // c\n    SOGoUIAdditionalJSFiles = (\n      js/theme.js,\n      js/custom-sogo.js\n    );\n    SxVMemLimit = 384;\n}\n", map[string]string{
			"WOWorkersCount": "\"20\"", "SOGoUIAdditionalJSFiles": "( js/theme.js, js/custom-sogo.js )", "SxVMemLimit": "384"}},
		{"data/conf/clamav/clamd.conf", "# c\nStreamMaxLength 25M\nMaxFileSize 100M\n", map[string]string{"StreamMaxLength": "25M", "MaxFileSize": "100M"}},
		{"data/conf/dovecot/extra.conf", "mail_max_userip_connections = 500\nplugin {\n  fts_autoindex = yes\n}\n", map[string]string{
			"mail_max_userip_connections": "500", "plugin fts_autoindex": "yes"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			m := Parse(tc.file, []byte(tc.content))
			for k, v := range tc.want {
				if m[k].Value != v {
					t.Errorf("%s = %q, want %q (all: %v)", k, m[k].Value, v, m)
				}
			}
		})
	}
}

func TestDiff(t *testing.T) {
	a := Parse("data/conf/postfix/main.cf", []byte("a = 1\nb = 2\nc = 3\n"))
	b := Parse("data/conf/postfix/main.cf", []byte("a = 1\nb = 20\nd = 4\n"))
	d := Diff(a, b)
	if len(d) != 3 || d["b"].Old != "2" || d["b"].New != "20" || !d["c"].Removed || !d["d"].Added {
		t.Errorf("%+v", d)
	}
}

// TestRealFiles reads every real upstream file of every release: the
// settings the patches and checks rely on are found, and nothing panics.
func TestRealFiles(t *testing.T) {
	up := upstreamtest.Dir(t)
	tags, err := os.ReadDir(up)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"data/conf/postfix/main.cf":             "message_size_limit",
		"data/conf/phpfpm/php-fpm.d/pools.conf": "[web-worker] php_admin_value[memory_limit]",
		"data/conf/sogo/sogo.conf":              "WOWorkersCount",
		"data/conf/rspamd/local.d/options.inc":  "local_addrs",
		"data/conf/clamav/clamd.conf":           "MaxFileSize",
	}
	n := 0
	for _, tag := range tags {
		if !tag.IsDir() {
			continue
		}
		for file, key := range want {
			b, err := os.ReadFile(filepath.Join(up, tag.Name(), filepath.FromSlash(file)))
			if err != nil {
				continue
			}
			n++
			if !strings.Contains(string(b), "\n"+strings.TrimPrefix(key, "[web-worker] ")) {
				continue // this release has no such setting (2024-01's options.inc)
			}
			if _, ok := Parse(file, b)[key]; !ok {
				t.Errorf("%s %s: no %s", tag.Name(), file, key)
			}
		}
	}
	if n == 0 {
		t.Fatal("no upstream file read")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("data/conf/rspamd/local.d/x.conf", "a {\n b = 1;\n}\n}}}\n")
	f.Add("data/conf/sogo/sogo.conf", "{\n x = (\n a,\n")
	f.Add("data/conf/postfix/main.cf", "  leading\na = b\n  c\n")
	f.Fuzz(func(t *testing.T, file, content string) {
		m := Parse(file, []byte(content))
		for k, s := range m {
			if s.Line < 1 || k == "" {
				t.Fatalf("bad setting %q %+v", k, s)
			}
		}
	})
}
