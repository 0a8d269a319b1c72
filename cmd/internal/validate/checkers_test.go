package validate_test

// The harness of the differential test: each service's own configuration
// checker, as Debian packages it, run over a staged copy of what the
// service reads of a mailcow dir. Debian's versions are not mailcow's
// images' versions, so a verdict here is only ever compared with another
// verdict of the same checker (patched against unpatched); what each
// checker really reads is proved by a broken file it must reject.

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// verdict is one run of a checker.
type verdict struct {
	ok bool
	// out is the checker's output, its last lines: for messages.
	out string
	// warnings are the checker's warnings that do not fail it, normalized
	// (no line numbers, no temp paths) so two runs can be compared.
	warnings []string
}

// checker is one service's configuration check over a mailcow dir.
type checker struct {
	service string
	// bins are the programs the check runs; it is skipped without them.
	bins []string
	// files are packaged files the check needs.
	files []string
	// netns: the checker resolves host names while it loads its
	// configuration, so it runs only in a network namespace of its own.
	netns bool
	// reads says whether the check reads a file of the mailcow dir
	// (relative, slash-separated).
	reads func(rel string) bool
	// run stages the service's view of mailcowDir in stage and runs the
	// checker there; cache is a directory its runs in one test share
	// (rspamd's compiled regular expressions). ran is false when
	// mailcowDir has none of the service's files (an old release
	// without them).
	run func(t testing.TB, mailcowDir, stage, cache string) (v verdict, ran bool)
	// breakFile returns content with a mistake the checker must reject:
	// the proof that it read the file.
	breakFile func(rel, content string) string
}

// mailcowCheckers are the checkers of the files mailcow ships, in the
// order the report lists them.
var mailcowCheckers = []*checker{postfixChecker, rspamdChecker, dovecotChecker, phpfpmChecker, clamdChecker}

// sbinDirs hold most checkers, and are not on a Debian user's PATH.
var sbinDirs = []string{"/usr/sbin", "/sbin"}

// lookBin finds a program on PATH or in sbinDirs.
func lookBin(name string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	for _, d := range sbinDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// missingBin returns the first of c's programs not installed.
func (c *checker) missingBin() string {
	for _, b := range c.bins {
		if _, ok := lookBin(b); !ok {
			return b
		}
	}
	return ""
}

// usable says why c cannot run here, or "". Under CI (CI set), where
// .ci/run installs the checkers, a missing program or packaged file
// fails the test instead; a missing network namespace (a container
// that forbids unshare) does not.
func (c *checker) usable(t testing.TB) string {
	t.Helper()
	missing := ""
	if b := c.missingBin(); b != "" {
		missing = fmt.Sprintf("%s is not installed (.ci/run installs the Debian packages of the checkers)", b)
	}
	for _, f := range c.files {
		if _, err := os.Stat(f); err != nil && missing == "" {
			missing = fmt.Sprintf("%s's packaged configuration is missing: %v", c.service, err)
		}
	}
	if missing != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: %s", c.service, missing)
		}
		return missing
	}
	if c.netns && netnsPrefix() == nil {
		return fmt.Sprintf("%s resolves host names while it loads its configuration and no network namespace is available here (unshare -n / unshare -rn failed): it would touch the network", c.service)
	}
	return ""
}

var netns struct {
	once   sync.Once
	prefix []string
}

// netnsPrefix returns the command that runs a program without any
// network (a fresh network namespace: only a down loopback), or nil.
func netnsPrefix() []string {
	netns.once.Do(func() {
		for _, p := range [][]string{{"unshare", "--net"}, {"unshare", "--net", "--map-root-user"}} {
			if exec.Command(p[0], append(p[1:], "true")...).Run() == nil {
				netns.prefix = p
				return
			}
		}
	})
	return netns.prefix
}

// runTool runs a checker program and returns its exit status and its
// combined output. A program that cannot start fails the test: the
// harness checked for it.
func runTool(t testing.TB, isolate bool, env []string, name string, args ...string) (exitOK bool, out string) {
	t.Helper()
	if p, ok := lookBin(name); ok {
		name = p
	}
	argv := append([]string{name}, args...)
	if isolate {
		argv = append(append([]string{}, netnsPrefix()...), argv...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LANG=C", "LC_ALL=C", "HOME=" + t.TempDir()}, env...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s: no answer in 2 minutes", strings.Join(argv, " "))
	}
	return err == nil, buf.String()
}

// tail returns the last n lines of s, for messages.
func tail(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = append([]string{"…"}, ls[len(ls)-n:]...)
	}
	return strings.Join(ls, "\n")
}

func read(t testing.TB, p string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

func write(t testing.TB, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyTree copies the regular files under src into dst, each through
// edit when it is not nil; it reports whether src existed.
func copyTree(t testing.TB, src, dst string, edit func(string) string) bool {
	t.Helper()
	if _, err := os.Stat(src); os.IsNotExist(err) {
		return false
	}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := string(b)
		if edit != nil {
			s = edit(s)
		}
		return os.WriteFile(filepath.Join(dst, rel), []byte(s), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// appendLine adds a line at the end of content.
func appendLine(content, line string) string {
	if content != "" && !strings.HasSuffix(content, "\n") {
		content += "\n"
	}
	return content + line + "\n"
}

// ---- postfix

// postfixChecker is what `postfix check` validates of a configuration,
// without its queue: mailcow's postfix.sh appends extra.cf (after a
// myhostname line) to main.cf; postconf -n then parses the result
// (syntax, unknown or unused parameters as warnings) and postmap, like
// the postfix command, validates every global parameter's value
// (a bad number is fatal). `postfix check` itself would also check and
// create the queue directory (root only, outside any temp dir): the
// tree under test has no queue.
var postfixChecker = &checker{
	service: "postfix-mailcow",
	bins:    []string{"postconf", "postmap"},
	reads: func(rel string) bool {
		return rel == "data/conf/postfix/main.cf" || rel == "data/conf/postfix/extra.cf"
	},
	run: func(t testing.TB, dir, stage, cache string) (verdict, bool) {
		main, ok := read(t, filepath.Join(dir, "data/conf/postfix/main.cf"))
		if !ok {
			return verdict{}, false
		}
		extra, _ := read(t, filepath.Join(dir, "data/conf/postfix/extra.cf"))
		write(t, filepath.Join(stage, "main.cf"), appendLine(main, "myhostname = mail.example.org\n"+extra))
		write(t, filepath.Join(stage, "master.cf"), testMasterCf)
		// Postfix waits until a main.cf written in the last seconds is
		// two seconds old (it may be mid-write): these are finished.
		past := time.Now().Add(-time.Minute)
		for _, f := range []string{"main.cf", "master.cf"} {
			if err := os.Chtimes(filepath.Join(stage, f), past, past); err != nil {
				t.Fatal(err)
			}
		}
		okConf, out1 := runTool(t, false, nil, "postconf", "-c", stage, "-n")
		okParams, out2 := runTool(t, false, nil, "postmap", "-c", stage, "-q", "probe", "static:ok")
		out := out1 + out2
		var said []string // postconf -n also lists the whole configuration
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, ": warning: ") || strings.Contains(l, ": fatal: ") || strings.Contains(l, ": error: ") {
				said = append(said, l)
			}
		}
		return verdict{ok: okConf && okParams, out: tail(strings.Join(said, "\n"), 8), warnings: postfixWarnings(out, stage)}, true
	},
	breakFile: func(rel, content string) string {
		return appendLine(content, "message_size_limit = fifty-megabytes")
	},
}

const testMasterCf = `smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
smtp      unix  -       -       n       -       -       smtp
`

var postfixWarningRe = regexp.MustCompile(`^\S+: warning: (.*)$`)
var postfixLineRe = regexp.MustCompile(`, line \d+:`)

// postfixWarnings returns postfix's warnings without line numbers and
// paths. "overriding earlier entry" is left out: extra.cf exists to
// override main.cf.
func postfixWarnings(out, stage string) []string {
	seen := map[string]bool{}
	var ws []string
	for _, l := range strings.Split(out, "\n") {
		m := postfixWarningRe.FindStringSubmatch(l)
		if m == nil || strings.Contains(l, "overriding earlier entry") {
			continue
		}
		w := postfixLineRe.ReplaceAllString(strings.ReplaceAll(m[1], stage, "<stage>"), ":")
		if !seen[w] {
			seen[w] = true
			ws = append(ws, w)
		}
	}
	return ws
}

// ---- rspamd

// rspamdConfDir is where Debian's rspamd package keeps the configuration
// mailcow's local.d and override.d extend (its image has the same
// layout at /etc/rspamd). It is read, never written.
const rspamdConfDir = "/etc/rspamd"

var dbdirRe = regexp.MustCompile(`\$\{?DBDIR\}?`)

// rspamdChecker is `rspamadm configtest` over a copy of the packaged
// /etc/rspamd with mailcow's folders over it, as docker-compose.yml
// mounts them. configtest parses every .conf and .inc; it does not read
// maps (custom/*.map): rspamd loads those at run time, so no checker
// here reads them. It resolves the host names of servers (fuzzy1.rspamd.com,
// clamd) while loading, so it runs in a network namespace of its own.
// Its database dir (the cache of compiled regular expressions) is the
// test's cache dir, not /var/lib/rspamd; rspamadm still tries to write
// one file to the packaged /var/lib/rspamd whatever the configuration
// says (a cache; a user who may not write there only gets a warning).
var rspamdChecker = &checker{
	service: "rspamd-mailcow",
	bins:    []string{"rspamadm"},
	files:   []string{rspamdConfDir + "/rspamd.conf"},
	netns:   true,
	reads: func(rel string) bool {
		if !strings.HasPrefix(rel, "data/conf/rspamd/") {
			return false
		}
		return strings.HasSuffix(rel, ".conf") || strings.HasSuffix(rel, ".inc") ||
			rel == "data/conf/rspamd/rspamd.conf.local" || rel == "data/conf/rspamd/rspamd.conf.override"
	},
	run: func(t testing.TB, dir, stage, cache string) (verdict, bool) {
		src := filepath.Join(dir, "data/conf/rspamd")
		if _, err := os.Stat(src); os.IsNotExist(err) {
			return verdict{}, false
		}
		etc := filepath.Join(stage, "etc")
		db := cache
		copyTree(t, rspamdConfDir, etc, func(s string) string { return dbdirRe.ReplaceAllString(s, db) })
		for _, d := range []string{"custom", "override.d", "local.d", "plugins.d", "lua"} {
			copyTree(t, filepath.Join(src, d), filepath.Join(etc, d), nil)
		}
		for _, f := range []string{"rspamd.conf.local", "rspamd.conf.override"} {
			if s, ok := read(t, filepath.Join(src, f)); ok {
				write(t, filepath.Join(etc, f), s)
			}
		}
		ok, out := runTool(t, true, nil, "rspamadm",
			"--var=CONFDIR="+etc, "--var=LOCAL_CONFDIR="+etc, "--var=DBDIR="+db,
			"configtest", "-c", filepath.Join(etc, "rspamd.conf"))
		return verdict{ok: ok && strings.Contains(out, "syntax OK"), out: tail(out, 8)}, true
	},
	breakFile: func(rel, content string) string {
		return appendLine(content, "} # a brace that closes nothing")
	},
}

// ---- dovecot

var vszRe = regexp.MustCompile(`vsz_limit\s*=\s*[0-9]*\s*MB*`)
var ftsHeapRe = regexp.MustCompile(`(?m)^FTS_HEAP=(.*)$`)

// dovecotChecker is `doveconf -n` over mailcow's conf.d files, included
// by a small dovecot.conf of the harness (mailcow's own dovecot.conf
// needs its whole image). The dovecot container writes FTS_HEAP from
// mailcow.conf into fts.conf's vsz_limit when it starts
// (docker-entrypoint.sh, since 2025-01); the harness does the same, so
// mailcow.conf's FTS_HEAP is checked as the vsz_limit it becomes.
var dovecotChecker = &checker{
	service: "dovecot-mailcow",
	bins:    []string{"doveconf"},
	reads: func(rel string) bool {
		return rel == "mailcow.conf" || (strings.HasPrefix(rel, "data/conf/dovecot/conf.d/") && strings.HasSuffix(rel, ".conf"))
	},
	run: func(t testing.TB, dir, stage, cache string) (verdict, bool) {
		heap := ""
		if s, ok := read(t, filepath.Join(dir, "mailcow.conf")); ok {
			if m := ftsHeapRe.FindStringSubmatch(s); m != nil {
				heap = m[1]
			}
		}
		conf := filepath.Join(stage, "conf.d")
		if !copyTree(t, filepath.Join(dir, "data/conf/dovecot/conf.d"), conf, nil) {
			return verdict{}, false
		}
		if heap != "" {
			p := filepath.Join(conf, "fts.conf")
			if s, ok := read(t, p); ok {
				write(t, p, vszRe.ReplaceAllLiteralString(s, "vsz_limit="+heap+" MB"))
			}
		}
		write(t, filepath.Join(stage, "dovecot.conf"), fmt.Sprintf(
			"protocols = imap\nbase_dir = %s\nstate_dir = %s\n!include_try %s/*.conf\n",
			filepath.Join(stage, "run"), filepath.Join(stage, "state"), conf))
		ok, out := runTool(t, false, nil, "doveconf", "-n", "-c", filepath.Join(stage, "dovecot.conf"))
		if ok {
			out = "" // the whole configuration: nothing to show
		}
		return verdict{ok: ok, out: tail(out, 6)}, true
	},
	breakFile: func(rel, content string) string {
		if rel == "mailcow.conf" {
			return ftsHeapRe.ReplaceAllLiteralString(content, "FTS_HEAP=plenty")
		}
		return appendLine(content, "} # a brace that closes nothing")
	},
}

// ---- php-fpm

var phpProblemRe = regexp.MustCompile(`PHP (Warning|Fatal error|Parse error)|PHP:\s+syntax error`)

// phpfpmChecker is `php-fpm -t` with mailcow's pools (php-fpm.d) and
// php.ini additions (php-conf.d, the image's scan dir). php-fpm -t exits
// 0 on a php.ini setting php refuses (memory_limit = 512MB becomes 512
// bytes, with a warning): the harness logs php's startup messages and
// counts a warning as a rejection, since the service would not run with
// what the file says.
var phpfpmChecker = &checker{
	service: "php-fpm-mailcow",
	bins:    []string{phpFPM()},
	reads: func(rel string) bool {
		return (strings.HasPrefix(rel, "data/conf/phpfpm/php-fpm.d/") && strings.HasSuffix(rel, ".conf")) ||
			(strings.HasPrefix(rel, "data/conf/phpfpm/php-conf.d/") && strings.HasSuffix(rel, ".ini"))
	},
	run: func(t testing.TB, dir, stage, cache string) (verdict, bool) {
		pools := filepath.Join(stage, "php-fpm.d")
		if !copyTree(t, filepath.Join(dir, "data/conf/phpfpm/php-fpm.d"), pools, nil) {
			return verdict{}, false
		}
		scan := filepath.Join(stage, "php-conf.d")
		if err := os.MkdirAll(scan, 0o755); err != nil {
			t.Fatal(err)
		}
		copyTree(t, filepath.Join(dir, "data/conf/phpfpm/php-conf.d"), scan, nil)
		write(t, filepath.Join(stage, "php.ini"), "log_errors = On\nerror_log = /dev/stderr\ndisplay_errors = Off\ndisplay_startup_errors = Off\n")
		write(t, filepath.Join(stage, "php-fpm.conf"), fmt.Sprintf(
			"[global]\npid = %s\nerror_log = /dev/stderr\ninclude = %s/*.conf\n",
			filepath.Join(stage, "php-fpm.pid"), pools))
		ok, out := runTool(t, false, []string{"PHP_INI_SCAN_DIR=" + scan}, phpFPM(),
			"-t", "-c", filepath.Join(stage, "php.ini"), "-y", filepath.Join(stage, "php-fpm.conf"))
		return verdict{ok: ok && !phpProblemRe.MatchString(out), out: tail(out, 8)}, true
	},
	breakFile: func(rel, content string) string {
		if strings.HasSuffix(rel, ".ini") {
			return appendLine(content, "memory_limit = 512MB")
		}
		return appendLine(content, "pm = sometimes")
	},
}

var phpFPMName struct {
	once sync.Once
	name string
}

// phpFPM returns the packaged php-fpm program: Debian names it by PHP
// version (php-fpm8.2); mailcow's image calls it php-fpm.
func phpFPM() string {
	phpFPMName.once.Do(func() {
		phpFPMName.name = "php-fpm"
		if _, ok := lookBin("php-fpm"); ok {
			return
		}
		for _, dir := range append(filepath.SplitList(os.Getenv("PATH")), sbinDirs...) {
			ms, _ := filepath.Glob(filepath.Join(dir, "php-fpm[0-9]*"))
			if len(ms) > 0 {
				phpFPMName.name = filepath.Base(ms[len(ms)-1])
				return
			}
		}
	})
	return phpFPMName.name
}

// ---- clamd

// clamdChecker is clamconf over mailcow's clamd.conf: ClamAV's own
// parser of clamd.conf (the one clamd starts with). clamd has no test
// mode, and clamconf exits 0 on a bad option, printing "ERROR: …": the
// harness counts that line as a rejection, as clamd refuses to start on
// it.
var clamdChecker = &checker{
	service: "clamd-mailcow",
	bins:    []string{"clamconf"},
	reads:   func(rel string) bool { return rel == "data/conf/clamav/clamd.conf" },
	run: func(t testing.TB, dir, stage, cache string) (verdict, bool) {
		s, ok := read(t, filepath.Join(dir, "data/conf/clamav/clamd.conf"))
		if !ok {
			return verdict{}, false
		}
		write(t, filepath.Join(stage, "clamd.conf"), s)
		exitOK, out := runTool(t, false, nil, "clamconf", "-c", stage)
		var errs []string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "ERROR:") {
				errs = append(errs, l)
			}
		}
		read := strings.Contains(out, "Config file: clamd.conf")
		return verdict{ok: exitOK && read && len(errs) == 0, out: strings.Join(errs, "\n")}, true
	},
	breakFile: func(rel, content string) string {
		return appendLine(content, "MaxFileSize fifty-megabytes")
	},
}

// ---- nginx and unbound: no shipped patch edits their files; their
// checkers are proved on configurations of the harness's own.

var nginxChecker = &checker{service: "nginx-mailcow", bins: []string{"nginx"}}
var unboundChecker = &checker{service: "unbound-mailcow", bins: []string{"unbound-checkconf"}}

func nginxConf(stage string) string {
	return fmt.Sprintf(`pid %[1]s/nginx.pid;
error_log stderr;
worker_processes 1;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server {
    listen 127.0.0.1:8443;
    server_name mail.example.org autodiscover.example.org;
    client_max_body_size 0;
    root %[1]s/web;
    location ~ \.php$ {
      fastcgi_pass 127.0.0.1:9002;
      fastcgi_read_timeout 3600;
    }
  }
}
`, stage)
}

func unboundConf(stage string) string {
	return fmt.Sprintf(`server:
  verbosity: 1
  interface: 127.0.0.1
  port: 53
  do-ip4: yes
  do-ip6: no
  do-udp: yes
  do-tcp: yes
  chroot: ""
  username: ""
  directory: "%s"
  pidfile: ""
  use-syslog: no
  hide-identity: yes
  hide-version: yes
  access-control: 127.0.0.0/8 allow
  access-control: 172.22.1.0/24 allow
  cache-min-ttl: 5
  cache-max-negative-ttl: 60
remote-control:
  control-enable: no
`, stage)
}

// miniMailcow is a small mailcow dir in the shape of the real one, of
// the harness's own, for the checkers' proof without ../shared/upstream.
var miniMailcow = map[string]string{
	"mailcow.conf": "MAILCOW_HOSTNAME=mail.example.org\nFTS_HEAP=128\nSKIP_CLAMD=n\n",
	"data/conf/postfix/main.cf": `biff = no
append_dot_mydomain = no
smtpd_banner = $myhostname ESMTP
message_size_limit = 104857600
mailbox_size_limit = 0
smtp_tls_security_level = dane
`,
	"data/conf/rspamd/local.d/greylist.conf": "ipv4_mask = 24;\nipv6_mask = 64;\nmessage = \"Greylisted, please try again later\";\n",
	"data/conf/rspamd/local.d/options.inc":   "dns {\n  enable_dnssec = true;\n}\nmap_watch_interval = 30s;\n",
	"data/conf/dovecot/conf.d/fts.conf":      "service indexer-worker {\n  process_limit=1\n  vsz_limit=128 MB\n}\n",
	"data/conf/phpfpm/php-fpm.d/pools.conf": `[web-worker]
user = www-data
group = www-data
pm = dynamic
pm.max_children = 50
pm.start_servers = 10
pm.min_spare_servers = 10
pm.max_spare_servers = 15
listen = 127.0.0.1:9002
php_admin_value[memory_limit] = 512M
`,
	"data/conf/phpfpm/php-conf.d/other.ini": "max_execution_time = 3600\nmemory_limit = 512M\n",
	"data/conf/clamav/clamd.conf":           "Foreground yes\nTCPSocket 3310\nStreamMaxLength 25M\nMaxScanSize 50M\nMaxFileSize 25M\n",
}

// TestCheckersRejectWhatIsBroken proves the harness of every checker:
// each accepts a sound configuration and rejects it broken, for every
// file the differential test lets it judge. A checker that accepted
// everything would make the differential test vacuous.
func TestCheckersRejectWhatIsBroken(t *testing.T) {
	for _, c := range mailcowCheckers {
		t.Run(c.service, func(t *testing.T) {
			t.Parallel()
			if why := c.usable(t); why != "" {
				t.Skip(why)
			}
			dir := t.TempDir()
			for rel, s := range miniMailcow {
				write(t, filepath.Join(dir, rel), s)
			}
			cache := t.TempDir()
			v, ran := c.run(t, dir, t.TempDir(), cache)
			if !ran {
				t.Fatal("the harness found none of its files in the mailcow dir")
			}
			if !v.ok {
				t.Fatalf("rejects the sound configuration:\n%s", v.out)
			}
			n := 0
			for rel, s := range miniMailcow {
				if !c.reads(rel) {
					continue
				}
				n++
				write(t, filepath.Join(dir, rel), c.breakFile(rel, s))
				if v, _ := c.run(t, dir, t.TempDir(), cache); v.ok {
					t.Errorf("accepts a broken %s:\n%s", rel, v.out)
				}
				write(t, filepath.Join(dir, rel), s)
			}
			if n == 0 {
				t.Fatal("reads none of the files of the small mailcow dir")
			}
		})
	}
	t.Run("nginx-mailcow", func(t *testing.T) {
		t.Parallel()
		if why := nginxChecker.usable(t); why != "" {
			t.Skip(why)
		}
		stage := t.TempDir()
		conf := filepath.Join(stage, "nginx.conf")
		good := nginxConf(stage)
		for _, tc := range []struct {
			name, conf string
			ok         bool
		}{
			{"sound", good, true},
			{"unknown directive", strings.Replace(good, "client_max_body_size 0;", "client_max_body_size 0;\n    fastcgi_pas 127.0.0.1:9002;", 1), false},
			{"bad size", strings.Replace(good, "client_max_body_size 0;", "client_max_body_size fifty;", 1), false},
		} {
			write(t, conf, tc.conf)
			ok, out := runTool(t, false, nil, "nginx", "-t", "-q", "-p", stage, "-e", "stderr", "-c", conf)
			if ok != tc.ok {
				t.Errorf("%s: nginx -t says ok=%v, want %v:\n%s", tc.name, ok, tc.ok, tail(out, 6))
			}
		}
	})
	t.Run("unbound-mailcow", func(t *testing.T) {
		t.Parallel()
		if why := unboundChecker.usable(t); why != "" {
			t.Skip(why)
		}
		stage := t.TempDir()
		conf := filepath.Join(stage, "unbound.conf")
		good := unboundConf(stage)
		for _, tc := range []struct {
			name, conf string
			ok         bool
		}{
			{"sound", good, true},
			{"unknown option", strings.Replace(good, "  hide-version: yes\n", "  hide-version: yes\n  hide-everything: yes\n", 1), false},
			{"bad network", strings.Replace(good, "172.22.1.0/24", "172.22.1.0/99", 1), false},
		} {
			write(t, conf, tc.conf)
			ok, out := runTool(t, false, nil, "unbound-checkconf", conf)
			if ok != tc.ok {
				t.Errorf("%s: unbound-checkconf says ok=%v, want %v:\n%s", tc.name, ok, tc.ok, tail(out, 6))
			}
		}
	})
}
