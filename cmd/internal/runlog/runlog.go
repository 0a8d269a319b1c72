// Package runlog tells the world how an mcupdate run went: one logfmt
// line per run, appended to a size-capped log file and sent to syslog
// (journald) where /dev/log exists, for log collectors (Loki/promtail,
// Vector, journald) that nobody has to watch update.sh's terminal for.
//
// A line looks like
//
//	time=2026-07-01T12:00:00Z host=mx1 command="hook post" result=warning exit=0 changed=2 warnings=1 errors=0 report=/var/lib/mcupdate/report-20260701T120000.000Z-post.json duration_ms=5312 summary="mcupdate post hook: changed patches, restart; 1 warning"
//
// Keys are fixed and in this order; counts depend on the command. No
// value ever holds a secret: the caller redacts the summary.
package runlog

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/errlist"
)

// Count is one counter of a run, such as changed=2.
type Count struct {
	Name  string
	Value int
}

// Outcome is how one run went.
type Outcome struct {
	Time    time.Time
	Host    string
	Command string // "hook pre", "hook post", "apply", "verify"
	// Result is ok, changed, warning, error (a step failed) or failed
	// (verify: a check failed).
	Result     string
	Exit       int
	Counts     []Count
	Report     string // the report's path, "" when none was written
	Summary    string
	Duration   time.Duration
	MailcowDir string
}

// OK reports whether the run needs nobody: ok or changed.
func (o *Outcome) OK() bool { return o.Result == "ok" || o.Result == "changed" }

// Logfmt is the outcome as one logfmt line, without the newline.
func (o *Outcome) Logfmt() string {
	var b strings.Builder
	kv := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(quote(v))
	}
	kv("time", o.Time.UTC().Format(time.RFC3339))
	if o.Host != "" {
		kv("host", o.Host)
	}
	kv("command", o.Command)
	kv("result", o.Result)
	kv("exit", strconv.Itoa(o.Exit))
	for _, c := range o.Counts {
		kv(c.Name, strconv.Itoa(c.Value))
	}
	if o.Report != "" {
		kv("report", o.Report)
	}
	kv("duration_ms", strconv.FormatInt(o.Duration.Milliseconds(), 10))
	if o.MailcowDir != "" {
		kv("mailcow_dir", o.MailcowDir)
	}
	if o.Summary != "" {
		kv("summary", o.Summary)
	}
	return b.String()
}

// quote leaves a plain value bare and quotes one with a space, a quote, an
// equals sign or a control character, Go style; an empty value is "".
func quote(v string) string {
	if v == "" {
		return `""`
	}
	for _, r := range v {
		if r <= ' ' || r == '"' || r == '=' || r == '\\' || r == 0x7f || r > 0x7e {
			return strconv.Quote(v)
		}
	}
	return v
}

// Parse reads a logfmt line as Logfmt writes it (bare or Go-quoted
// values) into its keys and values, in order.
func Parse(line string) ([][2]string, error) {
	var out [][2]string
	s := strings.TrimRight(line, "\r\n")
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			break
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || strings.ContainsAny(s[:eq], " \"") {
			return nil, fmt.Errorf("logfmt: no key=value at %q", s)
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, fmt.Errorf("logfmt: %s: bad quoted value", key)
			}
			if val, err = strconv.Unquote(q); err != nil {
				return nil, fmt.Errorf("logfmt: %s: %w", key, err)
			}
			s = s[len(q):]
			if s != "" && s[0] != ' ' {
				return nil, fmt.Errorf("logfmt: %s: text after the quoted value", key)
			}
		} else {
			end := strings.IndexByte(s, ' ')
			if end < 0 {
				end = len(s)
			}
			val, s = s[:end], s[end:]
		}
		out = append(out, [2]string{key, val})
	}
	return out, nil
}

// Append adds line and a newline to the file at path (created with mode),
// first moving a file that reached maxSize to path.1 (replacing the one
// there): the log never takes more than about twice maxSize. A link at
// path is never followed.
func Append(path string, maxSize int64, line string, mode os.FileMode) error {
	if fi, err := os.Lstat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("log file %s: not a regular file (%v): mcupdate does not write through it", path, fi.Mode().Type())
		}
		if maxSize > 0 && fi.Size()+int64(len(line))+1 > maxSize && fi.Size() > 0 {
			if err := os.Rename(path, path+".1"); err != nil {
				return fmt.Errorf("log file: rotate: %w", err)
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("log file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, mode)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	// One write: lines of concurrent runs do not interleave.
	_, werr := io.WriteString(f, line+"\n")
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("log file: %w", werr)
	}
	if cerr != nil {
		return fmt.Errorf("log file: %w", cerr)
	}
	return nil
}

// DevLog is the local syslog socket (journald listens on it too).
const DevLog = "/dev/log"

// syslog facility daemon, severities info and warning.
const (
	priInfo    = 3<<3 | 6
	priWarning = 3<<3 | 4
)

// Syslog sends line to the syslog socket at sock (DevLog) as mcupdate's,
// with severity info for an ok run and warning otherwise, within timeout.
// It reports ErrNoSyslog when there is no socket.
func Syslog(sock, line string, ok bool, timeout time.Duration) error {
	if _, err := os.Stat(sock); err != nil {
		return ErrNoSyslog
	}
	pri := priInfo
	if !ok {
		pri = priWarning
	}
	msg := fmt.Sprintf("<%d>%s mcupdate[%d]: %s", pri, time.Now().Format(time.Stamp), os.Getpid(), line)
	var errs []error
	for _, network := range []string{"unixgram", "unix"} {
		c, err := net.DialTimeout(network, sock, timeout)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_ = c.SetWriteDeadline(time.Now().Add(timeout))
		_, err = io.WriteString(c, msg)
		_ = c.Close()
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("syslog %s: %w", sock, errlist.Join(errs...))
}

// ErrNoSyslog: the host has no syslog socket; nothing to do.
var ErrNoSyslog = errors.New("no syslog socket")
