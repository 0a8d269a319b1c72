package hooks_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"io/fs"

	"github.com/mcupdate/mcupdate/fixtures"
)

// TestUninstallRevert: install mcupdate (the real binary) on a clean
// checkout of a mailcow release, enable every shipped patch and apply
// them; `install.sh --uninstall --revert` then leaves the tracked files as
// `git status` and `git diff` showed them before mcupdate, keeps the
// admin's own edit, removes the map file a patch created, and says what it
// left in place. A plain --uninstall says the patches' edits stay.
func TestUninstallRevert(t *testing.T) {
	if testing.Short() {
		t.Skip("builds mcupdate")
	}
	f := newFixture(t, false)
	repo := repoRoot(t)
	build := exec.Command("go", "build", "-o", filepath.Join(f.src, "mcupdate"), "./cmd/mcupdate")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// A clean checkout of the first release, and the admin's own files.
	up := filepath.Join(f.root, "upstream")
	firstRelease(t, up)
	if err := os.RemoveAll(f.mailcow); err != nil {
		t.Fatal(err)
	}
	git(t, f.root, "clone", "-q", up, f.mailcow)
	writeFile(t, filepath.Join(f.mailcow, "mailcow.conf"), "MAILCOW_HOSTNAME=mail.example.org\nDBPASS=FAKEdbpass0000\n", 0o600)
	writeFile(t, filepath.Join(f.mailcow, "data/conf/postfix/extra.cf"), "# mine\nsmtpd_banner = $myhostname ESMTP\n", 0o644)
	// The admin's own edit of a tracked file a patch edits too.
	pools := filepath.Join(f.mailcow, "data/conf/phpfpm/php-fpm.d/pools.conf")
	writeFile(t, pools, "; my note\n"+readFile(t, pools), 0o644)
	gitOut := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", f.mailcow}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	state := func() string {
		return gitOut("status", "--porcelain", "--untracked-files=no") + gitOut("diff")
	}
	before := state()

	f.mustInstall(t, f.installArgs()...)
	cfg := `[patches]
enable = php-memory-limit php-fpm-pool-size fts-heap rspamd-local-addrs rspamd-ip-whitelist postfix-ipv4-outbound sogo-workers greylist-off twig-cache-perms message-size-limit
[patch php-memory-limit]
MEMORY_LIMIT = 2048M
[patch php-fpm-pool-size]
MAX_CHILDREN = 80
[patch fts-heap]
FTS_HEAP = 1024
[patch rspamd-local-addrs]
LOCAL_ADDRS = 10.0.0.0/8
[patch rspamd-ip-whitelist]
IPS = 192.0.2.10
[patch sogo-workers]
WORKERS = 20
VMEM_LIMIT = 512
[patch message-size-limit]
MESSAGE_SIZE = 50M
`
	writeFile(t, f.config(), cfg, 0o600)
	dj := filepath.Join(f.root, "docker", "daemon.json")
	writeFile(t, dj, "{\"log-driver\": \"local\", \"ipv6\": true}\n", 0o644)
	writeFile(t, dj+".mcupdate-20260701T120000Z.bak", "{\"log-driver\": \"local\"}\n", 0o644)
	env := []string{"MCUPDATE_DAEMON_JSON=" + dj, "NO_COLOR=1"}
	a := run(t, f.mailcow, env, f.bin(), "--mailcow-dir", f.mailcow, "--config", f.config(), "--state-dir", f.stateDir, "apply", "--no-restart")
	if a.code != 0 {
		t.Fatalf("mcupdate apply: exit %d\n%s\n%s", a.code, a.stdout, a.stderr)
	}
	if state() == before {
		t.Fatal("the patches changed no tracked file")
	}
	mapFile := filepath.Join(f.mailcow, "data/conf/rspamd/custom/mcupdate_local_addrs.map")
	if _, err := os.Stat(mapFile); err != nil {
		t.Fatalf("no map file: %v", err)
	}

	r := f.install(t, "--uninstall", "--revert", "--mailcow-dir", f.mailcow, "--state-dir", f.stateDir, "--daemon-json", dj)
	if r.code != 0 {
		t.Fatalf("--uninstall --revert: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if after := state(); after != before {
		t.Errorf("tracked files after --uninstall --revert:\n%s\nbefore mcupdate:\n%s\noutput:\n%s", after, before, r.stdout)
	}
	if _, err := os.Stat(mapFile); !os.IsNotExist(err) {
		t.Errorf("the map file is still there: %v", err)
	}
	if got := readFile(t, filepath.Join(f.mailcow, "data/conf/postfix/extra.cf")); got != "# mine\nsmtpd_banner = $myhostname ESMTP\n" {
		t.Errorf("extra.cf: %q", got)
	}
	checkContains(t, "stdout", r.stdout, "reverted data/conf/phpfpm/php-fpm.d/pools.conf",
		"as it is; its original before mcupdate: cp -p "+dj+".mcupdate-20260701T120000Z.bak "+dj)
	if got := readFile(t, dj); !strings.Contains(got, "ipv6") {
		t.Errorf("daemon.json was put back without asking: %q", got)
	}
	checkMissing(t, f.bin(), f.hook("pre"), f.hook("post"))
}

// TestUninstallSaysWhatItLeaves: a plain --uninstall names the patches'
// edits and daemon.json's IPv6 keys it leaves in place.
func TestUninstallSaysWhatItLeaves(t *testing.T) {
	f := newFixture(t, true)
	f.mustInstall(t, f.installArgs()...)
	dj := filepath.Join(f.root, "daemon.json")
	writeFile(t, dj, "{\"ipv6\": true}\n", 0o644)
	writeFile(t, dj+".mcupdate-20260701T120000Z.bak", "{}\n", 0o644)
	r := f.install(t, "--uninstall", "--mailcow-dir", f.mailcow, "--state-dir", f.stateDir, "--daemon-json", dj)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	checkContains(t, "stdout", r.stdout,
		"left in place: the enabled patches' edits in "+f.mailcow+"'s files (install.sh --uninstall --revert takes them out)",
		"left in place: the IPv6 keys mcupdate's pre hook added to "+dj+" (original: "+dj+".mcupdate-20260701T120000Z.bak)")
	if r := f.install(t, "--revert", "--mailcow-dir", f.mailcow); r.code != 2 || !strings.Contains(r.stderr, "--revert only goes with --uninstall") {
		t.Errorf("--revert without --uninstall: exit %d, %q", r.code, r.stderr)
	}
}

// firstRelease makes dir a one-commit repository of the fixtures' first
// upstream release (the package that builds the whole history is internal
// to cmd/, out of this package's reach).
func firstRelease(t *testing.T, dir string) {
	t.Helper()
	root := "upstream/2026-01"
	err := fs.WalkDir(fixtures.FS, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fixtures.FS.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, root+"/")
		if rel == "dot.gitignore" {
			rel = ".gitignore"
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(rel, ".sh") {
			mode = 0o755
		}
		writeFile(t, filepath.Join(dir, rel), string(data), mode)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	git(t, dir, "init", "-q", "-b", "master")
	git(t, dir, "add", "-A", "-f", ".") // tracked yet matching .gitignore, as in mailcow
	git(t, dir, "-c", "user.name=mailcow", "-c", "user.email=info@mailcow.example", "commit", "-q", "-m", "2026-01")
}
