package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fixture"
	"github.com/mcupdate/mcupdate/cmd/internal/notify"
	"github.com/mcupdate/mcupdate/cmd/internal/runlog"
)

// TestPublishAfterHooks runs the real binary: after the post hook a
// webhook and an Uptime Kuma push on a loopback HTTP server receive the
// run (no secret in either), the run log gets a line that parses back;
// a dead endpoint costs the hook at most the configured timeout and is
// only a warning.
func TestPublishAfterHooks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildMcupdate(t)
	in := newInstall(t, bin)
	const dbpass = "FAKEdbpassFixtureOnly0000000" // the fixture's mailcow.conf
	conf, err := os.ReadFile(in.path("mailcow.conf"))
	must(t, err)
	if !strings.Contains(string(conf), "DBPASS="+dbpass) {
		t.Fatal("the fixture's DBPASS changed")
	}
	// A secret in a patch's error: the summary and the report quote it.
	in.appendTo(in.path("docker-compose.override.yml"), []byte("# db "+dbpass+"\n"))

	var (
		mu   sync.Mutex
		got  []string // method, URL and body of each request
		body []notify.Payload
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.Method+" "+r.URL.String()+" "+string(b))
		if r.Method == http.MethodPost {
			var p notify.Payload
			if err := json.Unmarshal(b, &p); err != nil {
				t.Errorf("webhook body: %v: %s", err, b)
			}
			body = append(body, p)
		}
	}))
	defer srv.Close()
	logFile := filepath.Join(in.work, "log", "mcupdate.log")
	setConfig := func(notifyINI string) {
		in.write(in.config, []byte(string(fixture.AdminConfig())+"\n[log]\nfile = "+logFile+"\nsyslog = off\n\n[notify]\n"+notifyINI), 0o600)
	}
	setConfig("webhook = " + srv.URL + "/mcupdate?token=Wh00kT0ken\nkuma_push = " + srv.URL + "/api/push/KumaT0ken?status=up&msg=OK&ping=\ntimeout = 5s\n")

	wantOK(t, in.run("hook", "pre"))
	in.update(fixture.Tags()[1])
	post := in.run("hook", "post", "--no-restart")
	if post.code != 0 && post.code != 1 {
		t.Fatalf("post hook: %v", post)
	}
	mu.Lock()
	if len(got) != 4 || len(body) != 2 {
		t.Fatalf("requests after two hooks: %d, webhook bodies %d, want 4 and 2:\n%s", len(got), len(body), strings.Join(got, "\n"))
	}
	p := body[1]
	if p.Command != "hook post" || p.Schema != notify.Schema || p.Report == "" || p.Counts["changed"] == 0 || p.Summary == "" {
		t.Errorf("post hook payload %+v", p)
	}
	if _, err := os.Stat(p.Report); err != nil {
		t.Errorf("the payload's report: %v", err)
	}
	var pushes int
	for _, g := range got {
		if strings.Contains(g, dbpass) {
			t.Errorf("a notification holds the secret: %s", g)
		}
		if strings.HasPrefix(g, "GET /api/push/KumaT0ken?") {
			pushes++
			if !strings.Contains(g, "status=up") && !strings.Contains(g, "status=down") {
				t.Errorf("push without status: %s", g)
			}
		}
	}
	mu.Unlock()
	if pushes != 2 {
		t.Errorf("%d pushes, want 2", pushes)
	}

	// The run log: one line per run, parsed back.
	data, err := os.ReadFile(logFile)
	must(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("log lines:\n%s", data)
	}
	kv, err := runlog.Parse(lines[1])
	must(t, err)
	m := map[string]string{}
	for _, p := range kv {
		m[p[0]] = p[1]
	}
	if m["command"] != "hook post" || m["result"] == "" || m["report"] != p.Report || m["changed"] == "" || m["time"] == "" {
		t.Errorf("log line %q parsed as %v", lines[1], m)
	}
	if strings.Contains(string(data), dbpass) {
		t.Errorf("the log holds the secret:\n%s", data)
	}

	// verify: notified, not logged to the file (verify writes nothing).
	in.run("verify")
	if data2, _ := os.ReadFile(logFile); len(data2) != len(data) {
		t.Errorf("verify wrote to the run log")
	}
	mu.Lock()
	if n := len(body); n != 3 || body[2].Command != "verify" {
		t.Errorf("verify's webhook: %d bodies", n)
	}
	mu.Unlock()

	// A dead endpoint: accepts, never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	base := in.run("hook", "post", "--no-restart").took
	const timeout = 2 * time.Second
	setConfig("webhook = http://" + ln.Addr().String() + "/mcupdate?token=Wh00kT0ken\nkuma_push = http://" + ln.Addr().String() + "/api/push/KumaT0ken\ntimeout = 2s\n")
	dead := in.run("hook", "post", "--no-restart")
	if dead.code != 0 {
		t.Errorf("a dead endpoint changed the exit code: %v", dead)
	}
	if extra := dead.took - base; extra > timeout+time.Second {
		t.Errorf("the dead endpoint cost %v (hook %v, without it %v), timeout %v", extra, dead.took, base, timeout)
	}
	if dead.took < timeout {
		t.Errorf("the hook took %v, less than the timeout: did it wait for the endpoint at all?", dead.took)
	}
	for _, w := range []string{"notification: webhook http://" + ln.Addr().String() + ": no answer in time", "notification: uptime kuma push http://" + ln.Addr().String() + ": no answer in time"} {
		if !strings.Contains(dead.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, dead.stderr)
		}
	}
	if strings.Contains(dead.stderr+dead.stdout, "T0ken") {
		t.Errorf("a token was printed:\n%s", dead.stderr)
	}
}
