package main

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/secret"
	"github.com/mcupdate/mcupdate/cmd/internal/verify"
)

const verifyHelp = `Check, without changing anything, that the install is as the admin set
it up and that the next update.sh run finds nothing in its way:

  git                  expected branch; no merge, detached HEAD, unmerged
                       paths or stale index.lock
  daemon.json          passes update.sh's IPv6 checks for the running Docker
  patches              every enabled patch in place (drift, lost anchors)
  overrides            the latest snapshot's files present; changes listed
  override-references  docker-compose.override.yml names only existing services
  message-size         rspamd and clamd scan mail up to postfix's limit
  unprotected          local edits of tracked files no patch protects, each
                       with a safer home (a warning)
  customizations       customizations an update dropped, still missing and
                       not acknowledged ('mcupdate ack')
  leftovers            temp files a killed mcupdate run left in the mailcow
                       dir, the state dir or beside daemon.json (a warning)
  configs              with --validate: each service's own configuration
                       checker, inside its running container, accepts the
                       files as they are now (one that cannot run warns)

and the pitfalls, settings each file accepts that fail together:

  relay-networks       networks postfix trusts that rspamd does not
  dns-aliases          one DNS alias on two services of a compose network
  extra-networks       a service but nginx-mailcow on an external network
                       (warn)
  override-dns         a dns list the override appends to mailcow's (warn)
  fts-memory           an indexer vsz_limit in dovecot's extra.conf that
                       fts.conf overrides from FTS_HEAP (warn)
  php-fpm              pools php-fpm refuses to start; other.ini's
                       memory_limit above the web pool's (warn)
  userns-remap         bind-mounted files the remapped root does not own
                       (warn)
  tls-certificate      cert.pem must name MAILCOW_HOSTNAME and every
                       ADDITIONAL_SAN, and not expire within [verify]
                       cert_min_days (warn)

Exits 1 when a check failed; warnings do not fail. --json prints the report
in a versioned schema ("schema": 1); --prometheus FILE also writes
node_exporter textfile metrics to FILE, atomically: a temp file beside it,
renamed over it (mode 0644 when new; a link at FILE is replaced, never
written through). A directory others can write without the sticky bit is
refused.`

// verifyOptions are verify's own flags.
type verifyOptions struct {
	json       bool
	prometheus string
	validate   bool
}

func runVerifyCmd(ctx context.Context, a *app, args []string) error {
	var opts verifyOptions
	fs := a.flags("verify")
	fs.BoolVar(&opts.json, "json", false, "print the report as JSON")
	fs.StringVar(&opts.prometheus, "prometheus", "", "also write node_exporter textfile metrics to `FILE`")
	fs.BoolVar(&opts.validate, "validate", false, "also run each service's configuration checker inside its container (configs)")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("verify takes no arguments")
	}
	return a.runVerify(ctx, opts)
}

func (a *app) runVerify(ctx context.Context, opts verifyOptions) (err error) {
	dir, err := a.mailcowDir()
	if err != nil {
		return err
	}
	// Errors below may quote the admin's files: hide mailcow.conf's secrets.
	conf, _ := os.ReadFile(filepath.Join(dir, "mailcow.conf"))
	red := secret.NewRedactor(conf)
	defer func() {
		var ee *exitError
		if err == nil || errors.As(err, &ee) {
			return
		}
		for _, e := range flatten(err) {
			for _, line := range strings.Split(strings.TrimSpace(red.String(e.Error())), "\n") {
				a.ui.Errorf("%s", line)
			}
		}
		err = &exitError{exitCode(err)}
	}()
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if opts.prometheus != "" {
		if err := checkMetricsDir(opts.prometheus); err != nil {
			return &configError{err}
		}
	}
	rep, runErr := verify.Run(ctx, verify.Options{
		MailcowDir: dir,
		Config:     cfg,
		StateDir:   a.g.stateDir,
		DaemonJSON: a.g.daemonJSON,
		Validate:   opts.validate,
	})
	if rep != nil {
		a.verifyOutcome(rep)
	}
	if opts.json {
		err = rep.WriteJSON(a.stdout)
	} else {
		if a.g.quiet {
			err = rep.WriteFailures(a.stdout, a.statusColour)
		} else {
			err = rep.WriteText(a.stdout, a.statusColour)
		}
	}
	if err != nil {
		return err
	}
	if opts.prometheus != "" {
		// A temp file created O_EXCL beside FILE, renamed over it through
		// a handle on the directory: a link planted at FILE is replaced,
		// never written through.
		if err := fsx.WriteFileAtomic(opts.prometheus, rep.Metrics(), 0o644); err != nil {
			return &configError{fmt.Errorf("--prometheus %s: %w", opts.prometheus, fsx.UnwrapPath(err))}
		}
	}
	if runErr != nil {
		return &configError{runErr}
	}
	if !rep.OK {
		return errSilent
	}
	return nil
}

// checkMetricsDir refuses a metrics file in a directory others can write
// without the sticky bit: another user could replace the file, or the
// directory's entries, between two verify runs. (A link planted at the
// file is harmless: the write replaces it.)
func checkMetricsDir(file string) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		return fmt.Errorf("--prometheus %s: %w", file, err)
	}
	dir := filepath.Dir(abs)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("--prometheus %s: %w", file, fsx.UnwrapPath(err))
	}
	if !fi.IsDir() {
		return fmt.Errorf("--prometheus %s: %s is not a directory", file, dir)
	}
	if fi.Mode().Perm()&0o002 != 0 && fi.Mode()&iofs.ModeSticky == 0 {
		return fmt.Errorf("--prometheus %s: its directory %s is writable by others without the sticky bit (mode %04o): another user could replace the metrics; fix: chmod o-w %s (or chmod +t %s)", file, dir, uint32(fi.Mode().Perm()), dir, dir)
	}
	return nil
}

func (a *app) statusColour(s verify.Status, text string) string {
	switch s {
	case verify.StatusOK:
		return a.ui.Green(text)
	case verify.StatusWarn:
		return a.ui.Yellow(text)
	case verify.StatusFail:
		return a.ui.Red(text)
	}
	return text
}
