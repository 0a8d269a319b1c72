// Package gittest builds real git repositories for tests and benchmarks
// with the git CLI: no mocks of git.
package gittest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Env is the environment every git command here runs with: a fixed
// identity and dates, and no user or system config, so tests behave the
// same on every machine.
func Env() []string {
	return append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=mcupdate test", "GIT_AUTHOR_EMAIL=test@example.org",
		"GIT_COMMITTER_NAME=mcupdate test", "GIT_COMMITTER_EMAIL=test@example.org",
		"GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z",
	)
}

// Git runs git in dir and returns its trimmed stdout; it fails the test
// with git's stderr on error.
func Git(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	out, err := Run(dir, nil, args...)
	if err != nil {
		tb.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// Run runs git in dir with stdin and returns its trimmed stdout; the error
// carries git's stderr.
func Run(dir string, stdin []byte, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = Env()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Init creates a repository in dir on branch master.
func Init(tb testing.TB, dir string) {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	Git(tb, dir, "init", "-q", "-b", "master")
}

// WriteFiles writes files (path relative to dir → content), creating
// directories.
func WriteFiles(tb testing.TB, dir string, files map[string]string) {
	tb.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// Commit writes files, stages everything and commits with msg; it returns
// the new commit's hash.
func Commit(tb testing.TB, dir, msg string, files map[string]string) string {
	tb.Helper()
	WriteFiles(tb, dir, files)
	Git(tb, dir, "add", "-A")
	Git(tb, dir, "commit", "-q", "--allow-empty", "-m", msg)
	return Git(tb, dir, "rev-parse", "HEAD")
}

// Large creates, in dir, a repository with nfiles files spread over
// directories and ncommits commits on master (each touching a few files),
// fast, through git fast-import. It is the release-sized tree benchmarks
// run against.
func Large(tb testing.TB, dir string, nfiles, ncommits int) {
	tb.Helper()
	Init(tb, dir)
	var b bytes.Buffer
	mark := 0
	blob := func(content string) int {
		mark++
		fmt.Fprintf(&b, "blob\nmark :%d\ndata %d\n%s\n", mark, len(content), content)
		return mark
	}
	path := func(i int) string { return fmt.Sprintf("data/conf/d%02d/s%02d/file%05d.conf", i%40, (i/40)%10, i) }
	// First commit: every file.
	marks := make([]int, nfiles)
	for i := range marks {
		marks[i] = blob(fmt.Sprintf("# file %d\nkey_%d = value\nother = %d\n", i, i, i))
	}
	for c := 0; c < ncommits; c++ {
		fmt.Fprintf(&b, "commit refs/heads/master\ncommitter t <t@example.org> %d +0000\ndata 9\ncommit %02d\n", 1700000000+c, c%100)
		if c == 0 {
			for i, m := range marks {
				fmt.Fprintf(&b, "M 100644 :%d %s\n", m, path(i))
			}
		} else {
			for k := 0; k < 3; k++ {
				i := (c*7 + k*13) % nfiles
				fmt.Fprintf(&b, "M 100644 inline %s\ndata <<EOF\n# file %d rev %d\nkey_%d = value%d\nEOF\n", path(i), i, c, i, c)
			}
		}
		b.WriteString("\n")
	}
	if _, err := Run(dir, b.Bytes(), "fast-import", "--quiet"); err != nil {
		tb.Fatal(err)
	}
	Git(tb, dir, "checkout", "-q", "-f", "master")
}

// MirrorEnv names a git directory of the real mailcow-dockerized
// repository for the benchmarks that need its size and pack shape.
// Unset, RealMailcow looks for .mirror/mailcow+mailcow-dockerized/repo
// in the directories above the module, where CI keeps it.
const MirrorEnv = "MCUPDATE_MAILCOW_MIRROR"

// RealMailcow returns the git directory of the real mailcow repository,
// or skips: a checkout of mcupdate has none.
func RealMailcow(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv(MirrorEnv); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		p := filepath.Join(dir, ".mirror", "mailcow+mailcow-dockerized", "repo")
		if fi, err := os.Stat(filepath.Join(p, "objects", "pack")); err == nil && fi.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skipf("no copy of the real mailcow repository (set %s, or keep it in .mirror/mailcow+mailcow-dockerized/repo above the module): skipping", MirrorEnv)
		}
		dir = parent
	}
}

// RealCheckout makes dir a checkout of the real mailcow repository at
// release from, on branch master: its pack files are copied as they are
// (one pack of every object, as a fresh clone has them) with the release
// tags, and origin/master, which master tracks, is set to release to
// (what update.sh has fetched before its hooks run).
func RealCheckout(tb testing.TB, dir, from, to string) {
	tb.Helper()
	src := RealMailcow(tb)
	Init(tb, dir)
	packs, err := filepath.Glob(filepath.Join(src, "objects", "pack", "pack-*"))
	if err != nil || len(packs) == 0 {
		tb.Fatalf("no pack in %s: %v", src, err)
	}
	for _, p := range packs {
		if filepath.Ext(p) == ".promisor" {
			continue // a complete copy for these releases: no lazy fetches
		}
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ".git", "objects", "pack", filepath.Base(p)), data, 0o444); err != nil {
			tb.Fatal(err)
		}
	}
	refs, err := os.ReadFile(filepath.Join(src, "packed-refs"))
	if err != nil {
		tb.Fatal(err)
	}
	var tags bytes.Buffer
	tags.WriteString("# pack-refs with: peeled fully-peeled sorted \n")
	keep := false
	for _, l := range strings.Split(string(refs), "\n") {
		switch {
		case strings.HasPrefix(l, "^"):
			if keep {
				tags.WriteString(l + "\n")
			}
		case strings.Contains(l, " refs/tags/"):
			keep = true
			tags.WriteString(l + "\n")
		default:
			keep = false
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".git", "packed-refs"), tags.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	Git(tb, dir, "checkout", "-q", "-B", "master", "refs/tags/"+from)
	Git(tb, dir, "remote", "add", "origin", "https://github.com/mailcow/mailcow-dockerized")
	Git(tb, dir, "update-ref", "refs/remotes/origin/master", "refs/tags/"+to+"^{commit}")
	Git(tb, dir, "branch", "-q", "--set-upstream-to=origin/master")
}
