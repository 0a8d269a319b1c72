package fsx

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A run killed between creating its temp file and the rename leaves the
// temp beside the target; the next write to that directory removes it
// (cmd/internal/crashtest kills real runs to prove it end to end).
func TestWriteFileAtomicRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, TempPrefix+"pools.conf-1234")
	other := filepath.Join(dir, TempPrefix+"other.ini-99")
	for _, p := range []string{stale, other} {
		if err := os.WriteFile(p, []byte("half a file"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteFileAtomic(filepath.Join(dir, "pools.conf"), []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), TempPrefix) {
			t.Errorf("stale temp %s left", e.Name())
		}
	}
}

// A temp file another live process is writing holds its flock:
// CleanTemps leaves it, and removes it once its writer is gone.
func TestCleanTempsSparesLiveTemp(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("needs flock(1)")
	}
	dir := t.TempDir()
	live := filepath.Join(dir, TempPrefix+"daemon.json-77")
	if err := os.WriteFile(live, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Another process holds the temp's lock, as a writing mcupdate does.
	holder := exec.Command("flock", "-x", live, "sh", "-c", "echo locked; read x")
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil {
		t.Fatal(err)
	}
	if err := CleanTemps(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(live); err != nil {
		t.Errorf("a live writer's temp was removed: %v", err)
	}
	_ = stdin.Close()
	_ = holder.Wait()
	if err := CleanTemps(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(live); !os.IsNotExist(err) {
		t.Errorf("a dead writer's temp was kept: %v", err)
	}
}

// WriteFileAtomic holds the flock of its temp until the rename, also
// after closing the file: a rename that fails leaves no temp, a
// successful one no lock on the target.
func TestWriteFileAtomicLocksItsTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mailcow.conf")
	var sawLocked bool
	orig := rename
	t.Cleanup(func() { rename = orig })
	rename = func(d *os.Root, from, to string) error {
		sawLocked = inUse(d, from)
		return orig(d, from, to)
	}
	if err := WriteFileAtomic(p, []byte("A=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !sawLocked {
		t.Error("the temp was not locked right before its rename")
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Errorf("the written file is still locked: %v", err)
	}
}
