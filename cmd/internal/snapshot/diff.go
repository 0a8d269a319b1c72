package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// ChangeKind is how a path differs from its snapshot.
type ChangeKind string

// Change kinds.
const (
	Unchanged   ChangeKind = "unchanged"
	Modified    ChangeKind = "modified"
	Missing     ChangeKind = "missing"
	TypeChanged ChangeKind = "type changed"
	Added       ChangeKind = "added" // gitignored now, not in the snapshot
)

// Change is one path compared with its snapshot.
type Change struct {
	Path string
	Kind ChangeKind
	// Content is true when the content (or a link's target) differs;
	// Meta when the mode, owner or group does. Both only for Modified.
	Content bool
	Meta    bool
	Detail  string // for a person: "mode 0640, was 0600"
}

// Diff compares the snapshot m with mailcowDir now: every entry is
// unchanged, modified, missing or of another type, and every file the
// snapshot would hold if taken now but does not is added. Files the
// snapshot skipped (unreadable, pipes) are not reported as added.
// Changes are sorted by path.
func Diff(m *Manifest, mailcowDir string) ([]Change, error) {
	var out []Change
	known := make(map[string]bool, len(m.Entries)+len(m.Skipped))
	for _, e := range m.Entries {
		known[e.Path] = true
		c, err := diffEntry(e, mailcowDir)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	for _, s := range m.Skipped {
		if s.Reason != reasonNotPresent {
			known[s.Path] = true
		}
	}
	res, err := scan(mailcowDir, m.Paths, m.Dirs)
	if err != nil {
		return nil, err
	}
	for _, f := range res.files {
		if !known[f.rel] {
			out = append(out, Change{Path: f.rel, Kind: Added})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func diffEntry(e Entry, mailcowDir string) (Change, error) {
	c := Change{Path: e.Path}
	abs := filepath.Join(mailcowDir, filepath.FromSlash(e.Path))
	fi, err := os.Lstat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		c.Kind = Missing
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("diff %s: %w", e.Path, err)
	}
	isLink := fi.Mode()&fs.ModeSymlink != 0
	switch {
	case e.Type == TypeFile && !fi.Mode().IsRegular(), e.Type == TypeSymlink && !isLink:
		c.Kind, c.Detail = TypeChanged, fmt.Sprintf("was %s, now %s", e.Type, kindOf(fi.Mode()))
		return c, nil
	}
	var details []string
	if isLink {
		t, err := os.Readlink(abs)
		if err != nil {
			return c, fmt.Errorf("diff %s: %w", e.Path, err)
		}
		if t != e.Target {
			c.Content = true
			details = append(details, fmt.Sprintf("link to %s, was %s", t, e.Target))
		}
	}
	content := e.Type == TypeFile || e.TargetOutside
	if content {
		p := abs
		if isLink {
			if p, err = filepath.EvalSymlinks(abs); err != nil {
				c.Kind, c.Detail = Missing, "link target "+e.Target+" is missing"
				return c, nil
			}
		}
		data, cur, err := readRegular(p, e.Size+DefaultMaxSize)
		if err != nil {
			return c, fmt.Errorf("diff %s: %w", e.Path, err)
		}
		if hashOf(data) != e.SHA256 {
			c.Content = true
			details = append(details, "content differs")
		}
		fi = cur
	}
	if content {
		if m := ModeOf(fi.Mode()); m != e.Mode {
			c.Meta = true
			details = append(details, fmt.Sprintf("mode %s, was %s", m, e.Mode))
		}
	}
	// fi is the link itself, or the file whose content was compared.
	if uid, gid := owner(fi); uid != e.UID || gid != e.GID {
		c.Meta = true
		details = append(details, fmt.Sprintf("owner %d:%d, was %d:%d", uid, gid, e.UID, e.GID))
	}
	c.Kind = Unchanged
	if c.Content || c.Meta {
		c.Kind = Modified
		for i, d := range details {
			if i > 0 {
				c.Detail += "; "
			}
			c.Detail += d
		}
	}
	return c, nil
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return string(TypeSymlink)
	case m.IsRegular():
		return string(TypeFile)
	}
	return typeName(m.Type())
}
