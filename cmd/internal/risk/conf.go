package risk

import (
	"strings"
)

// assignment splits a KEY=VALUE line of a shell-style env file; a
// commented-out line is none.
func assignment(line string) (key, value string, ok bool) {
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "#") {
		return "", "", false
	}
	line = strings.TrimPrefix(line, "export ")
	key, value, ok = strings.Cut(line, "=")
	if !ok {
		return "", "", false
	}
	key = strings.TrimSpace(key)
	if key == "" || strings.ContainsAny(key, " \t\"'") {
		return "", "", false
	}
	return key, strings.TrimSpace(value), true
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// confKeys returns the active (not commented out) keys of a mailcow.conf
// and their values, and the keys in file order.
func confKeys(conf []byte) (map[string]string, []string) {
	m := map[string]string{}
	var order []string
	for _, line := range lines(conf) {
		k, v, ok := assignment(line)
		if !ok {
			continue
		}
		if _, dup := m[k]; !dup {
			order = append(order, k)
		}
		m[k] = unquote(v)
	}
	return m, order
}

// lines splits b at \n with no limit on a line's length.
func lines(b []byte) []string {
	return strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
}
