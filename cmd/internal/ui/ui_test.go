package ui

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func newBuffered(quiet, verbose, color bool) (*UI, *bytes.Buffer, *bytes.Buffer) {
	var out, errw bytes.Buffer
	return &UI{Out: &out, Err: &errw, Quiet: quiet, Verbose: verbose, Color: color}, &out, &errw
}

func TestMessages(t *testing.T) {
	tests := []struct {
		name            string
		quiet, verbose  bool
		color           bool
		print           func(u *UI)
		wantOut, wantEr string
	}{
		{"error", false, false, false, func(u *UI) { u.Errorf("read %s: %v", "/etc/mcupdate/mcupdate.ini", "denied") }, "", "mcupdate: error: read /etc/mcupdate/mcupdate.ini: denied\n"},
		{"warning", false, false, false, func(u *UI) { u.Warnf("unknown key %q", "x") }, "", "mcupdate: warning: unknown key \"x\"\n"},
		{"hint", false, false, false, func(u *UI) { u.Hintf("run mcupdate verify") }, "", "mcupdate: hint: run mcupdate verify\n"},
		{"info", false, false, false, func(u *UI) { u.Infof("snapshot %d", 3) }, "snapshot 3\n", ""},
		{"printf", false, false, false, func(u *UI) { u.Printf("result") }, "result\n", ""},
		{"one newline only", false, false, false, func(u *UI) { u.Printf("line\n"); u.Errorf("e\n") }, "line\n", "mcupdate: error: e\n"},
		{"debug off", false, false, false, func(u *UI) { u.Debugf("detail") }, "", ""},
		{"debug on", false, true, false, func(u *UI) { u.Debugf("detail") }, "detail\n", ""},
		{"quiet drops info", true, false, false, func(u *UI) { u.Infof("progress") }, "", ""},
		{"quiet keeps printf", true, false, false, func(u *UI) { u.Printf("result") }, "result\n", ""},
		{"quiet keeps warnings, errors, hints", true, false, false, func(u *UI) { u.Warnf("w"); u.Errorf("e"); u.Hintf("h") },
			"", "mcupdate: warning: w\nmcupdate: error: e\nmcupdate: hint: h\n"},
		{"colour", false, false, true, func(u *UI) { u.Errorf("e"); u.Warnf("w"); u.Hintf("h") },
			"", "\x1b[31mmcupdate: error: \x1b[0me\n\x1b[33mmcupdate: warning: \x1b[0mw\n\x1b[36mmcupdate: hint: \x1b[0mh\n"},
		{"no colour helpers", false, false, false, func(u *UI) {
			u.Printf("%s %s %s %s %s", u.Red("r"), u.Green("g"), u.Yellow("y"), u.Cyan("c"), u.Bold("b"))
		}, "r g y c b\n", ""},
		{"colour helpers", false, false, true, func(u *UI) { u.Printf("%s%s", u.Green("ok"), u.Bold("!")) }, "\x1b[32mok\x1b[0m\x1b[1m!\x1b[0m\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, out, errw := newBuffered(tt.quiet, tt.verbose, tt.color)
			tt.print(u)
			if out.String() != tt.wantOut {
				t.Errorf("stdout %q, want %q", out, tt.wantOut)
			}
			if errw.String() != tt.wantEr {
				t.Errorf("stderr %q, want %q", errw, tt.wantEr)
			}
			if !tt.color && strings.Contains(out.String()+errw.String(), "\x1b") {
				t.Error("escape code without colour")
			}
		})
	}
}

func TestDiscard(t *testing.T) {
	u := Discard()
	u.Errorf("e")
	u.Printf("p")
	if u.Color {
		t.Error("Discard has colour")
	}
}

// openPTY returns both ends of a new pseudo-terminal, or skips.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pts: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

func TestNewColour(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	_, tty := openPTY(t)

	tests := []struct {
		name      string
		out, errw func() io.Writer
		noColor   string
		want      bool
	}{
		{"buffer", func() io.Writer { return &bytes.Buffer{} }, func() io.Writer { return &bytes.Buffer{} }, "", false},
		{"file", func() io.Writer { return file }, func() io.Writer { return file }, "", false},
		{"pipe (cron, systemd)", func() io.Writer { return w }, func() io.Writer { return w }, "", false},
		// /dev/null is a character device, but not a terminal.
		{"/dev/null", func() io.Writer { return devnull }, func() io.Writer { return devnull }, "", false},
		{"terminal", func() io.Writer { return tty }, func() io.Writer { return tty }, "", true},
		{"terminal with NO_COLOR", func() io.Writer { return tty }, func() io.Writer { return tty }, "1", false},
		// Errors go to stderr: no escape codes in a log it is redirected to.
		{"terminal stdout, stderr to a file", func() io.Writer { return tty }, func() io.Writer { return file }, "", false},
		{"stdout to /dev/null, stderr to a file", func() io.Writer { return devnull }, func() io.Writer { return file }, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			if tt.noColor != "" {
				env["NO_COLOR"] = tt.noColor
			}
			u := New(tt.out(), tt.errw(), func(k string) string { return env[k] })
			if u.Color != tt.want {
				t.Errorf("Color = %v, want %v", u.Color, tt.want)
			}
		})
	}
}

func TestIsTerminal(t *testing.T) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	_, tty := openPTY(t)
	if IsTerminal(devnull) {
		t.Error("/dev/null is a terminal")
	}
	if IsTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
	if !IsTerminal(tty) {
		t.Error("a pty is not a terminal")
	}
}

func TestWidth(t *testing.T) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	_, tty := openPTY(t)
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 132}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		out     io.Writer
		columns string
		want    int
	}{
		{"buffer", &bytes.Buffer{}, "", 0},
		{"/dev/null", devnull, "", 0},
		{"terminal", tty, "", 132},
		{"COLUMNS wins", tty, "100", 100},
		{"COLUMNS on a pipe", &bytes.Buffer{}, "90", 90},
		{"bad COLUMNS", tty, "wide", 132},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"COLUMNS": tt.columns}
			u := &UI{Out: tt.out, Err: &bytes.Buffer{}, Getenv: func(k string) string { return env[k] }}
			if got := u.Width(); got != tt.want {
				t.Errorf("Width = %d, want %d", got, tt.want)
			}
		})
	}
}

// hideSecret is a stand-in redactor: it hides the word "secret".
type hideSecret struct{}

func (hideSecret) String(s string) string { return strings.ReplaceAll(s, "secret", "<redacted>") }

// TestSecretsHiddenInEveryLine: with Secrets set, no line the UI prints
// (results, progress, warnings, errors, hints) shows what it hides.
func TestSecretsHiddenInEveryLine(t *testing.T) {
	var out, errw bytes.Buffer
	u := &UI{Out: &out, Err: &errw, Verbose: true, Secrets: hideSecret{}}
	u.Printf("a %s", "secret")
	u.Infof("b secret")
	u.Debugf("c secret")
	u.Warnf("d %s", "secret")
	u.Errorf("e secret")
	u.Hintf("f secret")
	if s := out.String() + errw.String(); strings.Contains(s, "secret") || strings.Count(s, "<redacted>") != 6 {
		t.Errorf("printed:\n%s", s)
	}
}

func TestText(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"one", "one"},
		{"first\nsecond", "first"},
		{"  \n first line \nsecond\n", "first line "},
	} {
		if got := FirstLine(tt.in); got != tt.want {
			t.Errorf("FirstLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got, want := FirstLines("a\nb\nc\nd\n", 3), "a / b / c"; got != want {
		t.Errorf("FirstLines = %q, want %q", got, want)
	}
	for n, want := range map[int]string{0: "0 files", 1: "1 file", 2: "2 files"} {
		if got := Count(n, "file"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
	if Plural(1, "it", "them") != "it" || Plural(3, "it", "them") != "them" {
		t.Error("Plural picks the wrong form")
	}
}
