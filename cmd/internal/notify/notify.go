// Package notify tells monitoring how an mcupdate run went: a JSON POST
// to a generic webhook, and an Uptime Kuma push. Both are sent at once,
// within one deadline for the two together, so a slow or dead endpoint
// costs a hook at most that long; a failure is returned to be reported,
// never to stop anything. Error texts name an endpoint by its scheme and
// host only: a push URL's path, a webhook's query may hold a token.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/runlog"
	"github.com/mcupdate/mcupdate/cmd/internal/secret"
)

// Schema is the version of the webhook's JSON layout.
const Schema = 1

// Payload is the webhook's JSON body.
type Payload struct {
	Schema     int            `json:"schema"`
	Event      string         `json:"event"` // always "run"
	Time       time.Time      `json:"time"`
	Host       string         `json:"host,omitempty"`
	Command    string         `json:"command"` // "hook pre", "hook post", "apply", "verify"
	Result     string         `json:"result"`  // ok, changed, warning, error, failed
	OK         bool           `json:"ok"`      // result is ok or changed
	Exit       int            `json:"exit"`
	Counts     map[string]int `json:"counts"`
	Summary    string         `json:"summary"`
	Report     string         `json:"report,omitempty"`
	DurationMS int64          `json:"duration_ms"`
	MailcowDir string         `json:"mailcow_dir,omitempty"`
	Version    string         `json:"version,omitempty"`
}

// Options says where to send.
type Options struct {
	Webhook  string
	KumaPush string
	// Timeout bounds both sends together.
	Timeout time.Duration
	// Version is mcupdate's, for the payload.
	Version string
	// Client is nil for a client of its own.
	Client *http.Client
}

// maxMsg bounds Uptime Kuma's msg.
const maxMsg = 200

// Send sends o to the configured endpoints, with every string passed
// through red, and returns one error per failed endpoint.
func Send(ctx context.Context, opt Options, o *runlog.Outcome, red *secret.Redactor) []error {
	if opt.Webhook == "" && opt.KumaPush == "" {
		return nil
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	client := opt.Client
	if client == nil {
		client = &http.Client{
			Timeout: opt.Timeout,
			// A redirect could lead the token elsewhere: not followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	if opt.Webhook != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := webhook(ctx, client, opt, o, red); err != nil {
				fail(err)
			}
		}()
	}
	if opt.KumaPush != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := kuma(ctx, client, opt.KumaPush, o, red); err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	return errs
}

// NewPayload is the webhook body for o, redacted.
func NewPayload(o *runlog.Outcome, version string, red *secret.Redactor) Payload {
	p := Payload{
		Schema: Schema, Event: "run", Time: o.Time.UTC(), Host: o.Host, Command: o.Command, Result: o.Result, OK: o.OK(),
		Exit: o.Exit, Counts: map[string]int{}, Summary: red.String(o.Summary), Report: red.String(o.Report),
		DurationMS: o.Duration.Milliseconds(), MailcowDir: red.String(o.MailcowDir), Version: version,
	}
	for _, c := range o.Counts {
		p.Counts[c.Name] = c.Value
	}
	return p
}

func webhook(ctx context.Context, client *http.Client, opt Options, o *runlog.Outcome, red *secret.Redactor) error {
	body, err := json.Marshal(NewPayload(o, opt.Version, red))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, opt.Webhook, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", endpoint(opt.Webhook), errors.New("bad URL"))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mcupdate")
	return do(client, req, "webhook")
}

func kuma(ctx context.Context, client *http.Client, push string, o *runlog.Outcome, red *secret.Redactor) error {
	u, err := url.Parse(push)
	if err != nil {
		return fmt.Errorf("uptime kuma push %s: bad URL", endpoint(push))
	}
	status := "up"
	if o.Result == "error" || o.Result == "failed" {
		status = "down"
	}
	msg := red.String(o.Summary)
	if r := []rune(msg); len(r) > maxMsg {
		msg = string(r[:maxMsg-1]) + "…"
	}
	q := u.Query()
	q.Set("status", status)
	q.Set("msg", msg)
	q.Set("ping", fmt.Sprint(o.Duration.Milliseconds()))
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("uptime kuma push %s: bad URL", endpoint(push))
	}
	req.Header.Set("User-Agent", "mcupdate")
	return do(client, req, "uptime kuma push")
}

// do sends req; the error names the endpoint by scheme and host only.
func do(client *http.Client, req *http.Request, what string) error {
	where := req.URL.Scheme + "://" + req.URL.Host
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(req.Context().Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%s %s: no answer in time", what, where)
		}
		return fmt.Errorf("%s %s: %v", what, where, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: HTTP %d", what, where, resp.StatusCode)
	}
	return nil
}

// endpoint is a URL's scheme and host, for messages.
func endpoint(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host
}
