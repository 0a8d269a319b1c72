package settings

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/upstreamtest"
)

func TestReadPostfix(t *testing.T) {
	in := "# main.cf\r\nmynetworks = 127.0.0.0/8\r\n  [::1]/128\n# a comment inside\n\t192.168.1.0/24\n\nmessage_size_limit=1\n  # indented comment\nnot a setting\n  continues nothing\n= empty name\nmynetworks =\n"
	var got []string
	for _, p := range Postfix([]byte(in)) {
		got = append(got, fmt.Sprintf("%d %s=%q", p.Line, p.Key, p.Value))
	}
	want := []string{`2 mynetworks="127.0.0.0/8 [::1]/128 192.168.1.0/24"`, `7 message_size_limit="1"`, `12 mynetworks=""`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p, ok := LastPostfix(Postfix([]byte(in)), "mynetworks"); !ok || p.Line != 12 {
		t.Errorf("LastPostfix = %+v, %v", p, ok)
	}
}

func showUCL(ps []UCLPair) string {
	var b strings.Builder
	for _, p := range ps {
		kind := "="
		if p.List {
			kind = "=[]"
		}
		fmt.Fprintf(&b, "%d %s%s%s%q\n", p.Line, strings.Join(append(p.Path, ""), "."), p.Key, kind, p.Values)
	}
	return b.String()
}

func TestReadUCL(t *testing.T) {
	in := `dns {
  enable_dnssec = true;
}
# local_addrs = [1.2.3.4];
map_watch_interval = 30s; // comment
local_addrs = [
  "/etc/rspamd/custom/mailcow_networks.map", # a comment
  10.0.0.0/8, {nested = [1]}, [2]
];
/* a /* nested */ comment
local_addrs = no; */
clamav "named" {
  max_size: "20mb"
  servers = 'clamd:3310'
}
.include(try=true) "$LOCAL_CONFDIR/local.d/x.inc"
text = <<EOD
max_size = 1;
EOD
"quoted key" = "a \" b"
bare value with spaces #comment
}}]
last = file:///etc/x.map`
	want := `2 dns.enable_dnssec=["true"]
5 map_watch_interval=["30s"]
6 local_addrs=[]["/etc/rspamd/custom/mailcow_networks.map" "10.0.0.0/8"]
13 clamav.named.max_size=["20mb"]
14 clamav.named.servers=["clamd:3310"]
20 quoted key=["a \" b"]
21 bare=["value with spaces"]
23 last=["file:///etc/x.map"]
`
	if got := showUCL(UCL([]byte(in))); got != want {
		t.Errorf("got\n%swant\n%s", got, want)
	}
}

func TestReadDovecot(t *testing.T) {
	in := "# extra.conf\nservice indexer-worker {\n  vsz_limit = 2G # per process\n  inner  section {\n    x=\"a # b\"\n  }\n}\n!include_try /etc/dovecot/conf.d/fts.conf\nmail_max_userip_connections=2000\nbad key = 1\n}\n"
	sets, incs := Dovecot([]byte(in))
	var got []string
	for _, s := range sets {
		got = append(got, fmt.Sprintf("%d %s/%s=%q", s.Line, strings.Join(s.Section, "/"), s.Key, s.Value))
	}
	want := []string{`3 service indexer-worker/vsz_limit="2G"`, `5 service indexer-worker/inner section/x="\"a # b\""`, `9 /mail_max_userip_connections="2000"`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(incs) != 1 || incs[0].Path != "/etc/dovecot/conf.d/fts.conf" || incs[0].Line != 8 {
		t.Errorf("includes %+v", incs)
	}
}

// The readers see what mailcow ships in every release: options.inc's
// local_addrs (from 2024-06 on), antivirus.conf's max_size, fts.conf's
// vsz_limit (from 2025-01 on), main.cf's message_size_limit.
func TestReadersUpstream(t *testing.T) {
	dir := upstreamtest.Dir(t)
	tags := upstreamtest.Tags(t, dir)
	for _, tag := range tags {
		t.Run(tag, func(t *testing.T) {
			read := func(rel string) []byte {
				t.Helper()
				data, err := os.ReadFile(filepath.Join(dir, tag, rel))
				if err != nil {
					t.Fatal(err)
				}
				return data
			}
			var local []string
			for _, p := range UCL(read("data/conf/rspamd/local.d/options.inc")) {
				if p.Key == "local_addrs" && len(p.Path) == 0 {
					local = p.Values
				}
			}
			if tag >= "2024-06" && (len(local) != 1 || local[0] != "/etc/rspamd/custom/mailcow_networks.map") {
				t.Errorf("options.inc local_addrs = %q", local)
			}
			n := 0
			for _, p := range UCL(read("data/conf/rspamd/local.d/antivirus.conf")) {
				if p.Key == "max_size" && len(p.Path) == 1 && p.Path[0] == "clamav" {
					n++
				}
			}
			if n != 1 {
				t.Errorf("antivirus.conf: %d clamav max_size", n)
			}
			if _, ok := LastPostfix(Postfix(read("data/conf/postfix/main.cf")), "message_size_limit"); !ok {
				t.Error("main.cf: no message_size_limit")
			}
			if tag >= "2025-01" {
				sets, _ := Dovecot(read("data/conf/dovecot/conf.d/fts.conf"))
				found := false
				for _, s := range sets {
					found = found || s.Key == "vsz_limit" && len(s.Section) == 1 && s.Section[0] == "service indexer-worker"
				}
				if !found {
					t.Errorf("fts.conf: no vsz_limit in service indexer-worker: %+v", sets)
				}
			}
		})
	}
}

func fuzzDeadline(data string) func() {
	tm := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("SLOW %q", data)) })
	return func() { tm.Stop() }
}

func FuzzReadUCL(f *testing.F) {
	f.Add("dns {\n  x = 1;\n}\nlocal_addrs = [\"/a.map\", 10.0.0.0/8];\n")
	f.Add("/* /* */ */ a \"b\" { c: 'd' } e = <<X\nX\n.include \"x\"\n")
	f.Add("a = [[{]}], b\n}}}{{{")
	f.Fuzz(func(t *testing.T, in string) {
		defer fuzzDeadline(in)()
		lines := strings.Count(in, "\n") + 1
		last := 0
		for _, p := range UCL([]byte(in)) {
			if p.Line < last || p.Line > lines || p.Key == "" {
				t.Fatalf("pair %+v after line %d of %d", p, last, lines)
			}
			if !p.List && len(p.Values) != 1 {
				t.Fatalf("scalar pair %+v", p)
			}
			last = p.Line
		}
	})
}

func FuzzReadPostfix(f *testing.F) {
	f.Add("mynetworks = 127.0.0.0/8\n  [::1]/128\n# c\nmessage_size_limit = 1\n")
	f.Fuzz(func(t *testing.T, in string) {
		lines := len(Lines([]byte(in)))
		last := 0
		for _, p := range Postfix([]byte(in)) {
			if p.Line <= last || p.Line > lines || p.Key == "" || p.Key != strings.TrimSpace(p.Key) {
				t.Fatalf("param %+v after line %d of %d", p, last, lines)
			}
			last = p.Line
		}
	})
}

func FuzzReadDovecot(f *testing.F) {
	f.Add("service indexer-worker {\n  vsz_limit = 2G\n}\n!include_try x.conf\n")
	f.Fuzz(func(t *testing.T, in string) {
		lines := len(Lines([]byte(in)))
		sets, incs := Dovecot([]byte(in))
		last := 0
		for _, s := range sets {
			if s.Line <= last || s.Line > lines || s.Key == "" || strings.ContainsAny(s.Key, " \t") {
				t.Fatalf("setting %+v after line %d of %d", s, last, lines)
			}
			last = s.Line
		}
		for _, i := range incs {
			if i.Line < 1 || i.Line > lines {
				t.Fatalf("include %+v of %d lines", i, lines)
			}
		}
	})
}
