package patch

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestLoadDir(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		err   string
	}{
		{"source beside the patch", map[string]string{
			"hook.ini": "description = d\n[edit h]\nfile = data/hooks/x.sh\nkind = file\nsource = x.sh\nmode = 0755\n",
			"x.sh":     "#!/bin/sh\necho ${HOME}\n",
		}, ""},
		{"missing source", map[string]string{"hook.ini": "description = d\n[edit h]\nfile = f\nkind = file\nsource = nope.sh\n"}, "hook.ini:5: [edit h] source: open nope.sh"},
		{"bad patch named with dir", map[string]string{"bad.ini": "description = d\n[edit h]\nkind = nope\nfile = f\n"}, "bad.ini:3: invalid patch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, c.files)
			ps, err := LoadDir(dir)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), dir) {
					t.Fatalf("err = %v, want %q with the dir", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := Bind(ps["hook"], nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := b.edits[0].content; got != c.files["x.sh"] || b.edits[0].Perm != 0o755 {
				t.Fatalf("content %q perm %o: a source must be taken literally", got, b.edits[0].Perm)
			}
			if ps["hook"].Origin != filepath.Join(dir, "hook.ini") {
				t.Fatalf("origin %q", ps["hook"].Origin)
			}
		})
	}
}

func TestApplyReadFailure(t *testing.T) {
	dir := phpTree(t)
	old := readFile
	t.Cleanup(func() { readFile = old })
	readFile = func(name string) ([]byte, error) {
		if strings.HasSuffix(name, "other.ini") {
			return nil, &fs.PathError{Op: "read", Path: name, Err: syscall.EIO}
		}
		return os.ReadFile(name)
	}
	res, err := Apply(&recWriter{next: osWriter{}}, dir, []*Bound{mustBind(t, "mem", memPatch, map[string]string{"MEMORY_LIMIT": "1G"})}, ModeApply)
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("err = %v", err)
	}
	if got := states(res.Patches[0]); got != "pools=skipped php-ini=failed" {
		t.Fatalf("states %s", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "pools.conf")); string(b) != poolsConf {
		t.Fatal("pools.conf written although its patch failed")
	}
}

func TestLibrary(t *testing.T) {
	lib, err := Library()
	if err != nil {
		t.Fatal(err)
	}
	want := "fts-heap greylist-off message-size-limit php-fpm-pool-size php-memory-limit postfix-ipv4-outbound rspamd-ip-whitelist rspamd-local-addrs sogo-workers twig-cache-perms"
	if got := strings.Join(Names(lib), " "); got != want {
		t.Fatalf("library: %s", got)
	}
	for n, p := range lib {
		if len(p.Description) < 40 {
			t.Errorf("%s: description too short for an admin: %q", n, p.Description)
		}
	}
}

// TestLoadStages: Load says which stage failed (the admin's patch dir, or
// binding the enabled patches) and keeps what it read before that.
func TestLoadStages(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mine.ini"), []byte("description = mine\n[edit e]\nfile = data/conf/postfix/extra.cf\nkind = line\nline = smtpd_banner = x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Load(dir, Settings{Enabled: []string{"mine", "greylist-off"}})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(l.Bound) != 2 || l.Own["mine"] == nil || l.Lib["greylist-off"] == nil {
		t.Fatalf("Load: bound %d, own %v, lib has greylist-off: %v", len(l.Bound), Names(l.Own), l.Lib["greylist-off"] != nil)
	}

	l, err = Load(dir, Settings{Enabled: []string{"no-such-patch"}})
	if !errors.Is(err, ErrLoadEnable) || errors.Is(err, ErrLoadDir) || !errors.Is(err, ErrUnknownPatch) {
		t.Fatalf("unknown enabled patch: %v", err)
	}
	if strings.Contains(err.Error(), ErrLoadEnable.Error()) || l.Lib == nil || l.Own == nil {
		t.Errorf("stage in the text, or what was read is lost: %q, lib %v, own %v", err, l.Lib != nil, l.Own != nil)
	}

	if err := os.WriteFile(filepath.Join(dir, "broken.ini"), []byte("[edit e]\nkind = nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err = Load(dir, Settings{})
	if !errors.Is(err, ErrLoadDir) || errors.Is(err, ErrLoadEnable) || !strings.Contains(err.Error(), "broken.ini") {
		t.Fatalf("broken own patch: %v", err)
	}
	if l.Lib == nil || l.Own != nil {
		t.Errorf("after a dir error: lib %v, own %v", l.Lib != nil, l.Own != nil)
	}
}
