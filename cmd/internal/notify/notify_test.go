package notify

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/runlog"
	"github.com/mcupdate/mcupdate/cmd/internal/secret"
)

const planted = "SxDbPass0123456789"

func outcome(result string) *runlog.Outcome {
	return &runlog.Outcome{
		Time: time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC), Host: "mx1", Command: "hook post", Result: result,
		Counts: []runlog.Count{{Name: "changed", Value: 2}, {Name: "errors", Value: 1}}, Report: "/var/lib/mcupdate/r.json",
		Summary: "mcupdate post hook: patch db: password = " + planted, Duration: 1500 * time.Millisecond,
	}
}

type received struct {
	mu   sync.Mutex
	reqs []*http.Request
	body []string
}

func (r *received) handler(status int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, req)
		r.body = append(r.body, string(b))
		r.mu.Unlock()
		w.WriteHeader(status)
	})
}

func TestSend(t *testing.T) {
	var rec received
	srv := httptest.NewServer(rec.handler(200))
	defer srv.Close()
	red := secret.NewRedactor([]byte("DBPASS=" + planted + "\n"))
	errs := Send(context.Background(), Options{
		Webhook: srv.URL + "/hook?token=webhookT0ken", KumaPush: srv.URL + "/api/push/KumaT0ken?status=up&msg=OK&ping=",
		Timeout: 5 * time.Second, Version: "v1.2.3",
	}, outcome("error"), red)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(rec.reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(rec.reqs))
	}
	for i, req := range rec.reqs {
		switch req.Method {
		case http.MethodPost:
			if req.URL.Path != "/hook" || req.URL.Query().Get("token") != "webhookT0ken" || req.Header.Get("Content-Type") != "application/json" {
				t.Errorf("webhook request %s %s", req.URL, req.Header)
			}
			var p Payload
			if err := json.Unmarshal([]byte(rec.body[i]), &p); err != nil {
				t.Fatal(err)
			}
			if p.Schema != 1 || p.Event != "run" || p.Command != "hook post" || p.Result != "error" || p.OK || p.Counts["changed"] != 2 ||
				p.Report != "/var/lib/mcupdate/r.json" || p.DurationMS != 1500 || p.Version != "v1.2.3" || p.Host != "mx1" {
				t.Errorf("payload %+v", p)
			}
			if !strings.Contains(p.Summary, secret.Redacted) {
				t.Errorf("summary %q", p.Summary)
			}
		case http.MethodGet:
			q := req.URL.Query()
			if req.URL.Path != "/api/push/KumaT0ken" || q.Get("status") != "down" || q.Get("ping") != "1500" || !strings.HasPrefix(q.Get("msg"), "mcupdate post hook: ") {
				t.Errorf("kuma push %s", req.URL)
			}
		default:
			t.Errorf("method %s", req.Method)
		}
		if strings.Contains(req.URL.String()+rec.body[i], planted) {
			t.Errorf("the secret was sent: %s %s", req.URL, rec.body[i])
		}
	}
	// up for a run that needs nobody.
	rec.reqs, rec.body = nil, nil
	if errs := Send(context.Background(), Options{KumaPush: srv.URL + "/api/push/K"}, outcome("warning"), red); len(errs) > 0 || len(rec.reqs) != 1 || rec.reqs[0].URL.Query().Get("status") != "up" {
		t.Errorf("warning: %v %v", errs, rec.reqs)
	}
}

func TestSendFailuresBoundedAndTokenFree(t *testing.T) {
	// A server that accepts and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	var rec received
	srv500 := httptest.NewServer(rec.handler(500))
	defer srv500.Close()
	// A closed port: refused at once.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		name, webhook, kuma, want string
	}{
		{"hanging", "http://" + ln.Addr().String() + "/h?token=T0kenA", "http://" + ln.Addr().String() + "/api/push/T0kenB", "no answer in time"},
		{"HTTP 500", srv500.URL + "/h?token=T0kenA", srv500.URL + "/api/push/T0kenB", "HTTP 500"},
		{"refused", deadURL + "/h?token=T0kenA", deadURL + "/api/push/T0kenB", "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			timeout := 500 * time.Millisecond
			t0 := time.Now()
			errs := Send(context.Background(), Options{Webhook: tc.webhook, KumaPush: tc.kuma, Timeout: timeout}, outcome("ok"), nil)
			took := time.Since(t0)
			if took > timeout+500*time.Millisecond {
				t.Errorf("took %v with a timeout of %v", took, timeout)
			}
			if len(errs) != 2 {
				t.Fatalf("errors %v, want 2", errs)
			}
			for _, err := range errs {
				if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "T0ken") {
					t.Errorf("error %q: want %q and no token", err, tc.want)
				}
			}
		})
	}
}
