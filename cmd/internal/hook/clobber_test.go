package hook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
	"github.com/mcupdate/mcupdate/cmd/internal/updatesh"
	"github.com/mcupdate/mcupdate/cmd/internal/upstreamtest"
)

// Issue 3's "done when": every shipped patch survives a merge that drops
// it, the post hook restarts exactly the services of the files it put
// back, and a second post hook changes nothing.
//
// Per patch, on the real files of the release clobberTag:
//
//   - upstream is a git repository: commit 1 is the release, commit 2
//     changes every original line the patch changes to an upstream value
//     of its own (for a line the patch inserts: the line it goes after),
//     and adds an unrelated comment line at the top of the file;
//   - the install is a clone at commit 1 with the patch applied as
//     uncommitted edits, the way an admin who edits by hand has it;
//   - the pre hook snapshots, update.sh's git steps (updatesh.Run: git add
//     -u, commit, merge -Xtheirs -Xpatience) merge commit 2, and -Xtheirs
//     drops the admin's lines;
//   - a patch that edits gitignored files only cannot be clobbered by git:
//     update.sh itself is simulated instead (see damage);
//   - twig-cache-perms has no lines: upstream changes the tracked .gitkeep
//     in the cache, which the merge writes anew, owned by root;
//   - the post hook must put the patch back, keep upstream's unrelated
//     change, and run exactly the compose commands of the patch.

// clobberTag is the release the install runs before the update.
const clobberTag = "2026-05"

// clobberCase is how one shipped patch is set up and what its post hook
// must restart.
type clobberCase struct {
	params map[string]string
	// lines gives upstream's new version of an original line without a
	// number; a line with one gets the number times 1.5 (bumpNumber).
	lines map[string]string
	// damage, for a patch that edits only gitignored files, is what
	// update.sh leaves of such a file (old: before the patch; patched:
	// the admin's), written after the merge.
	damage func(t *testing.T, file, old, patched string) upVersion
	// restarts are the fake docker's log lines after the first post hook.
	restarts []string
}

var clobberCases = map[string]clobberCase{
	"php-memory-limit": {
		params:   map[string]string{"MEMORY_LIMIT": "2048M"},
		restarts: []string{"docker compose restart php-fpm-mailcow"},
	},
	"php-fpm-pool-size": {
		params:   map[string]string{"MAX_CHILDREN": "80"},
		restarts: []string{"docker compose restart php-fpm-mailcow"},
	},
	"fts-heap": {
		params: map[string]string{"FTS_HEAP": "1024"},
		// mailcow.conf is gitignored: update.sh's migration and
		// adapt_new_options steps rewrite it in place. Simulated: the
		// FTS_HEAP line set to a value of update.sh's own, and a line of
		// its own added (the generic upstream version of the file).
		damage: func(t *testing.T, file, old, patched string) upVersion {
			return upstreamVersion(t, file, old, patched, nil)
		},
		restarts: []string{"docker compose up -d dovecot-mailcow"},
	},
	"rspamd-local-addrs": {
		params: map[string]string{"LOCAL_ADDRS": "10.0.0.0/8, 192.168.10.5"},
		lines: map[string]string{
			"local_addrs = /etc/rspamd/custom/mailcow_networks.map;": `local_addrs = ["/etc/rspamd/custom/mailcow_networks.map", "/etc/rspamd/custom/mailcow_networks6.map"];`,
		},
		restarts: []string{"docker compose restart rspamd-mailcow"},
	},
	"rspamd-ip-whitelist": {
		params: map[string]string{"IPS": "192.0.2.10 2001:db8::/48"},
		// The block goes at the end: upstream changes the last line.
		lines: map[string]string{"# ...": "# 2001:db8::/32"},
		// rspamd reloads its maps itself: no restart.
	},
	"postfix-ipv4-outbound": {
		// extra.cf is gitignored: git never touches it. Simulated:
		// update.sh rewrites the whole file with content of its own (the
		// admin's own settings and the patch's line gone). The post hook
		// restores the admin's version from the snapshot (update.sh's
		// kept as extra.cf.mcupdate-new), which restarts postfix; the
		// patch is then in place already.
		damage: func(t *testing.T, file, old, patched string) upVersion {
			return upVersion{content: unrelatedLine(file) + "\n", unrelated: unrelatedLine(file)}
		},
		restarts: []string{"docker compose restart postfix-mailcow"},
	},
	"sogo-workers": {
		params:   map[string]string{"WORKERS": "40", "VMEM_LIMIT": "512"},
		restarts: []string{"docker compose restart sogo-mailcow"},
	},
	"greylist-off": {
		// The line goes at the end: upstream changes the last line.
		lines: map[string]string{
			`message = "Greylisted, please try again later";`: `message = "Greylisted, please try again in a few minutes";`,
		},
		restarts: []string{"docker compose restart rspamd-mailcow"},
	},
	// A mode patch has no lines: upstream changes the tracked file in the
	// cache directory (.gitkeep), and the merge writes it anew, owned by
	// the user update.sh runs as (root). No service to restart.
	"twig-cache-perms": {},
	"message-size-limit": {
		// Not 50M: upstream's own "MaxScanSize 50M" is that size already,
		// and the patch keeps it as written (issue 13); every edit must
		// change the old release here.
		params: map[string]string{"MESSAGE_SIZE": "60M"},
		// extra.cf (gitignored) keeps the admin's line through the merge;
		// the tracked rspamd and clamd files lose theirs. A changed patch
		// restarts all its services.
		restarts: []string{"docker compose restart clamd-mailcow rspamd-mailcow"}, // extra.cf was already right: postfix keeps running
	},
}

// clobberMailcowConf is a trimmed mailcow.conf in the real one's shape.
const clobberMailcowConf = `# ------------------------------
# mailcow web ui configuration
# ------------------------------
MAILCOW_HOSTNAME=mail.example.org
DBNAME=mailcow
DBUSER=mailcow
DBPASS=Zm9vYmFyYmF6cXV4
TZ=Europe/Berlin
COMPOSE_PROJECT_NAME=mailcowdockerized
# Dovecot: max FTS heap in MB
FTS_HEAP=128
FTS_PROCS=1
SKIP_CLAMD=n
`

// adminFiles are the install's own files git does not track: the ones
// the patches edit that an admin has (mailcow.conf, an extra.cf with a
// setting of the admin's) and the template cache's contents.
var adminFiles = map[string]string{
	"mailcow.conf":                        clobberMailcowConf,
	"data/conf/postfix/extra.cf":          "# my own postfix settings\nsmtpd_banner = $myhostname ESMTP\n",
	"data/web/templates/cache/ab/cd.php":  "<?php\n// compiled template\n",
	"data/web/templates/cache/ef/01.php":  "<?php\n// compiled template\n",
	"data/conf/rspamd/custom/.keep-admin": "",
	"docker-compose.override.yml":         "services:\n  postfix-mailcow:\n    environment:\n      - TZ=Europe/Berlin\n",
}

// clobberUpstreamDir finds <repo>/../shared/upstream/<clobberTag>, or skips.
func clobberUpstreamDir(t testing.TB) string { t.Helper(); return upstreamtest.Tag(t, clobberTag) }

// readRelease returns the release's files (dot.gitignore as .gitignore)
// plus the tracked .gitkeep of the template cache.
func readRelease(t testing.TB, up string) map[string]string {
	t.Helper()
	files := map[string]string{"data/web/templates/cache/.gitkeep": ""}
	err := filepath.WalkDir(up, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(up, p)
		rel = filepath.ToSlash(rel)
		if rel == "dot.gitignore" {
			rel = ".gitignore"
		}
		b, err := os.ReadFile(p)
		files[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files[".gitignore"]; !ok {
		t.Fatalf("%s has no dot.gitignore", up)
	}
	return files
}

func TestClobberEveryShippedPatch(t *testing.T) {
	up := clobberUpstreamDir(t)
	lib, err := patch.Library()
	if err != nil {
		t.Fatal(err)
	}
	names := patch.Names(lib)
	if len(names) != 10 {
		t.Errorf("%d shipped patches, want the ten of the README: %v", len(names), names)
	}
	for _, n := range names {
		if _, ok := clobberCases[n]; !ok {
			t.Errorf("shipped patch %s has no clobber case", n)
		}
	}
	release := readRelease(t, up)
	for _, name := range names {
		c, ok := clobberCases[name]
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			if name == "twig-cache-perms" && os.Geteuid() != 0 {
				t.Skip("changing the owner to uid 82 needs root")
			}
			clobberOne(t, lib, name, c, release)
		})
	}
}

// fileChange is what the test did to one file the patch edits.
type fileChange struct {
	old, patched string // before and after the patch, on the release
	tracked      bool
	up           upVersion // upstream's (or update.sh's) version
	damaged      bool      // update.sh's version written after the merge
}

func clobberOne(t *testing.T, lib map[string]*patch.Patch, name string, c clobberCase, release map[string]string) {
	b, err := patch.Bind(lib[name], c.params)
	if err != nil {
		t.Fatal(err)
	}
	bound := []*patch.Bound{b}
	root := t.TempDir()

	// The patch's effect on the old release, on a copy.
	cp := filepath.Join(root, "copy")
	gittest.WriteFiles(t, cp, release)
	gittest.WriteFiles(t, cp, adminFiles)
	applyOK(t, cp, bound)

	changes := map[string]*fileChange{}
	mode := false // a mode patch: no lines
	trackedText := 0
	for _, f := range b.Files() {
		if fi, err := os.Stat(filepath.Join(cp, f)); err == nil && fi.IsDir() {
			mode = true
			continue
		}
		old, tracked := release[f]
		if !tracked {
			old = adminFiles[f]
		}
		patched := readFile(t, filepath.Join(cp, f))
		if patched == old {
			t.Fatalf("the patch does not change %s on %s: nothing to clobber", f, clobberTag)
		}
		fc := &fileChange{old: old, patched: patched, tracked: tracked}
		changes[f] = fc
		if tracked {
			trackedText++
			fc.up = upstreamVersion(t, f, old, patched, c.lines)
		}
	}
	if trackedText == 0 && !mode {
		if c.damage == nil {
			t.Fatalf("%s edits only gitignored files and its case has no damage", name)
		}
		for f, fc := range changes {
			fc.damaged = true
			fc.up = c.damage(t, f, fc.old, fc.patched)
		}
	} else if c.damage != nil {
		t.Fatalf("%s edits tracked files: git clobbers it, no damage wanted", name)
	}

	// Upstream: commit 1 the release, then the install cloned from it.
	upDir := filepath.Join(root, "upstream")
	gittest.Init(t, upDir)
	gittest.WriteFiles(t, upDir, release)
	gittest.Git(t, upDir, "add", "-A", "-f") // mailcow force-adds files its .gitignore matches
	gittest.Git(t, upDir, "commit", "-q", "-m", clobberTag)
	dir := filepath.Join(root, "mailcow")
	gittest.Git(t, root, "clone", "-q", upDir, dir)

	// The admin's install: own files, and the patch as uncommitted edits.
	gittest.WriteFiles(t, dir, adminFiles)
	applyOK(t, dir, bound)
	status := gittest.Git(t, dir, "status", "--porcelain", "--untracked-files=no")
	for f, fc := range changes {
		if fc.tracked && !strings.Contains(status, f) {
			t.Errorf("the admin's edit of %s is not an uncommitted change: %q", f, status)
		}
	}
	if mode {
		requireOwner(t, filepath.Join(dir, "data/web/templates/cache/.gitkeep"), 82)
	}

	// Upstream's commit 2.
	upFiles := map[string]string{}
	for f, fc := range changes {
		if fc.tracked {
			upFiles[f] = fc.up.content
		}
	}
	const gitkeep = "data/web/templates/cache/.gitkeep"
	if mode {
		upFiles[gitkeep] = "# upstream: keep this directory\n"
	}
	if len(upFiles) == 0 {
		// A patch git cannot reach: upstream changes a file of the
		// patch's service anyway, as a release does.
		upFiles["data/conf/postfix/main.cf"] = unrelatedLine("main.cf") + "\n" + release["data/conf/postfix/main.cf"]
	}
	gittest.WriteFiles(t, upDir, upFiles)
	gittest.Git(t, upDir, "add", "-A", "-f")
	gittest.Git(t, upDir, "commit", "-q", "-m", "upstream changes "+name)
	upHead := gittest.Git(t, upDir, "rev-parse", "HEAD")

	// The pre hook, with a fake docker.
	log := filepath.Join(root, "docker.log")
	docker := fakeDockerAt(t, filepath.Join(root, "bin"), log)
	out := &bytes.Buffer{}
	env := clobberEnv(t, root, dir, docker, name, c.params, out)
	r, err := Pre(context.Background(), env)
	if err != nil {
		t.Fatalf("pre hook: %v\n%s", err, out)
	}
	for _, s := range r.Steps {
		if s.Status != StatusOK {
			t.Fatalf("pre hook step %s: %s: %s\n%s", s.Name, s.Status, s.Message, out)
		}
	}
	_ = os.Remove(log) // `docker version` of the daemon.json step

	// update.sh's git steps, then what update.sh does beyond git.
	res, err := updatesh.Run(dir, updatesh.Options{Date: "2026-07-01_12_00_00", Env: gittest.Env()})
	if err != nil {
		t.Fatalf("update.sh's git steps: %v", err)
	}
	if res.MergeExit != 0 || len(res.Removed) > 0 {
		t.Fatalf("merge exited %d, removed %v: %s", res.MergeExit, res.Removed, res.Output)
	}
	// A merge, or a fast-forward when the admin's edits are all in
	// gitignored files (nothing for update.sh to commit).
	if _, err := gittest.Run(dir, nil, "merge-base", "--is-ancestor", upHead, "HEAD"); err != nil {
		t.Fatalf("upstream's %s is not merged: %v", upHead, err)
	}
	for f, fc := range changes {
		if fc.damaged {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(fc.up.content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The clobber really happened.
	if !drift(t, dir, bound) {
		t.Fatalf("after the merge the patch is still in place: nothing was clobbered")
	}
	for f, fc := range changes {
		now := readFile(t, filepath.Join(dir, f))
		if !fc.tracked && !fc.damaged {
			// Gitignored, and git is all that ran.
			if now != fc.patched {
				t.Errorf("%s: git changed a gitignored file:\n%s", f, now)
			}
			continue
		}
		if now != fc.up.content {
			t.Errorf("%s after the merge is not upstream's version:\n--- got\n%s--- want\n%s", f, now, fc.up.content)
		}
		for _, l := range fc.up.admin {
			if hasLine(now, l) {
				t.Errorf("%s: the admin's line %q survived the merge", f, l)
			}
		}
	}
	if mode {
		requireOwner(t, filepath.Join(dir, gitkeep), 0)
	}

	// The post hook.
	out.Reset()
	if _, err := Post(context.Background(), env, PostOptions{}); err != nil {
		t.Fatalf("post hook: %v\n%s", err, out)
	}
	t.Logf("post hook:\n%s", out)
	if drift(t, dir, bound) {
		t.Errorf("after the post hook the patch is not in place")
	}
	for f, fc := range changes {
		now := readFile(t, filepath.Join(dir, f))
		switch {
		case !fc.tracked && !fc.damaged:
			if now != fc.patched {
				t.Errorf("%s: the post hook changed a file the update did not touch:\n%s", f, now)
			}
		case fc.damaged && f != "mailcow.conf":
			// Restored from the snapshot; update.sh's version beside it.
			if now != fc.patched {
				t.Errorf("%s: not the admin's version:\n%s", f, now)
			}
			if kept := readFile(t, filepath.Join(dir, f+NewSuffix)); kept != fc.up.content {
				t.Errorf("%s: update.sh's version not kept: %q", f+NewSuffix, kept)
			}
		default:
			// Upstream's file with exactly the admin's lines put back.
			if !hasLine(now, fc.up.unrelated) {
				t.Errorf("%s: upstream's unrelated change %q lost:\n%s", f, fc.up.unrelated, now)
			}
			extra, missing := lineSetDiff(now, fc.up.content)
			for _, l := range extra {
				if !contains(fc.up.admin, l) {
					t.Errorf("%s: line %q is neither upstream's nor the patch's", f, l)
				}
			}
			for _, l := range missing {
				if !contains(fc.up.changed, l) {
					t.Errorf("%s: upstream's line %q lost, though the patch does not edit it", f, l)
				}
			}
			for _, l := range fc.up.admin {
				if !hasLine(now, l) {
					t.Errorf("%s: the admin's line %q not put back", f, l)
				}
			}
		}
	}
	if mode {
		if got := readFile(t, filepath.Join(dir, gitkeep)); got != upFiles[gitkeep] {
			t.Errorf("%s: upstream's content lost: %q", gitkeep, got)
		}
		_ = filepath.WalkDir(filepath.Join(dir, "data/web/templates/cache"), func(p string, d fs.DirEntry, err error) error {
			if err == nil {
				requireOwner(t, p, 82)
			}
			return err
		})
	}
	if got := dockerLog(t, log); !equal(got, c.restarts) {
		t.Errorf("docker commands of the post hook:\n  got  %q\n  want %q", got, c.restarts)
	}
	// The patch is an uncommitted edit again, as the admin had it.
	status = gittest.Git(t, dir, "status", "--porcelain", "--untracked-files=no")
	for f, fc := range changes {
		if fc.tracked && !strings.Contains(status, f) {
			t.Errorf("%s is not modified after the post hook: %q", f, status)
		}
	}

	// A second post hook changes nothing and restarts nothing.
	_ = os.Remove(log)
	head := gittest.Git(t, dir, "rev-parse", "HEAD")
	before := treeHash(t, dir)
	out.Reset()
	r, err = Post(context.Background(), env, PostOptions{})
	if err != nil {
		t.Fatalf("second post hook: %v\n%s", err, out)
	}
	for _, s := range r.Steps {
		if s.Status == StatusChanged || s.Status == StatusError {
			t.Errorf("second post hook: step %s %s: %s %v", s.Name, s.Status, s.Message, s.Details)
		}
	}
	if after := treeHash(t, dir); after != before {
		t.Errorf("the second post hook changed the tree:\n--- before\n%s--- after\n%s", before, after)
	}
	if got := gittest.Git(t, dir, "rev-parse", "HEAD"); got != head {
		t.Errorf("the second post hook moved HEAD from %s to %s", head, got)
	}
	if got := dockerLog(t, log); len(got) > 0 {
		t.Errorf("the second post hook ran docker: %q", got)
	}
}

// upVersion is upstream's (or update.sh's) version of a file the patch
// edits.
type upVersion struct {
	content   string
	unrelated string   // the line added that the patch has nothing to do with
	changed   []string // upstream's new versions of the patch's lines
	admin     []string // the lines the patch writes, which upstream drops
}

// upstreamVersion changes, in old, every line the patch changes (and for
// lines the patch inserts, the line they follow) to a value of
// upstream's own, and adds an unrelated comment line at the top.
func upstreamVersion(t *testing.T, file, old, patched string, lines map[string]string) upVersion {
	t.Helper()
	a, b := splitLines(old), splitLines(patched)
	kept, inserted := lineDiff(a, b)
	targets := map[int]bool{}
	var admin []string
	for i, k := range kept {
		if !k {
			targets[i] = true
		}
	}
	for at, ls := range inserted {
		admin = append(admin, ls...)
		switch {
		case at > 0:
			targets[at-1] = true
		case len(a) > 0:
			targets[0] = true
		}
	}
	if len(targets) == 0 {
		t.Fatalf("%s: the patch changes no line upstream could change", file)
	}
	v := upVersion{unrelated: unrelatedLine(file), admin: admin}
	out := []string{v.unrelated}
	for i, l := range a {
		if !targets[i] {
			out = append(out, l)
			continue
		}
		nl, ok := lines[strings.TrimSpace(l)]
		if ok {
			nl = leading(l) + nl
		} else if nl, ok = bumpNumber(l); !ok {
			t.Fatalf("%s: no upstream version for line %q: give one in the case's lines", file, l)
		}
		if nl == l || contains(admin, nl) {
			t.Fatalf("%s: upstream's version %q of line %q is not different from the original and the admin's", file, nl, l)
		}
		v.changed = append(v.changed, nl)
		out = append(out, nl)
	}
	v.content = strings.Join(out, "\n") + "\n"
	return v
}

var numberRE = regexp.MustCompile(`\d+`)

// bumpNumber multiplies the first number in l by 1.5.
func bumpNumber(l string) (string, bool) {
	loc := numberRE.FindStringIndex(l)
	if loc == nil {
		return "", false
	}
	n, err := strconv.Atoi(l[loc[0]:loc[1]])
	if err != nil {
		return "", false
	}
	m := n + n/2
	if m == n {
		m = n + 1
	}
	return l[:loc[0]] + strconv.Itoa(m) + l[loc[1]:], true
}

// unrelatedLine is a comment in the syntax of file.
func unrelatedLine(file string) string {
	text := "upstream: an unrelated change to " + filepath.Base(file)
	switch {
	case strings.HasSuffix(file, ".ini"), strings.HasSuffix(file, "php-fpm.d/pools.conf"):
		return "; " + text
	case strings.HasSuffix(file, "sogo.conf"):
		return "/* " + text + " */"
	}
	return "# " + text
}

func leading(l string) string { return l[:len(l)-len(strings.TrimLeft(l, " \t"))] }

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// lineDiff is a longest-common-subsequence diff of a and b: kept[i] is
// whether a[i] stays, inserted[k] the lines of b that go before a[k].
func lineDiff(a, b []string) (kept []bool, inserted map[int][]string) {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	kept = make([]bool, n)
	inserted = map[int][]string{}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			kept[i] = true
			i++
			j++
		// Deletions first: a replaced line's new version then goes
		// after it, and its anchor is the replaced line itself.
		case j < m && (i == n || lcs[i][j+1] > lcs[i+1][j]):
			inserted[i] = append(inserted[i], b[j])
			j++
		default:
			i++
		}
	}
	return kept, inserted
}

// lineSetDiff returns the lines of a not in b and of b not in a.
func lineSetDiff(a, b string) (onlyA, onlyB []string) {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range splitLines(s) {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	for l := range ma {
		if !mb[l] {
			onlyA = append(onlyA, l)
		}
	}
	for l := range mb {
		if !ma[l] {
			onlyB = append(onlyB, l)
		}
	}
	sort.Strings(onlyA)
	sort.Strings(onlyB)
	return onlyA, onlyB
}

func hasLine(s, l string) bool {
	for _, x := range splitLines(s) {
		if x == l {
			return true
		}
	}
	return false
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func applyOK(t *testing.T, dir string, bound []*patch.Bound) {
	t.Helper()
	res, err := patch.Apply(fsx.Real{}, dir, bound, patch.ModeApply)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	for _, e := range res.Patches[0].Edits {
		if e.State != patch.StateApplied {
			t.Fatalf("apply: edit %s: %s %v", e.Edit, e.State, e.Err)
		}
	}
}

// drift reports whether the patch is not in place (what verify checks).
func drift(t *testing.T, dir string, bound []*patch.Bound) bool {
	t.Helper()
	res, err := patch.Apply(fsx.Real{}, dir, bound, patch.ModeCheck)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	return res.Drift()
}

func requireOwner(t *testing.T, p string, uid int) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != uid {
		t.Errorf("%s is owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, uid)
	}
}

// fakeDockerAt writes a docker that logs its arguments to log and answers
// `docker version` like a Docker 28 engine, and puts it first on PATH.
func fakeDockerAt(t *testing.T, bin, log string) string {
	t.Helper()
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(bin, "docker")
	script := fmt.Sprintf("#!/bin/sh\necho \"docker $*\" >> '%s'\n[ \"$1\" = version ] && echo 28.2.2\nexit 0\n", log)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return p
}

func dockerLog(t *testing.T, log string) []string {
	t.Helper()
	b, err := os.ReadFile(log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	// The configuration checks before a restart (compose ps, compose
	// exec) are validate_test.go's subject; these tests judge restarts.
	var out []string
	for _, l := range splitLines(string(b)) {
		if !strings.Contains(l, "compose ps ") && !strings.Contains(l, "compose exec ") {
			out = append(out, l)
		}
	}
	return out
}

// clobberEnv is the hooks' environment: the patch enabled with its
// parameters, the fake docker as compose command, a daemon.json that
// passes, the state dir and the output in root.
func clobberEnv(t testing.TB, root, dir, docker, name string, params map[string]string, out *bytes.Buffer) *Env {
	t.Helper()
	dj := filepath.Join(root, "daemon.json")
	if err := os.WriteFile(dj, []byte("{\n  \"ipv6\": true,\n  \"fixed-cidr-v6\": \"fd00:dead:beef:c0::/80\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Path = filepath.Join(root, "mcupdate.ini")
	cfg.Enabled = []string{name}
	if params != nil {
		cfg.Params[name] = params
	}
	cfg.Compose = []string{docker, "compose"}
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	return &Env{
		MailcowDir: dir,
		Config:     cfg,
		State:      state.Dir{Path: filepath.Join(root, "state")},
		DaemonJSON: dj,
		Sys:        fsx.Real{},
		UI:         ui.New(out, out, os.Getenv),
		Now:        func() time.Time { now = now.Add(time.Minute); return now },
	}
}

// treeHash lists every path under dir but .git with its type, mode,
// owner and content hash (or link target).
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == ".git" {
			return filepath.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		fmt.Fprintf(&b, "%s %v %d:%d", rel, fi.Mode(), st.Uid, st.Gid)
		switch {
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", sha256.Sum256(data))
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " -> %s", target)
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
