package snapshot

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
)

// BenchmarkCreate snapshots a release-sized checkout (4000 tracked files
// under data/conf, 2000 commits) with 200 gitignored overrides, against
// the git CLI doing the same: list the ignored files, copy them with cp.
func BenchmarkCreate(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "mailcow")
	gittest.Large(b, dir, 4000, 2000)
	files := map[string]string{
		".gitignore":                  "mailcow.conf\ndocker-compose.override.yml\ndata/conf/*/s0*/*.custom\ndata/conf/d0*/override/\n",
		"mailcow.conf":                "DBPASS=x\n",
		"docker-compose.override.yml": "services: {}\n",
	}
	for i := 0; i < 200; i++ {
		if i%2 == 0 {
			files[fmt.Sprintf("data/conf/d%02d/s0%d/o%03d.custom", i%40, i%10, i)] = fmt.Sprintf("custom %d\n", i)
		} else {
			files[fmt.Sprintf("data/conf/d0%d/override/o%03d.conf", i%10, i)] = fmt.Sprintf("override %d\n", i)
		}
	}
	gittest.WriteFiles(b, dir, files)
	gittest.Git(b, dir, "add", ".gitignore")
	gittest.Git(b, dir, "commit", "-q", "-m", "ignore")

	// Every iteration a new store: all 202 objects written and fsynced.
	b.Run("mcupdate-first", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := Create(fsx.Real{}, Options{MailcowDir: dir, Store: b.TempDir(), Now: t0}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// One store: later snapshots find their objects already stored.
	b.Run("mcupdate-again", func(b *testing.B) {
		store := b.TempDir()
		n := 0
		for i := 0; i < b.N; i++ {
			m, err := Create(fsx.Real{}, Options{MailcowDir: dir, Store: store, Now: t0.Add(time.Duration(i) * time.Second), Keep: 3})
			if err != nil {
				b.Fatal(err)
			}
			n = len(m.Entries)
		}
		if n != 202 {
			b.Fatalf("%d entries, want 202", n)
		}
	})
	b.Run("git-cli", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			out, err := gittest.Run(dir, nil, "ls-files", "-o", "-i", "--exclude-standard", "--", "data/conf")
			if err != nil {
				b.Fatal(err)
			}
			list := append(strings.Fields(out), "mailcow.conf", "docker-compose.override.yml")
			dst := filepath.Join(b.TempDir(), "copy")
			if err := os.MkdirAll(dst, 0o700); err != nil {
				b.Fatal(err)
			}
			cmd := exec.Command("cp", append([]string{"--parents", "-p", "-t", dst}, list...)...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("cp: %v: %s", err, out)
			}
			if len(list) != 202 {
				b.Fatalf("%d files, want 202", len(list))
			}
		}
	})
}
