package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hashicorp/go-multierror"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
	"github.com/mcupdate/mcupdate/patches"
)

// Exit codes, decided in one place (exitCode) and documented in usage.
const (
	exitOK     = 0 // all good
	exitFailed = 1 // a check failed, drift found, or a patch could not be applied
	exitUsage  = 2 // usage or configuration error
	exitLocked = 3 // another mcupdate run holds the lock
)

const exitStatusHelp = `EXIT STATUS
  0  ok
  1  a check failed, drift was found, or a patch could not be applied
  2  usage or configuration error
  3  another mcupdate run holds the lock
`

// usageError is a mistake in the command line; it exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// configError is a problem with the configuration or the environment the
// command needs (mailcow dir, state dir); it exits 2.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// exitError ends the command with a code after its messages were printed.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// errSilent is returned after a command printed its own failure.
var errSilent = &exitError{exitFailed}

func exitCode(err error) int {
	var ee *exitError
	var ue *usageError
	var ce *configError
	var cfe *config.Error
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, state.ErrLocked):
		return exitLocked
	case errors.As(err, &ue), errors.As(err, &ce), errors.As(err, &cfe), errors.Is(err, flag.ErrHelp),
		errors.Is(err, state.ErrUnsafe):
		return exitUsage
	case errors.Is(err, patches.ErrSyntax), errors.Is(err, patches.ErrUnknownPatch),
		errors.Is(err, patches.ErrParam), errors.Is(err, patches.ErrUnsafePath):
		// A patch file or its parameters are wrong: the configuration.
		return exitUsage
	}
	return exitFailed
}

// globals are the flags every command accepts.
type globals struct {
	mailcowDir string
	configPath string
	stateDir   string
	daemonJSON string
	dryRun     bool
	quiet      bool
	verbose    bool
}

func (g *globals) register(fs *flag.FlagSet, getenv func(string) string) {
	def := func(env, fallback string) string {
		if v := getenv(env); v != "" {
			return v
		}
		return fallback
	}
	fs.StringVar(&g.mailcowDir, "mailcow-dir", def("MCUPDATE_MAILCOW_DIR", ""), "mailcow directory (env MCUPDATE_MAILCOW_DIR; default: the current directory if it holds mailcow.conf)")
	fs.StringVar(&g.configPath, "config", def("MCUPDATE_CONFIG", config.DefaultPath), "configuration file (env MCUPDATE_CONFIG)")
	fs.StringVar(&g.stateDir, "state-dir", def("MCUPDATE_STATE_DIR", state.DefaultDir), "state directory (env MCUPDATE_STATE_DIR)")
	fs.StringVar(&g.daemonJSON, "daemon-json", def("MCUPDATE_DAEMON_JSON", "/etc/docker/daemon.json"), "Docker daemon.json (env MCUPDATE_DAEMON_JSON)")
	fs.BoolVar(&g.dryRun, "dry-run", false, "change nothing; show what would change")
	fs.BoolVar(&g.quiet, "q", false, "quiet: only warnings, errors and results")
	fs.BoolVar(&g.verbose, "v", false, "verbose")
}

// app is one invocation of mcupdate.
type app struct {
	g      globals
	ui     *ui.UI
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string

	cfg *config.Config
}

// command is one subcommand.
type command struct {
	name    string
	args    string // synopsis after the name
	summary string
	run     func(ctx context.Context, a *app, args []string) error
}

// commands lists the subcommands in the order --help shows them.
func commands() []command {
	return []command{
		{"hook", "pre | post", "what the update.sh shims run", runHookCmd},
		{"verify", "[--json] [--prometheus FILE]", "check that the install is as the admin set it up (exit 1 if not)", runVerifyCmd},
		{"apply", "[--dry-run] [--no-restart]", "re-apply the enabled patches now; --dry-run prints the diffs", runApplyCmd},
		{"diff", "[--base REV] [--full] [--json] [--exit-code]", "risk diff of the last update", runDiffCmd},
		{"ack", "ID...", "accept the loss of a customization an update dropped (verify stops failing)", runAckCmd},
		{"snapshot", "list | create | restore ID [PATH...]", "snapshots of the gitignored override files", runSnapshotCmd},
		{"replay", "--upstream URL|PATH --from REF (--to REF[,REF...] | --tags GLOB) [--chain] [--local DIR] [--json] [--keep]", "rehearse an update against upstream tags (CI)", runReplayCmd},
		{"demo", "[--keep]", "the whole cycle on the built-in fixtures, no mailcow needed", runDemoCmd},
		{"version", "", "print the version", runVersionCmd},
	}
}

// Main runs mcupdate with args (without the program name) and returns the
// exit code. The testscript tests register it as the mcupdate command.
func Main(args []string) int {
	return run(args, os.Stdout, os.Stderr, os.Getenv)
}

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdout: stdout, stderr: stderr, getenv: getenv}
	a.ui = ui.New(stdout, stderr)
	if getenv("NO_COLOR") != "" {
		a.ui.Color = false
	}
	fs := flag.NewFlagSet("mcupdate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.g.register(fs, getenv)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.usage(stdout)
			return exitOK
		}
		a.ui.Errorf("%v", err)
		a.ui.Hintf("run 'mcupdate --help' for usage")
		return exitUsage
	}
	a.applyGlobals()
	rest := fs.Args()
	if len(rest) == 0 {
		a.usage(stderr)
		return exitUsage
	}
	name := rest[0]
	if name == "help" {
		a.usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := c.run(ctx, a, rest[1:])
		return a.finish(err)
	}
	a.ui.Errorf("unknown command %q", name)
	a.ui.Hintf("run 'mcupdate --help' for the list of commands")
	return exitUsage
}

// finish prints err (unless the command already did) and maps it to the
// exit code.
func (a *app) finish(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if !errors.As(err, &ee) {
		for _, e := range flatten(err) {
			for _, line := range strings.Split(strings.TrimSpace(e.Error()), "\n") {
				a.ui.Errorf("%s", line)
			}
		}
		var ue *usageError
		if errors.As(err, &ue) {
			a.ui.Hintf("run 'mcupdate --help' for usage")
		}
		if h := gitx.Hint(err); h != "" {
			a.ui.Hintf("%s", h)
		}
	}
	return exitCode(err)
}

// flatten lists the errors a multierror (or errors.Join) collected, so
// each gets its own "mcupdate: error:" line.
func flatten(err error) []error {
	var me *multierror.Error
	if errors.As(err, &me) {
		var out []error
		for _, e := range me.WrappedErrors() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	// errors.Join's text is its errors' texts a line each; fmt.Errorf
	// with two %w also unwraps to a list, but its text is one message
	// ("manifest.json: bad manifest: invalid character") that must stay
	// whole.
	if j, ok := err.(interface{ Unwrap() []error }); ok && isJoin(err, j.Unwrap()) {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func isJoin(err error, errs []error) bool {
	texts := make([]string, 0, len(errs))
	for _, e := range errs {
		if e != nil {
			texts = append(texts, e.Error())
		}
	}
	return err.Error() == strings.Join(texts, "\n")
}

func (a *app) applyGlobals() {
	a.ui.Quiet = a.g.quiet
	a.ui.Verbose = a.g.verbose
}

// flags returns a FlagSet for a subcommand that also accepts the global
// flags, so `mcupdate hook pre --dry-run` works as well as
// `mcupdate --dry-run hook pre`.
func (a *app) flags(name, synopsis, help string) *flag.FlagSet {
	fs := flag.NewFlagSet("mcupdate "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// Re-register the globals on this set with the values parsed so far
	// as their defaults.
	g := a.g
	fs.StringVar(&a.g.mailcowDir, "mailcow-dir", g.mailcowDir, "mailcow directory")
	fs.StringVar(&a.g.configPath, "config", g.configPath, "configuration file")
	fs.StringVar(&a.g.stateDir, "state-dir", g.stateDir, "state directory")
	fs.StringVar(&a.g.daemonJSON, "daemon-json", g.daemonJSON, "Docker daemon.json")
	fs.BoolVar(&a.g.dryRun, "dry-run", g.dryRun, "change nothing; show what would change")
	fs.BoolVar(&a.g.quiet, "q", g.quiet, "quiet")
	fs.BoolVar(&a.g.verbose, "v", g.verbose, "verbose")
	fs.Usage = func() {
		fmt.Fprintf(a.stdout, "usage: mcupdate %s %s\n\n%s\n", name, synopsis, strings.TrimSpace(help))
		own := false
		fs.VisitAll(func(f *flag.Flag) {
			if !isGlobalFlag(f.Name) {
				if !own {
					fmt.Fprintln(a.stdout, "\nOPTIONS")
					own = true
				}
				fmt.Fprintf(a.stdout, "  -%s\t%s\n", f.Name, f.Usage)
			}
		})
		fmt.Fprintf(a.stdout, "\nGlobal options are accepted too: see 'mcupdate --help'.\n\n%s", exitStatusHelp)
	}
	return fs
}

func isGlobalFlag(name string) bool {
	switch name {
	case "mailcow-dir", "config", "state-dir", "daemon-json", "dry-run", "q", "v":
		return true
	}
	return false
}

// parse parses a subcommand's args with flags allowed anywhere, and
// returns the positional arguments.
func (a *app) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.Usage()
				return nil, flag.ErrHelp
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	a.applyGlobals()
	return pos, nil
}

func (a *app) usage(w io.Writer) {
	fmt.Fprintf(w, `mcupdate keeps a mailcow admin's customizations alive through update.sh.

usage: mcupdate [global options] COMMAND [options]

COMMANDS
`)
	for _, c := range commands() {
		syn := strings.TrimSpace(c.name + " " + c.args)
		if len(syn) > 34 {
			// A long synopsis gets its own line, the summary the next.
			fmt.Fprintf(w, "  %s\n  %-34s %s\n", syn, "", c.summary)
			continue
		}
		fmt.Fprintf(w, "  %-34s %s\n", syn, c.summary)
	}
	fmt.Fprintf(w, `
GLOBAL OPTIONS
  --mailcow-dir DIR   mailcow directory (env MCUPDATE_MAILCOW_DIR; default: the
                      current directory if it holds mailcow.conf)
  --config FILE       configuration (env MCUPDATE_CONFIG; default %s)
  --state-dir DIR     state directory (env MCUPDATE_STATE_DIR; default %s)
  --daemon-json FILE  Docker's daemon.json (env MCUPDATE_DAEMON_JSON;
                      default /etc/docker/daemon.json)
  --dry-run           change nothing; show what would change
  -q                  quiet: only warnings, errors and results
  -v                  verbose

Run 'mcupdate COMMAND --help' for a command's options.
Colour only on a terminal, never with NO_COLOR.

%s`, config.DefaultPath, state.DefaultDir, exitStatusHelp)
}

// config loads the configuration once, printing its warnings.
func (a *app) config() (*config.Config, error) {
	if a.cfg != nil {
		return a.cfg, nil
	}
	c, err := config.Load(a.g.configPath)
	if err != nil {
		return nil, err
	}
	for _, w := range c.Warnings {
		a.ui.Warnf("%s", w)
	}
	if !c.Exists {
		a.ui.Debugf("no configuration at %s: using the defaults", a.g.configPath)
	}
	a.cfg = c
	return c, nil
}

// mailcowDir returns the mailcow directory, checked: it must hold
// mailcow.conf and a git checkout.
func (a *app) mailcowDir() (string, error) {
	dir := a.g.mailcowDir
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", &configError{err}
		}
		if _, err := os.Stat(filepath.Join(wd, "mailcow.conf")); err != nil {
			return "", &configError{errors.New("no mailcow directory: run in the mailcow directory or pass --mailcow-dir (or set MCUPDATE_MAILCOW_DIR)")}
		}
		dir = wd
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", &configError{err}
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", &configError{fmt.Errorf("mailcow dir %s: %w", abs, unwrapPath(err))}
	}
	if !fi.IsDir() {
		return "", &configError{fmt.Errorf("mailcow dir %s: not a directory", abs)}
	}
	if _, err := os.Lstat(filepath.Join(abs, "mailcow.conf")); err != nil {
		return "", &configError{fmt.Errorf("mailcow dir %s: no mailcow.conf: is mailcow installed here?", abs)}
	}
	if _, err := os.Stat(filepath.Join(abs, ".git")); err != nil {
		return "", &configError{fmt.Errorf("mailcow dir %s: no .git: mailcow must be a git checkout for update.sh to work", abs)}
	}
	// Every write below it, by any command, through a handle on it.
	if err := fsx.Confine(abs); err != nil {
		return "", &configError{fmt.Errorf("mailcow dir %s: %w", abs, err)}
	}
	return abs, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// state returns the state directory, read-only with --dry-run.
func (a *app) state() state.Dir { return state.Dir{Path: a.g.stateDir, ReadOnly: a.g.dryRun} }

// system returns where writes go: disk, or a recorder with --dry-run.
func (a *app) system() fsx.System {
	if a.g.dryRun {
		return &fsx.Recorder{}
	}
	return fsx.Real{}
}
