package adopt

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
)

// postfixParam is a main.cf parameter line: "name = value", not indented
// (an indented line continues the one before it).
var postfixParam = regexp.MustCompile(`^([A-Za-z0-9_]+)\s*=\s*(.*)$`)

// movePostfix moves the admin's main.cf edits (blocks) to extra.cf, whose
// content is extra: mailcow's postfix appends extra.cf to main.cf, and the
// last setting of a parameter wins. Each added line must set a parameter
// (or be a comment); a removed line must be one an added line sets again:
// extra.cf cannot unset what main.cf sets. A parameter extra.cf sets
// already decides there; then main.cf's edit is not moved.
func movePostfix(blocks []ledger.Block, extra []byte, now time.Time) ([]byte, error) {
	have := map[string]string{}
	for _, l := range strings.Split(string(extra), "\n") {
		if m := postfixParam.FindStringSubmatch(strings.TrimRight(l, " \t\r")); m != nil {
			have[m[1]] = strings.TrimSpace(m[2])
		}
	}
	var add []string
	for _, b := range blocks {
		set := map[string]bool{}
		for _, l := range b.Lines {
			if l.Op != "+" {
				continue
			}
			t := l.Text
			if strings.HasPrefix(strings.TrimSpace(t), "#") {
				add = append(add, strings.TrimSpace(t))
				continue
			}
			m := postfixParam.FindStringSubmatch(t)
			if m == nil {
				return nil, fmt.Errorf("line %q sets no parameter (a continuation line?)", t)
			}
			set[m[1]] = true
			if v, ok := have[m[1]]; ok {
				if v == strings.TrimSpace(m[2]) {
					continue
				}
				return nil, fmt.Errorf("extra.cf sets %s already (= %s), and it wins over main.cf", m[1], v)
			}
			have[m[1]] = strings.TrimSpace(m[2])
			add = append(add, t)
		}
		for _, l := range b.Lines {
			if l.Op != "-" || strings.HasPrefix(strings.TrimSpace(l.Text), "#") {
				continue
			}
			m := postfixParam.FindStringSubmatch(l.Text)
			if m == nil || !set[m[1]] {
				return nil, fmt.Errorf("line %q is removed: extra.cf cannot unset what main.cf sets", l.Text)
			}
		}
	}
	if len(add) == 0 {
		// extra.cf says all of it already.
		return extra, nil
	}
	out := string(extra)
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	out += "# from data/conf/postfix/main.cf (mcupdate adopt, " + now.UTC().Format("2006-01-02") + ")\n"
	return []byte(out + strings.Join(add, "\n") + "\n"), nil
}
