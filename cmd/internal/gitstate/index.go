package gitstate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// errIndexFormat is wrapped by every error of [unmergedPaths].
var errIndexFormat = errors.New("bad index format")

// unmergedPaths returns the names of the entries at a stage above 0 in the
// content of a .git/index file (versions 2, 3 and 4), in index order
// without duplicates. It reads only what it needs: go-git's decoder
// allocates every entry of the index and a release-sized mailcow index has
// thousands of them, while Inspect must stay fast. hashSize is 20 for SHA-1
// repositories, 32 for SHA-256 ones.
func unmergedPaths(data []byte, hashSize int) ([]string, error) {
	if len(data) < 12 || string(data[:4]) != "DIRC" {
		return nil, fmt.Errorf("%w: no DIRC signature", errIndexFormat)
	}
	version := binary.BigEndian.Uint32(data[4:8])
	if version < 2 || version > 4 {
		return nil, fmt.Errorf("%w: unsupported version %d", errIndexFormat, version)
	}
	count := binary.BigEndian.Uint32(data[8:12])
	// ctime, mtime (8 each), dev, ino, mode, uid, gid, size (4 each).
	fixed := 40 + hashSize + 2
	off := 12
	var out []string
	var prev []byte // v4 names are prefix-compressed against the previous one
	for i := uint32(0); i < count; i++ {
		start := off
		if off+fixed > len(data) {
			return nil, fmt.Errorf("%w: entry %d truncated", errIndexFormat, i)
		}
		flags := binary.BigEndian.Uint16(data[off+fixed-2 : off+fixed])
		off += fixed
		if flags&0x4000 != 0 { // extended flags, version 3 and later
			if version < 3 {
				return nil, fmt.Errorf("%w: entry %d has extended flags in version 2", errIndexFormat, i)
			}
			if off+2 > len(data) {
				return nil, fmt.Errorf("%w: entry %d truncated", errIndexFormat, i)
			}
			off += 2
		}
		var name []byte
		if version == 4 {
			strip, n := binary.Uvarint(data[off:])
			if n <= 0 || strip > uint64(len(prev)) {
				return nil, fmt.Errorf("%w: entry %d: bad name prefix", errIndexFormat, i)
			}
			off += n
			end := bytes.IndexByte(data[off:], 0)
			if end < 0 {
				return nil, fmt.Errorf("%w: entry %d: name not terminated", errIndexFormat, i)
			}
			keep := len(prev) - int(strip)
			name = append(append(make([]byte, 0, keep+end), prev[:keep]...), data[off:off+end]...)
			off += end + 1
			prev = name
		} else {
			end := bytes.IndexByte(data[off:], 0)
			if end < 0 {
				return nil, fmt.Errorf("%w: entry %d: name not terminated", errIndexFormat, i)
			}
			name = data[off : off+end]
			// Entries are NUL-padded to a multiple of 8 bytes, at least one NUL.
			off = start + (off-start+end+8)&^7
			if off > len(data) {
				return nil, fmt.Errorf("%w: entry %d truncated", errIndexFormat, i)
			}
		}
		if (flags>>12)&3 != 0 {
			// Entries are sorted by name then stage: a path's stages are adjacent.
			if n := len(out); n == 0 || out[n-1] != string(name) {
				out = append(out, string(name))
			}
		}
	}
	return out, nil
}
