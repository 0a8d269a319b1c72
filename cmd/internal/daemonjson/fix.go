package daemonjson

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/proc"
)

// ErrDockerVersion is a Docker server version that could not be read or
// parsed; callers treat the version as unknown, as update.sh does.
var ErrDockerVersion = errors.New("docker server version unknown")

// dockerWaitDelay bounds how long DockerMajor waits for a killed docker's
// output pipes to close. Overridden by tests.
var dockerWaitDelay = 2 * time.Second

// DockerMajor asks the Docker engine for its version, as update.sh does
// (`docker version --format '{{.Server.Version}}'`), within timeout, and
// returns its major number and the raw output. A missing docker binary, an
// unreachable engine, a timeout or output that is not a version is an
// error wrapping [ErrDockerVersion], carrying docker's stderr.
func DockerMajor(ctx context.Context, timeout time.Duration) (major int, raw string, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Its own process group, so that a hung docker and anything it started
	// are killed together and cannot keep the pipes open.
	cmd := proc.Command(ctx, "docker", "version", "--format", "{{.Server.Version}}")
	cmd.WaitDelay = dockerWaitDelay
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	raw = strings.TrimSpace(stdout.String())
	if ctx.Err() == context.DeadlineExceeded {
		return 0, raw, fmt.Errorf("%w: docker version: no answer within %v", ErrDockerVersion, timeout)
	}
	if runErr != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = "no output on stderr"
		}
		return 0, raw, fmt.Errorf("%w: docker version: %w: %s", ErrDockerVersion, runErr, msg)
	}
	major, err = ParseMajor(raw)
	return major, raw, err
}

// ParseMajor returns the major number of a Docker version such as
// "28.2.2", "27.0.0-rc1" or "v26.1.4".
func ParseMajor(v string) (int, error) {
	s := strings.TrimPrefix(strings.TrimSpace(v), "v")
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	// A bare number, or one followed by the rest of a version.
	if end == 0 || end > 6 || (end < len(s) && s[end] != '.' && s[end] != '-' && s[end] != '+') {
		return 0, fmt.Errorf("%w: %q is not a version", ErrDockerVersion, v)
	}
	n, err := strconv.Atoi(s[:end])
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%w: %q is not a version", ErrDockerVersion, v)
	}
	return n, nil
}

// Result is what [Fix] did.
type Result struct {
	Path    string   // the path given
	Target  string   // the file written: Path, or the final target of its symlinks
	Created bool     // the file did not exist and was created
	Backup  string   // the copy of the original, "" when nothing was written or the file was created
	Changes []Change // empty when the file already passed
	// Loud are the messages the hook must show, one per overridden value.
	Loud []string
}

// Changed reports whether Fix wrote anything.
func (r *Result) Changed() bool { return r.Created || len(r.Changes) > 0 }

// readFile reads name as the System would see it: a dry run's Recorder
// shows its recorded writes, so steps compose as they would for real.
func readFile(sys fsx.System, name string) ([]byte, error) {
	if r, ok := sys.(interface{ ReadFile(string) ([]byte, error) }); ok {
		return r.ReadFile(name)
	}
	return osReadFile(name)
}

// osReadFile reads a file. Overridden by tests: they run as root, where
// permissions cannot make a file unreadable.
var osReadFile = os.ReadFile

// Fix makes the daemon.json at path meet req: the file-level step of the
// pre hook. A symlink is followed and its final target edited (the link
// stays a link). A missing file is created (parent directories 0755, file
// 0644) holding just the required keys. Otherwise, when [Ensure] changes
// something, the original bytes are first written beside the target as
// <target>.mcupdate-<UTC time>.bak with the original's mode and owner, then
// the new content replaces the target. Every write goes through sys. A
// directory, a dangling symlink, an unreadable file or one Ensure refuses
// is an error naming path, and nothing is written. Fix never restarts or
// signals Docker: the engine reads the file when it next starts.
func Fix(sys fsx.System, path string, req Requirements, now time.Time) (*Result, error) {
	res := &Result{Path: path}
	target, err := fsx.ResolveLink(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	res.Target = target
	_, lerr := os.Lstat(path)
	fi, err := os.Stat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist) && lerr == nil:
		return nil, &Error{Path: path, Err: ErrDanglingLink,
			Reason: fmt.Sprintf("dangling symlink: its target %s does not exist; fix or remove the link", target)}
	case errors.Is(err, fs.ErrNotExist):
		return create(sys, res, req)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", path, err)
	case fi.IsDir():
		return nil, &Error{Path: path, Err: ErrNotRegular, Reason: "is a directory, want a JSON file"}
	case !fi.Mode().IsRegular():
		return nil, &Error{Path: path, Err: ErrNotRegular, Reason: "is not a regular file"}
	}
	orig, err := readFile(sys, target)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	out, changes, err := Ensure(orig, req)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Path = path
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(changes) == 0 {
		return res, nil
	}
	backup, err := backupName(target, now)
	if err != nil {
		return nil, err
	}
	if err := sys.WriteFile(backup, orig, fi.Mode().Perm()); err != nil {
		return nil, fmt.Errorf("back up %s to %s: %w", path, backup, err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if err := sys.Lchown(backup, int(st.Uid), int(st.Gid)); err != nil {
			return nil, fmt.Errorf("back up %s: keep owner on %s: %w", path, backup, err)
		}
	}
	res.Backup = backup
	if err := sys.WriteFile(target, out, fi.Mode().Perm()); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	res.Changes = changes
	for _, c := range changes {
		if c.Loud {
			res.Loud = append(res.Loud, fmt.Sprintf("%s: %s, as update.sh requires; Docker uses it from its next restart (backup: %s)", path, c, backup))
		}
	}
	return res, nil
}

// Errors of paths Fix will not write to.
var (
	// ErrNotRegular is a daemon.json path that is a directory or a device.
	ErrNotRegular = errors.New("not a regular file")
	// ErrDanglingLink is a daemon.json symlink whose target is missing:
	// creating the target could put Docker's config somewhere unexpected.
	ErrDanglingLink = errors.New("dangling symlink")
)

// backupName is <target>.mcupdate-<UTC time>.bak, with a counter when a
// backup of that second already exists, so no backup is ever replaced.
func backupName(target string, now time.Time) (string, error) {
	base := target + ".mcupdate-" + now.UTC().Format("20060102T150405Z")
	name := base + ".bak"
	for i := 2; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			return name, nil
		} else if err != nil {
			return "", fmt.Errorf("back up %s: %w", target, err)
		}
		if i > 100 {
			return "", fmt.Errorf("back up %s: too many backups named %s*", target, base)
		}
		name = fmt.Sprintf("%s-%d.bak", base, i)
	}
}

// create writes a new daemon.json holding just the required keys.
func create(sys fsx.System, res *Result, req Requirements) (*Result, error) {
	out, changes, err := Ensure([]byte("{\n}\n"), req)
	if err != nil {
		return nil, err
	}
	if err := sys.MkdirAll(filepath.Dir(res.Target), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", res.Path, err)
	}
	if err := sys.WriteFile(res.Target, out, 0o644); err != nil {
		return nil, fmt.Errorf("create %s: %w", res.Path, err)
	}
	res.Created, res.Changes = true, changes
	return res, nil
}
