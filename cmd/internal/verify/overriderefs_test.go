package verify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The override references check reads the compose files through the run's
// shared reader: each problem still gets its own detail and fix.
func TestOverrideRefsProblems(t *testing.T) {
	good := "services:\n  dovecot-mailcow:\n    image: d\n"
	for _, tt := range []struct {
		name        string
		files       map[string]string
		dirOverride bool
		status      Status
		detail, fix string
	}{
		{"no override", map[string]string{ComposeFile: good}, false, StatusSkipped, "no docker-compose.override.yml", ""},
		{"override unreadable", map[string]string{ComposeFile: good}, true, StatusFail, "docker-compose.override.yml: is a directory", "make docker-compose.override.yml readable"},
		{"no base", map[string]string{ComposeOverrideFile: good}, false, StatusFail, "docker-compose.yml: no such file or directory", "git checkout -- docker-compose.yml"},
		{"base broken", map[string]string{ComposeFile: "services: [\n", ComposeOverrideFile: good}, false, StatusFail, "docker-compose.yml:", "git diff docker-compose.yml shows what changed"},
		{"override broken", map[string]string{ComposeFile: good, ComposeOverrideFile: "services:\n  a: b\n"}, false, StatusFail, "docker-compose.override.yml:2: service a is a string", "fix the YAML of docker-compose.override.yml"},
		{"renamed service", map[string]string{ComposeFile: good, ComposeOverrideFile: "services:\n  dovecot-mailcw:\n    mem_limit: 1g\n"}, false, StatusFail, "names 1 service(s)", "rename or remove dovecot-mailcw"},
		{"ok", map[string]string{ComposeFile: good, ComposeOverrideFile: good}, false, StatusOK, "all 1 service(s)", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tt.files)
			if tt.dirOverride {
				if err := os.Mkdir(filepath.Join(dir, ComposeOverrideFile), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			opt := Options{MailcowDir: dir}
			c := checkOverrideRefs(opt, newMailcowFiles(opt))
			if c.Status != tt.status || !strings.Contains(c.Detail, tt.detail) || !strings.Contains(c.Fix, tt.fix) {
				t.Errorf("got %s", showCheck(c))
			}
		})
	}
}
