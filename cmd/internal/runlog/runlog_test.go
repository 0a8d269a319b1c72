package runlog

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sample() *Outcome {
	return &Outcome{
		Time: time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC), Host: "mx1", Command: "hook post", Result: "warning",
		Counts:   []Count{{"changed", 2}, {"warnings", 1}, {"errors", 0}},
		Report:   "/var/lib/mcupdate/report-20260701T120000.000Z-post.json",
		Summary:  `mcupdate post hook: changed patches, "restart"; 1 warning`,
		Duration: 5312 * time.Millisecond, MailcowDir: "/opt/mailcow dockerized",
	}
}

func TestLogfmtRoundTrip(t *testing.T) {
	line := sample().Logfmt()
	want := `time=2026-07-01T12:00:00Z host=mx1 command="hook post" result=warning exit=0 changed=2 warnings=1 errors=0 report=/var/lib/mcupdate/report-20260701T120000.000Z-post.json duration_ms=5312 mailcow_dir="/opt/mailcow dockerized" summary="mcupdate post hook: changed patches, \"restart\"; 1 warning"`
	if line != want {
		t.Fatalf("Logfmt:\n%s\nwant\n%s", line, want)
	}
	kv, err := Parse(line)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var keys []string
	for _, p := range kv {
		got[p[0]] = p[1]
		keys = append(keys, p[0])
	}
	if !reflect.DeepEqual(keys, []string{"time", "host", "command", "result", "exit", "changed", "warnings", "errors", "report", "duration_ms", "mailcow_dir", "summary"}) {
		t.Errorf("keys %v", keys)
	}
	if got["summary"] != sample().Summary || got["command"] != "hook post" || got["mailcow_dir"] != "/opt/mailcow dockerized" {
		t.Errorf("parsed %v", got)
	}
	for _, bad := range []string{`a`, `=b`, `a="x`, `a="x"y`, `a b=c`} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	// A newline or an equals sign in a value stays one line, one value.
	o := sample()
	o.Summary = "two\nlines a=b"
	if l := o.Logfmt(); strings.Contains(l, "\n") {
		t.Errorf("newline in the line: %q", l)
	} else if kv, err := Parse(l); err != nil || kv[len(kv)-1][1] != o.Summary {
		t.Errorf("round trip of %q: %v %v", o.Summary, kv, err)
	}
}

func TestAppendRotates(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "log", "mcupdate.log")
	line := strings.Repeat("x", 99) // 100 bytes with the newline
	for i := 0; i < 25; i++ {
		if err := Append(p, 1000, line, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	cur, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(p + ".1")
	if err != nil {
		t.Fatal(err)
	}
	// 25 lines: 10 rotated away for good, 10 in .1, 5 in the file.
	if len(cur) != 500 || len(old) != 1000 {
		t.Errorf("file %d bytes, .1 %d bytes; want 500 and 1000", len(cur), len(old))
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}
	// A link at the log's name is refused, never written through.
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.log")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := Append(link, 1000, "x", 0o640); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Append through a link: %v", err)
	}
	if b, _ := os.ReadFile(target); len(b) != 0 {
		t.Errorf("written through the link: %q", b)
	}
}

func TestSyslog(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "log")
	if err := Syslog(sock, "x", true, time.Second); err != ErrNoSyslog {
		t.Errorf("no socket: %v", err)
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	line := sample().Logfmt()
	for _, ok := range []bool{true, false} {
		if err := Syslog(sock, line, ok, time.Second); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		msg := string(buf[:n])
		pri := map[bool]string{true: "<30>", false: "<28>"}[ok]
		if !strings.HasPrefix(msg, pri) || !strings.Contains(msg, " mcupdate[") || !strings.HasSuffix(msg, "]: "+line) {
			t.Errorf("syslog message %q", msg)
		}
	}
}
