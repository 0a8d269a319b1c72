package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"mcupdate": func() { os.Exit(Main(os.Args[1:])) },
	})
}

// fakeDocker records its arguments in $WORK/docker.log. `docker version`
// prints $FAKE_DOCKER_VERSION (28.2.2 by default; "none" fails as with no
// engine, "hang" never answers). `docker compose ps --services` lists
// $FAKE_DOCKER_RUNNING (by default mailcow's services with a
// configuration checker): the checks run in them (`compose exec`) pass, as
// the restarts do, but in $FAKE_DOCKER_REJECT, whose checker rejects the
// configuration quoting mailcow.conf's DBPASS. cmd/internal/hook's
// validate_test.go runs the real checkers.
const fakeDocker = `#!/bin/sh
echo "docker $*" >> "$WORK/docker.log"
if [ "$1" = version ]; then
  case "${FAKE_DOCKER_VERSION:-28.2.2}" in
    none) echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock" >&2; exit 1 ;;
    hang) exec sleep 60 ;;
    *) echo "${FAKE_DOCKER_VERSION:-28.2.2}" ;;
  esac
fi
if [ "$1 $2" = "compose ps" ]; then
  for s in ${FAKE_DOCKER_RUNNING-postfix-mailcow rspamd-mailcow dovecot-mailcow php-fpm-mailcow nginx-mailcow unbound-mailcow}; do echo "$s"; done
  exit 0
fi
if [ "$1 $2" = "compose exec" ] && [ -n "$FAKE_DOCKER_REJECT" ] && [ "$4" = "$FAKE_DOCKER_REJECT" ]; then
  echo "fake checker of $4: line 3: bad value $(sed -n 's/^DBPASS=//p' mailcow.conf)" >&2
  exit 1
fi
if [ -n "$FAKE_DOCKER_FAIL" ] && [ "$2" = "$FAKE_DOCKER_FAIL" ]; then
  echo "Error response from daemon: fake failure of $*" >&2
  exit 1
fi
exit 0
`

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			bin := filepath.Join(env.WorkDir, "bin")
			if err := os.MkdirAll(bin, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(bin, "docker"), []byte(fakeDocker), 0o755); err != nil {
				return err
			}
			env.Setenv("PATH", bin+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("NO_COLOR", "1")
			env.Setenv("GIT_CONFIG_NOSYSTEM", "1")
			env.Setenv("GIT_AUTHOR_NAME", "mailcow admin")
			env.Setenv("GIT_AUTHOR_EMAIL", "admin@example.org")
			env.Setenv("GIT_COMMITTER_NAME", "mailcow admin")
			env.Setenv("GIT_COMMITTER_EMAIL", "admin@example.org")
			env.Setenv("MCUPDATE_CONFIG", filepath.Join(env.WorkDir, "etc", "mcupdate.ini"))
			env.Setenv("MCUPDATE_STATE_DIR", filepath.Join(env.WorkDir, "state"))
			env.Setenv("MCUPDATE_DAEMON_JSON", filepath.Join(env.WorkDir, "etc", "docker", "daemon.json"))
			env.Setenv("MCUPDATE_MAILCOW_DIR", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"mailcow":    cmdMailcow,
			"fixture":    cmdFixture,
			"update-git": cmdUpdateGit,
		},
	})
}
