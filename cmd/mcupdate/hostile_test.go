package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fixture"
	"github.com/mcupdate/mcupdate/cmd/internal/updatesh"
)

// The end-to-end tests of hostile and huge input and of secrets run the
// built binary, as the shims do, so that a hang can be killed and the
// peak memory of each run measured.

// hostileBound is the generous time every command must end in, whatever
// it is fed.
const hostileBound = 20 * time.Second

// hostileMaxRSS is the peak memory a run may use: a few times the 50 MB
// inputs, never unbounded.
const hostileMaxRSS = 1 << 30

// buildMcupdate builds the binary once for a test.
func buildMcupdate(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mcupdate")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// install is the fixtures' mailcow install at the first release, with the
// admin's mcupdate.ini, a state dir, a daemon.json path and a fake docker.
type install struct {
	t                                  *testing.T
	bin, work, upstream, dir           string
	config, state, daemonJSON, dockerL string
	env                                []string
}

func newInstall(t *testing.T, bin string) *install {
	t.Helper()
	work := t.TempDir()
	in := &install{
		t: t, bin: bin, work: work,
		upstream:   filepath.Join(work, "upstream"),
		dir:        filepath.Join(work, "mailcow"),
		config:     filepath.Join(work, "etc", "mcupdate.ini"),
		state:      filepath.Join(work, "state"),
		daemonJSON: filepath.Join(work, "etc", "docker", "daemon.json"),
		dockerL:    filepath.Join(work, "docker.log"),
	}
	binDir := filepath.Join(work, "bin")
	must(t, os.MkdirAll(binDir, 0o755))
	must(t, os.WriteFile(filepath.Join(binDir, "docker"), []byte(fakeDocker), 0o755))
	in.env = []string{
		"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + work, "WORK=" + work, "NO_COLOR=1", "LANG=C",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=mailcow admin", "GIT_AUTHOR_EMAIL=admin@example.org",
		"GIT_COMMITTER_NAME=mailcow admin", "GIT_COMMITTER_EMAIL=admin@example.org",
		"MCUPDATE_CONFIG=" + in.config,
		"MCUPDATE_STATE_DIR=" + in.state,
		"MCUPDATE_DAEMON_JSON=" + in.daemonJSON,
		"MCUPDATE_MAILCOW_DIR=" + in.dir,
	}
	must(t, fixture.BuildUpstream(in.upstream, ""))
	must(t, fixture.BuildInstall(in.dir, in.upstream, fixture.Tags()[0]))
	in.write(in.config, fixture.AdminConfig(), 0o600)
	in.write(in.daemonJSON, []byte("{\n  \"ipv6\": true,\n  \"fixed-cidr-v6\": \"fd00:dead:beef:c0::/80\"\n}\n"), 0o644)
	return in
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// path returns a path below the mailcow dir.
func (in *install) path(rel string) string { return filepath.Join(in.dir, filepath.FromSlash(rel)) }

func (in *install) write(name string, data []byte, mode os.FileMode) {
	in.t.Helper()
	must(in.t, os.MkdirAll(filepath.Dir(name), 0o755))
	must(in.t, os.WriteFile(name, data, mode))
}

func (in *install) appendTo(name string, data []byte) {
	in.t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	must(in.t, err)
	_, err = f.Write(data)
	must(in.t, err)
	must(in.t, f.Close())
}

// update runs update.sh's git steps, merging tag.
func (in *install) update(tag string) {
	in.t.Helper()
	if _, err := updatesh.Run(in.dir, updatesh.Options{Target: tag, Date: "2026-11-22_06_00_00", Env: in.env}); err != nil {
		in.t.Fatalf("update-git %s: %v", tag, err)
	}
}

// result is one run of the binary.
type result struct {
	args           []string
	code           int
	stdout, stderr string
	took           time.Duration
	maxRSS         int64 // bytes
}

func (r result) String() string {
	s := fmt.Sprintf("mcupdate %s: exit %d in %v, peak RSS %d MB", strings.Join(r.args, " "), r.code, r.took.Round(time.Millisecond), r.maxRSS>>20)
	if r.code != 0 {
		// What the admin sees first.
		for _, l := range strings.Split(r.stderr+r.stdout, "\n") {
			if strings.Contains(l, "error") || strings.Contains(l, "FAIL") {
				if len(l) > 300 {
					l = l[:300] + "…"
				}
				s += "\n\t" + l
				break
			}
		}
	}
	return s
}

// run runs mcupdate with args and checks what every run must do whatever
// its input: end within hostileBound, exit 0-3, no panic, bounded memory.
func (in *install) run(args ...string) result {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hostileBound)
	defer cancel()
	// The rusage of a child the test starts counts the test process's own
	// memory (the child shares it until exec); /usr/bin/time's child does
	// not, so it measures mcupdate alone.
	rssFile := filepath.Join(in.work, "rss")
	name, argv := in.bin, args
	timeBin, timeErr := exec.LookPath("/usr/bin/time")
	if timeErr == nil {
		name, argv = timeBin, append([]string{"-f", "%M", "-o", rssFile, in.bin}, args...)
	}
	cmd := exec.CommandContext(ctx, name, argv...)
	cmd.Dir = in.work
	cmd.Env = in.env
	// A hung run is killed with everything it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{args: args, took: time.Since(start), stdout: stdout.String(), stderr: stderr.String()}
	if ctx.Err() != nil {
		in.t.Fatalf("mcupdate %s did not end within %v\nstderr: %s", strings.Join(args, " "), hostileBound, tail(r.stderr))
	}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		in.t.Fatalf("mcupdate %s: %v", strings.Join(args, " "), err)
	}
	r.code = cmd.ProcessState.ExitCode()
	if timeErr == nil {
		kb, err := os.ReadFile(rssFile)
		must(in.t, err)
		// A killed child makes time write a line before the figure.
		f := strings.Fields(string(kb))
		if n, err := strconv.ParseInt(f[len(f)-1], 10, 64); err == nil {
			r.maxRSS = n << 10
		}
	} else if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss << 10 // an upper bound: see above
	}
	in.t.Log(r)
	if r.code < 0 || r.code > 3 {
		in.t.Errorf("mcupdate %s: exit %d\nstderr: %s", strings.Join(args, " "), r.code, tail(r.stderr))
	}
	for _, s := range []string{r.stdout, r.stderr} {
		if strings.Contains(s, "panic:") || strings.Contains(s, "goroutine ") {
			in.t.Errorf("mcupdate %s panicked:\n%s", strings.Join(args, " "), tail(s))
		}
	}
	if r.maxRSS > hostileMaxRSS {
		in.t.Errorf("mcupdate %s: peak RSS %d MB", strings.Join(args, " "), r.maxRSS>>20)
	}
	return r
}

func tail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}

// wantFail checks that r failed with a message naming want.
func wantFail(t *testing.T, r result, want string) {
	t.Helper()
	if r.code == 0 {
		t.Errorf("mcupdate %s succeeded, want an error naming %s\nstdout: %s", strings.Join(r.args, " "), want, tail(r.stdout))
		return
	}
	if !strings.Contains(r.stderr+r.stdout, want) {
		t.Errorf("mcupdate %s: no message naming %q\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), want, tail(r.stdout), tail(r.stderr))
	}
}

// wantSays checks that r's output holds every one of want.
func wantSays(t *testing.T, r result, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(r.stdout+r.stderr, w) {
			t.Errorf("mcupdate %s: no %q in\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), w, tail(r.stdout), tail(r.stderr))
		}
	}
}

// wantFailR is wantFail returning r.
func wantFailR(t *testing.T, r result, want string) result {
	t.Helper()
	wantFail(t, r, want)
	return r
}

// wantOK checks that r succeeded.
func wantOK(t *testing.T, r result) {
	t.Helper()
	if r.code != 0 {
		t.Errorf("mcupdate %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.code, tail(r.stdout), tail(r.stderr))
	}
}

// bigLines returns about size bytes of lines made by line(i).
func bigLines(size int, line func(i int) string) []byte {
	var b bytes.Buffer
	b.Grow(size + 1024)
	for i := 0; b.Len() < size; i++ {
		b.WriteString(line(i))
	}
	return b.Bytes()
}

const mb = 1 << 20

func TestHostileInput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and writes 50 MB files")
	}
	bin := buildMcupdate(t)
	const pools = "data/conf/phpfpm/php-fpm.d/pools.conf"

	t.Run("50MB pools.conf", func(t *testing.T) {
		in := newInstall(t, bin)
		in.appendTo(in.path(pools), bigLines(50*mb, func(i int) string { return fmt.Sprintf("; padding line %d of a huge pools.conf\n", i) }))
		in.appendTo(in.path(pools), []byte("[web-worker]\nphp_admin_value[memory_limit] = 1M\n"))
		wantOK(t, in.run("apply", "--dry-run"))
		wantOK(t, in.run("apply", "--no-restart"))
		wantOK(t, in.run("verify"))
		in.run("diff")
		wantOK(t, in.run("snapshot", "create"))
	})

	t.Run("50MB mailcow.conf", func(t *testing.T) {
		in := newInstall(t, bin)
		in.appendTo(in.path("mailcow.conf"), bigLines(50*mb, func(i int) string { return fmt.Sprintf("# padding line %d of a huge mailcow.conf\n", i) }))
		// Larger than a snapshot takes: left out with a warning naming
		// the file and the limit; the rest is snapshotted.
		r := in.run("snapshot", "create")
		wantOK(t, r)
		wantSays(t, r, "mailcow.conf: unreadable: too large: 52", "limit 33554432")
		r = in.run("hook", "pre")
		wantOK(t, r)
		wantSays(t, r, "snapshot       warning", "mailcow.conf: unreadable: too large")
		wantOK(t, in.run("apply", "--no-restart"))
		in.run("verify")
		wantOK(t, in.run("diff"))
	})

	t.Run("50MB daemon.json", func(t *testing.T) {
		in := newInstall(t, bin)
		pad := bigLines(50*mb, func(i int) string { return fmt.Sprintf("    \"padding %d of a huge daemon.json\",\n", i) })
		in.write(in.daemonJSON, []byte("{\n  \"ipv6\": true,\n  \"fixed-cidr-v6\": \"fd00:dead:beef:c0::/80\",\n  \"x-pad\": [\n"+string(pad)+"    \"end\"\n  ]\n}\n"), 0o644)
		in.run("hook", "pre")
		in.run("verify")
	})

	t.Run("50MB docker-compose.override.yml", func(t *testing.T) {
		in := newInstall(t, bin)
		in.appendTo(in.path("docker-compose.override.yml"), bigLines(50*mb, func(i int) string { return fmt.Sprintf("# padding line %d of a huge override\n", i) }))
		r := in.run("hook", "pre")
		wantOK(t, r)
		wantSays(t, r, "docker-compose.override.yml: unreadable: too large")
		in.update(fixture.Tags()[1])
		wantOK(t, in.run("hook", "post", "--no-restart"))
		wantOK(t, in.run("diff"))
		in.run("verify")
	})

	t.Run("1MB lines", func(t *testing.T) {
		in := newInstall(t, bin)
		line := strings.Repeat("x", mb)
		in.appendTo(in.path("mailcow.conf"), []byte("LONG_VALUE="+line+"\n# "+line+"\n"))
		in.appendTo(in.path(pools), []byte("; "+line+"\n"))
		in.appendTo(in.path("docker-compose.override.yml"), []byte("# "+line+"\n"))
		cfg := string(fixture.AdminConfig())
		if !strings.Contains(cfg, "[patch fts-heap]\nFTS_HEAP = 512\n") {
			t.Fatal("the fixture's [patch fts-heap] moved")
		}
		in.write(in.config, []byte(strings.Replace(cfg, "[patch fts-heap]\nFTS_HEAP = 512\n", "; "+line+"\n[patch fts-heap]\nFTS_HEAP = 512\n; "+line+"\n", 1)), 0o600)
		wantOK(t, in.run("hook", "pre"))
		wantOK(t, in.run("apply", "--dry-run"))
		wantOK(t, in.run("apply", "--no-restart"))
		in.update(fixture.Tags()[1])
		wantOK(t, in.run("hook", "post", "--no-restart"))
		in.run("verify")
		in.run("diff")
	})

	t.Run("NUL bytes and invalid UTF-8", func(t *testing.T) {
		in := newInstall(t, bin)
		junk := "\x00\xff\xfe\xc3\x28 junk \x00\n"
		in.appendTo(in.path("mailcow.conf"), []byte("BAD_"+junk+"BAD2=\xff\xfe\x00\n"))
		in.appendTo(in.path(pools), []byte(junk))
		in.appendTo(in.path("docker-compose.override.yml"), []byte(junk))
		in.write(in.path("data/conf/rspamd/override.d/junk.conf"), []byte(junk), 0o644)
		patchDir := filepath.Join(in.work, "etc", "patches")
		in.write(filepath.Join(patchDir, "junk.ini"), []byte("description = junk\x00\xff\n[edit a]\nfile = data/conf/postfix/extra.cf\xff\nkind = line\nline = x\x00y\nposition = end\n"), 0o644)
		cfg, err := os.ReadFile(in.config)
		must(t, err)
		cfg = bytes.Replace(cfg, []byte("[patches]\nenable = "), []byte("[patches]\ndir = "+patchDir+"\nenable = junk "), 1)
		in.write(in.config, cfg, 0o600)
		wantFail(t, in.run("apply", "--dry-run"), "junk.ini:1: invalid patch: NUL byte")
		in.run("hook", "pre")
		in.run("verify")
		in.run("diff")
		// The same junk in mcupdate.ini itself.
		in.appendTo(in.config, []byte("\n[patch x\x00]\nA\xff = \x00\n"))
		in.run("apply", "--dry-run")
	})

	t.Run("10000 patches", func(t *testing.T) {
		in := newInstall(t, bin)
		patchDir := filepath.Join(in.work, "etc", "patches")
		var names []string
		for i := 0; i < 10000; i++ {
			name := fmt.Sprintf("p%05d", i)
			names = append(names, name)
			in.write(filepath.Join(patchDir, name+".ini"), []byte(fmt.Sprintf("description = hostile patch %d\n[edit l]\nfile = data/conf/postfix/extra.cf\nkind = line\nline = # mcupdate hostile %d\nposition = end\ncreate = true\n", i, i)), 0o644)
		}
		in.write(in.config, []byte("[patches]\ndir = "+patchDir+"\nenable = "+strings.Join(names, " ")+"\n"), 0o600)
		// More than mcupdate handles in bounded time: refused before
		// anything is touched.
		for _, args := range [][]string{{"apply", "--dry-run"}, {"apply", "--no-restart"}, {"hook", "post"}} {
			r := in.run(args...)
			if r.code != exitUsage {
				t.Errorf("exit %d, want %d", r.code, exitUsage)
			}
			wantSays(t, r, "mcupdate.ini: [patches] enable: 10000 patches enabled, more than the 1000 mcupdate handles")
		}
		in.run("verify")
		// The most it takes, 1000 patches all editing one file, and
		// 10,000 patch files in the dir.
		in.write(in.config, []byte("[patches]\ndir = "+patchDir+"\nenable = "+strings.Join(names[:1000], " ")+"\n"), 0o600)
		wantOK(t, in.run("apply", "--dry-run"))
		wantOK(t, in.run("apply", "--no-restart"))
		r := in.run("apply", "--no-restart")
		wantOK(t, r)
		wantSays(t, r, "all 1000 enabled patches in place")
		wantOK(t, in.run("verify"))
	})

	t.Run("50MB manifest.json", func(t *testing.T) {
		in := newInstall(t, bin)
		wantOK(t, in.run("snapshot", "create"))
		ms, err := filepath.Glob(filepath.Join(in.state, "snapshots", "*", "manifest.json"))
		must(t, err)
		if len(ms) != 1 {
			t.Fatalf("manifests: %v", ms)
		}
		id := filepath.Base(filepath.Dir(ms[0]))
		entries := bigLines(50*mb, func(i int) string {
			return fmt.Sprintf(`{"path":"data/conf/x/f%d","type":"file","mode":"0644","uid":0,"gid":0,"size":1,"sha256":"%064x"},`, i, i)
		})
		in.write(ms[0], []byte(`{"version":1,"id":"`+id+`","created":"2026-01-01T00:00:00Z","mailcow_dir":"`+in.dir+`","entries":[`+string(entries)+`{"path":"end","type":"file","mode":"0644","size":0,"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]}`), 0o600)
		tooBig := "manifest.json: bad manifest: 5"
		wantSays(t, wantFailR(t, in.run("snapshot", "list"), ms[0]), tooBig, "more than the 8 MB a manifest may have")
		wantSays(t, wantFailR(t, in.run("snapshot", "restore", id), ms[0]), tooBig)
		wantSays(t, wantFailR(t, in.run("snapshot", "restore", "latest"), ms[0]), tooBig)
		wantOK(t, in.run("hook", "pre"))
		// Not JSON at all.
		in.write(ms[0], bigLines(50*mb, func(int) string { return "[[[[[[[[[[\x00\xff" }), 0o600)
		wantSays(t, wantFailR(t, in.run("snapshot", "restore", id), ms[0]), tooBig)
		in.write(ms[0], []byte("[[[[\x00\xff"), 0o600)
		wantSays(t, wantFailR(t, in.run("snapshot", "restore", id), ms[0]), "manifest.json: bad manifest: invalid character")
		// Just under the limit, entries whose objects are missing.
		in.write(ms[0], []byte(`{"version":1,"id":"`+id+`","created":"2026-01-01T00:00:00Z","mailcow_dir":"`+in.dir+`","entries":[`+string(entries[:bytes.LastIndex(entries[:8*mb-4096], []byte("},"))+2])+`{"path":"end","type":"file","mode":"0644","size":0,"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]}`), 0o600)
		wantOK(t, in.run("snapshot", "list"))
		wantFail(t, in.run("snapshot", "restore", id), "read snapshot object")
	})

	t.Run("catastrophic regexp", func(t *testing.T) {
		// Backtracking engines take exponential time on (a+)+$ against
		// a line of a's that ends in b; Go's RE2 is linear.
		in := newInstall(t, bin)
		patchDir := filepath.Join(in.work, "etc", "patches")
		hugeDir := filepath.Join(in.work, "etc", "patches-huge")
		in.write(filepath.Join(patchDir, "redos.ini"), []byte("description = catastrophic backtracking\n[edit l]\nfile = data/conf/postfix/extra.cf\nkind = line\nline = aaaa\nmatch = ^(a+)+$\nposition = end\n"), 0o644)
		in.write(filepath.Join(hugeDir, "huge.ini"), []byte("description = a regexp too large to compile\n[edit l]\nfile = data/conf/postfix/extra.cf\nkind = line\nline = a\nmatch = ((a{1000}){1000}){1000}\nposition = end\n"), 0o644)
		in.appendTo(in.path("data/conf/postfix/extra.cf"), bigLines(5*mb, func(int) string { return strings.Repeat("a", 64*1024) + "b\n" }))
		in.write(in.config, []byte("[patches]\ndir = "+patchDir+"\nenable = redos\n"), 0o600)
		// The 5 MB of lines of a's do not match: the line goes at the end.
		wantOK(t, in.run("apply", "--no-restart"))
		in.run("verify")
		wantOK(t, in.run("apply", "--no-restart"))
		in.write(in.config, []byte("[patches]\ndir = "+hugeDir+"\nenable = huge\n"), 0o600)
		wantFail(t, in.run("apply", "--no-restart"), "huge.ini:6: invalid patch: [edit l] match: error parsing regexp: invalid repeat count")
	})

	t.Run("deeply nested daemon.json", func(t *testing.T) {
		in := newInstall(t, bin)
		for _, doc := range []string{
			strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000),
			"{\"ipv6\": true, \"x\": " + strings.Repeat("{\"a\":", 200_000) + "1" + strings.Repeat("}", 200_000) + "}",
		} {
			in.write(in.daemonJSON, []byte(doc), 0o644)
			wantFail(t, in.run("hook", "pre"), in.daemonJSON)
			in.run("verify")
		}
	})

	t.Run("YAML alias bomb in the override", func(t *testing.T) {
		in := newInstall(t, bin)
		var b strings.Builder
		b.WriteString("x-0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
		for i := 1; i < 12; i++ {
			fmt.Fprintf(&b, "x-%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
		}
		b.WriteString("services:\n  dovecot-mailcow:\n    labels: *a11\n")
		in.write(in.path("docker-compose.override.yml"), []byte(b.String()), 0o644)
		in.run("hook", "pre")
		in.update(fixture.Tags()[1])
		in.run("hook", "post", "--no-restart")
		in.run("diff")
		in.run("verify")
	})
}
