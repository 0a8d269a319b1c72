// Package verify checks, without changing anything, that a mailcow install
// is as its admin set it up and that the next update.sh run will find
// nothing in its way: what `mcupdate verify` runs, from a terminal, cron or
// monitoring.
//
// # Checks
//
// Every check runs once and gets a status (ok, warn, fail or skipped), a
// one-line detail, the items behind it and, when not ok, a one-line fix:
//
//	git                  on the expected branch, no merge or other operation
//	                     in progress, no unmerged paths, no stale index.lock
//	daemon.json          passes update.sh's IPv6 checks for the running Docker;
//	                     ok whatever it holds where update.sh detects no IPv6
//	patches              every enabled patch is in place (the apply path in
//	                     check mode: drift and missing anchors are failures)
//	overrides            the files of the latest snapshot are all there;
//	                     changes since then are listed (missing: fail,
//	                     modified or added: warn)
//	override-references  docker-compose.override.yml names only services
//	                     docker-compose.yml has
//	message-size         rspamd's and clamd's limits are at least postfix's
//	                     message_size_limit
//	unprotected          local edits of tracked files that no enabled patch
//	                     covers, each with a safer home (warn when any)
//	customizations       the ledger's customizations that an update dropped
//	                     and that are still missing, not acknowledged (fail)
//	leftovers            temp files killed runs left behind (warn)
//
// Then the pitfalls: settings that every file accepts on its own and that
// fail together, each with the setting, file:line and the fix:
//
//	relay-networks       every network postfix trusts (mynetworks,
//	                     ADDITIONAL_MYNETWORKS) is local to rspamd
//	                     (local_addrs and its maps, ip_wl.map) (fail)
//	dns-aliases          no DNS name (alias or service name) on two services
//	                     of one compose network (fail)
//	extra-networks       no mailcow service but nginx-mailcow on an external
//	                     network (warn)
//	override-dns         no dns list in the override that compose appends to
//	                     mailcow's (warn)
//	fts-memory           no indexer vsz_limit in dovecot's extra.conf that
//	                     fts.conf overrides from FTS_HEAP (warn)
//	php-fpm              php-fpm's pools start (fail); other.ini's
//	                     memory_limit is not above the web pool's (warn)
//	userns-remap         with userns-remap, the bind-mounted files belong
//	                     to the remapped users (warn)
//	tls-certificate      cert.pem names MAILCOW_HOSTNAME and ADDITIONAL_SAN
//	                     (fail) and is valid for [verify] cert_min_days (warn)
//
// # One code path
//
// The patches check is patches.Apply in ModeCheck, the daemon.json check is
// daemonjson's own Missing: verify never re-implements what the hooks do.
// Nothing here writes; the caller writes the metrics file.
//
// # Secrets
//
// Every string of a Report passes through a secret.Redactor built from
// mailcow.conf, so no output form shows a password.
package verify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/daemonjson"
	"github.com/mcupdate/mcupdate/cmd/internal/gitstate"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/secret"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
	"github.com/mcupdate/mcupdate/cmd/internal/suggest"
)

// Schema is the version of the JSON form; it changes only when a field is
// removed or changes meaning.
const Schema = 1

// Status is the outcome of one check.
type Status string

// The statuses. Only StatusFail makes a Report not OK.
const (
	StatusOK      Status = "ok"
	StatusWarn    Status = "warn"
	StatusFail    Status = "fail"
	StatusSkipped Status = "skipped"
)

// Check names, stable: scripts and the metrics' check label use them.
const (
	CheckGit          = "git"
	CheckDaemonJSON   = "daemon.json"
	CheckPatches      = "patches"
	CheckOverrides    = "overrides"
	CheckOverrideRefs = "override-references"
	CheckMessageSize  = "message-size"
	CheckUnprotected  = "unprotected"
	CheckLost         = "customizations"
	CheckLeftovers    = "leftovers"
	CheckConfigs      = "configs"

	CheckRelayNetworks = "relay-networks"
	CheckDNSAliases    = "dns-aliases"
	CheckExtraNetworks = "extra-networks"
	CheckOverrideDNS   = "override-dns"
	CheckFTSMemory     = "fts-memory"
	CheckPHPFPM        = "php-fpm"
	CheckUsernsRemap   = "userns-remap"
	CheckTLSCert       = "tls-certificate"
)

// CheckNames lists the checks in the order they are reported.
var CheckNames = []string{CheckGit, CheckDaemonJSON, CheckPatches, CheckOverrides, CheckOverrideRefs, CheckMessageSize, CheckUnprotected, CheckLost, CheckLeftovers, CheckConfigs,
	CheckRelayNetworks, CheckDNSAliases, CheckExtraNetworks, CheckOverrideDNS, CheckFTSMemory, CheckPHPFPM, CheckUsernsRemap, CheckTLSCert}

// ErrConfig is wrapped by the error Run returns when the configuration
// names patches that cannot be loaded or bound: the report is still
// complete, but the command exits as for a configuration error.
var ErrConfig = errors.New("configuration error")

// Check is the result of one check.
type Check struct {
	Name   string   `json:"name"`
	Status Status   `json:"status"`
	Detail string   `json:"detail"`
	Fix    string   `json:"fix,omitempty"`
	Items  []string `json:"items,omitempty"`
}

// Unprotected is a local edit of a tracked file that no enabled patch
// covers: the next update.sh merge (-Xtheirs) may silently drop it.
type Unprotected struct {
	File string `json:"file"`
	// Home is where the change is safe: an override file mailcow reads
	// ("data/conf/postfix/extra.cf") or "patch NAME" for a shipped patch.
	Home    string `json:"home"`
	Where   string `json:"where"`
	Deleted bool   `json:"deleted,omitempty"`
}

// Report is the result of one verify run. Its JSON form (schema 1):
//
//	{
//	  "schema": 1,
//	  "time": "2026-03-01T12:00:00Z",          // when verify ran (RFC 3339)
//	  "mailcow_dir": "/opt/mailcow-dockerized",
//	  "ok": true,                              // false when any check failed
//	  "last_update": "2026-02-28T03:00:00Z",   // omitted when unknown
//	  "checks": [                              // always all of them, in CheckNames order
//	    {"name": "git", "status": "ok|warn|fail|skipped",
//	     "detail": "one line", "fix": "one line (omitted when ok)",
//	     "items": ["one line per problem, file or value"]}
//	  ],
//	  "unprotected": [                         // [] when none
//	    {"file": "docker-compose.yml", "home": "docker-compose.override.yml",
//	     "where": "work tree|committed", "deleted": false}
//	  ],
//	  "lost": [                                // [] when none
//	    {"id": "3f2a91bc", "file": "docker-compose.yml",
//	     "where": "service dovecot-mailcow", "status": "lost|deleted",
//	     "lines": ["+      mem_limit: 4g"], "update": "FROM..TO",
//	     "since": "2026-03-01T12:00:00Z"}
//	  ]
//	}
type Report struct {
	Schema      int           `json:"schema"`
	Time        time.Time     `json:"time"`
	MailcowDir  string        `json:"mailcow_dir"`
	OK          bool          `json:"ok"`
	LastUpdate  *time.Time    `json:"last_update,omitempty"`
	Checks      []Check       `json:"checks"`
	Unprotected []Unprotected `json:"unprotected"`
	Lost        []Lost        `json:"lost"`
}

// Check returns the check named name, or nil.
func (r *Report) Check(name string) *Check {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

// Options says what to verify.
type Options struct {
	// MailcowDir is the mailcow directory, absolute.
	MailcowDir string
	// Config is the admin's configuration (config.Default() when none).
	Config *config.Config
	// StateDir is mcupdate's state directory; it is only read.
	StateDir string
	// DaemonJSON is Docker's daemon.json.
	DaemonJSON string
	// SubUID is the subordinate uid file userns-remap ranges are read
	// from; "" means the subuid beside DaemonJSON's directory
	// (/etc/docker/daemon.json: /etc/subuid).
	SubUID string
	// DockerMajor asks Docker for its version; nil means
	// daemonjson.DockerMajor. A seam for tests and benchmarks.
	DockerMajor func(ctx context.Context, timeout time.Duration) (int, string, error)
	// ProcRoot is /proc for the IPv6 detection; "" means /proc. A seam
	// for tests.
	ProcRoot string
	// Now is the time of the run; zero means time.Now().
	Now time.Time
	// Validate runs each service's own configuration checker inside its
	// running container (verify --validate); else the configs check is
	// skipped.
	Validate bool
	// Skip maps the names of checks the caller has already done to the
	// detail they are reported with, as skipped, without running: the
	// replay skips the overrides check after the post hook's restore step
	// found every file of the same snapshot as it was.
	Skip map[string]string
}

// Run runs every check once and returns the report. The error is non-nil
// only for a configuration problem (wrapping ErrConfig), and then the
// report is complete too.
func Run(ctx context.Context, opt Options) (*Report, error) {
	opt = opt.withDefaults()
	r := &Report{Schema: Schema, Time: opt.Now.UTC().Truncate(time.Second), MailcowDir: opt.MailcowDir, Unprotected: []Unprotected{}, Lost: []Lost{}}

	conf, _ := os.ReadFile(filepath.Join(opt.MailcowDir, "mailcow.conf"))
	red := secret.NewRedactor(conf)

	bound, lib, cfgErr := resolvePatches(opt.Config)
	checks, unpro, lost := runChecks(ctx, opt, red, bound, lib, cfgErr)
	for i := range checks {
		checks[i].Name = CheckNames[i]
	}
	r.Checks = checks
	if unpro != nil {
		r.Unprotected = unpro
	}
	if lost != nil {
		r.Lost = lost
	}
	r.OK = true
	for _, c := range r.Checks {
		if c.Status == StatusFail {
			r.OK = false
		}
	}
	if t, ok := LastUpdate(state.Dir{Path: opt.StateDir}); ok {
		r.LastUpdate = &t
	}
	r.redact(red)
	if cfgErr != nil {
		return r, cfgErr
	}
	return r, nil
}

// withDefaults fills in the options left zero.
func (opt Options) withDefaults() Options {
	if opt.Config == nil {
		opt.Config = config.Default()
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	if opt.DockerMajor == nil {
		opt.DockerMajor = daemonjson.DockerMajor
	}
	if opt.SubUID == "" {
		opt.SubUID = filepath.Join(filepath.Dir(filepath.Dir(opt.DaemonJSON)), "subuid")
	}
	return opt
}

// runChecks runs every check of CheckNames once, or reports it skipped
// (opt.Skip), and returns them in that order, with the unprotected
// changes and the lost customizations they found. The slow checks run
// beside the others.
func runChecks(ctx context.Context, opt Options, red *secret.Redactor, bound []*patch.Bound, lib map[string]*patch.Patch, cfgErr error) (checks []Check, unpro []Unprotected, lost []Lost) {
	checks = make([]Check, len(CheckNames))
	var wg sync.WaitGroup
	run := func(i int, f func() Check) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			checks[i] = f()
		}()
	}
	skipped := func(i int) bool {
		detail, ok := opt.Skip[CheckNames[i]]
		if ok {
			checks[i] = Check{Status: StatusSkipped, Detail: detail}
		}
		return ok
	}
	do := func(i int, f func() Check) {
		if !skipped(i) {
			checks[i] = f()
		}
	}
	// The slow ones first: the docker call and the work-tree scan. The
	// pitfalls, each cheap, run one after the other beside them.
	if !skipped(1) {
		run(1, func() Check { return checkDaemonJSON(ctx, opt) })
	}
	// Every file is read and parsed once, by whichever check needs it
	// first.
	in := newMailcowFiles(opt)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, p := range pitfallChecks {
			do(checkIndex(p.name), func() Check { return p.run(in) })
		}
	}()
	st, gitErr := gitstate.Inspect(opt.MailcowDir)
	if !skipped(6) {
		run(6, func() Check {
			c, u := checkUnprotected(opt, st, bound, lib)
			unpro = u
			return c
		})
	}
	do(0, func() Check { return checkGit(opt, st, gitErr) })
	do(2, func() Check { return checkPatches(opt, bound, cfgErr) })
	do(3, func() Check { return checkOverrides(opt) })
	do(4, func() Check { return checkOverrideRefs(opt, in) })
	do(5, func() Check { return checkMessageSize(opt) })
	do(7, func() Check {
		c, l := checkLost(opt)
		lost = l
		return c
	})
	do(8, func() Check { return checkLeftovers(opt, bound) })
	do(9, func() Check { return checkConfigs(ctx, opt, red) })
	wg.Wait()
	return checks, unpro, lost
}

// checkIndex is the position of a check in CheckNames.
func checkIndex(name string) int {
	for i, n := range CheckNames {
		if n == name {
			return i
		}
	}
	panic("verify: unknown check " + name)
}

// resolvePatches binds the enabled patches; the library is returned also
// when binding fails, for the unprotected check's homes.
func resolvePatches(cfg *config.Config) ([]*patch.Bound, map[string]*patch.Patch, error) {
	l, err := patch.Load(cfg.PatchDir, cfg.PatchSettings())
	switch {
	case errors.Is(err, patch.ErrLoadDir):
		return nil, l.Lib, fmt.Errorf("%w: %s: [patches] dir: %w", ErrConfig, cfg.Path, err)
	case errors.Is(err, patch.ErrLoadEnable):
		return nil, l.Lib, fmt.Errorf("%w: %s: [patches] enable: %w", ErrConfig, cfg.Path, err)
	case err != nil:
		return nil, nil, fmt.Errorf("%w: shipped patches: %v", ErrConfig, err)
	}
	return l.Bound, l.Lib, nil
}

func (r *Report) redact(red *secret.Redactor) {
	for i := range r.Checks {
		c := &r.Checks[i]
		c.Detail, c.Fix = red.String(c.Detail), red.String(c.Fix)
		for j := range c.Items {
			c.Items[j] = red.String(c.Items[j])
		}
	}
	for i := range r.Lost {
		x := &r.Lost[i]
		x.File, x.Where = red.String(x.File), red.String(x.Where)
		for j := range x.Lines {
			x.Lines[j] = red.String(x.Lines[j])
		}
	}
	for i := range r.Unprotected {
		r.Unprotected[i].File = red.String(r.Unprotected[i].File)
		r.Unprotected[i].Home = red.String(r.Unprotected[i].Home)
		r.Unprotected[i].Where = red.String(r.Unprotected[i].Where)
	}
	r.MailcowDir = red.String(r.MailcowDir)
}

// LastUpdate returns when mailcow was last updated as mcupdate saw it:
// the time of the post hook's last report, else of the pre hook's record.
func LastUpdate(d state.Dir) (time.Time, bool) {
	var post struct {
		Time time.Time `json:"time"`
	}
	if err := d.ReadJSON(state.LastReportName("post"), &post); err == nil && !post.Time.IsZero() {
		return post.Time.UTC(), true
	}
	if rec, ok, err := d.LoadRecord(); err == nil && ok && !rec.Time.IsZero() {
		return rec.Time.UTC(), true
	}
	return time.Time{}, false
}

// patchFiles maps each file the given patches edit to the patches' names.
func patchFiles(ps map[string]*patch.Patch) map[string][]string {
	out := map[string][]string{}
	for _, name := range patch.Names(ps) {
		seen := map[string]bool{}
		for _, e := range ps[name].Edits {
			if !seen[e.File] {
				seen[e.File] = true
				out[e.File] = append(out[e.File], name)
			}
		}
	}
	return out
}

// Home returns the safer place mailcow offers for a local edit of the
// tracked file rel: its override file, else the shipped patch (from lib's
// patches by file) that edits it, else "".
func Home(rel string, byFile map[string][]string) string {
	dir, base := filepath.ToSlash(filepath.Dir(rel)), filepath.Base(rel)
	switch {
	case rel == "docker-compose.yml":
		return "docker-compose.override.yml"
	case rel == "data/conf/postfix/main.cf":
		return "data/conf/postfix/extra.cf"
	case rel == "data/conf/dovecot/dovecot.conf", dir == "data/conf/dovecot/conf.d":
		return "data/conf/dovecot/extra.conf"
	}
	if names := byFile[rel]; len(names) > 0 {
		return "patch " + strings.Join(names, " or ")
	}
	if dir == "data/conf/rspamd/local.d" {
		return "data/conf/rspamd/override.d/" + base
	}
	return ""
}

// nearest is the candidate closest to name, or "".
func nearest(name string, candidates []string) string {
	n, _ := suggest.Closest(name, candidates)
	return n
}
