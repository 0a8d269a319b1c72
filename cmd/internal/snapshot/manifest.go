package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

// Version is the manifest format this package writes and reads.
const Version = 1

// IDLayout is the UTC time layout of a snapshot ID; a second snapshot in
// the same second gets "-2", then "-3".
const IDLayout = "20060102T150405Z"

// EntryType says what an [Entry] is.
type EntryType string

// Entry types.
const (
	TypeFile    EntryType = "file"
	TypeSymlink EntryType = "symlink"
)

// Mode is a file's permission bits (with setuid, setgid and sticky), kept
// in manifests as an octal string such as "0640" so a person can read it.
type Mode uint32

// FileMode returns m as an fs.FileMode.
func (m Mode) FileMode() fs.FileMode { return fsx.FileMode(uint32(m)) }

// ModeOf returns the [Mode] of an fs.FileMode.
func ModeOf(fm fs.FileMode) Mode { return Mode(fsx.UnixMode(fm)) }

func (m Mode) String() string { return fmt.Sprintf("%04o", uint32(m)) }

// MarshalText implements encoding.TextMarshaler.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := strconv.ParseUint(string(b), 8, 32)
	if err != nil || v > 0o7777 {
		return fmt.Errorf("mode %q: want octal permissions such as 0640", b)
	}
	*m = Mode(v)
	return nil
}

// Entry is one file or symlink in a snapshot.
type Entry struct {
	// Path is relative to the mailcow dir, with slashes.
	Path string    `json:"path"`
	Type EntryType `json:"type"`
	// Mode, UID and GID are the file's; for a symlink whose target is
	// outside the mailcow dir they are the target's, with its content.
	Mode Mode  `json:"mode"`
	UID  int   `json:"uid"`
	GID  int   `json:"gid"`
	Size int64 `json:"size"`
	// SHA256 names the content in objects/; empty for a symlink whose
	// target is inside the mailcow dir (the target has its own entry).
	SHA256 string `json:"sha256,omitempty"`
	// Target is a symlink's target as the link holds it.
	Target string `json:"target,omitempty"`
	// TargetOutside says the link's target is outside the mailcow dir and
	// Size, SHA256, Mode, UID and GID describe the target's content.
	TargetOutside bool `json:"target_outside,omitempty"`
}

// Skip is a file the snapshot does not hold, and why.
type Skip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Manifest describes one snapshot. A snapshot exists once its manifest is
// written; the manifest is written last.
type Manifest struct {
	Version    int       `json:"version"`
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	MailcowDir string    `json:"mailcow_dir"`
	Commit     string    `json:"commit,omitempty"`
	// Paths and Dirs are the configuration the snapshot was taken with;
	// Diff uses Dirs to find files added since.
	Paths   []string `json:"paths"`
	Dirs    []string `json:"dirs"`
	Entries []Entry  `json:"entries"`
	Skipped []Skip   `json:"skipped,omitempty"`

	// Reused is set by Create with Options.SkipUnchanged when it took no
	// new snapshot and returned the newest, unchanged one.
	Reused bool `json:"-"`
}

// Entry returns the entry for rel, or nil.
func (m *Manifest) Entry(rel string) *Entry {
	for i := range m.Entries {
		if m.Entries[i].Path == rel {
			return &m.Entries[i]
		}
	}
	return nil
}

// ErrBadManifest is wrapped by every error about a manifest's content.
var ErrBadManifest = errors.New("bad manifest")

var (
	shaRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	idRE  = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z(-[1-9][0-9]{0,5})?$`)
)

// ValidID reports whether id has the shape of a snapshot ID, so an ID
// from the command line can never name a path outside the store.
func ValidID(id string) bool { return idRE.MatchString(id) }

// checkRel checks that rel is a path a snapshot may hold: one that stays
// inside the mailcow dir ([fsx.CheckRel]), written the one way a
// snapshot writes it (clean, no backslash), and not inside .git, which
// is git's and never restored.
func checkRel(rel string) error {
	if err := fsx.CheckRel(rel); err != nil {
		return err
	}
	switch {
	case strings.Contains(rel, "\\"):
		return fmt.Errorf("path %w: %q holds a backslash", fsx.ErrUnsafePath, rel)
	case path.Clean(rel) != rel:
		return fmt.Errorf("path %w: %q is not a clean path (want %q)", fsx.ErrUnsafePath, rel, path.Clean(rel))
	case strings.SplitN(rel, "/", 2)[0] == ".git":
		return fmt.Errorf("path %w: %q is inside .git", fsx.ErrUnsafePath, rel)
	}
	return nil
}

// parseManifest decodes and checks a manifest; name is the file it came
// from, for errors. Manifests may be edited by hand, so nothing in one is
// trusted: every path, type, digest and mode is checked here, before any
// other code sees it.
func parseManifest(name string, data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", name, ErrBadManifest, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w: %s", name, ErrBadManifest, fmt.Sprintf(format, args...))
	}
	if m.Version != Version {
		return nil, bad("version %d, this mcupdate reads version %d", m.Version, Version)
	}
	if !ValidID(m.ID) {
		return nil, bad("id %q is not a snapshot ID like 20260101T120000Z", m.ID)
	}
	for i, d := range append(append([]string(nil), m.Paths...), m.Dirs...) {
		if err := checkRel(d); err != nil {
			return nil, bad("paths/dirs[%d]: %v", i, err)
		}
	}
	seen := make(map[string]bool, len(m.Entries))
	links := map[string]bool{}
	for i, e := range m.Entries {
		where := fmt.Sprintf("entries[%d] %q", i, e.Path)
		if err := checkRel(e.Path); err != nil {
			return nil, bad("%s: %v", where, err)
		}
		if seen[e.Path] {
			return nil, bad("%s: listed twice", where)
		}
		seen[e.Path] = true
		if e.Size < 0 || e.UID < 0 || e.GID < 0 {
			return nil, bad("%s: negative size, uid or gid", where)
		}
		switch e.Type {
		case TypeFile:
			if e.Target != "" || e.TargetOutside {
				return nil, bad("%s: a file has no link target", where)
			}
			if !shaRE.MatchString(e.SHA256) {
				return nil, bad("%s: sha256 %q is not 64 lowercase hex digits", where, e.SHA256)
			}
		case TypeSymlink:
			if e.Target == "" || strings.ContainsRune(e.Target, 0) {
				return nil, bad("%s: symlink without a target", where)
			}
			if e.TargetOutside != (e.SHA256 != "") {
				return nil, bad("%s: sha256 is set exactly when target_outside is true", where)
			}
			if e.SHA256 != "" && !shaRE.MatchString(e.SHA256) {
				return nil, bad("%s: sha256 %q is not 64 lowercase hex digits", where, e.SHA256)
			}
			links[e.Path] = true
		default:
			return nil, bad("%s: type %q, want file or symlink", where, e.Type)
		}
	}
	// A link restored first and then written through by a later entry
	// would let a hand-edited manifest write anywhere.
	for _, e := range m.Entries {
		for d := path.Dir(e.Path); d != "."; d = path.Dir(d) {
			if links[d] {
				return nil, bad("entry %q lies below symlink entry %q", e.Path, d)
			}
			if seen[d] {
				return nil, bad("entry %q lies below file entry %q", e.Path, d)
			}
		}
	}
	for i, s := range m.Skipped {
		if s.Path == "" {
			return nil, bad("skipped[%d]: empty path", i)
		}
	}
	return &m, nil
}

func sortEntries(es []Entry) {
	sort.Slice(es, func(i, j int) bool { return es[i].Path < es[j].Path })
}

// marshalManifest encodes m for a person to read and, if need be, edit.
func marshalManifest(m *Manifest) ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest %s: %w", m.ID, err)
	}
	return append(data, '\n'), nil
}
