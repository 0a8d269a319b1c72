package main

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

const completionHelp = `Print a shell completion script, made from the same command table as
--help. install.sh installs them where the distribution looks for them:

  mcupdate completion bash > /usr/share/bash-completion/completions/mcupdate
  mcupdate completion zsh  > /usr/share/zsh/vendor-completions/_mcupdate`

const manHelp = `Print mcupdate's manual page (roff), made from the same text as --help:
man -l <(mcupdate man). install.sh installs it as mcupdate.1.`

func runCompletionCmd(_ context.Context, a *app, args []string) error {
	fs := a.flags("completion")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("completion takes one shell: bash or zsh")
	}
	switch pos[0] {
	case "bash":
		_, err = fmt.Fprint(a.stdout, bashCompletion())
	case "zsh":
		_, err = fmt.Fprint(a.stdout, zshCompletion())
	default:
		return usagef("completion: unknown shell %q (bash or zsh)", pos[0])
	}
	return err
}

func runManCmd(_ context.Context, a *app, args []string) error {
	fs := a.flags("man")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("man takes no arguments")
	}
	_, err = fmt.Fprint(a.stdout, manPage(time.Now()))
	return err
}

var optionRe = regexp.MustCompile(`--[a-z][a-z-]*`)

// commandWords returns what a command takes: its options (from its
// synopsis) and its fixed words (hook pre|post, snapshot list|…).
func commandWords(c command) (options, words []string) {
	options = optionRe.FindAllString(c.args, -1)
	for _, f := range globalFlags {
		dash := "--"
		if len(f.name) == 1 {
			dash = "-"
		}
		options = append(options, dash+f.name)
	}
	options = append(options, "--help")
	sort.Strings(options)
	for _, w := range strings.FieldsFunc(c.args, func(r rune) bool { return r == ' ' || r == '|' }) {
		if regexp.MustCompile(`^[a-z]+$`).MatchString(w) {
			words = append(words, w)
		}
	}
	return dedupe(options), words
}

func dedupe(ss []string) []string {
	var out []string
	for i, s := range ss {
		if i == 0 || ss[i-1] != s {
			out = append(out, s)
		}
	}
	return out
}

func bashCompletion() string {
	var b strings.Builder
	b.WriteString(`# bash completion for mcupdate, made by 'mcupdate completion bash'
_mcupdate() {
	local cur cmd i
	cur=${COMP_WORDS[COMP_CWORD]}
	cmd=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	case $cmd in
`)
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
		opts, words := commandWords(c)
		fmt.Fprintf(&b, "\t%s) COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", c.name, strings.Join(append(words, opts...), " "))
	}
	var globals []string
	for _, f := range globalFlags {
		dash := "--"
		if len(f.name) == 1 {
			dash = "-"
		}
		globals = append(globals, dash+f.name)
	}
	fmt.Fprintf(&b, "\t*) COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n\tesac\n}\ncomplete -o default -F _mcupdate mcupdate\n",
		strings.Join(append(names, append(globals, "--help")...), " "))
	return b.String()
}

func zshCompletion() string {
	var b strings.Builder
	b.WriteString("#compdef mcupdate\n# zsh completion for mcupdate, made by 'mcupdate completion zsh'\n_mcupdate() {\n\tlocal -a cmds\n\tcmds=(\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "\t\t%s\n", zshQuote(c.name+":"+c.summary))
	}
	b.WriteString("\t)\n\tif (( CURRENT == 2 )); then\n\t\t_describe 'command' cmds\n\t\treturn\n\tfi\n\tcase ${words[2]} in\n")
	for _, c := range commands() {
		opts, words := commandWords(c)
		fmt.Fprintf(&b, "\t%s) compadd -- %s ;;\n", c.name, strings.Join(append(words, opts...), " "))
	}
	b.WriteString("\tesac\n}\n_mcupdate \"$@\"\n")
	return b.String()
}

func zshQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// manPage renders the manual from the command table and the help texts.
func manPage(now time.Time) string {
	var b strings.Builder
	esc := func(s string) string {
		s = strings.ReplaceAll(s, `\`, `\e`)
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
				l = `\&` + l
			}
			out = append(out, strings.ReplaceAll(l, "-", `\-`))
		}
		return strings.Join(out, "\n")
	}
	fmt.Fprintf(&b, ".TH MCUPDATE 1 %q \"mcupdate %s\" \"mcupdate manual\"\n", now.Format("2006-01-02"), versionString())
	b.WriteString(".SH NAME\nmcupdate \\- keep a customized mailcow alive through update.sh\n")
	b.WriteString(".SH SYNOPSIS\n.B mcupdate\n[\\fIglobal options\\fR] \\fICOMMAND\\fR [\\fIoptions\\fR]\n")
	b.WriteString(".SH DESCRIPTION\nmcupdate runs as mailcow's pre_update_hook.sh and post_update_hook.sh (two shims that exec it) and as the commands below.\n")
	b.WriteString(".SH COMMANDS\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, ".TP\n.B %s\n", esc(strings.TrimSpace(c.name+" "+c.args)))
		b.WriteString(esc(c.summary) + ".\n.IP\n.nf\n" + esc(strings.TrimSpace(c.help)) + "\n.fi\n")
	}
	b.WriteString(".SH GLOBAL OPTIONS\n.nf\n" + esc(strings.TrimRight(globalUsage(), "\n")) + "\n.fi\n")
	b.WriteString(".SH EXIT STATUS\n.nf\n" + esc(strings.TrimSpace(strings.TrimPrefix(exitStatusHelp, "EXIT STATUS"))) + "\n.fi\n")
	b.WriteString(".SH FILES\n.TP\n/etc/mcupdate/mcupdate.ini\nthe configuration\n.TP\n/var/lib/mcupdate\nthe state directory: reports, snapshots, the customization ledger\n")
	b.WriteString(".SH ENVIRONMENT\nNO_COLOR turns colour off; COLUMNS sets the width of tables.\n")
	return b.String()
}
