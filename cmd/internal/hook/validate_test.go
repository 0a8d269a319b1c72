package hook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/secret"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
	"github.com/mcupdate/mcupdate/cmd/internal/validate"
)

// The configuration checks before a restart (issue 19), end to end: a
// fake docker whose `compose exec -T SVC CHECKER` runs the real checker
// installed on this machine (Debian's postfix, rspamd, php-fpm) against
// the test's mailcow files, mapped where the container would see them.

// validateDocker is the fake docker: it logs its arguments, lists
// @RUNNING@ for `compose ps`, says a service not listed is not running as
// compose does, and runs a check with the service's script in
// @CHECKERS@ (none there: exit 127, as a missing command).
const validateDocker = `#!/bin/sh
echo "docker $*" | tr '\n' ' ' | sed 's/ *$//' >> "@LOG@"; echo >> "@LOG@"
[ "$1" = compose ] || exit 0
shift
case "$1" in
ps) for s in @RUNNING@; do echo "$s"; done ;;
exec)
  shift; [ "$1" = -T ] && shift
  svc=$1; shift
  case " @RUNNING@ " in *" $svc "*) ;; *) echo "service \"$svc\" is not running" >&2; exit 1 ;; esac
  [ -x "@CHECKERS@/$svc" ] || { echo "OCI runtime exec failed: exec: \"$1\": executable file not found in \$PATH" >&2; exit 127; }
  exec "@CHECKERS@/$svc" "$@" ;;
esac
exit 0
`

// The containers' views. Each maps the container's paths in the
// checker's arguments to where the test keeps them, then runs the
// checker: postfix's /opt/postfix/conf is data/conf/postfix (a directory
// mount); php-fpm's /usr/local/etc is the image's, with pools.conf as it
// was when the container started (a file mount: a file replaced since is
// not seen); rspamd's /etc/rspamd is the distribution's with mailcow's
// local.d, override.d and custom over it.
const (
	postfixView = `#!/bin/sh
for a do set -- "$@" "$(printf '%s' "$a" | sed "s#/opt/postfix/conf#@MAILCOW@/data/conf/postfix#g")"; shift; done
exec "$@"
`
	phpfpmView = `#!/bin/sh
PATH="@BIN@:$PATH"
for a do set -- "$@" "$(printf '%s' "$a" | sed "s#/usr/local/etc#@IMAGE@/usr/local/etc#g")"; shift; done
exec "$@"
`
	rspamdView = `#!/bin/sh
L=$(mktemp -d)
trap 'rm -rf "$L"' EXIT
cp -a /etc/rspamd/. "$L/"
for d in local.d override.d custom; do
  if [ -d "@MAILCOW@/data/conf/rspamd/$d" ]; then rm -rf "$L/$d"; cp -a "@MAILCOW@/data/conf/rspamd/$d" "$L/$d"; fi
done
for a do set -- "$@" "$(printf '%s' "$a" | sed "s#/etc/rspamd#$L#g")"; shift; done
"$@"
`
)

// The admin's own patches that break a configuration, each as a typo
// would: a postfix line without "=" (holding mailcow.conf's DBPASS, which
// postconf quotes back), an unclosed rspamd block, a negative
// pm.max_children.
var badPatches = map[string]string{
	"bad-postfix.ini":  "description = a typo in extra.cf\nservices = postfix-mailcow\n[edit typo]\nfile = data/conf/postfix/extra.cf\nkind = line\nline = relayhost_typo Zm9vYmFyYmF6cXV4\nmatch = ^relayhost_typo\nposition = end\ncreate = true\n",
	"bad-rspamd.ini":   "description = an unclosed block\nservices = rspamd-mailcow\n[edit block]\nfile = data/conf/rspamd/local.d/greylist.conf\nkind = line\nline = expire = {\nmatch = ^expire =\nposition = end\n",
	"two-services.ini": "description = php-fpm children and a postfix typo\nservices = php-fpm-mailcow postfix-mailcow\n[edit children]\nfile = data/conf/phpfpm/php-fpm.d/pools.conf\nkind = ini\nsection = web-worker\nkey = pm.max_children\nvalue = 70\n[edit typo]\nfile = data/conf/postfix/extra.cf\nkind = line\nline = relayhost_typo here\nmatch = ^relayhost_typo\nposition = end\ncreate = true\n",
	"bad-phpfpm.ini":   "description = children out of range\nservices = php-fpm-mailcow\n[edit children]\nfile = data/conf/phpfpm/php-fpm.d/pools.conf\nkind = ini\nsection = web-worker\nkey = pm.max_children\nvalue = -3\n",
}

const (
	extraCF    = "data/conf/postfix/extra.cf"
	greylist   = "data/conf/rspamd/local.d/greylist.conf"
	poolsConf  = "data/conf/phpfpm/php-fpm.d/pools.conf"
	sogoConf   = "data/conf/sogo/sogo.conf"
	dbPassword = "Zm9vYmFyYmF6cXV4"
)

// validateSetup is a mailcow install of a real release with the bad
// patches in the admin's patch dir, and the fake docker with every
// checker's view; running lists the services `compose ps` reports.
type validateSetup struct {
	root, dir, log string
	env            *Env
	out            *bytes.Buffer
}

func newValidateSetup(t testing.TB, running string, checkers ...string) *validateSetup {
	t.Helper()
	for _, bin := range []string{"postfix", "rspamadm"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (Debian: postfix, rspamd)", bin)
		}
	}
	fpm, _ := filepath.Glob("/usr/sbin/php-fpm*")
	if len(fpm) == 0 {
		t.Skip("php-fpm is not installed (Debian: php-fpm)")
	}
	master, err := os.ReadFile("/etc/postfix/master.cf")
	if err != nil {
		t.Skipf("no master.cf from the postfix package: %v", err)
	}
	if _, err := os.Stat("/etc/rspamd/rspamd.conf"); err != nil {
		t.Skipf("no rspamd.conf from the rspamd package: %v", err)
	}
	up := clobberUpstreamDir(t)
	release := readRelease(t, up)
	v := &validateSetup{root: t.TempDir(), out: &bytes.Buffer{}}
	upDir := filepath.Join(v.root, "upstream")
	gittest.Init(t, upDir)
	gittest.WriteFiles(t, upDir, release)
	gittest.Git(t, upDir, "add", "-A", "-f")
	gittest.Git(t, upDir, "commit", "-q", "-m", clobberTag)
	v.dir = filepath.Join(v.root, "mailcow")
	gittest.Git(t, v.root, "clone", "-q", upDir, v.dir)
	gittest.WriteFiles(t, v.dir, adminFiles)
	// mailcow ships master.cf; this release's copy holds only main.cf.
	gittest.WriteFiles(t, v.dir, map[string]string{"data/conf/postfix/master.cf": string(master)})
	patchDir := filepath.Join(v.root, "patches")
	gittest.WriteFiles(t, patchDir, badPatches)

	// php-fpm's image: its php-fpm.conf includes etc/php-fpm.d/*.conf
	// (relative to the prefix), and pools.conf as mounted at start.
	image := filepath.Join(v.root, "image")
	pools := readFile(t, filepath.Join(v.dir, poolsConf))
	gittest.WriteFiles(t, image, map[string]string{
		"usr/local/etc/php-fpm.conf":           "[global]\nerror_log = /proc/self/fd/2\ninclude=etc/php-fpm.d/*.conf\n",
		"usr/local/etc/php-fpm.d/z-pools.conf": pools,
	})
	bin := filepath.Join(v.root, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(fpm[0], filepath.Join(bin, "php-fpm")); err != nil {
		t.Fatal(err)
	}
	views := map[string]string{"postfix-mailcow": postfixView, "php-fpm-mailcow": phpfpmView, "rspamd-mailcow": rspamdView}
	checkDir := filepath.Join(v.root, "checkers")
	if err := os.MkdirAll(checkDir, 0o755); err != nil {
		t.Fatal(err)
	}
	fill := strings.NewReplacer("@MAILCOW@", v.dir, "@IMAGE@", image, "@BIN@", bin, "@CHECKERS@", checkDir,
		"@RUNNING@", running, "@LOG@", filepath.Join(v.root, "docker.log"))
	for _, svc := range checkers {
		if err := os.WriteFile(filepath.Join(checkDir, svc), []byte(fill.Replace(views[svc])), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	docker := filepath.Join(bin, "docker")
	if err := os.WriteFile(docker, []byte(fill.Replace(validateDocker)), 0o755); err != nil {
		t.Fatal(err)
	}
	v.log = filepath.Join(v.root, "docker.log")
	v.env = clobberEnv(t, v.root, v.dir, docker, "postfix-ipv4-outbound", nil, v.out)
	v.env.Config.PatchDir = patchDir
	v.env.Config.Enabled = []string{"postfix-ipv4-outbound", "bad-postfix", "bad-rspamd", "bad-phpfpm", "sogo-workers"}
	v.env.Config.Params["sogo-workers"] = clobberCases["sogo-workers"].params
	conf, err := os.ReadFile(filepath.Join(v.dir, "mailcow.conf"))
	if err != nil {
		t.Fatal(err)
	}
	v.env.Secrets = secret.NewRedactor(conf)
	return v
}

func (v *validateSetup) read(t testing.TB, rel string) string {
	t.Helper()
	return readFile(t, filepath.Join(v.dir, rel))
}

// restarts are the fake docker's restart and up commands.
func (v *validateSetup) restarts(t *testing.T) []string {
	t.Helper()
	return dockerLog(t, v.log)
}

func (v *validateSetup) report(t *testing.T, kind string) *Report {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(v.env.State.Path, state.LastReportName(kind)))
	if err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func stepOf(r *Report, name string) *Step {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

// TestValidateRejectedRollsBack is issue 19's done-when: a patch that
// makes rspamd, postfix or php-fpm reject its configuration — no restart
// of that service, its files as before the patch, the checker's message
// in the report, an error (exit 1); the other patches still applied and
// their services restarted. postfix has a good patch too, on the same
// file: only the bad one is rolled back, and postfix restarts into the
// configuration its checker accepted.
func TestValidateRejectedRollsBack(t *testing.T) {
	all := "postfix-mailcow rspamd-mailcow php-fpm-mailcow sogo-mailcow"
	v := newValidateSetup(t, all, "postfix-mailcow", "rspamd-mailcow", "php-fpm-mailcow")
	before := map[string]string{}
	for _, f := range []string{extraCF, greylist, poolsConf, sogoConf} {
		before[f] = v.read(t, f)
	}
	_, err := Apply(context.Background(), v.env, PostOptions{})
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("apply: %v, want ErrRejected\n%s", err, v.out)
	}
	for _, f := range []string{greylist, poolsConf} {
		if got := v.read(t, f); got != before[f] {
			t.Errorf("%s not as before the patch:\n%s", f, got)
		}
	}
	extra := v.read(t, extraCF)
	if !strings.Contains(extra, "smtp_address_preference = ipv4") || strings.Contains(extra, "relayhost_typo") || !strings.HasPrefix(extra, before[extraCF]) {
		t.Errorf("extra.cf: want postfix-ipv4-outbound's line and not bad-postfix's:\n%s", extra)
	}
	if got := v.read(t, sogoConf); got == before[sogoConf] {
		t.Error("sogo-workers was rolled back too")
	}
	want := []string{"docker compose restart postfix-mailcow sogo-mailcow"}
	if got := v.restarts(t); !equal(got, want) {
		t.Errorf("restarts:\n  got  %q\n  want %q\n%s", got, want, v.out)
	}
	r := v.report(t, "apply")
	s := stepOf(r, "validate")
	if s == nil || s.Status != StatusError {
		t.Fatalf("validate step: %+v\n%s", s, v.out)
	}
	details := strings.Join(s.Details, "\n")
	for _, w := range []string{
		"postfix-mailcow: REJECTED by postfix check of a copy of /opt/postfix/conf, main.cf rebuilt with extra.cf from standard input (exit 1)",
		`missing '=' after attribute name: "relayhost_typo ` + secret.Redacted,
		"postfix-mailcow: rolled back patch bad-postfix: " + extraCF + " as before the patch",
		"postfix-mailcow: passed without patch bad-postfix",
		"rspamd-mailcow: REJECTED by rspamadm configtest of a copy of /etc/rspamd, the changed files from standard input (exit 1)",
		"ucl parser error",
		"rspamd-mailcow: rolled back patch bad-rspamd: " + greylist,
		"php-fpm-mailcow: REJECTED by php-fpm -t of a copy of /usr/local/etc, pools.conf from standard input (exit 78)",
		"pm.max_children must be a positive value",
		"php-fpm-mailcow: rolled back patch bad-phpfpm: " + poolsConf,
	} {
		if !strings.Contains(details, w) {
			t.Errorf("the report's validate step lacks %q:\n%s", w, details)
		}
	}
	if want := []string{"bad-phpfpm", "bad-postfix", "bad-rspamd"}; !equal(r.RolledBack, want) {
		t.Errorf("report rolled_back %q, want %q", r.RolledBack, want)
	}
	var verdicts []string
	for _, c := range r.Checks {
		verdicts = append(verdicts, c.Service+"="+string(c.Verdict))
	}
	if want := []string{"php-fpm-mailcow=rejected", "php-fpm-mailcow=passed", "postfix-mailcow=rejected", "postfix-mailcow=passed", "rspamd-mailcow=rejected", "rspamd-mailcow=passed"}; !equal(verdicts, want) {
		t.Errorf("report checks %q, want %q", verdicts, want)
	}
	data, _ := os.ReadFile(filepath.Join(v.env.State.Path, state.LastReportName("apply")))
	if bytes.Contains(data, []byte(dbPassword)) || strings.Contains(v.out.String(), dbPassword) {
		t.Errorf("mailcow.conf's DBPASS is in the report or the output")
	}

	// A second apply re-applies the bad patches, and rolls them back again.
	v.out.Reset()
	if _, err := Apply(context.Background(), v.env, PostOptions{}); !errors.Is(err, ErrRejected) {
		t.Fatalf("second apply: %v", err)
	}
	for _, f := range []string{greylist, poolsConf} {
		if got := v.read(t, f); got != before[f] {
			t.Errorf("second apply: %s not as before the patch", f)
		}
	}
}

// TestValidateRecheckAfterRollback: a patch that changes two services'
// files, one of which rejects it, is rolled back whole; the other
// service, checked before the rollback and still restarted for another
// patch, is checked again on what it will load.
func TestValidateRecheckAfterRollback(t *testing.T) {
	v := newValidateSetup(t, "postfix-mailcow php-fpm-mailcow", "postfix-mailcow", "php-fpm-mailcow")
	v.env.Config.Enabled = []string{"php-memory-limit", "two-services"}
	v.env.Config.Params["php-memory-limit"] = map[string]string{"MEMORY_LIMIT": "2048M"}
	before := v.read(t, poolsConf)
	if _, err := Apply(context.Background(), v.env, PostOptions{}); !errors.Is(err, ErrRejected) {
		t.Fatalf("apply: %v\n%s", err, v.out)
	}
	pools := v.read(t, poolsConf)
	if strings.Contains(pools, "pm.max_children = 70") || !strings.Contains(pools, "php_admin_value[memory_limit] = 2048M") || pools == before {
		t.Errorf("pools.conf: want php-memory-limit's change and not two-services':\n%s", pools)
	}
	if want := []string{"docker compose restart php-fpm-mailcow"}; !equal(v.restarts(t), want) {
		t.Errorf("restarts %q, want %q", v.restarts(t), want)
	}
	r := v.report(t, "apply")
	var verdicts []string
	for _, c := range r.Checks {
		verdicts = append(verdicts, c.Service+"="+string(c.Verdict))
	}
	if want := []string{"php-fpm-mailcow=passed", "postfix-mailcow=rejected", "postfix-mailcow=passed", "php-fpm-mailcow=passed"}; !equal(verdicts, want) {
		t.Errorf("checks %q, want %q", verdicts, want)
	}
	if s := stepOf(r, "validate"); s == nil || !strings.Contains(strings.Join(s.Details, "\n"), "php-fpm-mailcow: passed again after the rollback") {
		t.Errorf("validate step: %+v", s)
	}
}

// TestValidateCannotRun: a container that is not running (rspamd) or a
// checker missing in it (php-fpm, exit 127) blocks nothing: the service
// restarts as without the check, with a warning saying why.
func TestValidateCannotRun(t *testing.T) {
	v := newValidateSetup(t, "postfix-mailcow php-fpm-mailcow sogo-mailcow", "postfix-mailcow")
	v.env.Config.Enabled = []string{"postfix-ipv4-outbound", "bad-rspamd", "bad-phpfpm"}
	before := v.read(t, poolsConf)
	if _, err := Apply(context.Background(), v.env, PostOptions{}); err != nil {
		t.Fatalf("apply: %v\n%s", err, v.out)
	}
	if v.read(t, poolsConf) == before {
		t.Error("bad-phpfpm was rolled back though its check could not run")
	}
	want := []string{"docker compose restart php-fpm-mailcow postfix-mailcow rspamd-mailcow"}
	if got := v.restarts(t); !equal(got, want) {
		t.Errorf("restarts:\n  got  %q\n  want %q", got, want)
	}
	s := stepOf(v.report(t, "apply"), "validate")
	if s == nil || s.Status != StatusWarning {
		t.Fatalf("validate step: %+v\n%s", s, v.out)
	}
	details := strings.Join(s.Details, "\n")
	for _, w := range []string{
		"postfix-mailcow: passed: postfix check of a copy",
		"rspamd-mailcow: could not run rspamadm configtest of a copy of /etc/rspamd, the changed files from standard input: the container is not running: restarted as without the check",
		"php-fpm-mailcow: could not run php-fpm -t of a copy",
		"the checker is missing or cannot be run in the container (exit 127): restarted as without the check",
	} {
		if !strings.Contains(details, w) {
			t.Errorf("the validate step lacks %q:\n%s", w, details)
		}
	}
}

// TestValidateDryRun: apply --dry-run --validate writes nothing; the
// postfix check sees the extra.cf the run would write (on its standard
// input), rspamd's the greylist.conf (in a tar archive on its standard
// input), and both reject them.
func TestValidateDryRun(t *testing.T) {
	v := newValidateSetup(t, "postfix-mailcow rspamd-mailcow", "postfix-mailcow", "rspamd-mailcow")
	v.env.Config.Enabled = []string{"bad-postfix", "bad-rspamd"}
	v.env.DryRun, v.env.Sys, v.env.State.ReadOnly = true, &fsx.Recorder{}, true
	before := map[string]string{greylist: v.read(t, greylist), extraCF: v.read(t, extraCF)}
	_, err := Apply(context.Background(), v.env, PostOptions{Validate: true})
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("dry run: %v, want ErrRejected\n%s", err, v.out)
	}
	if v.read(t, extraCF) != before[extraCF] {
		t.Error("the dry run wrote extra.cf")
	}
	if v.read(t, greylist) != before[greylist] {
		t.Error("the dry run wrote greylist.conf")
	}
	if got := v.restarts(t); len(got) != 0 {
		t.Errorf("the dry run restarted: %q", got)
	}
	out := v.out.String()
	for _, w := range []string{
		"postfix-mailcow: REJECTED by postfix check of a copy",
		"relayhost_typo " + secret.Redacted,
		"rspamd-mailcow: REJECTED by rspamadm configtest of a copy of /etc/rspamd, the changed files from standard input",
		"local.d/greylist.conf:6 unmatched open brace",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("the dry run's output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "as they are now") || strings.Contains(out, "could not see") {
		t.Errorf("the dry run says a check could not see a file both checks take:\n%s", out)
	}

	// Without --validate a dry run checks nothing.
	v.out.Reset()
	if _, err := Apply(context.Background(), v.env, PostOptions{}); err != nil {
		t.Fatalf("dry run without --validate: %v", err)
	}
	if strings.Contains(v.out.String(), "validate") {
		t.Errorf("a dry run without --validate ran the checks:\n%s", v.out)
	}
}

// BenchmarkApplyValidate measures what the configuration checks add to
// apply (the post hook's patches, validate and restart steps) when the
// patches changed the files of three services (postfix, rspamd, php-fpm):
// off; on, with a fake docker whose checkers exit 0 at once (mcupdate's
// own cost: one compose ps and one compose exec per service); on, with
// the fake running the real checkers (Debian's postfix, rspamadm,
// php-fpm; inside mailcow's containers they cost about the same, plus
// docker exec's own start).
//
//	go test -run '^$' -bench ApplyValidate -count 3 ./cmd/internal/hook
func BenchmarkApplyValidate(b *testing.B) {
	for _, mode := range []struct {
		name     string
		validate bool
		stub     bool
	}{{"off", false, false}, {"stub-checkers", true, true}, {"real-checkers", true, false}} {
		b.Run(mode.name, func(b *testing.B) {
			v := newValidateSetup(b, "postfix-mailcow rspamd-mailcow php-fpm-mailcow", "postfix-mailcow", "rspamd-mailcow", "php-fpm-mailcow")
			if mode.stub {
				for _, svc := range []string{"postfix-mailcow", "rspamd-mailcow", "php-fpm-mailcow"} {
					if err := os.WriteFile(filepath.Join(v.root, "checkers", svc), []byte("#!/bin/sh\ncat > /dev/null\n"), 0o755); err != nil {
						b.Fatal(err)
					}
				}
			}
			v.env.Config.Validate = mode.validate
			v.env.Config.Enabled = []string{"postfix-ipv4-outbound", "php-memory-limit", "greylist-off"}
			v.env.Config.Params["php-memory-limit"] = map[string]string{"MEMORY_LIMIT": "2048M"}
			files := map[string]string{}
			for _, f := range []string{extraCF, greylist, poolsConf, "data/conf/phpfpm/php-conf.d/other.ini"} {
				files[f] = v.read(b, f)
			}
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				gittest.WriteFiles(b, v.dir, files)
				v.out.Reset()
				b.StartTimer()
				r, err := Apply(ctx, v.env, PostOptions{})
				if err != nil {
					b.Fatalf("apply: %v\n%s", err, v.out)
				}
				if n := len(r.Checks); mode.validate && n != 3 {
					b.Fatalf("%d checks, want 3\n%s", n, v.out)
				}
				if i == b.N-1 {
					for _, c := range r.Checks {
						b.ReportMetric(float64(c.Millis), c.Service+"-ms")
					}
				}
			}
		})
	}
}

// TestUnseenFiles: a dry run names the changed files a service's check
// does not take in the run's version (dovecot's check reads its files
// as they are).
func TestUnseenFiles(t *testing.T) {
	res := &patch.Result{Patches: []patch.PatchResult{
		{Name: "a", Changed: []string{"data/conf/rspamd/local.d/greylist.conf", "data/conf/rspamd/rspamd.conf.local"}, Services: []string{"rspamd-mailcow"}},
		{Name: "b", Changed: []string{"data/conf/dovecot/conf.d/fts.conf"}, Services: []string{"dovecot-mailcow"}},
		{Name: "c", Changed: []string{"data/conf/rspamd/local.d/x.conf"}, Services: []string{"rspamd-mailcow"}, Err: errors.New("failed")},
	}}
	d := validate.Defaults()
	if got := changedFiles(res, "rspamd-mailcow"); strings.Join(got, " ") != "data/conf/rspamd/local.d/greylist.conf data/conf/rspamd/rspamd.conf.local" {
		t.Errorf("changedFiles(rspamd) = %q", got)
	}
	if got := unseenFiles(res, "rspamd-mailcow", d["rspamd-mailcow"]); len(got) != 0 {
		t.Errorf("unseen for rspamd: %q", got)
	}
	if got := unseenFiles(res, "dovecot-mailcow", d["dovecot-mailcow"]); strings.Join(got, " ") != "data/conf/dovecot/conf.d/fts.conf" {
		t.Errorf("unseen for dovecot: %q", got)
	}
}
