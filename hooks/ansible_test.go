package hooks_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const playbook = "mcupdate-rollout.yml"

// TestPlaybookKeepsTheRolloutRules reads the shipped playbook: one host at
// a time, the first failure stops the rollout, update.sh runs with
// --force, verify runs after it, and the reports are fetched also when a
// step failed.
func TestPlaybookKeepsTheRolloutRules(t *testing.T) {
	data, err := os.ReadFile(playbook)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, want := range []string{
		"\n  hosts: mailcow\n", "\n  serial: 1\n", "\n  max_fail_percentage: 0\n", "\n  any_errors_fatal: true\n",
		"update_sh_args | default(['--force'])", "argv: \"{{ ['./update.sh'] + _update_args }}\"",
		"- verify\n", "ansible.builtin.fetch:", "last-post.json", "install.sh",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %q", playbook, want)
		}
	}
	// The fetches are in the always: of the block that runs update.sh and
	// verify, so a failing host's reports come back too.
	upd, always, fetch := strings.Index(s, "./update.sh'"), strings.LastIndex(s, "      always:\n"), strings.Index(s, "ansible.builtin.fetch:")
	if upd < 0 || always < upd || fetch < always {
		t.Errorf("the reports are not fetched in the always: after update.sh and verify")
	}
}

// ansiblePlaybook returns the ansible-playbook command, or skips: .ci/run
// installs it from the distribution's packages.
func ansiblePlaybook(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ansible-playbook")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ansible-playbook not on PATH: .ci/run installs it (apt-get install ansible-core)")
		}
		t.Skip("ansible-playbook not on PATH (apt-get install ansible-core)")
	}
	return p
}

func ansibleEnv(root string) []string {
	return []string{
		"HOME=" + root, "PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8",
		"ANSIBLE_LOCAL_TEMP=" + filepath.Join(root, "ansible-tmp"),
		"ANSIBLE_REMOTE_TEMP=" + filepath.Join(root, "ansible-tmp"),
		"ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=0", "ANSIBLE_HOST_KEY_CHECKING=0",
		"ANSIBLE_PYTHON_INTERPRETER=auto_silent",
	}
}

func TestPlaybookSyntax(t *testing.T) {
	ap := ansiblePlaybook(t)
	root := t.TempDir()
	inv := filepath.Join(root, "inventory")
	writeFile(t, inv, "[mailcow]\nmx1 ansible_connection=local\n", 0o644)
	pb, err := filepath.Abs(playbook)
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, root, ansibleEnv(root), ap, "-i", inv, "--syntax-check", pb)
	if r.code != 0 {
		t.Fatalf("ansible-playbook --syntax-check: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestPlaybookStopsAtFirstFailure rolls an update out to three scratch
// installs on localhost (the real install.sh and mcupdate, a stand-in
// update.sh that runs the hooks as update.sh does, the fake docker): the
// first is updated and verified, the second's verify fails (its
// mcupdate.ini expects another branch), and the third is never touched.
// The first two hosts' reports are fetched.
func TestPlaybookStopsAtFirstFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("builds mcupdate and runs ansible")
	}
	ap := ansiblePlaybook(t)
	root := t.TempDir()
	repo := repoRoot(t)
	src := filepath.Join(root, "src")
	copyFile(t, filepath.Join(repo, "install.sh"), filepath.Join(src, "install.sh"), 0o755)
	copyFile(t, filepath.Join(repo, "hooks", "mcupdate.ini"), filepath.Join(src, "hooks", "mcupdate.ini"), 0o644)
	copyFile(t, filepath.Join(repo, "hooks", "update_hook.sh.in"), filepath.Join(src, "hooks", "update_hook.sh.in"), 0o644)
	copyFile(t, filepath.Join(repo, "hooks", playbook), filepath.Join(src, "hooks", playbook), 0o644)
	build := exec.Command("go", "build", "-o", filepath.Join(src, "mcupdate"), "./cmd/mcupdate")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	bin := filepath.Join(root, "bin")
	writeFile(t, filepath.Join(bin, "docker"), "#!/bin/sh\necho \"docker $*\" >> \""+filepath.Join(root, "docker.log")+"\"\n[ \"$1\" = version ] && echo 28.2.2\nexit 0\n", 0o755)

	// The upstream every host's install was cloned from: update.sh's
	// hook calls, and nothing else.
	upstream := filepath.Join(root, "upstream")
	writeFile(t, filepath.Join(upstream, ".gitignore"), "mailcow.conf\n", 0o644)
	writeFile(t, filepath.Join(upstream, "update.sh"), `#!/bin/bash
SCRIPT_DIR="$( cd "$( dirname "${BASH_SOURCE[0]}" )" && pwd )"
[ -f "${SCRIPT_DIR}/pre_update_hook.sh" ] && bash "${SCRIPT_DIR}/pre_update_hook.sh"
echo "update.sh $* in $PWD" >> "${SCRIPT_DIR}/../update.log"
[ -f "${SCRIPT_DIR}/post_update_hook.sh" ] && bash "${SCRIPT_DIR}/post_update_hook.sh"
exit 0
`, 0o755)
	git(t, upstream, "init", "-q", "-b", "master")
	git(t, upstream, "add", "-A")
	git(t, upstream, "-c", "user.name=a", "-c", "user.email=a@example.org", "commit", "-q", "-m", "release")

	var inv strings.Builder
	inv.WriteString("[mailcow]\n")
	type host struct{ name, dir, prefix, configDir, stateDir string }
	var hosts []host
	for i := 1; i <= 3; i++ {
		h := host{name: fmt.Sprintf("mx%d", i), dir: filepath.Join(root, fmt.Sprintf("mx%d", i), "mailcow-dockerized")}
		base := filepath.Dir(h.dir)
		h.prefix, h.configDir, h.stateDir = filepath.Join(base, "usr"), filepath.Join(base, "etc", "mcupdate"), filepath.Join(base, "state")
		git(t, root, "clone", "-q", upstream, h.dir)
		writeFile(t, filepath.Join(h.dir, "mailcow.conf"), "MAILCOW_HOSTNAME=mx.example.org\n", 0o600)
		writeFile(t, filepath.Join(base, "docker", "daemon.json"), "{\"ipv6\": true}\n", 0o644)
		if i == 2 {
			// verify's git check fails: the install is not on the expected branch.
			writeFile(t, filepath.Join(h.configDir, "mcupdate.ini"), "[general]\nbranch = nightly\n", 0o600)
		}
		fmt.Fprintf(&inv, "%s ansible_connection=local mailcow_dir=%s mcupdate_prefix=%s mcupdate_config_dir=%s mcupdate_state_dir=%s\n",
			h.name, h.dir, h.prefix, h.configDir, h.stateDir)
		hosts = append(hosts, h)
	}
	inv.WriteString("\n[mailcow:vars]\nmcupdate_become=false\n")
	invFile := filepath.Join(root, "inventory")
	writeFile(t, invFile, inv.String(), 0o644)
	extra := filepath.Join(root, "extra.yml")
	reports := filepath.Join(root, "reports")
	writeFile(t, extra, fmt.Sprintf(`mcupdate_src: %q
mcupdate_reports: %q
mcupdate_environment:
  PATH: %q
  MCUPDATE_DAEMON_JSON: "{{ mcupdate_state_dir }}/../docker/daemon.json"
  NO_COLOR: "1"
`, src, reports, bin+string(os.PathListSeparator)+os.Getenv("PATH")), 0o644)

	r := run(t, root, ansibleEnv(root), ap, "-i", invFile, "-e", "@"+extra, filepath.Join(src, "hooks", playbook))
	out := r.stdout + r.stderr
	if r.code == 0 {
		t.Fatalf("the rollout did not fail at mx2:\n%s", out)
	}
	// mx1: installed, updated, verified.
	if _, err := os.Stat(filepath.Join(hosts[0].dir, "pre_update_hook.sh")); err != nil {
		t.Errorf("mx1 not installed: %v\n%s", err, out)
	}
	for i, h := range hosts[:2] {
		if log, err := os.ReadFile(filepath.Join(filepath.Dir(h.dir), "update.log")); err != nil || !strings.Contains(string(log), "update.sh --force") {
			t.Errorf("%s: update.sh did not run with --force: %q %v", h.name, log, err)
		}
		for _, f := range []string{"last-pre.json", "last-post.json", "verify.json"} {
			if _, err := os.Stat(filepath.Join(reports, h.name, f)); err != nil {
				t.Errorf("%s's %s not fetched: %v", h.name, f, err)
			}
		}
		v, _ := os.ReadFile(filepath.Join(reports, h.name, "verify.json"))
		if ok := strings.Contains(string(v), `"ok": true`); ok != (i == 0) {
			t.Errorf("%s's verify report: ok %v:\n%s", h.name, ok, v)
		}
	}
	// mx3: never touched.
	if _, err := os.Stat(filepath.Join(hosts[2].dir, "pre_update_hook.sh")); err == nil {
		t.Errorf("mx3 was installed after mx2 failed:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(hosts[2].dir), "update.log")); err == nil {
		t.Errorf("mx3 was updated after mx2 failed:\n%s", out)
	}
	if !strings.Contains(out, "mx2") || !strings.Contains(out, "mcupdate verify") {
		t.Errorf("the output does not show mx2's failing verify:\n%s", out)
	}
}
