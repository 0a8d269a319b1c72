package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/fixture"
)

// TestSecretsNeverLeak plants unique secrets in mailcow.conf, copies them
// wherever mcupdate could show them (a tracked file's lost lines, a
// patch parameter named *_PASS and the file it edits, the override
// file), runs every command and checks that no secret is in any output or
// any file of the state dir. Snapshot objects are the backup copies of
// mailcow.conf: they hold the secrets by design and must be 0600.
func TestSecretsNeverLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs every command")
	}
	bin := buildMcupdate(t)
	in := newInstall(t, bin)

	secret := func(name string) string {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		return "Sx" + name + hex.EncodeToString(b)
	}
	secrets := map[string]string{
		"DBPASS": secret("dbpass"), "DBROOT": secret("dbroot"), "REDISPASS": secret("redis"),
		"API_KEY": secret("apikey"), "API_KEY_READ_ONLY": secret("apiro"), "SOGO_URL_ENCRYPTION_KEY": secret("sogo"),
	}
	conf, err := os.ReadFile(in.path("mailcow.conf"))
	must(t, err)
	lines := strings.Split(string(conf), "\n")
	for i, l := range lines {
		if k, _, ok := strings.Cut(l, "="); ok {
			if v, planted := secrets[k]; planted {
				lines[i] = k + "=" + v
			}
		}
	}
	conf = []byte(strings.Join(lines, "\n"))
	for k, v := range secrets {
		if !bytes.Contains(conf, []byte(k+"="+v+"\n")) {
			conf = append(conf, k+"="+v+"\n"...)
		}
	}
	in.write(in.path("mailcow.conf"), conf, 0o600)

	// A local edit of a tracked file, not covered by a patch: the merge
	// drops it and the risk diff shows the lost line.
	compose, err := os.ReadFile(in.path("docker-compose.yml"))
	must(t, err)
	if !bytes.Contains(compose, []byte("      mem_limit: 4g\n")) {
		t.Fatal("the fixture's docker-compose.yml edit moved")
	}
	in.write(in.path("docker-compose.yml"), bytes.Replace(compose, []byte("      mem_limit: 4g\n"), []byte("      mem_limit: 4g # mysql password "+secrets["DBPASS"]+"\n"), 1), 0o644)
	// The override file.
	in.appendTo(in.path("docker-compose.override.yml"), []byte("# redis: "+secrets["REDISPASS"]+"\n"))
	// An own patch whose parameter is a password.
	patchDir := filepath.Join(in.work, "etc", "patches")
	in.write(filepath.Join(patchDir, "db-pass.ini"), []byte("description = the database password for a custom script\nparams = DB_PASS\n\n[edit script]\nfile = data/conf/postfix/custom-db.cf\nkind = line\nline = password = ${DB_PASS}\nmatch = ^password = \nposition = end\ncreate = true\n"), 0o644)
	cfg := string(fixture.AdminConfig())
	cfg = strings.Replace(cfg, "[patches]\nenable = ", "[patches]\ndir = "+patchDir+"\nenable = db-pass ", 1)
	setParam := func(v string) {
		in.write(in.config, []byte(cfg+"\n[patch db-pass]\nDB_PASS = "+v+"\n"), 0o600)
	}
	setParam(secrets["DBPASS"])

	prom := filepath.Join(in.work, "metrics", "mcupdate.prom")
	must(t, os.MkdirAll(filepath.Dir(prom), 0o755))
	var outputs []result
	run := func(args ...string) result {
		r := in.run(args...)
		outputs = append(outputs, r)
		return r
	}
	run("version")
	run("--help")
	run("hook", "--help")
	run("snapshot", "create")
	run("snapshot", "list")
	run("apply", "--dry-run")
	run("apply", "--no-restart")
	run("hook", "pre")
	in.update(fixture.Tags()[1])
	run("hook", "post", "--no-restart")
	run("diff")
	run("diff", "--full")
	run("diff", "--json")
	// The parameter changes: the diff would show the old and the new
	// password.
	setParam(secrets["DBROOT"])
	run("apply", "--dry-run")
	run("verify")
	run("verify", "--json")
	run("status")
	run("status", "--json")
	run("patches")
	run("patches", "--json")
	run("verify", "--prometheus", prom)
	run("apply", "--no-restart")
	run("snapshot", "restore", "latest")
	run("--dry-run", "snapshot", "restore", "latest")
	run("hook", "pre", "--dry-run")
	// A second update, with every earlier report in the state dir.
	in.update(fixture.Tags()[2])
	run("hook", "post", "--no-restart")
	run("demo")
	tags := fixture.Tags()
	run("replay", "--upstream", in.upstream, "--from", tags[0], "--to", tags[1]+","+tags[3], "--local", in.dir)
	run("replay", "--upstream", in.upstream, "--from", tags[0], "--tags", "*", "--chain", "--local", in.dir, "--json")
	run("adopt")
	run("rollback", "--list")
	run("rollback", "--dry-run")
	run("rollback", "--no-restart")

	// The checks above must have seen the secrets where they were planted.
	if got, _ := os.ReadFile(in.path("data/conf/postfix/custom-db.cf")); !bytes.Contains(got, []byte(secrets["DBROOT"])) {
		t.Fatalf("the patch did not write the password: %q", got)
	}

	for _, r := range outputs {
		for name, v := range secrets {
			for _, out := range []struct{ which, text string }{{"stdout", r.stdout}, {"stderr", r.stderr}} {
				if strings.Contains(out.text, v) {
					t.Errorf("mcupdate %s: %s shows %s:\n%s", strings.Join(r.args, " "), out.which, name, tail(out.text))
				}
			}
		}
		// The demo's own fixture secrets.
		if strings.Contains(r.stdout+r.stderr, "FixtureOnly") || strings.Contains(r.stdout+r.stderr, "FAKE-apikey") {
			t.Errorf("mcupdate %s shows a fixture secret", strings.Join(r.args, " "))
		}
	}
	// The planted copies reached the outputs, masked.
	var all strings.Builder
	for _, r := range outputs {
		all.WriteString(r.stdout + r.stderr)
	}
	for _, w := range []string{"password = ********", "<redacted>"} {
		if !strings.Contains(all.String(), w) {
			t.Errorf("no output shows %q: the planted secret was not exercised", w)
		}
	}
	files, objects := 0, 0
	check := func(root string, objectsOK bool) {
		must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			files++
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if objectsOK && strings.Contains(filepath.ToSlash(p), "/snapshots/objects/") {
				fi, err := os.Stat(p)
				if err != nil {
					return err
				}
				if !bytes.Contains(data, []byte(secrets["DBPASS"])) {
					return nil
				}
				objects++
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s holds mailcow.conf's secrets with mode %v, want 0600", p, fi.Mode().Perm())
				}
				return nil
			}
			for name, v := range secrets {
				if bytes.Contains(data, []byte(v)) {
					t.Errorf("%s holds %s", p, name)
				}
			}
			return nil
		}))
	}
	check(in.state, true)
	check(filepath.Dir(prom), false)
	if objects == 0 {
		t.Error("no snapshot object holds mailcow.conf")
	}
	t.Logf("%d commands, %d state and metrics files checked for %d secrets; %d snapshot objects with them, all 0600", len(outputs), files, len(secrets), objects)
}
