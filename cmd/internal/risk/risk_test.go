package risk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
)

const baseCompose = `services:
  unbound-mailcow:
    image: ghcr.io/mailcow/unbound:1.24.2-1
  mysql-mailcow:
    image: mariadb:10.11
    environment:
      - MYSQL_PASSWORD=${DBPASS}
  dovecot-mailcow:
    image: ghcr.io/mailcow/dovecot:2.3.21.1-1
    depends_on:
      - mysql-mailcow
    dns:
      - ${IPV4_NETWORK:-172.22.1}.254
    ports:
      - "${IMAP_PORT:-143}:143"
    volumes:
      - ./data/conf/dovecot:/etc/dovecot:z
  ofelia-mailcow:
    image: mcuadros/ofelia:latest
    depends_on:
      - dovecot-mailcow
`

const baseOptions = `local_addrs = [192.168.0.0/16, 10.0.0.0/8, 172.16.0.0/12];
dynamic_conf = "/etc/rspamd/dynmap.conf";
`

const baseMainCf = `smtpd_banner = $myhostname ESMTP
message_size_limit = 104857600
`

const conf = `# mailcow.conf
MAILCOW_HOSTNAME=mail.example.org
MAILCOW_PASS_SCHEME=BLF-CRYPT
DBNAME=mailcow
DBPASS=Sup3rS3cretPassw0rd
DBROOT=R00tPassw0rdValue
REDISPASS=RedisPassValue42
SKIP_CLAMD=n
`

const dbPass = "Sup3rS3cretPassw0rd"

// scenario is an upstream repository and a clone of it, the install,
// updated with update.sh's own git steps.
type scenario struct {
	up, inst string
	// afterUpdate, when set, runs after the merge: what the post hook's
	// patches do to the files.
	afterUpdate func(t *testing.T)
}

func newScenario(t *testing.T) *scenario {
	t.Helper()
	root := t.TempDir()
	s := &scenario{up: filepath.Join(root, "upstream"), inst: filepath.Join(root, "mailcow")}
	gittest.Init(t, s.up)
	gittest.Commit(t, s.up, "initial", map[string]string{
		".gitignore":                           "mailcow.conf\ndocker-compose.override.yml\ndata/conf/rspamd/override.d/\ndata/conf/postfix/extra.cf\n",
		"docker-compose.yml":                   baseCompose,
		"data/conf/rspamd/local.d/options.inc": baseOptions,
		"data/conf/postfix/main.cf":            baseMainCf,
		"data/conf/sogo/sogo.conf":             "WOWorkersCount = 5;\n",
		"data/web/index.php":                   "<?php echo 1;\n",
		"data/web/inc/a.php":                   "<?php\n",
	})
	gittest.Git(t, root, "clone", "-q", s.up, s.inst)
	gittest.WriteFiles(t, s.inst, map[string]string{"mailcow.conf": conf})
	return s
}

// edit replaces old with new in a file of dir, failing when old is absent
// so that a fixture cannot silently stop testing anything.
func edit(t *testing.T, dir, name, old, new string) {
	t.Helper()
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s: %q not found", name, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (s *scenario) upstream(t *testing.T, name, old, new string) {
	t.Helper()
	edit(t, s.up, name, old, new)
	gittest.Git(t, s.up, "commit", "-q", "-am", "upstream: "+name)
}

// update runs update.sh's git steps and returns the commit the pre hook
// would have recorded.
func (s *scenario) update(t *testing.T) string {
	t.Helper()
	recorded := gittest.Git(t, s.inst, "rev-parse", "HEAD")
	gittest.Git(t, s.inst, "add", "-u")
	// Exits 1 when there is nothing to commit; update.sh ignores that too.
	_, _ = gittest.Run(s.inst, nil, "commit", "-q", "-am", "Before update on 2026-07-01")
	gittest.Git(t, s.inst, "fetch", "-q", "origin")
	_, err := gittest.Run(s.inst, nil, "-c", "merge.defaultToUpstream=true", "merge", "-q", "-Xtheirs", "-Xpatience", "-m", "After update on 2026-07-01")
	if err != nil {
		// update.sh's answer to a modify/delete conflict: delete the
		// UD/DU files, add everything, commit.
		st := gittest.Git(t, s.inst, "status", "--porcelain")
		for _, l := range strings.Split(st, "\n") {
			if strings.HasPrefix(l, "UD ") || strings.HasPrefix(l, "DU ") {
				gittest.Git(t, s.inst, "rm", "-q", "-f", strings.TrimSpace(l[3:]))
			}
		}
		gittest.Git(t, s.inst, "add", "-A")
		gittest.Git(t, s.inst, "commit", "-q", "-m", "After update on 2026-07-01")
	}
	return recorded
}

func (s *scenario) read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.inst, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func find(r *Report, risk Risk, file, reason string) *Finding {
	for i, f := range r.Findings {
		if f.Risk == risk && f.File == file && strings.Contains(f.Reason, reason) {
			return &r.Findings[i]
		}
	}
	return nil
}

func dump(r *Report) string {
	var b bytes.Buffer
	_ = r.Render(&b, RenderOptions{})
	return b.String()
}

func analyze(t *testing.T, opt Options) *Report {
	t.Helper()
	r, err := Analyze(opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestClobberedHunk(t *testing.T) {
	tests := []struct {
		name     string
		restored bool // a patch put the line back in the working tree
	}{
		{"lost", false},
		{"restored by a patch", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScenario(t)
			s.upstream(t, "docker-compose.yml", "dovecot:2.3.21.1-1", "dovecot:2.3.21.1-2")
			edit(t, s.inst, "docker-compose.yml", "dovecot:2.3.21.1-1\n", "dovecot:2.3.21.1-1\n    mem_limit: 4g\n")
			s.update(t)
			if strings.Contains(s.read(t, "docker-compose.yml"), "mem_limit") {
				t.Fatal("precondition: -Xtheirs kept mem_limit; the fixture no longer clobbers")
			}
			if tt.restored {
				edit(t, s.inst, "docker-compose.yml", "dovecot:2.3.21.1-2\n", "dovecot:2.3.21.1-2\n    mem_limit: 4g\n")
			}
			r := analyze(t, Options{Dir: s.inst, PatchedFiles: map[string]bool{}})
			if r.BaseSource != SourceMerge || r.Before == "" || r.Before != r.Base {
				t.Errorf("base %s (%s), before %s", r.Base, r.BaseSource, r.Before)
			}
			f := find(r, High, "docker-compose.yml", "dropped by the merge")
			if tt.restored {
				if f != nil {
					t.Fatalf("restored line still reported lost:\n%s", dump(r))
				}
				return
			}
			if f == nil {
				t.Fatalf("no HIGH lost-hunk finding:\n%s", dump(r))
			}
			if len(f.Lost) != 1 || f.Lost[0] != "+    mem_limit: 4g" {
				t.Errorf("lost = %q", f.Lost)
			}
			if !strings.Contains(f.Diff, "-    mem_limit: 4g") || !strings.Contains(f.Diff, "+    image: ghcr.io/mailcow/dovecot:2.3.21.1-2") {
				t.Errorf("diff:\n%s", f.Diff)
			}
			// The three sides: upstream's own change has no line of the
			// admin's; the render labels each side.
			if !strings.Contains(f.UpstreamDiff, "-    image: ghcr.io/mailcow/dovecot:2.3.21.1-1") || strings.Contains(f.UpstreamDiff, "mem_limit") {
				t.Errorf("upstream diff:\n%s", f.UpstreamDiff)
			}
			var full strings.Builder
			if err := r.Render(&full, RenderOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"lost lines:\n  +    mem_limit: 4g\n", "upstream's change (the release you had → the new one):\n--- a/docker-compose.yml", "what the merge made of your version (- yours, + now):\n--- a/docker-compose.yml"} {
				if !strings.Contains(full.String(), want) {
					t.Errorf("render lacks %q:\n%s", want, full.String())
				}
			}
			if find(r, Medium, "docker-compose.yml", "1 image updated: dovecot 2.3.21.1-2") == nil {
				t.Errorf("no MEDIUM image change:\n%s", dump(r))
			}
		})
	}
}

func TestBase(t *testing.T) {
	tests := []struct {
		name     string
		local    bool   // the admin has a local edit, so update.sh merges
		recorded bool   // pass the recorded commit
		explicit string // --base
		want     BaseSource
	}{
		{"merge", true, true, "", SourceMerge},
		{"fast-forward with record", false, true, "", SourceRecorded},
		{"fast-forward without record", false, false, "", SourceOrigHead},
		{"explicit", false, true, "HEAD~2", SourceExplicit},
		{"nothing new upstream", true, true, "", SourceBeforeCommit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScenario(t)
			if tt.local {
				edit(t, s.inst, "data/conf/sogo/sogo.conf", "5", "10")
			}
			if tt.want != SourceBeforeCommit {
				// Two upstream commits, so HEAD~1 is not the pre-update state.
				s.upstream(t, "data/web/index.php", "1", "2")
				s.upstream(t, "data/web/inc/a.php", "<?php", "<?php // 2")
			}
			pre := s.update(t)
			opt := Options{Dir: s.inst, Base: tt.explicit}
			if tt.recorded {
				opt.Recorded = pre
			}
			r := analyze(t, opt)
			if r.BaseSource != tt.want {
				t.Errorf("base source %s, want %s", r.BaseSource, tt.want)
			}
			want := pre
			switch tt.want {
			case SourceMerge:
				want = gittest.Git(t, s.inst, "rev-parse", "HEAD^1")
			case SourceExplicit:
				want = gittest.Git(t, s.inst, "rev-parse", "HEAD~2")
			case SourceBeforeCommit:
				want = gittest.Git(t, s.inst, "rev-parse", "HEAD")
				if len(r.Findings) != 0 || len(r.Low) != 0 {
					t.Errorf("nothing merged, yet:\n%s", dump(r))
				}
				if r.Base != want {
					t.Errorf("base %s, want %s", r.Base, want)
				}
				return
			}
			if r.Base != want {
				t.Errorf("base %s, want %s", r.Base, want)
			}
			if tt.want != SourceExplicit && r.Base == gittest.Git(t, s.inst, "rev-parse", "HEAD~1") && !tt.local {
				t.Errorf("fast-forward compared against upstream's previous commit HEAD~1")
			}
			if tt.want != SourceExplicit && r.Low["data/web"] != 2 {
				t.Errorf("low = %v, want both upstream commits counted", r.Low)
			}
		})
	}
}

func TestFindings(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, s *scenario)
		oldConf string
		risk    Risk
		file    string
		reason  string
	}{
		{
			name: "renamed service in override",
			setup: func(t *testing.T, s *scenario) {
				gittest.WriteFiles(t, s.inst, map[string]string{OverrideFile: "services:\n  ofelia-mailcow:\n    environment:\n      - TZ=UTC\n"})
				s.upstream(t, "docker-compose.yml", "  ofelia-mailcow:", "  scheduler-mailcow:")
			},
			risk: High, file: OverrideFile, reason: "service ofelia-mailcow (line 2) was removed or renamed in docker-compose.yml by this update",
		},
		{
			name: "admin's own complete service is fine, new service",
			setup: func(t *testing.T, s *scenario) {
				gittest.WriteFiles(t, s.inst, map[string]string{OverrideFile: "services:\n  mine:\n    image: busybox\n"})
				s.upstream(t, "docker-compose.yml", "  ofelia-mailcow:", "  postfix-tlspol-mailcow:\n    image: ghcr.io/mailcow/postfix-tlspol:1.8\n  ofelia-mailcow:")
			},
			risk: Medium, file: "docker-compose.yml", reason: "new service postfix-tlspol-mailcow (image ghcr.io/mailcow/postfix-tlspol:1.8)",
		},
		{
			name: "rspamd override sets a setting upstream changed",
			setup: func(t *testing.T, s *scenario) {
				gittest.WriteFiles(t, s.inst, map[string]string{"data/conf/rspamd/override.d/options.inc": "dynamic_conf = \"/etc/rspamd/mine.conf\";\n"})
				s.upstream(t, "data/conf/rspamd/local.d/options.inc", "dynmap.conf", "dynmap2.conf")
			},
			risk: Medium, file: "data/conf/rspamd/override.d/options.inc",
			reason: `overrides settings upstream changed in data/conf/rspamd/local.d/options.inc: dynamic_conf upstream "/etc/rspamd/dynmap.conf" → "/etc/rspamd/dynmap2.conf", yours "/etc/rspamd/mine.conf"`,
		},
		{
			name: "rspamd override of a setting upstream removed",
			setup: func(t *testing.T, s *scenario) {
				gittest.WriteFiles(t, s.inst, map[string]string{"data/conf/rspamd/override.d/options.inc": "dynamic_conf = \"/etc/rspamd/mine.conf\";\n"})
				s.upstream(t, "data/conf/rspamd/local.d/options.inc", "dynamic_conf = \"/etc/rspamd/dynmap.conf\";\n", "")
			},
			risk: High, file: "data/conf/rspamd/override.d/options.inc",
			reason: "upstream removed a setting this file overrides from data/conf/rspamd/local.d/options.inc: dynamic_conf",
		},
		{
			name: "postfix extra.cf sets a setting upstream changed",
			setup: func(t *testing.T, s *scenario) {
				gittest.WriteFiles(t, s.inst, map[string]string{"data/conf/postfix/extra.cf": "message_size_limit = 52428800\n"})
				s.upstream(t, "data/conf/postfix/main.cf", "104857600", "209715200")
			},
			risk: Medium, file: "data/conf/postfix/extra.cf",
			reason: "overrides settings upstream changed in data/conf/postfix/main.cf: message_size_limit upstream 104857600 → 209715200, yours 52428800",
		},
		{
			name: "compose override sets a key upstream changed",
			setup: func(t *testing.T, s *scenario) {
				gittest.WriteFiles(t, s.inst, map[string]string{OverrideFile: "services:\n  dovecot-mailcow:\n    ports:\n      - \"1143:143\"\n"})
				s.upstream(t, "docker-compose.yml", `"${IMAP_PORT:-143}:143"`, `"${IMAP_PORT:-143}:143"`+"\n      - \"${IMAPS_PORT:-993}:993\"")
			},
			risk: Medium, file: OverrideFile, reason: "service dovecot-mailcow: ports changed upstream; the override sets it",
		},
		{
			name: "override does not parse",
			setup: func(t *testing.T, s *scenario) {
				gittest.WriteFiles(t, s.inst, map[string]string{OverrideFile: "services:\n  dovecot-mailcow:\n    mem_limit: 4g\n   dns: x\n"})
				s.upstream(t, "data/web/index.php", "1", "2")
			},
			risk: High, file: OverrideFile, reason: "does not parse, docker compose will refuse it: docker-compose.override.yml:1: did not find expected key",
		},
		{
			name: "ports change",
			setup: func(t *testing.T, s *scenario) {
				s.upstream(t, "docker-compose.yml", `"${IMAP_PORT:-143}:143"`, `"${IMAP_PORT:-143}:143"`+"\n      - \"${IMAPS_PORT:-993}:993\"")
			},
			risk: Medium, file: "docker-compose.yml", reason: "service dovecot-mailcow: ports +${IMAPS_PORT:-993}:993",
		},
		{
			name: "dns set in both files",
			setup: func(t *testing.T, s *scenario) {
				gittest.WriteFiles(t, s.inst, map[string]string{OverrideFile: "services:\n  dovecot-mailcow:\n    dns:\n      - 1.1.1.1\n"})
				s.upstream(t, "data/web/index.php", "1", "2")
			},
			risk: Medium, file: OverrideFile, reason: "service dovecot-mailcow (line 2) sets dns, and docker-compose.yml does too",
		},
		{
			name: "patched setting changed upstream",
			setup: func(t *testing.T, s *scenario) {
				s.upstream(t, "data/conf/sogo/sogo.conf", "5", "7")
				s.afterUpdate = func(t *testing.T) { edit(t, s.inst, "data/conf/sogo/sogo.conf", "7", "15") } // the patch re-applies 15
			},
			risk: Medium, file: "data/conf/sogo/sogo.conf", reason: "WOWorkersCount upstream 5 → 7, yours 15 (an enabled patch)",
		},
		{
			name: "patched setting removed upstream",
			setup: func(t *testing.T, s *scenario) {
				s.upstream(t, "data/conf/sogo/sogo.conf", "WOWorkersCount = 5;", "SOGoWorkers = 5;")
				s.afterUpdate = func(t *testing.T) {
					gittest.WriteFiles(t, s.inst, map[string]string{"data/conf/sogo/sogo.conf": "SOGoWorkers = 5;\nWOWorkersCount = 15;\n"})
				}
			},
			risk: High, file: "data/conf/sogo/sogo.conf", reason: "upstream removed a setting that an enabled patch sets: WOWorkersCount (was 5; yours 15, line 2)",
		},
		{
			name: "customized file deleted upstream",
			setup: func(t *testing.T, s *scenario) {
				edit(t, s.inst, "data/web/inc/a.php", "<?php", "<?php // mine")
				gittest.Git(t, s.up, "rm", "-q", "data/web/inc/a.php")
				gittest.Git(t, s.up, "commit", "-q", "-m", "drop a.php")
			},
			risk: High, file: "data/web/inc/a.php", reason: "deleted upstream",
		},
		{
			name: "mailcow.conf key added by update.sh",
			setup: func(t *testing.T, s *scenario) {
				gittest.WriteFiles(t, s.inst, map[string]string{"mailcow.conf": conf + "FTS_HEAP=128\n"})
			},
			oldConf: conf,
			risk:    Medium, file: "mailcow.conf", reason: "key added by the update: FTS_HEAP=128",
		},
		{
			name: "mailcow.conf key removed",
			setup: func(t *testing.T, s *scenario) {
				gittest.WriteFiles(t, s.inst, map[string]string{"mailcow.conf": strings.Replace(conf, "SKIP_CLAMD=n\n", "", 1)})
			},
			oldConf: conf,
			risk:    Medium, file: "mailcow.conf", reason: "key removed by the update: SKIP_CLAMD=n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScenario(t)
			tt.setup(t, s)
			s.update(t)
			if s.afterUpdate != nil {
				s.afterUpdate(t)
			}
			opt := Options{Dir: s.inst, PatchedFiles: map[string]bool{"data/conf/sogo/sogo.conf": true}}
			if tt.oldConf != "" {
				opt.OldMailcowConf = []byte(tt.oldConf)
			}
			r := analyze(t, opt)
			if find(r, tt.risk, tt.file, tt.reason) == nil {
				t.Fatalf("no %s finding for %s with %q:\n%s", tt.risk, tt.file, tt.reason, dump(r))
			}
			if tt.risk == High && r.Count(High) == 0 {
				t.Errorf("Count(High) = 0")
			}
		})
	}
}

func TestNoFalseAlarms(t *testing.T) {
	s := newScenario(t)
	// dns tagged !override replaces the base's list: nothing concatenated.
	gittest.WriteFiles(t, s.inst, map[string]string{OverrideFile: "services:\n  dovecot-mailcow:\n    mem_limit: 4g\n    dns: !override [1.1.1.1]\n"})
	edit(t, s.inst, "data/conf/rspamd/local.d/options.inc", "10.0.0.0/8", "10.0.0.0/8, 100.64.0.0/10")
	s.upstream(t, "data/web/index.php", "1", "2")
	s.upstream(t, "docker-compose.yml", "ofelia:latest", "ofelia:v3")
	s.update(t)
	r := analyze(t, Options{Dir: s.inst, OldMailcowConf: []byte(conf)})
	if n := r.Count(High); n != 0 {
		t.Errorf("%d HIGH findings, want none:\n%s", n, dump(r))
	}
	if n := r.Count(Medium); n != 1 || find(r, Medium, "docker-compose.yml", "1 image updated: ofelia v3") == nil {
		t.Errorf("want only the ofelia image change as MEDIUM:\n%s", dump(r))
	}
	if r.Low["data/web"] != 1 || r.Count(Low) != 1 {
		t.Errorf("low = %v", r.Low)
	}
}

func TestSecretsNeverShown(t *testing.T) {
	s := newScenario(t)
	// The admin hard-coded the password where upstream edits too, so the
	// merge drops it: it is then in the lost lines and in the diff.
	edit(t, s.inst, "docker-compose.yml", "MYSQL_PASSWORD=${DBPASS}", "MYSQL_PASSWORD="+dbPass)
	s.upstream(t, "docker-compose.yml", "    environment:\n      - MYSQL_PASSWORD=${DBPASS}", "    environment:\n      - TZ=${TZ}\n      - MYSQL_PASSWORD=${DBPASS}")
	// A LOW file whose diff holds the old password, for Full.
	s.upstream(t, "data/web/index.php", "echo 1;", "echo 1; // OldPassw0rdValue and "+dbPass)
	s.update(t)
	oldConf := strings.Replace(conf, dbPass, "OldPassw0rdValue", 1)
	r := analyze(t, Options{Dir: s.inst, OldMailcowConf: []byte(oldConf), PatchedFiles: map[string]bool{"data/web/index.php": true}})
	if find(r, High, "docker-compose.yml", "dropped by the merge") == nil {
		t.Fatalf("precondition: the planted line is not reported lost:\n%s", dump(r))
	}
	outputs := map[string]func() (string, error){
		"render": func() (string, error) {
			var b bytes.Buffer
			err := r.Render(&b, RenderOptions{Width: 200, Color: true})
			return b.String(), err
		},
		"full": func() (string, error) {
			var b bytes.Buffer
			err := r.Render(&b, RenderOptions{Full: true})
			return b.String(), err
		},
		"json": func() (string, error) {
			b, err := json.Marshal(r)
			return string(b), err
		},
		"json writer": func() (string, error) {
			var b bytes.Buffer
			err := r.WriteJSON(&b)
			return b.String(), err
		},
	}
	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			got, err := out()
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []string{dbPass, "OldPassw0rdValue", "R00tPassw0rdValue"} {
				if strings.Contains(got, v) {
					t.Errorf("%s shows secret %q:\n%s", name, v, got)
				}
			}
			if !strings.Contains(got, "redacted") {
				t.Errorf("%s has no %s, so the test did not exercise redaction:\n%s", name, "<redacted>", got)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	s := newScenario(t)
	s.upstream(t, "docker-compose.yml", "dovecot:2.3.21.1-1", "dovecot:2.3.21.1-2")
	edit(t, s.inst, "docker-compose.yml", "dovecot:2.3.21.1-1\n", "dovecot:2.3.21.1-1\n    mem_limit: 4g\n")
	s.update(t)
	r := analyze(t, Options{Dir: s.inst})
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		SchemaVersion int    `json:"schema"`
		BaseSource    string `json:"base_source"`
		Before        string `json:"before"`
		Findings      []struct {
			Risk, File, Reason, Diff string
			Lost                     []string
		} `json:"findings"`
		Counts map[string]int `json:"counts"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.SchemaVersion != SchemaVersion || got.BaseSource != "merge" || got.Before != r.Before || got.Counts["high"] != 1 || got.Counts["medium"] != 1 {
		t.Errorf("json: %s", b)
	}
	if len(got.Findings) != 2 || got.Findings[0].Risk != "HIGH" || got.Findings[0].Diff == "" || got.Findings[1].Risk != "MEDIUM" || got.Findings[1].Diff != "" {
		t.Errorf("findings: %s", b)
	}
}

func TestRenderWidth(t *testing.T) {
	s := newScenario(t)
	s.upstream(t, "docker-compose.yml", "dovecot:2.3.21.1-1", "dovecot:2.3.21.1-2")
	edit(t, s.inst, "docker-compose.yml", "dovecot:2.3.21.1-1\n", "dovecot:2.3.21.1-1\n    mem_limit: 4g\n")
	s.update(t)
	r := analyze(t, Options{Dir: s.inst})
	tests := []struct {
		name  string
		opt   RenderOptions
		want  []string
		avoid []string
	}{
		{"plain", RenderOptions{}, []string{"RISK    FILE", "HIGH    docker-compose.yml", "MEDIUM  docker-compose.yml", "+    mem_limit: 4g", "--- a/docker-compose.yml"}, []string{"\x1b["}},
		{"narrow", RenderOptions{Width: 40}, []string{"…"}, []string{"\x1b["}},
		{"color", RenderOptions{Color: true}, []string{ansiRed + "HIGH", ansiYellow + "MEDIUM"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := r.Render(&b, tt.opt); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.avoid {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			if tt.opt.Width > 0 {
				for _, l := range strings.Split(out, "\n") {
					if n := len([]rune(l)); n > tt.opt.Width {
						t.Errorf("line of %d runes > width %d: %q", n, tt.opt.Width, l)
					}
				}
			}
		})
	}
}

// TestDiffTrees checks the tree diff against git's own list of changed
// files.
func TestDiffTrees(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, dir string)
	}{
		{"modify, add, delete", func(t *testing.T, dir string) {
			gittest.WriteFiles(t, dir, map[string]string{"a/b/c.txt": "changed\n", "new/deep/x.txt": "x\n"})
			gittest.Git(t, dir, "rm", "-q", "-r", "gone")
		}},
		{"file becomes directory", func(t *testing.T, dir string) {
			gittest.Git(t, dir, "rm", "-q", "f")
			gittest.WriteFiles(t, dir, map[string]string{"f/inner.txt": "i\n"})
		}},
		{"directory becomes file", func(t *testing.T, dir string) {
			gittest.Git(t, dir, "rm", "-q", "-r", "gone")
			gittest.WriteFiles(t, dir, map[string]string{"gone": "now a file\n"})
		}},
		{"mode change", func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "a/b/c.txt"), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			gittest.Init(t, dir)
			gittest.Commit(t, dir, "one", map[string]string{"a/b/c.txt": "c\n", "a/d.txt": "d\n", "gone/1": "1\n", "gone/sub/2": "2\n", "f": "f\n"})
			tt.edit(t, dir)
			gittest.Git(t, dir, "add", "-A")
			gittest.Git(t, dir, "commit", "-q", "-m", "two")
			gx, err := openRepo(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer gx.Close()
			repo := gx.Repository
			a := &analysis{repo: repo, gx: gx}
			one, err := a.commit("HEAD~1")
			if err != nil {
				t.Fatal(err)
			}
			two, err := a.commit("HEAD")
			if err != nil {
				t.Fatal(err)
			}
			t1, _ := one.Tree()
			t2, _ := two.Tree()
			chs, err := diffTrees(gx, t1, t2)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range chs {
				got = append(got, c.path)
			}
			want := gittest.Git(t, dir, "-c", "core.quotePath=false", "diff", "--no-renames", "--name-only", "HEAD~1", "HEAD")
			if strings.Join(got, "\n") != want {
				t.Errorf("got\n%s\nwant (git diff --name-only)\n%s", strings.Join(got, "\n"), want)
			}
		})
	}
}

func TestRenderFull(t *testing.T) {
	s := newScenario(t)
	s.upstream(t, "data/web/index.php", "echo 1;", "echo 2;")
	s.upstream(t, "data/conf/sogo/sogo.conf", "5", "6")
	s.update(t)
	r := analyze(t, Options{Dir: s.inst})
	tests := []struct {
		full bool
		want bool
	}{{false, false}, {true, true}}
	for _, tt := range tests {
		t.Run(fmt.Sprint("full=", tt.full), func(t *testing.T) {
			var b bytes.Buffer
			if err := r.Render(&b, RenderOptions{Full: tt.full}); err != nil {
				t.Fatal(err)
			}
			for _, w := range []string{"+++ b/data/web/index.php\n@@ -1 +1 @@\n-<?php echo 1;\n+<?php echo 2;\n", "+WOWorkersCount = 6;"} {
				if got := strings.Contains(b.String(), w); got != tt.want {
					t.Errorf("contains %q = %v, want %v:\n%s", w, got, tt.want, b.String())
				}
			}
		})
	}
}

func TestAnalyzeErrors(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, dir string) Options
		is     error
		substr string
	}{
		{"not a repository", func(t *testing.T, dir string) Options {
			return Options{Dir: dir}
		}, gitx.ErrNotRepo, "open git repository: DIR: not a git repository"},
		{"unknown --base", func(t *testing.T, dir string) Options {
			gittest.Init(t, dir)
			gittest.Commit(t, dir, "one", map[string]string{"a": "a\n"})
			return Options{Dir: dir, Base: "no-such-rev"}
		}, nil, "resolve --base no-such-rev"},
		{"single commit, nothing recorded", func(t *testing.T, dir string) Options {
			gittest.Init(t, dir)
			gittest.Commit(t, dir, "one", map[string]string{"a": "a\n"})
			return Options{Dir: dir, Recorded: "0123456789012345678901234567890123456789"}
		}, ErrNoBase, "has no parent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Analyze(tt.setup(t, dir))
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %v", err, tt.is)
			}
			if want := strings.ReplaceAll(tt.substr, "DIR", dir); !strings.Contains(err.Error(), want) {
				t.Errorf("err = %q, want it to contain %q", err, want)
			}
		})
	}
}

// TestSecretsOutsideMailcowConf: a postfix relay password
// (smtp_sasl_password_maps inline, static:user:password) and a SOGo bind
// password, in hunks the merge drops, are hidden in the lost lines, the
// diffs and the JSON (the post hook's last-risk.json); mailcow.conf does
// not name them.
func TestSecretsOutsideMailcowConf(t *testing.T) {
	const relay, bind = "Rel4yPassw0rd", "LdapB1ndSecret"
	s := newScenario(t)
	edit(t, s.inst, "data/conf/postfix/main.cf", "message_size_limit = 104857600\n",
		"message_size_limit = 104857600\nrelayhost = [smtp.relay.example]:587\nsmtp_sasl_password_maps = static:relayuser:"+relay+"\n")
	s.upstream(t, "data/conf/postfix/main.cf", "message_size_limit = 104857600\n", "message_size_limit = 52428800\nsmtputf8_enable = no\n")
	edit(t, s.inst, "data/conf/sogo/sogo.conf", "WOWorkersCount = 5;\n",
		"WOWorkersCount = 5;\nSOGoUserSources = ({\n    type = ldap;\n    bindDN = \"cn=sogo,dc=example\";\n    bindPassword = \""+bind+"\";\n});\n")
	s.upstream(t, "data/conf/sogo/sogo.conf", "WOWorkersCount = 5;\n", "WOWorkersCount = 8;\nSOGoMailAuxiliaryUserAccountsEnabled = YES;\n")
	s.update(t)
	r := analyze(t, Options{Dir: s.inst, PatchedFiles: map[string]bool{"data/conf/postfix/main.cf": true}})
	for _, f := range []string{"data/conf/postfix/main.cf", "data/conf/sogo/sogo.conf"} {
		if find(r, High, f, "dropped by the merge") == nil {
			t.Fatalf("precondition: the local hunk of %s is not reported lost:\n%s", f, dump(r))
		}
	}
	var render, full, js bytes.Buffer
	if err := r.Render(&render, RenderOptions{Width: 200}); err != nil {
		t.Fatal(err)
	}
	if err := r.Render(&full, RenderOptions{Full: true}); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"render": render.String(), "full": full.String(), "json": js.String()} {
		for _, v := range []string{relay, bind} {
			if strings.Contains(out, v) {
				t.Errorf("%s shows %q:\n%s", name, v, out)
			}
		}
		for _, w := range []string{"smtp_sasl_password_maps = <redacted>", `bindPassword = \"<redacted>\"`} {
			if name != "json" {
				w = strings.ReplaceAll(w, `\"`, `"`)
			}
			if !strings.Contains(out, w) {
				t.Errorf("%s has no %q: the secret was not exercised:\n%s", name, w, out)
			}
		}
	}
}

// TestFullWithAnalysis: the diffs made with the analysis (Options.Full,
// while its repository is open) render as those Render makes itself:
// the HIGH file's diff once, with its finding, the others after, secrets
// hidden alike.
func TestFullWithAnalysis(t *testing.T) {
	s := newScenario(t)
	edit(t, s.inst, "docker-compose.yml", "MYSQL_PASSWORD=${DBPASS}", "MYSQL_PASSWORD="+dbPass)
	s.upstream(t, "docker-compose.yml", "    environment:\n      - MYSQL_PASSWORD=${DBPASS}", "    environment:\n      - TZ=${TZ}\n      - MYSQL_PASSWORD=${DBPASS}")
	s.upstream(t, "data/web/index.php", "echo 1;", "echo 1; // "+dbPass)
	s.upstream(t, "data/conf/sogo/sogo.conf", "5", "6")
	s.update(t)
	render := func(full bool) string {
		r := analyze(t, Options{Dir: s.inst, Full: full})
		if full && r.src.diffs == nil {
			t.Fatal("Options.Full made no diffs")
		}
		var b bytes.Buffer
		if err := r.Render(&b, RenderOptions{Full: true}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	lazy, made := render(false), render(true)
	if made != lazy {
		t.Errorf("rendered from the analysis' diffs:\n%s\nrendered by Render:\n%s", made, lazy)
	}
	for _, w := range []string{"== HIGH docker-compose.yml", "+WOWorkersCount = 6;", "+++ b/data/web/index.php", "<redacted>"} {
		if !strings.Contains(made, w) {
			t.Errorf("no %q in:\n%s", w, made)
		}
	}
	if strings.Contains(made, dbPass) {
		t.Errorf("the secret is shown:\n%s", made)
	}
}
