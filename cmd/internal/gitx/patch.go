package gitx

import (
	"bytes"
	"context"
	"strconv"
	"strings"
)

// Patches returns git's own diff of every file that differs between the
// trees of from and to, keyed by path: for each, the text `git diff from
// to` shows from its "--- " line on (or its "Binary files … differ" line,
// or its mode lines), without git's "diff --git" and "index" lines. One
// `git diff-tree -p` makes them all: git's diff, at git's speed, honouring
// the admin's diff settings (diff.algorithm, context) as `git diff` does,
// with no colour, external diff, text conversion or rename detection.
func (r *Runner) Patches(ctx context.Context, from, to string) (map[string]string, error) {
	out, err := r.Run(ctx, "-c", "core.quotePath=false", "diff-tree", "-p", "-r", "--no-renames", "--no-color",
		"--no-ext-diff", "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/", from, to)
	if err != nil {
		return nil, err
	}
	return splitPatches(out), nil
}

// splitPatches cuts diff-tree -p output into files.
func splitPatches(out []byte) map[string]string {
	res := map[string]string{}
	const head = "diff --git "
	for len(out) > 0 {
		if !bytes.HasPrefix(out, []byte(head)) {
			// Not where a file starts (git prints nothing else): skip a line.
			_, out, _ = bytes.Cut(out, []byte{'\n'})
			continue
		}
		end := bytes.Index(out, []byte("\n"+head))
		var sec []byte
		if end < 0 {
			sec, out = out, nil
		} else {
			sec, out = out[:end+1], out[end+1:]
		}
		line, body, _ := bytes.Cut(sec, []byte{'\n'})
		path, ok := patchPath(string(line[len(head):]))
		if !ok {
			continue
		}
		res[path] = patchBody(body)
	}
	return res
}

// patchPath reads the path of a "diff --git a/P b/P" line: without
// renames both sides name the same P, which may hold spaces; git quotes
// a path with special characters ("a/…" "b/…").
func patchPath(s string) (string, bool) {
	if strings.HasPrefix(s, `"`) {
		a, rest, ok := cutQuoted(s)
		if !ok || !strings.HasPrefix(a, "a/") {
			return "", false
		}
		return a[2:], strings.HasPrefix(strings.TrimPrefix(rest, " "), `"b/`) || strings.HasPrefix(strings.TrimPrefix(rest, " "), "b/")
	}
	n := (len(s) - len("a/ b/")) / 2
	if n <= 0 || len(s) != 2*n+len("a/ b/") || !strings.HasPrefix(s, "a/") || s[2+n:2+n+3] != " b/" || s[2:2+n] != s[2+n+3:] {
		return "", false
	}
	return s[2 : 2+n], true
}

// cutQuoted unquotes the C-style quoted string at the start of s.
func cutQuoted(s string) (string, string, bool) {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			u, err := strconv.Unquote(s[:i+1])
			if err != nil {
				return "", "", false
			}
			return u, s[i+1:], true
		}
	}
	return "", "", false
}

// patchBody drops the header lines git prints before a file's diff
// proper, keeping mode lines when there is nothing else.
func patchBody(b []byte) string {
	var modes []byte
	for len(b) > 0 {
		if bytes.HasPrefix(b, []byte("--- ")) || bytes.HasPrefix(b, []byte("Binary files ")) {
			return string(b)
		}
		line, rest, _ := bytes.Cut(b, []byte{'\n'})
		if bytes.HasPrefix(line, []byte("old mode ")) || bytes.HasPrefix(line, []byte("new mode ")) {
			modes = append(append(modes, line...), '\n')
		}
		b = rest
	}
	return string(modes)
}
