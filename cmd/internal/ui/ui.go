// Package ui prints mcupdate's messages: progress lines on stdout,
// warnings, errors and hints on stderr as "mcupdate: error: …", colour only
// on a terminal and never with NO_COLOR.
package ui

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// UI writes messages for one run.
type UI struct {
	Out, Err io.Writer
	Quiet    bool // only warnings and errors
	Verbose  bool // also Debugf lines
	Color    bool
	// Secrets, when set, hides the secrets in every line the UI prints
	// (a *secret.Redactor): messages, details and dry-run diffs quote the
	// admin's files.
	Secrets interface{ String(string) string }
	// Getenv is the environment COLUMNS is read from (the command's
	// injected one); nil is an empty environment.
	Getenv func(string) string

	mu sync.Mutex
}

// New returns a UI on the given writers that reads NO_COLOR and COLUMNS
// with getenv (nil: an empty environment); colour is on when both writers
// are terminals and NO_COLOR is unset, so a stderr redirected to a log
// file gets no escape codes even when stdout is a terminal.
func New(out, errw io.Writer, getenv func(string) string) *UI {
	u := &UI{Out: out, Err: errw, Getenv: getenv}
	u.Color = IsTerminal(out) && IsTerminal(errw) && u.getenv("NO_COLOR") == ""
	return u
}

func (u *UI) getenv(key string) string {
	if u.Getenv == nil {
		return ""
	}
	return u.Getenv(key)
}

// IsTerminal reports whether w is a terminal: a file with terminal
// attributes, not just any character device such as /dev/null.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

const (
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	cyan   = "\x1b[36m"
	bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

func (u *UI) paint(color, s string) string {
	if !u.Color {
		return s
	}
	return color + s + reset
}

// Red, Green, Yellow, Bold colour s when colour is on.
func (u *UI) Red(s string) string    { return u.paint(red, s) }
func (u *UI) Green(s string) string  { return u.paint(green, s) }
func (u *UI) Yellow(s string) string { return u.paint(yellow, s) }
func (u *UI) Cyan(s string) string   { return u.paint(cyan, s) }
func (u *UI) Bold(s string) string   { return u.paint(bold, s) }

func (u *UI) line(w io.Writer, s string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.Secrets != nil {
		s = u.Secrets.String(s)
	}
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	_, _ = io.WriteString(w, s)
}

// Printf prints a result line on stdout, also when quiet.
func (u *UI) Printf(format string, a ...any) { u.line(u.Out, fmt.Sprintf(format, a...)) }

// Infof prints a progress line on stdout unless quiet.
func (u *UI) Infof(format string, a ...any) {
	if !u.Quiet {
		u.line(u.Out, fmt.Sprintf(format, a...))
	}
}

// Debugf prints a line on stdout only with -v.
func (u *UI) Debugf(format string, a ...any) {
	if u.Verbose {
		u.line(u.Out, fmt.Sprintf(format, a...))
	}
}

// Warnf prints "mcupdate: warning: …" on stderr.
func (u *UI) Warnf(format string, a ...any) {
	u.line(u.Err, u.Yellow("mcupdate: warning: ")+fmt.Sprintf(format, a...))
}

// Errorf prints "mcupdate: error: …" on stderr.
func (u *UI) Errorf(format string, a ...any) {
	u.line(u.Err, u.Red("mcupdate: error: ")+fmt.Sprintf(format, a...))
}

// Hintf prints "mcupdate: hint: …" on stderr.
func (u *UI) Hintf(format string, a ...any) {
	u.line(u.Err, u.Cyan("mcupdate: hint: ")+fmt.Sprintf(format, a...))
}

// Discard is a UI that prints nothing, for library callers and tests.
func Discard() *UI { return &UI{Out: io.Discard, Err: io.Discard, Quiet: true} }

// Width returns the width of the terminal Out is, $COLUMNS when set, or 0
// (no limit) when Out is not a terminal: a report piped to a file or mail
// is not cut.
func (u *UI) Width() int {
	if n, err := strconv.Atoi(u.getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	f, ok := u.Out.(*os.File)
	if !ok || !IsTerminal(f) {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return 80
	}
	return int(ws.Col)
}
