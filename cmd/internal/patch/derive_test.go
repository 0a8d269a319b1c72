package patch

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDerive(t *testing.T) {
	lib, err := Library()
	if err != nil {
		t.Fatal(err)
	}
	files := func(m map[string]string) func(string) (string, bool) {
		return func(f string) (string, bool) { s, ok := m[f]; return s, ok }
	}
	const pools = "[system-worker]\nphp_admin_value[memory_limit] = 256M\n[web-worker]\nphp_admin_value[memory_limit] = 2048M\n"
	tests := []struct {
		patch string
		files map[string]string
		added map[string][]string
		want  map[string]string
		err   string
	}{
		{patch: "php-memory-limit", files: map[string]string{
			"data/conf/phpfpm/php-fpm.d/pools.conf": pools,
			"data/conf/phpfpm/php-conf.d/other.ini": "memory_limit = 2048M\n",
		}, want: map[string]string{"MEMORY_LIMIT": "2048M"}},
		{patch: "php-memory-limit", files: map[string]string{
			"data/conf/phpfpm/php-fpm.d/pools.conf": pools,
			"data/conf/phpfpm/php-conf.d/other.ini": "memory_limit = 512M\n",
		}, err: "MEMORY_LIMIT is 2048M in edit pools but 512M in edit php-ini"},
		{patch: "message-size-limit", files: map[string]string{
			"data/conf/postfix/extra.cf":              "message_size_limit = 52428800\n",
			"data/conf/rspamd/local.d/antivirus.conf": "clamav {\n  max_size = 50mb;\n}\n",
			"data/conf/clamav/clamd.conf":             "StreamMaxLength 50M\nMaxFileSize 51200K\nMaxScanSize 52428800\n",
		}, want: map[string]string{"MESSAGE_SIZE": "50M"}},
		{patch: "message-size-limit", files: map[string]string{
			"data/conf/rspamd/local.d/antivirus.conf": "clamav {\n  max_size = 50m;\n}\n",
			"data/conf/clamav/clamd.conf":             "StreamMaxLength 50M\n",
		}, err: "MESSAGE_SIZE is 50000000 in edit rspamd-antivirus but 50M in edit clamd-stream"},
		{patch: "rspamd-ip-whitelist", files: map[string]string{"data/conf/rspamd/custom/ip_wl.map": "# wl\n192.0.2.10\n"},
			added: map[string][]string{"data/conf/rspamd/custom/ip_wl.map": {"192.0.2.10", "2001:db8::/48"}},
			want:  map[string]string{"IPS": "192.0.2.10 2001:db8::/48"}},
		{patch: "rspamd-ip-whitelist", files: map[string]string{"data/conf/rspamd/custom/ip_wl.map": "# BEGIN mcupdate rspamd-ip-whitelist/ip-wl\n10.0.0.1\n# END mcupdate rspamd-ip-whitelist/ip-wl\n"},
			added: map[string][]string{"data/conf/rspamd/custom/ip_wl.map": {"192.0.2.10"}},
			want:  map[string]string{"IPS": "10.0.0.1"}},
		{patch: "rspamd-ip-whitelist", files: map[string]string{"data/conf/rspamd/custom/ip_wl.map": ""},
			added: map[string][]string{"data/conf/rspamd/custom/ip_wl.map": {"10.0.0.1 # office"}},
			err:   "does not have the form"},
		{patch: "rspamd-local-addrs", files: map[string]string{"data/conf/rspamd/local.d/options.inc": "local_addrs = [\"10.0.0.0/8\"];\n"},
			err: "no edit of rspamd-local-addrs reads LOCAL_ADDRS"},
		{patch: "sogo-workers", files: map[string]string{"data/conf/sogo/sogo.conf": "{\n    WOWorkersCount = \"40\";\n}\n"},
			want: map[string]string{"WORKERS": "40", "VMEM_LIMIT": "384"}},
		{patch: "fts-heap", files: map[string]string{"mailcow.conf": "FTS_HEAP=512\n"}, want: map[string]string{"FTS_HEAP": "512"}},
	}
	for _, tt := range tests {
		t.Run(tt.patch, func(t *testing.T) {
			added := func(f string) []string { return tt.added[f] }
			got, err := Derive(lib[tt.patch], files(tt.files), added)
			if tt.err != "" {
				if !errors.Is(err, ErrNotDerived) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Derive = %v, want %v", got, tt.want)
			}
		})
	}
}
