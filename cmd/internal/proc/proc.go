// Package proc starts the external commands mcupdate runs (git, docker,
// docker compose) so that stopping mcupdate stops them, and everything
// they started, at once.
//
// exec.CommandContext alone kills only the command's own process on
// cancel: `docker compose` killed that way left its child running with
// the output pipe open, and Wait waited for that child (29 s in the
// field) after mcupdate had been told to stop.
package proc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// WaitDelay bounds how long Wait waits for the output pipes once the
// group is killed: only a process that left the group can still hold
// them.
const WaitDelay = time.Second

// Command is exec.CommandContext for a command that runs in its own
// process group: when ctx is done, the whole group is killed (SIGKILL),
// and Wait returns within WaitDelay whatever a straggler holds open. A
// SIGINT or SIGTERM meant for mcupdate alone does not reach the group;
// mcupdate cancels ctx instead.
func Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return KillGroup(cmd.Process.Pid) }
	cmd.WaitDelay = WaitDelay
	return cmd
}

// KillGroup kills the process group led by pid. A group that is already
// gone is os.ErrProcessDone, which Wait does not report as a failure.
func KillGroup(pid int) error {
	err := syscall.Kill(-pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}
