package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mcupdate/mcupdate/cmd/internal/fixture"
	"github.com/mcupdate/mcupdate/cmd/internal/updatesh"
)

// A small upstream mailcow tree for scripts that need an install but not
// the full fixtures.
var miniUpstream = map[string]string{
	".gitignore":                             "mailcow.conf\ndocker-compose.override.yml\ndata/conf/rspamd/override.d/*\ndata/conf/postfix/extra.cf\ndata/conf/nginx/*.custom\n",
	"docker-compose.yml":                     "services:\n  dovecot-mailcow:\n    image: ghcr.io/mailcow/dovecot:2.3\n  postfix-mailcow:\n    image: ghcr.io/mailcow/postfix:1.80\n",
	"update.sh":                              "#!/bin/bash\necho upstream update.sh\n",
	"data/conf/postfix/main.cf":              "message_size_limit = 104857600\n",
	"data/conf/rspamd/override.d/.gitkeep":   "",
	"data/conf/rspamd/local.d/greylist.conf": "enabled = true;\n",
	"data/conf/phpfpm/php-fpm.d/pools.conf":  "[web-worker]\nphp_admin_value[memory_limit] = 512M\n",
}

// cmdMailcow builds a mailcow install for a script:
//
//	mailcow init DIR    upstream repo in $WORK/upstream (tag 2026-03) and
//	                    an install cloned from it in DIR, with mailcow.conf
//	                    (DBPASS=$SECRET or a default) and two overrides
func cmdMailcow(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! mailcow")
	}
	if len(args) != 2 || args[0] != "init" {
		ts.Fatalf("usage: mailcow init DIR")
	}
	work := ts.Getenv("WORK")
	up := filepath.Join(work, "upstream")
	dir := ts.MkAbs(args[1])
	git := func(dir string, args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = scriptEnv(ts)
		if out, err := cmd.CombinedOutput(); err != nil {
			ts.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	write := func(root string, files map[string]string) {
		for name, content := range files {
			p := filepath.Join(root, filepath.FromSlash(name))
			ts.Check(os.MkdirAll(filepath.Dir(p), 0o755))
			ts.Check(os.WriteFile(p, []byte(content), 0o644))
		}
	}
	ts.Check(os.MkdirAll(up, 0o755))
	git(up, "init", "-q", "-b", "master")
	write(up, miniUpstream)
	git(up, "add", "-A")
	git(up, "commit", "-q", "-m", "mailcow 2026-03")
	git(up, "tag", "2026-03")
	git(work, "clone", "-q", up, dir)
	secret := ts.Getenv("SECRET")
	if secret == "" {
		secret = "s3cr3t-db-pass"
	}
	write(dir, map[string]string{
		"mailcow.conf":                               "MAILCOW_HOSTNAME=mail.example.org\nDBPASS=" + secret + "\nFTS_HEAP=128\n",
		"docker-compose.override.yml":                "services:\n  dovecot-mailcow:\n    mem_limit: 4g\n",
		"data/conf/rspamd/override.d/ratelimit.conf": "rates { }\n",
	})
}

func scriptEnv(ts *testscript.TestScript) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "GIT_CONFIG_NOSYSTEM", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"} {
		env = append(env, k+"="+ts.Getenv(k))
	}
	return env
}

// cmdFixture builds the embedded fixtures for a script:
//
//	fixture upstream DIR [UPTO]      the upstream history up to tag UPTO
//	fixture install DIR UPSTREAM     the admin's install at the first tag,
//	                                 and the admin's mcupdate.ini at $MCUPDATE_CONFIG
func cmdFixture(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! fixture")
	}
	switch {
	case len(args) >= 2 && args[0] == "upstream":
		upto := ""
		if len(args) == 3 {
			upto = args[2]
		}
		ts.Check(fixture.BuildUpstream(ts.MkAbs(args[1]), upto))
	case len(args) == 3 && args[0] == "install":
		ts.Check(fixture.BuildInstall(ts.MkAbs(args[1]), ts.MkAbs(args[2]), fixture.Tags()[0]))
		cfg := ts.Getenv("MCUPDATE_CONFIG")
		ts.Check(os.MkdirAll(filepath.Dir(cfg), 0o755))
		ts.Check(os.WriteFile(cfg, fixture.AdminConfig(), 0o600))
	default:
		ts.Fatalf("usage: fixture upstream DIR [UPTO] | fixture install DIR UPSTREAM")
	}
}

// cmdUpdateGit runs update.sh's git steps in DIR, merging TAG:
//
//	update-git DIR TAG
func cmdUpdateGit(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: update-git DIR TAG")
	}
	res, err := updatesh.Run(ts.MkAbs(args[0]), updatesh.Options{Target: args[1], Date: "2026-11-22_06_00_00", Env: scriptEnv(ts)})
	if res != nil {
		fmt.Fprintf(ts.Stdout(), "merge exit %d; removed %v\n", res.MergeExit, res.Removed)
	}
	if neg {
		if err == nil {
			ts.Fatalf("update-git succeeded unexpectedly")
		}
		return
	}
	ts.Check(err)
}
