package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/errlist"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

// Store layout, under the state dir's snapshots/.
const (
	ObjectsDir   = "objects"
	ManifestFile = "manifest.json"
)

// Latest is the ID [Load] and [Restore] accept for the newest snapshot.
const Latest = "latest"

// ErrNotFound means the store has no snapshot with the ID asked for.
var ErrNotFound = errors.New("no such snapshot")

// ErrCorruptObject is wrapped by a [CorruptObjectError].
var ErrCorruptObject = errors.New("snapshot object is corrupt")

// CorruptObjectError is an object whose content does not hash to its name.
type CorruptObjectError struct {
	Path string // the object file
	Got  string // sha256 of what it holds
}

func (e *CorruptObjectError) Error() string {
	return fmt.Sprintf("%s: %v (content hashes to %s)", e.Path, ErrCorruptObject, e.Got)
}

// Unwrap lets errors.Is find [ErrCorruptObject].
func (e *CorruptObjectError) Unwrap() error { return ErrCorruptObject }

func objectPath(store, sha string) string { return filepath.Join(store, ObjectsDir, sha) }

func hashOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ReadObject returns the content stored under sha, after checking that it
// still hashes to sha.
func ReadObject(store, sha string) ([]byte, error) {
	if !shaRE.MatchString(sha) {
		return nil, fmt.Errorf("object %q: not a sha256: %w", sha, ErrBadManifest)
	}
	p := objectPath(store, sha)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read snapshot object: %w", err)
	}
	if got := hashOf(data); got != sha {
		return nil, &CorruptObjectError{Path: p, Got: got}
	}
	return data, nil
}

// objectOK reports whether the store already holds sound content for sha.
func objectOK(store, sha string, size int) bool {
	fi, err := os.Stat(objectPath(store, sha))
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != int64(size) {
		return false
	}
	_, err = ReadObject(store, sha)
	return err == nil
}

// idKey orders IDs: by time, then by collision suffix.
func idKey(id string) (string, int) {
	base, seq, ok := strings.Cut(id, "-")
	if !ok {
		return base, 1
	}
	n, _ := strconv.Atoi(seq)
	return base, n
}

func idLess(a, b string) bool {
	ab, an := idKey(a)
	bb, bn := idKey(b)
	if ab != bb {
		return ab < bb
	}
	return an < bn
}

// ids returns the IDs of the store's complete snapshots (a directory with
// a manifest), newest first, and the directories without one.
func ids(store string) (complete, incomplete []string, err error) {
	ents, err := os.ReadDir(store)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot store: %w", err)
	}
	for _, e := range ents {
		if !e.IsDir() || !ValidID(e.Name()) {
			continue
		}
		if _, err := os.Lstat(filepath.Join(store, e.Name(), ManifestFile)); err == nil {
			complete = append(complete, e.Name())
		} else if errors.Is(err, fs.ErrNotExist) {
			incomplete = append(incomplete, e.Name())
		} else {
			return nil, nil, fmt.Errorf("snapshot store: %w", err)
		}
	}
	sort.Slice(complete, func(i, j int) bool { return idLess(complete[j], complete[i]) })
	return complete, incomplete, nil
}

// MaxManifestSize bounds the manifest read: mcupdate's own for a mailcow
// dir is some kilobytes (a few hundred bytes a file); a larger one is
// damaged or planted, and decoding it would take seconds and hundreds of
// megabytes.
const MaxManifestSize = 8 << 20

func readManifest(store, id string) (*Manifest, error) {
	p := filepath.Join(store, id, ManifestFile)
	fi, err := os.Stat(p)
	if err == nil && fi.Size() > MaxManifestSize {
		return nil, fmt.Errorf("%s: %w: %d bytes, more than the %d MB a manifest may have", p, ErrBadManifest, fi.Size(), MaxManifestSize>>20)
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("snapshot %s in %s: %w", id, store, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("%s: %w: more than the %d MB a manifest may have", p, ErrBadManifest, MaxManifestSize>>20)
	}
	m, err := parseManifest(p, data)
	if err != nil {
		return nil, err
	}
	if m.ID != id {
		return nil, fmt.Errorf("%s: %w: id %q does not match its directory %q", p, ErrBadManifest, m.ID, id)
	}
	return m, nil
}

// List returns the store's snapshots, newest first. A manifest that
// cannot be read is left out and named in the error, which is returned
// together with the snapshots that could be read.
func List(store string) ([]*Manifest, error) {
	complete, _, err := ids(store)
	if err != nil {
		return nil, err
	}
	var out []*Manifest
	var errs []error
	for _, id := range complete {
		m, err := readManifest(store, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, m)
	}
	return out, errlist.Join(errs...)
}

// Load returns the snapshot id, or the newest for [Latest]. The newest is
// the one with the greatest ID, even if its manifest is broken: an older
// snapshot is never silently taken for the latest.
func Load(store, id string) (*Manifest, error) {
	if id == Latest {
		complete, _, err := ids(store)
		if err != nil {
			return nil, err
		}
		if len(complete) == 0 {
			return nil, fmt.Errorf("latest snapshot in %s: %w", store, ErrNotFound)
		}
		id = complete[0]
	}
	if !ValidID(id) {
		return nil, fmt.Errorf("snapshot %q: not a snapshot ID like 20260101T120000Z or %q: %w", id, Latest, ErrNotFound)
	}
	return readManifest(store, id)
}

// digests returns the 64-hex-digit strings in data, as a regexp
// [0-9a-f]{64} would find them, in one pass: the regexp took more than 20
// seconds on a 50 MB manifest.
func digests(data []byte) [][]byte {
	var out [][]byte
	run := 0
	for i, c := range data {
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'f' {
			run++
			if run == 64 {
				out = append(out, data[i-63:i+1])
				run = 0
			}
			continue
		}
		run = 0
	}
	return out
}

// Prune keeps the newest keep snapshots, removes older ones and the
// directories of snapshots that never got a manifest, then removes the
// objects no remaining manifest refers to. A manifest that does not parse
// (hand-edited) is neither counted nor removed, and every digest-shaped
// string in it keeps its object: pruning must never lose data it cannot
// account for.
func Prune(sys fsx.System, store string, keep int) error {
	if keep < 1 {
		keep = 1
	}
	complete, incomplete, err := ids(store)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range incomplete {
		// A run killed while writing the manifest left its temp file.
		if tmps, err := filepath.Glob(filepath.Join(store, id, fsx.TempPrefix+"*")); err == nil {
			for _, t := range tmps {
				_ = sys.Remove(t)
			}
		}
		if err := sys.Remove(filepath.Join(store, id)); err != nil {
			errs = append(errs, fmt.Errorf("prune incomplete snapshot: %w", err))
		}
	}
	refs := map[string]bool{}
	kept := 0
	for _, id := range complete {
		m, err := readManifest(store, id)
		if err != nil {
			raw, rerr := os.ReadFile(filepath.Join(store, id, ManifestFile))
			if rerr != nil {
				// Cannot know what it refers to: collect no objects.
				return errlist.Join(append(errs, fmt.Errorf("prune: %w; objects kept", rerr))...)
			}
			for _, s := range digests(raw) {
				refs[string(s)] = true
			}
			continue
		}
		if kept < keep {
			kept++
			for _, e := range m.Entries {
				if e.SHA256 != "" {
					refs[e.SHA256] = true
				}
			}
			continue
		}
		// Manifest first: once it is gone the snapshot no longer exists,
		// whatever happens to the rest.
		if err := sys.Remove(filepath.Join(store, id, ManifestFile)); err != nil {
			errs = append(errs, fmt.Errorf("prune snapshot %s: %w", id, err))
			continue
		}
		if err := sys.Remove(filepath.Join(store, id)); err != nil {
			errs = append(errs, fmt.Errorf("prune snapshot %s: %w", id, err))
		}
	}
	objs, err := os.ReadDir(filepath.Join(store, ObjectsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return errlist.Join(append(errs, fmt.Errorf("prune objects: %w", err))...)
	}
	for _, o := range objs {
		n := o.Name()
		if (shaRE.MatchString(n) && !refs[n]) || strings.HasPrefix(n, fsx.TempPrefix) {
			if err := sys.Remove(filepath.Join(store, ObjectsDir, n)); err != nil {
				errs = append(errs, fmt.Errorf("prune object: %w", err))
			}
		}
	}
	return errlist.Join(errs...)
}
