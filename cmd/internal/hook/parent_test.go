package hook

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		name string
		raw  string // /proc/PID/cmdline: NUL-separated, NUL-terminated
		want Parent
	}{
		{"check", "bash\x00./update.sh\x00--check\x00", Parent{UpdateSh: true, Args: []string{"--check"}, Mode: ModeReadOnly, Option: "--check"}},
		{"force then gc", "/bin/bash\x00update.sh\x00-f\x00--gc\x00", Parent{UpdateSh: true, Args: []string{"-f", "--gc"}, Mode: ModeReadOnly, Option: "--gc"}},
		{"absolute path, force", "bash\x00/opt/mailcow-dockerized/update.sh\x00--force\x00", Parent{UpdateSh: true, Args: []string{"--force"}, Mode: ModeUpdate}},
		{"no options", "bash\x00update.sh\x00", Parent{UpdateSh: true, Args: []string{}, Mode: ModeUpdate}},
		{"no final NUL", "bash\x00update.sh", Parent{UpdateSh: true, Args: []string{}, Mode: ModeUpdate}},
		{"-c", "bash\x00./update.sh\x00-c\x00", Parent{UpdateSh: true, Args: []string{"-c"}, Mode: ModeReadOnly, Option: "-c"}},
		{"-h", "bash\x00./update.sh\x00-h\x00", Parent{UpdateSh: true, Args: []string{"-h"}, Mode: ModeReadOnly, Option: "-h"}},
		{"--help", "bash\x00./update.sh\x00--help\x00", Parent{UpdateSh: true, Args: []string{"--help"}, Mode: ModeReadOnly, Option: "--help"}},
		{"--prefetch", "bash\x00./update.sh\x00--prefetch\x00", Parent{UpdateSh: true, Args: []string{"--prefetch"}, Mode: ModeReadOnly, Option: "--prefetch"}},
		{"--check-tags", "bash\x00./update.sh\x00--check-tags\x00", Parent{UpdateSh: true, Args: []string{"--check-tags"}, Mode: ModeReadOnly, Option: "--check-tags"}},
		{"first read-only option wins", "bash\x00update.sh\x00--help\x00--check\x00", Parent{UpdateSh: true, Args: []string{"--help", "--check"}, Mode: ModeReadOnly, Option: "--help"}},
		{"update options", "bash\x00update.sh\x00--skip-start\x00--skip-ping-check\x00-f\x00", Parent{UpdateSh: true, Args: []string{"--skip-start", "--skip-ping-check", "-f"}, Mode: ModeUpdate}},
		{"bash options before the script", "/usr/bin/bash\x00-x\x00update.sh\x00--check\x00", Parent{UpdateSh: true, Args: []string{"--check"}, Mode: ModeReadOnly, Option: "--check"}},
		{"trailing NULs", "bash\x00update.sh\x00--check\x00\x00\x00", Parent{UpdateSh: true, Args: []string{"--check"}, Mode: ModeReadOnly, Option: "--check"}},
		{"empty argument kept", "bash\x00update.sh\x00\x00--force\x00", Parent{UpdateSh: true, Args: []string{"", "--force"}, Mode: ModeUpdate}},
		{"an option's look-alike is not it", "bash\x00update.sh\x00--checks\x00-ch\x00", Parent{UpdateSh: true, Args: []string{"--checks", "-ch"}, Mode: ModeUpdate}},
		{"other script", "bash\x00other.sh\x00--check\x00", Parent{}},
		{"update.sh.bak", "bash\x00update.sh.bak\x00--force\x00", Parent{}},
		{"update.sh as a directory name", "bash\x00/tmp/update.sh/run\x00", Parent{}},
		{"my-update.sh", "bash\x00my-update.sh\x00", Parent{}},
		{"empty", "", Parent{}},
		{"only NULs", "\x00\x00", Parent{}},
		{"go test", "/usr/local/go/bin/go\x00test\x00./...\x00", Parent{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.PID = 4242
			got := parseCmdline(4242, []byte(tt.raw))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseCmdline(%q)\n got  %+v\n want %+v", tt.raw, got, tt.want)
			}
		})
	}
}

// The test binary's parent is go test (or whatever ran it), not update.sh.
func TestDetectParentNotUpdateSh(t *testing.T) {
	if os.Getenv(parentHelperEnv) != "" {
		t.Skip("helper run")
	}
	p := DetectParent()
	if p.PID != os.Getppid() {
		t.Errorf("PID %d, want %d", p.PID, os.Getppid())
	}
	if p.UpdateSh || p.Mode != ModeNone || p.Args != nil {
		t.Errorf("DetectParent = %+v", p)
	}
}

const parentHelperEnv = "MCUPDATE_HOOK_TEST_PARENT_HELPER"

// TestDetectParentHelper prints DetectParent's answer when the test binary
// is run by a script named update.sh; a plain test run skips it.
func TestDetectParentHelper(t *testing.T) {
	if os.Getenv(parentHelperEnv) == "" {
		t.Skip("only run by TestDetectParentUnderUpdateSh")
	}
	b, err := json.Marshal(DetectParent())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("PARENT %s\n", b)
}

// A real bash running a real update.sh runs the hook: DetectParent reads
// its /proc cmdline.
func TestDetectParentUnderUpdateSh(t *testing.T) {
	if os.Getenv(parentHelperEnv) != "" {
		t.Skip("helper run")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "update.sh")
	// The command is not the script's last, so bash forks it instead of
	// replacing itself with it.
	body := "#!" + bash + "\n\"$HELPER\" -test.run='^TestDetectParentHelper$'\nstatus=$?\nexit $status\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want Parent
	}{
		{[]string{"--check"}, Parent{UpdateSh: true, Args: []string{"--check"}, Mode: ModeReadOnly, Option: "--check"}},
		{[]string{"-f", "--skip-start"}, Parent{UpdateSh: true, Args: []string{"-f", "--skip-start"}, Mode: ModeUpdate}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			// Run as ./update.sh: the kernel gives bash the script's path.
			cmd := exec.Command("./update.sh", tt.args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), parentHelperEnv+"=1", "HELPER="+os.Args[0])
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var got Parent
			for _, line := range strings.Split(string(out), "\n") {
				if j, ok := strings.CutPrefix(line, "PARENT "); ok {
					if err := json.Unmarshal([]byte(j), &got); err != nil {
						t.Fatal(err)
					}
				}
			}
			if got.PID == 0 || got.PID == os.Getpid() {
				t.Fatalf("PID %d: not the bash running update.sh\n%s", got.PID, out)
			}
			tt.want.PID = got.PID
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DetectParent under ./update.sh %s\n got  %+v\n want %+v", strings.Join(tt.args, " "), got, tt.want)
			}
		})
	}
}
