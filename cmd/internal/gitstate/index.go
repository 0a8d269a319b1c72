package gitstate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// errIndexFormat is wrapped by every error of [unmergedPaths].
var errIndexFormat = errors.New("bad index format")

// unmergedPaths returns the names of the entries at a stage above 0 in the
// content of a .git/index file (versions 2, 3 and 4), in index order
// without duplicates. hashSize is 20 for SHA-1 repositories, 32 for
// SHA-256 ones.
func unmergedPaths(data []byte, hashSize int) ([]string, error) {
	var out []string
	err := indexEntries(data, hashSize, func(name []byte, stage int) {
		// Entries are sorted by name then stage: a path's stages are adjacent.
		if stage != 0 {
			if n := len(out); n == 0 || out[n-1] != string(name) {
				out = append(out, string(name))
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// IndexPaths returns the path of every entry in the index of the checkout
// in dir: the files git tracks. A missing index has none. Errors are those
// of [Inspect].
func IndexPaths(dir string) (map[string]bool, error) {
	o, err := open(dir)
	if err != nil {
		return nil, err
	}
	cfg, err := o.r.Config()
	if err != nil {
		return nil, &RepoError{Path: filepath.Join(o.gitDir, "config"), Err: ErrCorrupt, Detail: err.Error()}
	}
	hashSize := 20
	if strings.EqualFold(cfg.Raw.Section("extensions").Option("objectformat"), "sha256") {
		hashSize = 32
	}
	p := filepath.Join(o.gitDir, "index")
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, &RepoError{Path: p, Err: err}
	}
	size := 0
	if len(data) >= 12 {
		// An entry takes at least 64 bytes: a corrupt count cannot make
		// the map huge.
		size = min(int(binary.BigEndian.Uint32(data[8:12])), len(data)/64)
	}
	out := make(map[string]bool, size)
	if err := indexEntries(data, hashSize, func(name []byte, _ int) { out[string(name)] = true }); err != nil {
		return nil, &RepoError{Path: p, Err: ErrCorrupt, Detail: err.Error()}
	}
	return out, nil
}

// indexEntries calls fn with the name and stage of each entry in the
// content of a .git/index file (versions 2, 3 and 4), in index order; name
// is valid only during the call. It reads only what it needs: go-git's
// decoder allocates every entry of the index and a release-sized mailcow
// index has thousands of them, while the pre hook must stay fast.
func indexEntries(data []byte, hashSize int, fn func(name []byte, stage int)) error {
	if len(data) < 12 || string(data[:4]) != "DIRC" {
		return fmt.Errorf("%w: no DIRC signature", errIndexFormat)
	}
	version := binary.BigEndian.Uint32(data[4:8])
	if version < 2 || version > 4 {
		return fmt.Errorf("%w: unsupported version %d", errIndexFormat, version)
	}
	count := binary.BigEndian.Uint32(data[8:12])
	// ctime, mtime (8 each), dev, ino, mode, uid, gid, size (4 each).
	fixed := 40 + hashSize + 2
	off := 12
	var prev []byte // v4 names are prefix-compressed against the previous one
	for i := uint32(0); i < count; i++ {
		start := off
		if off+fixed > len(data) {
			return fmt.Errorf("%w: entry %d truncated", errIndexFormat, i)
		}
		flags := binary.BigEndian.Uint16(data[off+fixed-2 : off+fixed])
		off += fixed
		if flags&0x4000 != 0 { // extended flags, version 3 and later
			if version < 3 {
				return fmt.Errorf("%w: entry %d has extended flags in version 2", errIndexFormat, i)
			}
			if off+2 > len(data) {
				return fmt.Errorf("%w: entry %d truncated", errIndexFormat, i)
			}
			off += 2
		}
		var name []byte
		if version == 4 {
			strip, n := binary.Uvarint(data[off:])
			if n <= 0 || strip > uint64(len(prev)) {
				return fmt.Errorf("%w: entry %d: bad name prefix", errIndexFormat, i)
			}
			off += n
			end := bytes.IndexByte(data[off:], 0)
			if end < 0 {
				return fmt.Errorf("%w: entry %d: name not terminated", errIndexFormat, i)
			}
			keep := len(prev) - int(strip)
			name = append(append(make([]byte, 0, keep+end), prev[:keep]...), data[off:off+end]...)
			off += end + 1
			prev = name
		} else {
			end := bytes.IndexByte(data[off:], 0)
			if end < 0 {
				return fmt.Errorf("%w: entry %d: name not terminated", errIndexFormat, i)
			}
			name = data[off : off+end]
			// Entries are NUL-padded to a multiple of 8 bytes, at least one NUL.
			off = start + (off-start+end+8)&^7
			if off > len(data) {
				return fmt.Errorf("%w: entry %d truncated", errIndexFormat, i)
			}
		}
		fn(name, int(flags>>12)&3)
	}
	return nil
}
