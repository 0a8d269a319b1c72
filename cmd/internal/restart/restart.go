// Package restart restarts the mailcow services whose files mcupdate
// changed, and only those: `docker compose restart SVC` for files a
// container reads at start, `docker compose up -d SVC` (recreate) when a
// mailcow.conf variable changed, since a container's environment is fixed
// when it is created.
package restart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/mcupdate/mcupdate/cmd/internal/proc"
)

// Method is how a service picks up a change.
type Method string

// The methods, weakest first: recreate includes restart.
const (
	Restart  Method = "restart"
	Recreate Method = "recreate"
)

// Plan maps service names to how each must be restarted.
type Plan map[string]Method

// Add asks for svc to be restarted with m; recreate wins over restart.
func (p Plan) Add(svc string, m Method) {
	if m == "" {
		m = Restart
	}
	if p[svc] == Recreate {
		return
	}
	p[svc] = m
}

// Services returns the planned services, sorted, grouped by method.
func (p Plan) Services(m Method) []string {
	var out []string
	for s, mm := range p {
		if mm == m {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// serviceDirs maps directories under data/conf to the compose service
// that reads them, for override files the post hook restores.
var serviceDirs = map[string]string{
	"data/conf/rspamd":   "rspamd-mailcow",
	"data/conf/postfix":  "postfix-mailcow",
	"data/conf/dovecot":  "dovecot-mailcow",
	"data/conf/nginx":    "nginx-mailcow",
	"data/conf/sogo":     "sogo-mailcow",
	"data/conf/phpfpm":   "php-fpm-mailcow",
	"data/conf/clamav":   "clamd-mailcow",
	"data/conf/unbound":  "unbound-mailcow",
	"data/conf/redis":    "redis-mailcow",
	"data/conf/mysql":    "mysql-mailcow",
	"data/conf/ofelia":   "ofelia-mailcow",
	"data/conf/olefy":    "olefy-mailcow",
	"data/hooks/dovecot": "dovecot-mailcow",
	"data/hooks/postfix": "postfix-mailcow",
	"data/hooks/rspamd":  "rspamd-mailcow",
	"data/hooks/sogo":    "sogo-mailcow",
	"data/hooks/phpfpm":  "php-fpm-mailcow",
	"data/hooks/unbound": "unbound-mailcow",
}

// ServiceFor returns the service that reads the file at rel (slash path
// relative to the mailcow dir) and how it must pick up a change; ok is
// false when no single service does. docker-compose.override.yml needs
// every service recreated: the caller handles it with [All].
func ServiceFor(rel string) (svc string, m Method, ok bool) {
	for dir := path.Dir(rel); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if s, found := serviceDirs[dir]; found {
			return s, Restart, true
		}
	}
	return "", "", false
}

// All is the pseudo-service that stands for `docker compose up -d` of the
// whole project (after docker-compose.override.yml changed).
const All = "*"

// Result is the outcome of one compose command.
type Result struct {
	Args   []string `json:"args"`
	OK     bool     `json:"ok"`
	Output string   `json:"output,omitempty"`
}

// Timeout bounds one compose command.
var Timeout = 5 * time.Minute

// PullTimeout bounds `compose pull`: every mailcow image may be fetched.
var PullTimeout = 60 * time.Minute

// Run executes the plan in dir with the compose command (e.g. ["docker",
// "compose"]): one `up -d` for the recreated services, then one
// `restart` for the others. Every failure is reported with its output.
func Run(ctx context.Context, dir string, compose []string, p Plan) ([]Result, error) {
	if len(p) == 0 {
		return nil, nil
	}
	if len(compose) == 0 {
		return nil, fmt.Errorf("no compose command configured ([restart] compose)")
	}
	var cmds [][]string
	if _, all := p[All]; all {
		cmds = append(cmds, []string{"up", "-d"})
	} else if rs := p.Services(Recreate); len(rs) > 0 {
		cmds = append(cmds, append([]string{"up", "-d"}, rs...))
	}
	if _, all := p[All]; !all {
		if rs := p.Services(Restart); len(rs) > 0 {
			cmds = append(cmds, append([]string{"restart"}, rs...))
		}
	} else {
		// up -d recreates what changed in the compose config; files read at
		// start still need a restart of services it did not recreate.
		var rs []string
		for _, s := range p.Services(Restart) {
			if s != All {
				rs = append(rs, s)
			}
		}
		if len(rs) > 0 {
			cmds = append(cmds, append([]string{"restart"}, rs...))
		}
	}
	return runAll(ctx, dir, compose, cmds, false)
}

// Commands runs each of cmds (compose subcommands such as ["pull"] or
// ["up", "-d"]) with the compose command in dir, in order, and stops at
// the first failure: a later command must not run on a half-done earlier
// one (`up -d` after a failed `pull` would start what is there).
func Commands(ctx context.Context, dir string, compose []string, cmds [][]string) ([]Result, error) {
	if len(compose) == 0 {
		return nil, fmt.Errorf("no compose command configured ([restart] compose)")
	}
	return runAll(ctx, dir, compose, cmds, true)
}

func runAll(ctx context.Context, dir string, compose []string, cmds [][]string, stop bool) ([]Result, error) {
	var results []Result
	var errs *multierror.Error
	for _, c := range cmds {
		if errs != nil && stop {
			break
		}
		t := Timeout
		if len(c) > 0 && c[0] == "pull" {
			t = PullTimeout
		}
		var out bytes.Buffer
		args, err := run(ctx, dir, compose, c, t, nil, &out, &out)
		r := Result{Args: args, OK: err == nil, Output: strings.TrimSpace(out.String())}
		results = append(results, r)
		if err != nil {
			errs = multierror.Append(errs, fmt.Errorf("%s: %w: %s", strings.Join(r.Args, " "), err, r.Output))
		}
	}
	return results, errs.ErrorOrNil()
}

// Exec runs one compose subcommand (such as ["exec", "-T", SVC, "postfix",
// "check"]) in dir with the compose command, bounded by timeout, with its
// standard input from stdin (nil: none) and its standard output and
// error to the writers given (nil discards). It
// returns the full command line and the exit code: -1 when the command
// could not be started or was stopped (timeout, signal), with err saying
// why.
func Exec(ctx context.Context, dir string, compose, sub []string, timeout time.Duration, stdin io.Reader, stdout, stderr io.Writer) (args []string, code int, err error) {
	if len(compose) == 0 {
		return nil, -1, fmt.Errorf("no compose command configured ([restart] compose)")
	}
	args, err = run(ctx, dir, compose, sub, timeout, stdin, stdout, stderr)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return args, 0, nil
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return args, ee.ExitCode(), err
	}
	return args, -1, err
}

// run is the one place a compose command is started: in its own process
// group, so that on SIGTERM docker compose and the children it forked
// stop together and cannot hold the pipe.
func run(ctx context.Context, dir string, compose, sub []string, timeout time.Duration, stdin io.Reader, stdout, stderr io.Writer) ([]string, error) {
	args := append(append([]string(nil), compose[1:]...), sub...)
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := proc.Command(cctx, compose[0], args...)
	cmd.Dir = dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	err := cmd.Run()
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	return append([]string{compose[0]}, args...), err
}
