package fsx

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// ErrUnsafePath is wrapped by every error about a path that could lead a
// write outside the mailcow directory: one a patch or a snapshot names
// that is absolute or goes up with "..", or that a link on the way leads
// out of it. mcupdate treats it as a configuration error.
var ErrUnsafePath = errors.New("outside the mailcow directory")

// CheckRel refuses a slash-separated path relative to the mailcow
// directory that could leave it before any link is looked at: an empty or
// absolute one, one with a NUL byte or a ".." component, and one that
// names the directory itself. It says nothing of links: the writes
// themselves are confined by a handle ([Confine]).
func CheckRel(rel string) error {
	switch {
	case rel == "":
		return fmt.Errorf("path %w: empty path", ErrUnsafePath)
	case strings.HasPrefix(rel, "/") || strings.HasPrefix(rel, `\`):
		return fmt.Errorf("path %w: %q is absolute; write it relative to the mailcow dir", ErrUnsafePath, rel)
	case strings.ContainsRune(rel, 0):
		return fmt.Errorf("path %w: %q holds a NUL byte", ErrUnsafePath, rel)
	}
	for _, part := range strings.Split(rel, "/") {
		if part == ".." {
			return fmt.Errorf("path %w: %q goes up a directory (..)", ErrUnsafePath, rel)
		}
	}
	if path.Clean(rel) == "." {
		return fmt.Errorf("path %w: %q names the mailcow dir itself", ErrUnsafePath, rel)
	}
	return nil
}
