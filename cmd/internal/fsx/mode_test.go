package fsx

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestUnixMode(t *testing.T) {
	for _, tc := range []struct {
		unix uint32
		mode fs.FileMode
	}{
		{0o644, 0o644},
		{0o755, 0o755},
		{0o4755, 0o755 | fs.ModeSetuid},
		{0o2775, 0o775 | fs.ModeSetgid},
		{0o1777, 0o777 | fs.ModeSticky},
		{0o7000, fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky},
	} {
		if got := FileMode(tc.unix); got != tc.mode {
			t.Errorf("FileMode(%04o) = %v, want %v", tc.unix, got, tc.mode)
		}
		if got := UnixMode(tc.mode); got != tc.unix {
			t.Errorf("UnixMode(%v) = %04o, want %04o", tc.mode, got, tc.unix)
		}
		// The type bits of a file are no permission.
		if got := UnixMode(tc.mode | fs.ModeDir); got != tc.unix {
			t.Errorf("UnixMode(%v) = %04o, want %04o", tc.mode|fs.ModeDir, got, tc.unix)
		}
	}
}

// A real file's setgid directory reads back as chmod set it.
func TestUnixModeOfRealFile(t *testing.T) {
	d := filepath.Join(t.TempDir(), "d")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, FileMode(0o2750)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(d)
	if err != nil {
		t.Fatal(err)
	}
	if got := UnixMode(fi.Mode()); got != 0o2750 {
		t.Errorf("UnixMode = %04o, want 2750", got)
	}
}
