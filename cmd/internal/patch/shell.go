package patch

import (
	"errors"
	"fmt"
)

// ErrShellQuoting marks a shell variables file (mailcow.conf) whose
// quoting the shell reads differently from its lines: a quote that is
// never closed makes every line after it part of one value, so an edit
// of a later line would change that value, not a variable.
var ErrShellQuoting = errors.New("broken shell quoting")

// shellLines reads s as sh does when it sources it (update.sh and
// generate_config.sh source mailcow.conf) and returns, for each line of
// splitLines(s), whether the line starts inside a word that began on an
// earlier line: in a quoted value that spans lines, or after a line that
// ends in a backslash. Such a line is never a KEY=VALUE of its own. A
// quote that is never closed is an error naming the line it opens on.
//
// It knows what decides where a word ends in a variables file: '…', "…"
// with its backslash escapes, `…`, a backslash outside quotes, and # at
// the start of a word, which comments out the rest of the line (an
// apostrophe in a comment is no quote).
func shellLines(s string) ([]bool, error) {
	ls := splitLines(s)
	inside := make([]bool, len(ls))
	var quote byte // 0, '\'', '"' or '`'
	openLine := 0
	cont := false // the previous line ended in a backslash outside quotes
	for n, l := range ls {
		inside[n] = quote != 0 || cont
		cont = false
		wordStart := !inside[n]
		for i := 0; i < len(l); i++ {
			c := l[i]
			switch quote {
			case '\'':
				if c == '\'' {
					quote = 0
				}
				continue
			case '"', '`':
				switch c {
				case '\\':
					i++
				case quote:
					quote = 0
				}
				continue
			}
			switch c {
			case '#':
				if wordStart {
					i = len(l) // a comment, to the end of the line
					continue
				}
			case '\\':
				if i+1 < len(l) && l[i+1] == '\n' {
					cont = true
				}
				i++
			case '\'', '"', '`':
				quote, openLine = c, n+1
			}
			wordStart = c == ' ' || c == '\t' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == '\n'
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("line %d: %w: the %c quote opened there is never closed, so the shell reads every line after it as part of one value", openLine, ErrShellQuoting, quote)
	}
	return inside, nil
}
