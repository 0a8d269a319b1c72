package snapshot

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

// TestSkipUnchanged: with SkipUnchanged, Create takes a new snapshot only
// when something it would hold differs from the newest one: content, mode,
// a file added or removed, the commit, the configuration, or a damaged
// object of the newest one.
func TestSkipUnchanged(t *testing.T) {
	dir, store := newMailcow(t)
	now := t0
	create := func(commit string, dirs ...string) *Manifest {
		t.Helper()
		now = now.Add(time.Minute)
		m, err := Create(fsx.Real{}, Options{MailcowDir: dir, Store: store, Commit: commit, Now: now, Dirs: dirs, SkipUnchanged: true})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	count := func() int {
		t.Helper()
		ms, err := List(store)
		if err != nil {
			t.Fatal(err)
		}
		return len(ms)
	}
	first := create("c1")
	if first.Reused {
		t.Fatal("the first snapshot is reused")
	}
	for i := 0; i < 9; i++ {
		m := create("c1")
		if !m.Reused || m.ID != first.ID {
			t.Fatalf("run %d: %s (reused %v), want %s reused", i+2, m.ID, m.Reused, first.ID)
		}
	}
	if n := count(); n != 1 {
		t.Fatalf("%d snapshots after ten unchanged runs, want 1", n)
	}
	conf := filepath.Join(dir, "mailcow.conf")
	prev := first.ID
	for _, tc := range []struct {
		name   string
		change func()
		commit string
		dirs   []string
	}{
		{"content", func() { writeFile(t, conf, "DBPASS=other\n") }, "c1", nil},
		{"mode", func() { must(t, os.Chmod(conf, 0o640)) }, "c1", nil},
		{"file added", func() { writeFile(t, filepath.Join(dir, "data/conf/nginx/y.custom"), "x\n") }, "c1", nil},
		{"commit", func() {}, "c2", nil},
		{"configuration", func() {}, "c2", []string{"data/conf/rspamd"}},
		{"damaged object", func() {
			m, err := Load(store, Latest)
			must(t, err)
			e := m.Entry("mailcow.conf")
			must(t, os.WriteFile(objectPath(store, e.SHA256), []byte("damaged"), 0o600))
		}, "c2", []string{"data/conf/rspamd"}},
	} {
		tc.change()
		m := create(tc.commit, tc.dirs...)
		if m.Reused || m.ID == prev {
			t.Errorf("%s changed: snapshot %s reused", tc.name, m.ID)
		}
		prev = m.ID
		if again := create(tc.commit, tc.dirs...); !again.Reused || again.ID != m.ID {
			t.Errorf("%s: the run after it took %s (reused %v), want %s reused", tc.name, again.ID, again.Reused, m.ID)
		}
	}
	if n := count(); n != 7 {
		t.Errorf("%d snapshots, want 7", n)
	}
	// Without SkipUnchanged (snapshot create) every call takes one.
	now = now.Add(time.Minute)
	m, err := Create(fsx.Real{}, Options{MailcowDir: dir, Store: store, Commit: "c2", Now: now, Dirs: []string{"data/conf/rspamd"}})
	if err != nil || m.Reused || m.ID == prev {
		t.Errorf("without SkipUnchanged: %v, %v", m, err)
	}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	must(t, os.WriteFile(p, []byte(s), 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
