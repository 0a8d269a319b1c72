package hook

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/risk"
	"github.com/mcupdate/mcupdate/cmd/internal/updatesh"
	"github.com/mcupdate/mcupdate/cmd/internal/upstreamtest"
)

// runbookConfig is an admin's runbook as enabled patches (issue 12):
// PHP memory, the pool size, an internal relay network, SOGo workers and
// memory, postfix over IPv4, one 50M limit across postfix, rspamd and
// clamd, greylisting off.
const runbookConfig = `[patches]
enable = php-memory-limit php-fpm-pool-size rspamd-local-addrs sogo-workers postfix-ipv4-outbound message-size-limit greylist-off
[patch php-memory-limit]
MEMORY_LIMIT = 2048M
[patch php-fpm-pool-size]
MAX_CHILDREN = 40
[patch rspamd-local-addrs]
LOCAL_ADDRS = 10.20.30.0/24
[patch sogo-workers]
WORKERS = 30
VMEM_LIMIT = 1024
[patch message-size-limit]
MESSAGE_SIZE = 50M
`

// TestRiskCorpus is the labelled corpus of issue 12: the real upstream
// files of every release in ../shared/upstream, an install customized as
// a real admin's runbook describes (the patches above, plus mem_limit
// under dovecot-mailcow's image: in docker-compose.yml), updated release
// after release with update.sh's git steps and the hooks. Every real loss
// (a customization line gone from its file after the post hook, checked
// on the files, not through mcupdate) must be HIGH, and every HIGH
// finding must be one the labels say needs action.
func TestRiskCorpus(t *testing.T) {
	upDir := upstreamtest.Dir(t)
	tags := corpusTags(t, upDir)
	root := t.TempDir()
	up, inst := filepath.Join(root, "upstream"), filepath.Join(root, "mailcow")
	gittest.Init(t, up)
	for _, tag := range tags {
		loadRelease(t, filepath.Join(upDir, tag), up)
		// Every file here is tracked upstream, some under an ignore
		// pattern (rspamd local.d): add them as upstream has them.
		gittest.Git(t, up, "add", "-A", "-f")
		gittest.Git(t, up, "commit", "-q", "--allow-empty", "-m", "mailcow "+tag)
		gittest.Git(t, up, "tag", tag)
	}
	gittest.Git(t, root, "clone", "-q", up, inst)
	gittest.Git(t, inst, "checkout", "-q", "-B", "master", tags[0])
	gittest.WriteFiles(t, inst, map[string]string{"mailcow.conf": "MAILCOW_HOSTNAME=mail.example.org\nDBPASS=corpus-secret-1\n"})
	cfg, err := config.Parse(filepath.Join(root, "mcupdate.ini"), []byte(runbookConfig))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	env := hookTestEnv(t, root, inst, cfg, &out)
	t.Setenv("PATH", fakeDockerDir(t)+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("COLUMNS", "80")
	ctx := context.Background()
	if _, err := Apply(ctx, env(), PostOptions{NoRestart: true}); err != nil {
		t.Fatalf("apply the runbook's patches at %s: %v\n%s", tags[0], err, out.String())
	}
	addMemLimit(t, inst)

	var high, act, losses, found int
	for i, tag := range tags[1:] {
		out.Reset()
		hadLine := strings.Contains(readString(t, inst, "docker-compose.yml"), "mem_limit: 4g")
		gittest.Git(t, inst, "update-ref", "refs/remotes/origin/master", gittest.Git(t, inst, "rev-parse", tag+"^{commit}"))
		if _, err := Pre(ctx, env()); err != nil {
			t.Logf("%s: pre hook: %v", tag, err)
		}
		if _, err := updatesh.Run(inst, updatesh.Options{Target: "origin/master", Date: tag, Env: gittest.Env()}); err != nil {
			t.Fatalf("%s: update.sh's steps: %v", tag, err)
		}
		_, postErr := Post(ctx, env(), PostOptions{NoRestart: true})
		var rj struct {
			Findings []struct{ Risk, File, Reason string }
		}
		b, err := os.ReadFile(filepath.Join(root, "state", RiskFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rj); err != nil {
			t.Fatal(err)
		}
		lost := hadLine && !strings.Contains(readString(t, inst, "docker-compose.yml"), "mem_limit: 4g")
		// The post hook's risk section fits one screen at 80 columns.
		section := riskSection(out.String())
		if n := strings.Count(section, "\n"); n > 25 || n == 0 {
			t.Errorf("%s: the post hook's risk section has %d lines:\n%s", tag, n, section)
		}
		for _, l := range strings.Split(section, "\n") {
			if len([]rune(l)) > 80 {
				t.Errorf("%s: line wider than 80 columns: %q", tag, l)
			}
		}
		var highs []string
		for _, f := range rj.Findings {
			if f.Risk == risk.High.String() {
				highs = append(highs, f.File+": "+f.Reason)
			}
		}
		t.Logf("%s → %s: post hook err %v; lost compose line %v; HIGH %q", tags[i], tag, postErr, lost, highs)
		high += len(highs)
		if lost {
			losses++
			if hasPrefix(highs, "docker-compose.yml: local change dropped by the merge") {
				found++
			} else {
				t.Errorf("%s: the merge dropped mem_limit and no HIGH finding says so: %q", tag, highs)
			}
			addMemLimit(t, inst) // the admin puts it back, as verify demands
			gittest.Git(t, inst, "commit", "-q", "-am", "mem_limit again")
		}
		// Ground truth for the patched settings: after the post hook,
		// every patch is in place, or its files have a HIGH finding.
		bound, _, err := env().LoadPatches()
		if err != nil {
			t.Fatal(err)
		}
		res, _ := patch.Apply(fsx.Real{}, inst, bound, patch.ModeCheck)
		drifted := map[string]bool{}
		for _, pr := range res.Patches {
			for _, e := range pr.Edits {
				if e.State != patch.StateAlreadyApplied {
					drifted[e.File] = true
					losses++
					if hasPrefix(highs, e.File+": ") {
						found++
					} else {
						t.Errorf("%s: patch %s is not in place in %s and no HIGH finding says so: %q", tag, pr.Name, e.File, highs)
					}
				}
			}
		}
		for _, h := range highs {
			file, _, _ := strings.Cut(h, ": ")
			if strings.HasPrefix(h, "docker-compose.yml: local change dropped by the merge") && lost || drifted[file] {
				act++
			}
		}
	}
	t.Logf("corpus: %d updates, %d HIGH findings, %d need action; %d real losses, %d found", len(tags)-1, high, act, losses, found)
	if losses == 0 {
		t.Fatal("the corpus lost nothing: it no longer tests recall")
	}
	if found != losses {
		t.Errorf("recall %d/%d", found, losses)
	}
	if high > 0 && act*10 < high*9 {
		t.Errorf("precision %d/%d HIGH findings need action, want >= 90%%", act, high)
	}
}

// riskSection is the post hook's risk diff in its output: from "risk
// diff:" to the risk step's own line.
func riskSection(out string) string {
	i := strings.Index(out, "risk diff:")
	if i < 0 {
		return ""
	}
	rest := out[i:]
	if j := strings.Index(rest, "\n  risk "); j >= 0 {
		rest = rest[:j+1]
	}
	return rest
}

func hasPrefix(ss []string, p string) bool {
	for _, s := range ss {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// addMemLimit puts mem_limit: 4g under dovecot-mailcow's image: line, in
// the file's own indentation.
func addMemLimit(t *testing.T, dir string) {
	t.Helper()
	p := filepath.Join(dir, "docker-compose.yml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var outb strings.Builder
	in, done := false, false
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		outb.WriteString(l + "\n")
		trim := strings.TrimSpace(l)
		if trim == "dovecot-mailcow:" {
			in = true
			continue
		}
		if in && !done && strings.HasPrefix(trim, "image:") {
			outb.WriteString(l[:len(l)-len(strings.TrimLeft(l, " "))] + "mem_limit: 4g\n")
			done = true
		}
	}
	if !done {
		t.Fatal("no image: line under dovecot-mailcow")
	}
	if err := os.WriteFile(p, []byte(outb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readString(t *testing.T, dir, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func corpusTags(t *testing.T, upDir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(upDir, "TAGS"))
	if err != nil {
		t.Skipf("no TAGS in %s: %v", upDir, err)
	}
	var tags []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			tags = append(tags, f[0])
		}
	}
	return tags
}

// loadRelease makes dst's work tree (less .git) the release's files.
func loadRelease(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != ".git" {
			if err := os.RemoveAll(filepath.Join(dst, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "dot.gitignore" {
			rel = ".gitignore"
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(fmt.Errorf("load %s: %w", src, err))
	}
}
