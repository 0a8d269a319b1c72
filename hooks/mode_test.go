package hooks_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// readmeScript is a script a README tells the admin or a developer to run:
// `./install.sh`, `.ci/run`.
var readmeScript = regexp.MustCompile(`(?:^|[\s` + "`" + `(])(?:\./|(\.ci/))([A-Za-z0-9_][A-Za-z0-9_./-]*)`)

// TestScriptsExecutableInIndex: every script of this repository a README
// tells someone to run is committed with its run bit. A checkout takes the
// mode from the index, so `sudo ./install.sh` failed with "Permission
// denied" when install.sh was committed as 100644.
func TestScriptsExecutableInIndex(t *testing.T) {
	root := repoRoot(t)
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		t.Skip("not a git checkout: no index to check")
	}
	want := map[string]bool{"install.sh": true}
	for _, readme := range []string{"README.md", "patches/README.md", "fixtures/README.md"} {
		data, err := os.ReadFile(filepath.Join(root, readme))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range readmeScript.FindAllStringSubmatch(string(data), -1) {
			p := filepath.ToSlash(filepath.Clean(m[1] + strings.TrimRight(m[2], ".")))
			want[p] = true
		}
	}
	var names []string
	for p := range want {
		names = append(names, p)
	}
	sort.Strings(names)
	out, err := exec.Command("git", append([]string{"-C", root, "ls-files", "-s", "--"}, names...)...).Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	modes := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// 100755 <sha> 0\tpath
		meta, p, ok := strings.Cut(l, "\t")
		if !ok {
			continue
		}
		modes[p] = strings.Fields(meta)[0]
	}
	if _, ok := modes["install.sh"]; !ok {
		t.Fatal("install.sh is not in the index")
	}
	checked := 0
	for _, p := range names {
		mode, tracked := modes[p]
		if !tracked {
			continue // mailcow's ./update.sh, ./generate_config.sh: not ours
		}
		checked++
		if mode != "100755" {
			t.Errorf("%s is committed as %s: run git update-index --chmod=+x %s", p, mode, p)
		}
	}
	t.Logf("%d scripts named by the READMEs checked in the index", checked)
}
