package hook

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Mode is what the update.sh run that started the hook is doing.
type Mode string

// The modes of update.sh that matter to the pre hook.
const (
	ModeNone     Mode = ""          // not started by update.sh
	ModeUpdate   Mode = "update"    // a real update
	ModeReadOnly Mode = "read-only" // --check, --check-tags, --help, --gc, --prefetch: update.sh exits before changing anything
)

// Parent describes the process that ran the hook.
type Parent struct {
	PID      int      `json:"pid"`
	UpdateSh bool     `json:"update_sh"`
	Args     []string `json:"args,omitempty"` // update.sh's options
	Mode     Mode     `json:"mode"`
	Option   string   `json:"option,omitempty"` // the option that made it read-only
}

// Forced reports whether update.sh runs with --force: it asks nothing, so
// nobody can answer N at its prompt (a cron job, an unattended rollout).
func (p Parent) Forced() bool {
	if !p.UpdateSh {
		return false
	}
	for _, a := range p.Args {
		if a == "-f" || a == "--force" {
			return true
		}
	}
	return false
}

// readOnlyOptions are update.sh's options that exit before any change
// (its option loop handles them with an exit, whatever comes before).
var readOnlyOptions = map[string]bool{
	"-c": true, "--check": true, "--check-tags": true,
	"-h": true, "--help": true, "--gc": true, "--prefetch": true,
}

// procRoot is /proc; tests point it elsewhere.
var procRoot = "/proc"

// DetectParent reads the parent process's command line. The shims exec
// mcupdate, so the parent is the bash running update.sh.
func DetectParent() Parent {
	ppid := os.Getppid()
	p := Parent{PID: ppid}
	raw, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(ppid), "cmdline"))
	if err != nil {
		return p
	}
	return parseCmdline(ppid, raw)
}

func parseCmdline(pid int, raw []byte) Parent {
	p := Parent{PID: pid}
	args := strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
	for i, a := range args {
		if filepath.Base(a) == "update.sh" {
			p.UpdateSh = true
			p.Args = args[i+1:]
			break
		}
	}
	if !p.UpdateSh {
		return p
	}
	p.Mode = ModeUpdate
	for _, a := range p.Args {
		if readOnlyOptions[a] {
			p.Mode, p.Option = ModeReadOnly, a
			break
		}
	}
	return p
}
