package patch

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/upstreamtest"
)

func showSettings(ss []Setting) string {
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "%d [%s] %s=%q\n", s.Line, s.Section, s.Key, s.Value)
	}
	return b.String()
}

func TestReadINI(t *testing.T) {
	in := "; php\r\nmemory_limit = 512M ; was 256M\r\n[web-worker]\n  pm.max_children=50\nphp_admin_value[memory_limit] = \"1024M\"\n# comment = no\n[ other ] ; c\nkey =\nnot a key\n"
	want := `2 [] memory_limit="512M"
4 [web-worker] pm.max_children="50"
5 [web-worker] php_admin_value[memory_limit]="1024M"
8 [other] key=""
`
	if got := showSettings(ReadINI([]byte(in))); got != want {
		t.Errorf("got:\n%swant:\n%s", got, want)
	}
}

func TestReadEnv(t *testing.T) {
	in := "# mailcow\nMAILCOW_HOSTNAME=mail.example.org\nexport FTS_HEAP=512 # MB\n  ADDITIONAL_SAN=\"imap.*, smtp.example.org\"\nDBPASS='a#b'\n#SKIP_FTS=y\n1BAD=x\nA-B=c\nEMPTY=\n"
	want := `2 [] MAILCOW_HOSTNAME="mail.example.org"
3 [] FTS_HEAP="512"
4 [] ADDITIONAL_SAN="imap.*, smtp.example.org"
5 [] DBPASS="a#b"
9 [] EMPTY=""
`
	if got := showSettings(ReadEnv([]byte(in))); got != want {
		t.Errorf("got:\n%swant:\n%s", got, want)
	}
}

// A line inside a quoted value that spans lines sets nothing, for the
// reader as for the editor.
func TestReadEnvMultiLine(t *testing.T) {
	var keys []string
	for _, s := range ReadEnv([]byte("MULTI=\"one\nNOT=this\"\nAFTER=1\n")) {
		keys = append(keys, s.Key)
	}
	if strings.Join(keys, " ") != "MULTI AFTER" {
		t.Errorf("keys %v, want MULTI AFTER", keys)
	}
}

// The readers see in every release's pools.conf and other.ini what the
// php-memory-limit and php-fpm-pool-size patches edit.
func TestReadINIUpstream(t *testing.T) {
	dir := upstreamtest.Dir(t)
	tags, err := filepath.Glob(filepath.Join(dir, "*", "data", "conf", "phpfpm", "php-fpm.d", "pools.conf"))
	if err != nil || len(tags) == 0 {
		t.Fatalf("no pools.conf under %s: %v", dir, err)
	}
	for _, p := range tags {
		tag := strings.TrimPrefix(p, dir+string(filepath.Separator))
		tag = tag[:strings.IndexByte(tag, filepath.Separator)]
		t.Run(tag, func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, s := range ReadINI(data) {
				got[s.Section+"/"+s.Key] = s.Value
			}
			if got["web-worker/php_admin_value[memory_limit]"] == "" || got["web-worker/pm.max_children"] == "" || got["web-worker/pm.max_spare_servers"] == "" {
				t.Errorf("web-worker pool not read: %v", got)
			}
			other, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(p)), "php-conf.d", "other.ini"))
			if err != nil {
				t.Fatal(err)
			}
			if ss := ReadINI(other); len(ss) == 0 || ss[len(ss)-1].Key != "memory_limit" {
				t.Errorf("other.ini: %s", showSettings(ss))
			}
		})
	}
}
