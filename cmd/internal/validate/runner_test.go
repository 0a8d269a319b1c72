package validate

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/secret"
)

// fakeCompose writes a docker stand-in: `compose ps` lists running;
// `compose exec -T SVC CMD...` runs CMD here (a real process), so each
// case's command decides the exit code and output.
func fakeCompose(t *testing.T, running string) (docker, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "log")
	script := `#!/bin/sh
echo "$*" >> "` + log + `"
shift
case "$1" in
ps) for s in ` + running + `; do echo "$s"; done ;;
exec) shift 3; exec "$@" ;;
esac
`
	docker = filepath.Join(dir, "docker")
	if err := os.WriteFile(docker, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return docker, log
}

func TestCheckVerdicts(t *testing.T) {
	conf := []byte("DBPASS=s3cr3tDbPassw0rd\n")
	cases := []struct {
		name    string
		svc     string
		cmd     []string
		verdict Verdict
		exit    int
		output  string // wanted in Output or Reason
		not     string // never in Output
	}{
		{name: "passed", svc: "nginx-mailcow", cmd: []string{"sh", "-c", "echo syntax is ok >&2"}, verdict: Passed, exit: 0, output: "syntax is ok"},
		{name: "rejected, secret hidden", svc: "nginx-mailcow", cmd: []string{"sh", "-c", "echo 'bad line: password s3cr3tDbPassw0rd' >&2; exit 1"}, verdict: Rejected, exit: 1, output: "bad line: password " + secret.Redacted, not: "s3cr3tDbPassw0rd"},
		{name: "rejected with another code", svc: "nginx-mailcow", cmd: []string{"sh", "-c", "exit 78"}, verdict: Rejected, exit: 78},
		{name: "command missing", svc: "nginx-mailcow", cmd: []string{"no-such-checker-here"}, verdict: NotRun, exit: 127, output: "exit 127"},
		{name: "not executable", svc: "nginx-mailcow", cmd: []string{"sh", "-c", "exit 126"}, verdict: NotRun, exit: 126, output: "exit 126"},
		{name: "killed", svc: "nginx-mailcow", cmd: []string{"sh", "-c", "kill -9 $$"}, verdict: NotRun, output: "killed"},
		{name: "killed inside the container", svc: "nginx-mailcow", cmd: []string{"sh", "-c", "exit 137"}, verdict: NotRun, exit: 137, output: "did not finish"},
		{name: "container stopped after ps", svc: "nginx-mailcow", cmd: []string{"sh", "-c", `echo 'service "nginx-mailcow" is not running' >&2; exit 1`}, verdict: NotRun, exit: 1, output: "not running"},
		{name: "a checker quoting docker is still a rejection", svc: "nginx-mailcow", cmd: []string{"sh", "-c", `echo 'nginx: [emerg] service "x" is not running' >&2; exit 1`}, verdict: Rejected, exit: 1},
		{name: "container down", svc: "postfix-mailcow", cmd: []string{"true"}, verdict: NotRun, exit: -1, output: "the container is not running"},
		{name: "doveconf's config never kept", svc: "nginx-mailcow", cmd: []string{"doveconf", "-n"}, verdict: Passed, not: "passdb"},
	}
	bin := t.TempDir()
	// A doveconf that prints a configuration with a password.
	if err := os.WriteFile(filepath.Join(bin, "doveconf"), []byte("#!/bin/sh\necho 'passdb { args = password=hunter2hunter2 }'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			docker, _ := fakeCompose(t, "nginx-mailcow")
			r := &Runner{Dir: t.TempDir(), Compose: []string{docker, "compose"}, Secrets: secret.NewRedactor(conf)}
			res := r.Check(context.Background(), Checker{Service: c.svc, Command: c.cmd})
			if res.Verdict != c.verdict {
				t.Fatalf("verdict %s, want %s (%+v)", res.Verdict, c.verdict, res)
			}
			if res.Millis <= 0 && res.Verdict != NotRun {
				t.Errorf("a check that ran took %d ms", res.Millis)
			}
			if c.exit != 0 && res.Exit != c.exit {
				t.Errorf("exit %d, want %d", res.Exit, c.exit)
			}
			if c.output != "" && !strings.Contains(res.Output+res.Reason, c.output) {
				t.Errorf("output %q, reason %q: want %q", res.Output, res.Reason, c.output)
			}
			if c.not != "" && strings.Contains(res.Output+res.Reason, c.not) {
				t.Errorf("output %q holds %q", res.Output, c.not)
			}
		})
	}
}

// TestCheckOnePS: compose ps runs once however many checks; stdin is the
// file named, empty when it does not exist.
func TestCheckOnePS(t *testing.T) {
	docker, log := fakeCompose(t, "postfix-mailcow unbound-mailcow")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data/conf/unbound"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data/conf/unbound/unbound.conf"), []byte("server:\n  verbosity: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Runner{Dir: dir, Compose: []string{docker, "compose"}}
	res := r.Check(context.Background(), Checker{Service: "unbound-mailcow", Command: []string{"sh", "-c", "grep -q 'verbosity: 1' || exit 1"}, Stdin: "data/conf/unbound/unbound.conf"})
	if res.Verdict != Passed {
		t.Errorf("stdin check: %+v", res)
	}
	res = r.Check(context.Background(), Checker{Service: "postfix-mailcow", Command: []string{"sh", "-c", "test $(wc -c) -eq 0"}, Stdin: "data/conf/postfix/extra.cf"})
	if res.Verdict != Passed {
		t.Errorf("missing stdin file: %+v", res)
	}
	data, _ := os.ReadFile(log)
	if n := strings.Count(string(data), "compose ps"); n != 1 {
		t.Errorf("compose ps ran %d times:\n%s", n, data)
	}
}

func TestTable(t *testing.T) {
	if got := Table(Settings{Enabled: false}); len(got) != 0 {
		t.Errorf("off: %v", got)
	}
	got := Table(Settings{Enabled: true, Commands: map[string]string{"postfix-mailcow": "off", "nginx-mailcow": "nginx -t -q", "sogo-mailcow": "sogod -check"},
		Origin: func(s string) string { return "m.ini [validate] " + s }})
	if _, ok := got["postfix-mailcow"]; ok {
		t.Error("postfix-mailcow = off kept its check")
	}
	if c := got["nginx-mailcow"]; strings.Join(c.Command, " ") != "sh -c nginx -t -q" || c.Origin != "m.ini [validate] nginx-mailcow" || c.Stdin != "" {
		t.Errorf("nginx override: %+v", c)
	}
	if c := got["rspamd-mailcow"]; c.Command[0] != "sh" || !strings.Contains(c.Command[2], "rspamadm") || c.Tree != "data/conf/rspamd" || c.Origin != Builtin {
		t.Errorf("rspamd default: %+v", c)
	}
	if _, ok := got["sogo-mailcow"]; !ok {
		t.Error("an own service's check is missing")
	}
	if _, ok := got["clamd-mailcow"]; ok {
		t.Error("clamd-mailcow has a default check, but clamd has no configuration test")
	}
}

func TestTail(t *testing.T) {
	long := strings.Repeat("warning: a line of postfix noise\n", 500) + "fatal: the line that matters"
	got := tail(long, MaxOutput)
	if len(got) > MaxOutput+40 || !strings.HasSuffix(got, "fatal: the line that matters") || !strings.HasPrefix(got, "[… earlier output cut]\nwarning:") {
		t.Errorf("tail: %d bytes, %q…", len(got), got[:60])
	}
}

// TestUnboundCheckerReal runs the built-in unbound checker (its script
// takes unbound.conf on standard input) with the real unbound-checkconf
// behind a fake compose that runs the command here.
func TestUnboundCheckerReal(t *testing.T) {
	if _, err := exec.LookPath("unbound-checkconf"); err != nil {
		t.Skip("unbound-checkconf is not installed (Debian: unbound)")
	}
	c := Defaults()["unbound-mailcow"]
	c.Service = "unbound-mailcow"
	for _, tc := range []struct {
		conf string
		want Verdict
	}{
		{"server:\n  verbosity: 1\n  do-ip6: yes\n", Passed},
		{"server:\n  verbosity: 1\n  num-threads: lots\n", Rejected},
	} {
		docker, _ := fakeCompose(t, "unbound-mailcow")
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "data/conf/unbound"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, c.Stdin), []byte(tc.conf), 0o644); err != nil {
			t.Fatal(err)
		}
		r := &Runner{Dir: dir, Compose: []string{docker, "compose"}}
		if res := r.Check(context.Background(), c); res.Verdict != tc.want {
			t.Errorf("%q: %+v, want %s", tc.conf, res, tc.want)
		}
	}
}

// TestOwnCommandNamesItsOrigin: the admin's own check command is named
// with the line of mcupdate.ini that sets it.
func TestOwnCommandNamesItsOrigin(t *testing.T) {
	docker, _ := fakeCompose(t, "nginx-mailcow")
	table := Table(Settings{Enabled: true, Commands: map[string]string{"nginx-mailcow": "no-such-nginx -t"},
		Origin: func(s string) string { return "/etc/mcupdate/mcupdate.ini:31 [validate] " + s }})
	r := &Runner{Dir: t.TempDir(), Compose: []string{docker, "compose"}}
	res := r.Check(context.Background(), table["nginx-mailcow"])
	if res.Verdict != NotRun || res.Command != "sh -c 'no-such-nginx -t' (/etc/mcupdate/mcupdate.ini:31 [validate] nginx-mailcow)" {
		t.Errorf("%+v", res)
	}
}

// TestRspamdCheckerReal runs the built-in rspamd check with the real
// rspamadm (Debian's rspamd; the fake compose runs the script here, where
// /etc/rspamd is the package's): the changed files reach the copy as a tar
// archive in the version the run writes, which may differ from the disk
// (a dry run's recorder), and only the files the container mounts go.
func TestRspamdCheckerReal(t *testing.T) {
	if _, err := exec.LookPath("rspamadm"); err != nil {
		t.Skip("rspamadm is not installed (Debian: rspamd)")
	}
	if _, err := os.Stat("/etc/rspamd/rspamd.conf"); err != nil {
		t.Skipf("no rspamd.conf from the rspamd package: %v", err)
	}
	c := Defaults()["rspamd-mailcow"]
	c.Service = "rspamd-mailcow"
	const greylist = "data/conf/rspamd/local.d/greylist.conf"
	dir := t.TempDir()
	for rel, data := range map[string]string{
		greylist:                                "enabled = false;\n",
		"data/conf/rspamd/dynmaps/settings.php": "<?php // not mounted under /etc/rspamd\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c.Files = []string{greylist, "data/conf/rspamd/dynmaps/settings.php", "data/conf/rspamd/local.d/new.d/gone.conf"}
	if got := c.treeFiles(); strings.Join(got, " ") != "local.d/greylist.conf local.d/new.d/gone.conf" {
		t.Fatalf("treeFiles = %q", got)
	}
	for _, tc := range []struct {
		name     string
		version  string // what the run writes; "" reads the disk
		want     Verdict
		wantText string
	}{
		{name: "the file on disk", want: Passed, wantText: "syntax OK"},
		{name: "the run's version, broken", version: "enabled = false;\n} # a brace that closes nothing\n", want: Rejected},
		{name: "the run's version, good", version: "enabled = false;\nexpire = 1d;\n", want: Passed, wantText: "syntax OK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docker, _ := fakeCompose(t, "rspamd-mailcow")
			r := &Runner{Dir: dir, Compose: []string{docker, "compose"}}
			if tc.version != "" {
				r.ReadFile = func(name string) ([]byte, error) {
					if name == filepath.Join(dir, greylist) {
						return []byte(tc.version), nil
					}
					return os.ReadFile(name)
				}
			}
			res := r.Check(context.Background(), c)
			if res.Verdict != tc.want || !strings.Contains(res.Output, tc.wantText) {
				t.Fatalf("%+v, want %s with %q", res, tc.want, tc.wantText)
			}
		})
	}
	if got, _ := os.ReadFile(filepath.Join(dir, greylist)); string(got) != "enabled = false;\n" {
		t.Errorf("the check changed the file on disk: %q", got)
	}
}

func TestTakes(t *testing.T) {
	d := Defaults()
	for _, tc := range []struct {
		svc, file string
		want      bool
	}{
		{"postfix-mailcow", "data/conf/postfix/extra.cf", true},
		{"postfix-mailcow", "data/conf/postfix/main.cf", false},
		{"rspamd-mailcow", "data/conf/rspamd/local.d/greylist.conf", true},
		{"rspamd-mailcow", "data/conf/rspamd/rspamd.conf.local", true},
		{"rspamd-mailcow", "data/conf/rspamd/rspamd.conf.localx", false},
		{"rspamd-mailcow", "data/conf/rspamd/dynmaps/settings.php", false},
		{"rspamd-mailcow", "data/conf/rspamdx/local.d/a.conf", false},
		{"dovecot-mailcow", "data/conf/dovecot/conf.d/fts.conf", false},
	} {
		if got := d[tc.svc].Takes(tc.file); got != tc.want {
			t.Errorf("%s takes %s: %v, want %v", tc.svc, tc.file, got, tc.want)
		}
	}
}
