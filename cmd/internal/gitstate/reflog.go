package gitstate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// reflogEntry is one line of a reflog file:
//
//	<old> <new> <name> <<email>> <unix time> <tz>\t<message>
type reflogEntry struct {
	Old, New string
	Message  string
}

// parseReflog parses the lines of a reflog it can read and skips the
// others: the file is the admin's, and one bad line (a crash mid-append, an
// edit by hand) must not hide the rest.
func parseReflog(data []byte) []reflogEntry {
	var out []reflogEntry
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimRight(line, "\r")
		head, msg, ok := bytes.Cut(line, []byte{'\t'})
		if !ok {
			continue
		}
		f := bytes.Fields(head)
		if len(f) < 2 || !isHexHash(string(f[0])) || !isHexHash(string(f[1])) {
			continue
		}
		out = append(out, reflogEntry{Old: string(f[0]), New: string(f[1]), Message: string(msg)})
	}
	return out
}

// checkoutFrom returns X of a "checkout: moving from X to Y" message.
func checkoutFrom(msg string) (string, bool) {
	rest, ok := strings.CutPrefix(msg, "checkout: moving from ")
	if !ok {
		return "", false
	}
	// Branch names cannot contain spaces, so the first " to " ends X.
	from, _, ok := strings.Cut(rest, " to ")
	if !ok || from == "" {
		return "", false
	}
	return from, true
}

// reflogTail bounds how much of .git/logs/HEAD is read: years of updates
// fit in it, and a huge reflog must not slow the hook down.
const reflogTail = 1 << 20

// readTail returns the last max bytes of p, starting at a line boundary.
func readTail(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() <= max {
		return io.ReadAll(f)
	}
	// One byte more, to see whether the cut falls on a line boundary.
	off := fi.Size() - max - 1
	data, err := io.ReadAll(io.NewSectionReader(f, off, max+1))
	if err != nil {
		return nil, err
	}
	// Drop the torn first line, or just the newline before a whole one.
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return data[i+1:], nil
	}
	return nil, nil
}

// reflogBranch returns the branch HEAD last left according to the HEAD
// reflog: the newest "checkout: moving from X to Y" whose X is a branch
// that still exists here or at origin. A hash X (leaving a detached HEAD)
// or a branch deleted since is skipped.
func (o *repo) reflogBranch() (string, error) {
	p := o.gitPath("logs/HEAD")
	data, err := readTail(p, reflogTail)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", &RepoError{Path: p, Err: err}
	}
	entries := parseReflog(data)
	for i := len(entries) - 1; i >= 0; i-- {
		from, ok := checkoutFrom(entries[i].Message)
		if !ok || isHexHash(from) || validBranch(from) != nil {
			continue
		}
		if ok, err := o.branchKnown(from); err != nil {
			return "", err
		} else if ok {
			return from, nil
		}
	}
	return "", nil
}

// branchKnown reports whether refs/heads/b or refs/remotes/origin/b exists.
func (o *repo) branchKnown(b string) (bool, error) {
	for _, n := range []plumbing.ReferenceName{plumbing.NewBranchReferenceName(b), plumbing.NewRemoteReferenceName("origin", b)} {
		if _, ok, err := o.ref(n); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// Where a repair's branch came from.
const (
	SourceConfig = "config" // RepairOptions.Branch, i.e. [general] branch
	SourceReflog = "reflog" // the branch HEAD last left
	SourceMaster = "master" // the default branch exists
)

// guessBranch picks the branch to restore without the config: the reflog,
// else master.
func (o *repo) guessBranch() (branch, source string, err error) {
	b, err := o.reflogBranch()
	if err != nil {
		return "", "", err
	}
	if b != "" {
		return b, SourceReflog, nil
	}
	if ok, err := o.branchKnown("master"); err != nil {
		return "", "", err
	} else if ok {
		return "master", SourceMaster, nil
	}
	return "", "", &RepoError{Path: o.dir, Err: ErrNoBranch,
		Detail: "the HEAD reflog names no branch and neither refs/heads/master nor refs/remotes/origin/master exists; set `branch` in the [general] section of mcupdate.ini"}
}

// validBranch checks b as a branch name the way git check-ref-format
// does, and rejects what could not be written into a config subsection.
func validBranch(b string) error {
	if b == "" || b == "HEAD" || strings.HasPrefix(b, "-") || strings.ContainsAny(b, "\"\\\x00") {
		return fmt.Errorf("%w %s", ErrInvalidBranch, quote(b))
	}
	n := plumbing.NewBranchReferenceName(b)
	if n.Validate() != nil || !n.IsSafe() {
		return fmt.Errorf("%w %s", ErrInvalidBranch, quote(b))
	}
	return nil
}

// reflogLine formats one reflog entry as git writes it.
func reflogLine(old, new plumbing.Hash, name, email string, t time.Time, msg string) string {
	msg = strings.NewReplacer("\n", " ", "\t", " ").Replace(msg)
	return fmt.Sprintf("%s %s %s <%s> %d %s\t%s\n", old, new, name, email, t.Unix(), t.Format("-0700"), msg)
}
