// Package validate checks a mailcow service's configuration with the
// service's own checker (postfix check, rspamadm configtest, doveconf,
// php-fpm -t, nginx -t, unbound-checkconf), run inside its running
// container through the configured compose command, before mcupdate
// restarts the service into it.
//
// # Verdicts
//
// A check has one of three outcomes. Passed: the checker ran and exited
// 0. Rejected: it ran and exited non-zero: the configuration is invalid
// and the service must not be restarted into it. Could not run: the
// container is not running, the checker is missing (exit 126 or 127),
// compose failed, the check timed out or was killed: nothing is known
// about the configuration, and a missing checker never blocks an update.
//
// # What a check sees
//
// A check reads the files as the running container sees them. mailcow
// bind-mounts most configuration as directories (data/conf/postfix,
// data/conf/dovecot, rspamd's local.d, override.d and custom, nginx's
// conf.d), where a file mcupdate replaces is seen at once. A file mounted
// on its own (php-fpm's pools.conf and php.ini files, unbound.conf,
// rspamd.conf.local and .override) keeps showing the replaced version
// until the container restarts: the php-fpm and unbound checkers take
// pools.conf and unbound.conf on standard input and check a copy of the
// container's configuration with it in place, and rspamd's checker takes
// every changed file below data/conf/rspamd the container mounts (a tar
// archive on standard input) and checks a copy of /etc/rspamd with them
// in place. The php.ini files (php-memory-limit's other.ini; php-fpm -t
// does not judge php.ini values anyway) are not seen. postfix's main.cf
// is rebuilt from extra.cf when the container starts: its checker builds
// that main.cf in a copy, with extra.cf from standard input, and checks
// the copy.
//
// A dry run writes nothing where a service reads it: what a checker takes
// on standard input is checked in the version the run would write (for
// postfix, php-fpm, unbound and rspamd); dovecot's and nginx's checkers
// see their files as they are now.
package validate

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/restart"
	"github.com/mcupdate/mcupdate/cmd/internal/secret"
)

// Checker is how one service's configuration is checked.
type Checker struct {
	// Service is the compose service, such as postfix-mailcow.
	Service string
	// Command is run with `compose exec -T SERVICE COMMAND...`.
	Command []string
	// Stdin, when set, is a file (relative to the mailcow dir) sent to
	// the command's standard input (empty when it does not exist): the
	// new version of a file the container mounts on its own and would not
	// see before a restart, or one a dry run would write.
	Stdin string
	// Origin says where the command was set: "built in", or the
	// configuration file and line.
	Origin string
	// Label names the check for people when the command is a script.
	Label string
	// Tree, when set, is a directory (relative to the mailcow dir) whose
	// parts named by Mounted the container sees under the configuration
	// dir its command copies: the command gets a tar archive of the
	// run's changed files there (Files), paths relative to Tree, on
	// standard input, in the version the run writes or a dry run would
	// write. Stdin and Tree do not go together.
	Tree    string
	Mounted []string // below Tree: "dir/" for a directory, else a file
	// Files are the files (relative to the mailcow dir) the run changed
	// for this service; the caller sets them per run.
	Files []string
}

// String names the check: its label, else the command as a shell would
// show it.
func (c Checker) String() string {
	if c.Label != "" {
		return c.Label
	}
	var words []string
	for _, w := range c.Command {
		if w == "" || strings.ContainsAny(w, " \t\n\"'$;&|<>()*?[]#~`\\") {
			w = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		words = append(words, w)
	}
	s := strings.Join(words, " ")
	if c.Stdin != "" {
		s += " < " + c.Stdin
	}
	return s
}

// Takes reports whether the check gets file (relative to the mailcow
// dir) on standard input, in the version the run writes: its Stdin
// file, or a file below Tree the container mounts.
func (c Checker) Takes(file string) bool {
	if c.Stdin != "" {
		return file == c.Stdin
	}
	_, ok := c.inTree(file)
	return ok
}

// inTree returns file relative to Tree when the container mounts it.
func (c Checker) inTree(file string) (string, bool) {
	if c.Tree == "" {
		return "", false
	}
	rel, ok := strings.CutPrefix(file, c.Tree+"/")
	if !ok {
		return "", false
	}
	for _, m := range c.Mounted {
		if rel == m || (strings.HasSuffix(m, "/") && strings.HasPrefix(rel, m)) {
			return rel, true
		}
	}
	return "", false
}

// treeFiles returns the changed files the container mounts below Tree,
// relative to Tree, sorted.
func (c Checker) treeFiles() []string {
	var out []string
	for _, f := range c.Files {
		if rel, ok := c.inTree(f); ok {
			out = append(out, rel)
		}
	}
	sort.Strings(out)
	return out
}

// The scripts of the default checkers that check a copy. Each copies
// what it needs to a temp dir inside the container, removed when it
// exits, and runs the checker there: the running service's files are
// never touched.
const (
	// postfixScript rebuilds main.cf as mailcow's postfix.sh does at
	// start (main.cf up to its "Overrides" line, then extra.cf) and
	// checks it with -c: mailcow's config dir is /opt/postfix/conf, and a
	// bare `postfix check` would check the image's unused /etc/postfix.
	// extra.cf comes on standard input, so that a dry run can check the
	// version it would write. postfix writes its fatal errors only to
	// syslog when standard error is no terminal: postconf (by its full
	// path: the image's /usr/local/sbin/postconf adds its own -c) says
	// what is wrong first.
	postfixScript = `set -e
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cp -a /opt/postfix/conf/. "$d/"
cat > "$d/extra.cf"
sed -i '/Overrides/q' "$d/main.cf"
n=$(($(wc -l < "$d/main.cf") + 1))
cat "$d/extra.cf" >> "$d/main.cf"
if /usr/sbin/postconf -c "$d" > /dev/null && postfix -c "$d" check; then exit 0; fi
echo "(the main.cf checked is mailcow's main.cf up to its Overrides line, then extra.cf from line $n, as the container builds it at start)" >&2
exit 1`
	// phpfpmScript checks php-fpm's configuration (the image's
	// /usr/local/etc) with pools.conf, mounted on its own as
	// php-fpm.d/z-pools.conf, replaced by standard input; -p makes the
	// copy the prefix its relative include=etc/php-fpm.d/*.conf uses.
	phpfpmScript = `set -e
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir "$d/etc"
cp -a /usr/local/etc/. "$d/etc/"
cat > "$d/etc/php-fpm.d/z-pools.conf"
php-fpm -t -p "$d" -y "$d/etc/php-fpm.conf"`
	// rspamdScript checks a copy of /etc/rspamd (the image's, with
	// mailcow's local.d, override.d, custom, plugins.d, lua and the two
	// rspamd.conf files mounted over it) with the run's changed files
	// from the tar archive on standard input put in place: the file
	// mounts are seen in their new version, and a dry run is checked
	// with what it would write. rspamadm takes the copy as its
	// configuration dir with --var.
	rspamdScript = `set -e
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cp -a /etc/rspamd/. "$d/"
tar -x -f - -C "$d"
rspamadm --var=CONFDIR="$d" --var=LOCAL_CONFDIR="$d" configtest -c "$d/rspamd.conf"`
	// unboundScript checks unbound.conf, mounted on its own, from
	// standard input.
	unboundScript = `set -e
f=$(mktemp)
trap 'rm -f "$f"' EXIT
cat > "$f"
unbound-checkconf "$f"`
)

// Builtin is the origin of the default checkers.
const Builtin = "built in"

// Defaults returns the built-in checkers, by service. clamd-mailcow has
// none: clamd has no configuration test, and clamconf exits 0 on an
// option it cannot parse.
func Defaults() map[string]Checker {
	return map[string]Checker{
		"postfix-mailcow": {Command: []string{"sh", "-c", postfixScript}, Stdin: "data/conf/postfix/extra.cf",
			Label: "postfix check of a copy of /opt/postfix/conf, main.cf rebuilt with extra.cf from standard input"},
		"rspamd-mailcow": {Command: []string{"sh", "-c", rspamdScript}, Tree: "data/conf/rspamd",
			Mounted: []string{"local.d/", "override.d/", "custom/", "plugins.d/", "lua/", "rspamd.conf.local", "rspamd.conf.override"},
			Label:   "rspamadm configtest of a copy of /etc/rspamd, the changed files from standard input"},
		// doveconf -n prints the whole configuration, passwords
		// included: its standard output is never kept (quietStdout).
		"dovecot-mailcow": {Command: []string{"doveconf", "-n"}},
		"php-fpm-mailcow": {Command: []string{"sh", "-c", phpfpmScript}, Stdin: "data/conf/phpfpm/php-fpm.d/pools.conf",
			Label: "php-fpm -t of a copy of /usr/local/etc, pools.conf from standard input"},
		"nginx-mailcow": {Command: []string{"nginx", "-t"}},
		"unbound-mailcow": {Command: []string{"sh", "-c", unboundScript}, Stdin: "data/conf/unbound/unbound.conf",
			Label: "unbound-checkconf of unbound.conf from standard input"},
	}
}

// Off is the value that turns a service's check, or all of them, off.
const Off = "off"

// Settings are the [validate] section of mcupdate.ini.
type Settings struct {
	// Enabled turns the checks on (the default) or off.
	Enabled bool
	// Commands maps a service to its own command (run with sh -c inside
	// the container), or to Off.
	Commands map[string]string
	// Origin says where a service's command was set ("FILE:LINE").
	Origin func(service string) string
}

// Table returns the checkers in force: the defaults, each replaced or
// turned off by the settings, plus the admin's own for other services.
// It is empty when the checks are off.
func Table(s Settings) map[string]Checker {
	out := map[string]Checker{}
	if !s.Enabled {
		return out
	}
	for svc, c := range Defaults() {
		c.Service, c.Origin = svc, Builtin
		out[svc] = c
	}
	for svc, cmd := range s.Commands {
		if strings.EqualFold(strings.TrimSpace(cmd), Off) {
			delete(out, svc)
			continue
		}
		origin := ""
		if s.Origin != nil {
			origin = s.Origin(svc)
		}
		out[svc] = Checker{Service: svc, Command: []string{"sh", "-c", cmd}, Origin: origin}
	}
	return out
}

// Verdict is the outcome of one check.
type Verdict string

// The verdicts.
const (
	Passed   Verdict = "passed"
	Rejected Verdict = "rejected"
	NotRun   Verdict = "could-not-run"
)

// Result is one check's outcome, for people and for the report.
type Result struct {
	Service string  `json:"service"`
	Verdict Verdict `json:"verdict"`
	Command string  `json:"command"`
	// Exit is the checker's exit code; -1 when it did not exit.
	Exit int `json:"exit"`
	// Output is what the checker printed, secrets hidden, at most
	// MaxOutput bytes (its end).
	Output string `json:"output,omitempty"`
	// Reason says why a check could not run.
	Reason string `json:"reason,omitempty"`
	Millis int64  `json:"ms"`
}

// RejectionLines says what a rejection is for people, a line each: the
// service, the checker and its exit code, then the checker's output
// (secrets already hidden), indented.
func (r Result) RejectionLines() []string {
	out := []string{fmt.Sprintf("%s: REJECTED by %s (exit %d):", r.Service, r.Command, r.Exit)}
	for _, l := range strings.Split(r.Output, "\n") {
		if l = strings.TrimRight(l, " \t\r"); l != "" {
			out = append(out, "  "+l)
		}
	}
	return out
}

// MaxOutput bounds the output kept of one check: postfix check can
// print a warning per map for every service of master.cf.
const MaxOutput = 4000

// Timeout bounds one check.
var Timeout = 2 * time.Minute

// Runner runs checks inside the containers of one mailcow install.
type Runner struct {
	// Dir is the mailcow dir, where compose runs.
	Dir string
	// Compose is the compose command, such as ["docker", "compose"].
	Compose []string
	// Secrets hides secrets in the checkers' output; nil hides only
	// secret settings.
	Secrets *secret.Redactor
	// ReadFile reads a checker's Stdin file (an absolute path): a dry
	// run's recorder serves the version it would write. nil: os.ReadFile.
	ReadFile func(name string) ([]byte, error)

	running   map[string]bool
	psErr     error
	psChecked bool
}

// notRunning are how compose's and Docker's own messages start when
// they could not exec into a service: a container that stopped between
// `compose ps` and the check must not read as a rejection. Only a line
// that starts so counts: a checker's message quoting them does not.
var notRunning = []string{
	`service "`, "no such service", "no container found", "error response from daemon",
	"cannot connect to the docker daemon", "error: no such container",
}

// Check runs c in its service's container and judges the outcome.
func (r *Runner) Check(ctx context.Context, c Checker) (res Result) {
	start := time.Now()
	res = Result{Service: c.Service, Command: c.String(), Exit: -1}
	if c.Origin != "" && c.Origin != Builtin {
		// The admin's own command: where to fix it.
		res.Command += " (" + c.Origin + ")"
	}
	defer func() { res.Millis = time.Since(start).Milliseconds() }()
	up, err := r.isRunning(ctx, c.Service)
	switch {
	case err != nil:
		res.Verdict, res.Reason = NotRun, "could not list the running services: "+r.Secrets.String(err.Error())
		return res
	case !up:
		res.Verdict, res.Reason = NotRun, "the container is not running"
		return res
	}
	var stdin io.Reader
	if c.Tree != "" {
		data, err := r.tarOf(c)
		if err != nil {
			res.Verdict, res.Reason = NotRun, err.Error()
			return res
		}
		stdin = bytes.NewReader(data)
	} else if c.Stdin != "" {
		read := r.ReadFile
		if read == nil {
			read = os.ReadFile
		}
		data, err := read(filepath.Join(r.Dir, filepath.FromSlash(c.Stdin)))
		if errors.Is(err, fs.ErrNotExist) {
			data, err = nil, nil
		}
		if err != nil {
			res.Verdict, res.Reason = NotRun, fmt.Sprintf("read %s: %v", c.Stdin, fsx.UnwrapPath(err))
			return res
		}
		stdin = bytes.NewReader(data)
	}
	var out, discard bytes.Buffer
	stdout := io.Writer(&out)
	if quietStdout(c.Command) {
		stdout = &discard
	}
	sub := []string{"exec", "-T", c.Service}
	sub = append(sub, c.Command...)
	_, code, err := restart.Exec(ctx, r.Dir, r.Compose, sub, Timeout, stdin, stdout, &out)
	res.Exit = code
	res.Output = tail(r.Secrets.String(strings.TrimSpace(out.String())), MaxOutput)
	switch {
	case err == nil:
		res.Verdict = Passed
	case code < 0:
		res.Verdict, res.Reason = NotRun, r.Secrets.String(err.Error())
	case code == 126 || code == 127:
		res.Verdict, res.Reason = NotRun, fmt.Sprintf("the checker is missing or cannot be run in the container (exit %d)", code)
	case code > 128 || code == 125:
		res.Verdict, res.Reason = NotRun, fmt.Sprintf("the checker did not finish (exit %d)", code)
	case code == 1 && saysNotRunning(out.String()):
		res.Verdict, res.Reason = NotRun, "the container is not running"
	default:
		res.Verdict = Rejected
	}
	return res
}

// tarOf archives c's changed files below its Tree, as the run leaves
// them (read through r.ReadFile), paths relative to Tree. A file the run
// removed is left out.
func (r *Runner) tarOf(c Checker) ([]byte, error) {
	read := r.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, rel := range c.treeFiles() {
		data, err := read(filepath.Join(r.Dir, filepath.FromSlash(c.Tree), filepath.FromSlash(rel)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s/%s: %v", c.Tree, rel, fsx.UnwrapPath(err))
		}
		// Parent directories first, so that a directory the run
		// creates is made with a usable mode.
		for _, d := range parents(rel) {
			if dirs[d] {
				continue
			}
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755}); err != nil {
				return nil, err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: 0o644, Size: int64(len(data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// parents returns the directories above rel, outermost first.
func parents(rel string) []string {
	var out []string
	for d := path.Dir(rel); d != "."; d = path.Dir(d) {
		out = append([]string{d}, out...)
	}
	return out
}

// quietStdout says whether a command's standard output must never be
// kept: doveconf prints the whole configuration, passwords included.
func quietStdout(cmd []string) bool {
	return len(cmd) > 0 && path.Base(cmd[0]) == "doveconf"
}

func saysNotRunning(out string) bool {
	for _, line := range strings.Split(strings.ToLower(out), "\n") {
		line = strings.TrimSpace(line)
		for _, s := range notRunning {
			if strings.HasPrefix(line, s) && (s != `service "` || strings.Contains(line, "is not running")) {
				return true
			}
		}
	}
	return false
}

// isRunning asks compose once which services run.
func (r *Runner) isRunning(ctx context.Context, svc string) (bool, error) {
	if !r.psChecked {
		r.psChecked = true
		var out, errOut bytes.Buffer
		_, _, err := restart.Exec(ctx, r.Dir, r.Compose, []string{"ps", "--services", "--status", "running"}, Timeout, nil, &out, &errOut)
		if err != nil {
			r.psErr = fmt.Errorf("%w: %s", err, strings.TrimSpace(errOut.String()))
		} else {
			r.running = map[string]bool{}
			for _, s := range strings.Fields(out.String()) {
				r.running[s] = true
			}
		}
	}
	return r.running[svc], r.psErr
}

// tail keeps the last max bytes of s, from a line start.
func tail(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := s[len(s)-max:]
	if i := strings.IndexByte(cut, '\n'); i >= 0 {
		cut = cut[i+1:]
	}
	return "[… earlier output cut]\n" + cut
}

// Services returns the services of table, sorted.
func Services(table map[string]Checker) []string {
	out := make([]string, 0, len(table))
	for s := range table {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
