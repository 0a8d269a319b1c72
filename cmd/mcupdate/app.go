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
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/runlog"
	"github.com/mcupdate/mcupdate/cmd/internal/secret"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
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

// hintedError is an error with a hint printed after its error lines.
type hintedError struct {
	err  error
	hint string
}

func (e *hintedError) Error() string { return e.err.Error() }
func (e *hintedError) Unwrap() error { return e.err }

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
		errors.Is(err, state.ErrUnsafe), errors.Is(err, state.ErrNoRecord):
		return exitUsage
	case errors.Is(err, patch.ErrSyntax), errors.Is(err, patch.ErrUnknownPatch),
		errors.Is(err, patch.ErrParam), errors.Is(err, fsx.ErrUnsafePath):
		// A patch file or its parameters are wrong, or a path leads
		// outside the mailcow dir: the configuration.
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

// globalFlag is one global option. The table below is the one place
// they are defined: the top-level parse, every command's parse, --help
// and the shell completions are made from it.
type globalFlag struct {
	name string
	env  string // the environment variable that sets the default, or ""
	arg  string // the value's name in the usage ("DIR"), "" for a switch
	help string
	def  string // the default when the environment does not set it
	// defHelp says the default in words where it is not a value.
	defHelp string
	str     func(*globals) *string
	on      func(*globals) *bool
}

var globalFlags = []globalFlag{
	{name: "mailcow-dir", env: "MCUPDATE_MAILCOW_DIR", arg: "DIR", help: "mailcow directory", defHelp: "the current directory if it holds mailcow.conf",
		str: func(g *globals) *string { return &g.mailcowDir }},
	{name: "config", env: "MCUPDATE_CONFIG", arg: "FILE", help: "configuration", def: config.DefaultPath,
		str: func(g *globals) *string { return &g.configPath }},
	{name: "state-dir", env: "MCUPDATE_STATE_DIR", arg: "DIR", help: "state directory", def: state.DefaultDir,
		str: func(g *globals) *string { return &g.stateDir }},
	{name: "daemon-json", env: "MCUPDATE_DAEMON_JSON", arg: "FILE", help: "Docker's daemon.json", def: "/etc/docker/daemon.json",
		str: func(g *globals) *string { return &g.daemonJSON }},
	{name: "dry-run", help: "change nothing; show what would change", on: func(g *globals) *bool { return &g.dryRun }},
	{name: "q", help: "quiet: nothing when all is well, only what failed otherwise", on: func(g *globals) *bool { return &g.quiet }},
	{name: "v", help: "verbose", on: func(g *globals) *bool { return &g.verbose }},
}

// register defines the global flags on fs with their defaults: the
// environment's, else the built-in ones.
func (g *globals) register(fs *flag.FlagSet, getenv func(string) string) {
	for _, f := range globalFlags {
		if f.on != nil {
			fs.BoolVar(f.on(g), f.name, false, f.help)
			continue
		}
		def := f.def
		if v := getenv(f.env); f.env != "" && v != "" {
			def = v
		}
		fs.StringVar(f.str(g), f.name, def, f.help)
	}
}

// redefine defines the global flags on a command's fs with the values
// parsed so far as their defaults, so that they are accepted after the
// command's name too.
func (g *globals) redefine(fs *flag.FlagSet) {
	now := *g
	for _, f := range globalFlags {
		if f.on != nil {
			fs.BoolVar(f.on(g), f.name, *f.on(&now), f.help)
		} else {
			fs.StringVar(f.str(g), f.name, *f.str(&now), f.help)
		}
	}
}

// globalUsage is the GLOBAL OPTIONS part of --help.
func globalUsage() string {
	var b strings.Builder
	for _, f := range globalFlags {
		dash := "--"
		if len(f.name) == 1 {
			dash = "-"
		}
		head := dash + f.name
		if f.arg != "" {
			head += " " + f.arg
		}
		help := f.help
		var extra []string
		if f.env != "" {
			extra = append(extra, "env "+f.env)
		}
		if f.defHelp != "" {
			extra = append(extra, "default: "+f.defHelp)
		} else if f.def != "" {
			extra = append(extra, "default "+f.def)
		}
		if len(extra) > 0 {
			help += " (" + strings.Join(extra, "; ") + ")"
		}
		lines := wrapWords(help, 58)
		fmt.Fprintf(&b, "  %-19s %s\n", head, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(&b, "  %-19s %s\n", "", l)
		}
	}
	return b.String()
}

// wrapWords breaks s at spaces into lines of at most width bytes.
func wrapWords(s string, width int) []string {
	var out []string
	cur := ""
	for _, w := range strings.Fields(s) {
		if cur != "" && len(cur)+1+len(w) > width {
			out = append(out, cur)
			cur = w
			continue
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	return append(out, cur)
}

// app is one invocation of mcupdate.
type app struct {
	g      globals
	ui     *ui.UI
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string

	cfg     *config.Config
	secrets *secret.Redactor // mailcow.conf's, once the mailcow dir is known
	// outcome is how the run went, for the run log and the
	// notifications; nil for commands that publish nothing.
	outcome *runlog.Outcome
}

// command is one subcommand: the one place its synopsis, summary and help
// text are written (--help, the usage, the man page and the shell
// completions are made from them).
type command struct {
	name    string
	args    string // synopsis after the name
	summary string
	help    string
	run     func(ctx context.Context, a *app, args []string) error
}

// commands lists the subcommands in the order --help shows them.
func commands() []command {
	return []command{
		{"hook", "pre | post", "what the update.sh shims run", hookHelp, runHookCmd},
		{"verify", "[--json] [--prometheus FILE] [--validate]", "check that the install is as the admin set it up (exit 1 if not)", verifyHelp, runVerifyCmd},
		{"status", "[--json]", "one screen on the install, its last and its next update", statusHelp, runStatusCmd},
		{"patches", "[--enabled] [--json]", "list the shipped and own patches, enabled or not, with their parameters' values", patchesHelp, runPatchesCmd},
		{"apply", "[--dry-run] [--validate] [--no-restart] [--revert]", "re-apply the enabled patches now; --dry-run prints the diffs", applyHelp, runApplyCmd},
		{"diff", "[--base REV] [--full] [--json] [--exit-code]", "risk diff of the last update", diffHelp, runDiffCmd},
		{"ack", "ID...", "accept the loss of a customization an update dropped (verify stops failing)", ackHelp, runAckCmd},
		{"snapshot", "list | create | restore ID [PATH...]", "snapshots of the gitignored override files", snapshotHelp, runSnapshotCmd},
		{"adopt", "[--write]", "protect the customizations the install has: shipped patches, own patches, override files", adoptHelp, runAdoptCmd},
		{"rollback", "[ID] [--dry-run] [--allow-schema-change] [--no-restart] [--list]", "go back to the state before an update, on the branch", rollbackHelp, runRollbackCmd},
		{"replay", "--upstream URL|PATH --from REF (--to REF[,REF...] | --tags GLOB) [--chain] [--local DIR] [--json] [--keep]", "rehearse an update against upstream tags (CI)", replayHelp, runReplayCmd},
		{"demo", "[--keep]", "the whole cycle on the built-in fixtures, no mailcow needed", demoHelp, runDemoCmd},
		{"completion", "bash | zsh", "print a shell completion script", completionHelp, runCompletionCmd},
		{"man", "", "print the manual page (roff)", manHelp, runManCmd},
		{"version", "", "print the version", versionHelp, runVersionCmd},
	}
}

// Main runs mcupdate with args (without the program name) and returns the
// exit code. The testscript tests register it as the mcupdate command.
func Main(args []string) int {
	keepWorkingWithoutOutput()
	return run(args, os.Stdout, os.Stderr, os.Getenv)
}

// keepWorkingWithoutOutput makes sure output never decides the work: a
// stdout closed under a hook (`./update.sh | head`, a dropped SSH
// session's pipe) killed the post hook with SIGPIPE after it restored the
// overrides and before it re-applied the patches. With SIGPIPE caught, a
// write to the closed pipe fails with EPIPE, which ui ignores; SIGHUP (the
// terminal is gone) is caught too. Every step runs, the report is written,
// then mcupdate exits. Caught, not ignored: an ignored signal stays
// ignored in git and docker after exec, a caught one is reset.
func keepWorkingWithoutOutput() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGPIPE, syscall.SIGHUP)
	go func() {
		for range ch {
		}
	}()
}

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdout: stdout, stderr: stderr, getenv: getenv}
	a.ui = ui.New(stdout, stderr, getenv)
	// Every line printed hides secret settings; mailcowDir adds the
	// values of mailcow.conf's secrets once it knows the install.
	a.ui.Secrets = secret.NewRedactor()
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
		start := time.Now()
		err := c.run(ctx, a, rest[1:])
		code := a.finish(err)
		a.publish(ctx, start, code)
		return code
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
		var he *hintedError
		switch {
		case errors.As(err, &he):
			a.ui.Hintf("%s", he.hint)
		case errors.As(err, &ue):
			a.ui.Hintf("run 'mcupdate --help' for usage")
		}
		if h := gitx.Hint(err); h != "" {
			a.ui.Hintf("%s", h)
		}
	}
	return exitCode(err)
}

// flatten lists the errors a multierror collected, so each gets its own
// "mcupdate: error:" line. A list in go-multierror's own format (a
// bulleted "N errors occurred") is split wherever it is in the chain. A
// list from errlist.Join is split only when it is err itself: its text is
// already one error a line, and wrapped ("syslog /dev/log: …") the
// wrapper's prefix belongs to its first line.
func flatten(err error) []error {
	var me *multierror.Error
	if errors.As(err, &me) && (me.ErrorFormat == nil || error(me) == err) {
		var out []error
		for _, e := range me.WrappedErrors() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func (a *app) applyGlobals() {
	a.ui.Quiet = a.g.quiet
	a.ui.Verbose = a.g.verbose
}

// flags returns a FlagSet for the subcommand name that also accepts the
// global flags, so `mcupdate hook pre --dry-run` works as well as
// `mcupdate --dry-run hook pre`. Its usage comes from the command table.
func (a *app) flags(name string) *flag.FlagSet {
	var synopsis, help string
	for _, c := range commands() {
		if c.name == name {
			synopsis, help = c.args, c.help
		}
	}
	fs := flag.NewFlagSet("mcupdate "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.g.redefine(fs)
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
	for _, f := range globalFlags {
		if f.name == name {
			return true
		}
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
				// The flag package has printed fs.Usage already.
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
%s
Run 'mcupdate COMMAND --help' for a command's options.
Colour only on a terminal, never with NO_COLOR.

%s`, globalUsage(), exitStatusHelp)
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
		return "", &configError{fmt.Errorf("mailcow dir %s: %w", abs, fsx.UnwrapPath(err))}
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
	a.learnSecrets(abs)
	return abs, nil
}

// learnSecrets makes every line printed from now on hide the secrets
// mailcow.conf in dir sets, wherever they appear.
func (a *app) learnSecrets(dir string) *secret.Redactor {
	conf, _ := os.ReadFile(filepath.Join(dir, "mailcow.conf"))
	a.secrets = secret.NewRedactor(conf)
	a.ui.Secrets = a.secrets
	return a.secrets
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
