package gitx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// ErrIndexFormat is wrapped by every error about a malformed index file.
var ErrIndexFormat = errors.New("bad index format")

// IndexEntry is one entry of an index file.
type IndexEntry struct {
	// Name is the path, slash-separated. It aliases the index data, so
	// it is valid only during the callback that receives it.
	Name  []byte
	Stage int // 0 merged, 1 base, 2 ours, 3 theirs
	Mode  filemode.FileMode
	Hash  plumbing.Hash
	// The stat data git compares with the work tree, 32 bits each as
	// stored.
	CtimeSec, CtimeNsec, MtimeSec, MtimeNsec uint32
	Dev, Ino, UID, GID, Size                 uint32
	SkipWorktree, IntentToAdd                bool
	// AssumeValid is git's assume-unchanged bit: git then trusts the
	// entry over the work tree.
	AssumeValid bool
}

// ModTime is the entry's recorded mtime.
func (e *IndexEntry) ModTime() time.Time { return stamp(e.MtimeSec, e.MtimeNsec) }

// indexHashSize is the length of an object id in the index: mcupdate reads
// SHA-1 repositories only ([Discover] refuses the others).
const indexHashSize = 20

// ScanIndex calls fn for each entry of the content of an index file
// (versions 2, 3 and 4), in index order, and returns the cache tree's
// root entry when the TREE extension has one (else nil). It reads in
// place, allocating nothing per entry for versions 2 and 3: go-git's
// decoder allocates every entry, and a release-sized mailcow index has
// thousands, read by every pre hook. A split index (core.splitIndex) or a
// sparse index, whose entries are not all in this file, is an error.
func ScanIndex(data []byte, fn func(*IndexEntry)) (*index.Tree, error) {
	bad := func(format string, a ...any) (*index.Tree, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrIndexFormat}, a...)...)
	}
	if len(data) < 12 || string(data[:4]) != "DIRC" {
		return bad("no DIRC signature")
	}
	version := binary.BigEndian.Uint32(data[4:8])
	if version < 2 || version > 4 {
		return bad("unsupported version %d", version)
	}
	count := binary.BigEndian.Uint32(data[8:12])
	// ctime, mtime (8 each), dev, ino, mode, uid, gid, size (4 each),
	// the object id and the flags.
	const fixed = 40 + indexHashSize + 2
	off := 12
	var prev []byte // v4 names are prefix-compressed against the previous one
	var e IndexEntry
	for i := uint32(0); i < count; i++ {
		start := off
		if off+fixed > len(data) {
			return bad("entry %d truncated", i)
		}
		d := data[off : off+fixed]
		u := func(k int) uint32 { return binary.BigEndian.Uint32(d[4*k:]) }
		e = IndexEntry{
			CtimeSec: u(0), CtimeNsec: u(1), MtimeSec: u(2), MtimeNsec: u(3),
			Dev: u(4), Ino: u(5), Mode: filemode.FileMode(u(6)), UID: u(7), GID: u(8), Size: u(9),
		}
		copy(e.Hash[:], d[40:40+indexHashSize])
		flags := binary.BigEndian.Uint16(d[fixed-2:])
		e.Stage = int(flags>>12) & 3
		e.AssumeValid = flags&0x8000 != 0
		off += fixed
		if flags&0x4000 != 0 { // extended flags, version 3 and later
			if version < 3 {
				return bad("entry %d has extended flags in version 2", i)
			}
			if off+2 > len(data) {
				return bad("entry %d truncated", i)
			}
			ext := binary.BigEndian.Uint16(data[off:])
			e.SkipWorktree = ext&0x4000 != 0
			e.IntentToAdd = ext&0x2000 != 0
			off += 2
		}
		if version == 4 {
			strip, n := binary.Uvarint(data[off:])
			if n <= 0 || strip > uint64(len(prev)) {
				return bad("entry %d: bad name prefix", i)
			}
			off += n
			end := bytes.IndexByte(data[off:], 0)
			if end < 0 {
				return bad("entry %d: name not terminated", i)
			}
			keep := len(prev) - int(strip)
			e.Name = append(append(make([]byte, 0, keep+end), prev[:keep]...), data[off:off+end]...)
			off += end + 1
			prev = e.Name
		} else {
			end := bytes.IndexByte(data[off:], 0)
			if end < 0 {
				return bad("entry %d: name not terminated", i)
			}
			e.Name = data[off : off+end]
			// Entries are NUL-padded to a multiple of 8 bytes, at least one NUL.
			off = start + (off-start+end+8)&^7
			if off > len(data) {
				return bad("entry %d truncated", i)
			}
		}
		fn(&e)
	}
	return scanExtensions(data, off)
}

// scanExtensions reads the extensions after the entries, up to the
// trailing checksum, and returns the cache tree's root.
func scanExtensions(data []byte, off int) (*index.Tree, error) {
	end := len(data) - indexHashSize
	var tree *index.Tree
	for off+8 <= end {
		sig := string(data[off : off+4])
		size := int(binary.BigEndian.Uint32(data[off+4:]))
		off += 8
		if size < 0 || size > end-off {
			return nil, fmt.Errorf("%w: extension %q truncated", ErrIndexFormat, sig)
		}
		body := data[off : off+size]
		off += size
		switch {
		case sig == "TREE":
			t, err := parseCacheTree(body)
			if err != nil {
				return nil, err
			}
			tree = t
		case sig == "link":
			return nil, fmt.Errorf("%w: split index (core.splitIndex): run `git update-index --no-split-index`", ErrIndexFormat)
		case sig == "sdir":
			return nil, fmt.Errorf("%w: sparse index: run `git sparse-checkout disable`", ErrIndexFormat)
		case sig[0] < 'A' || sig[0] > 'Z':
			// git too refuses a required extension it does not know.
			return nil, fmt.Errorf("%w: unknown required extension %q", ErrIndexFormat, sig)
		}
	}
	return tree, nil
}

// parseCacheTree decodes the TREE extension: per directory, depth first,
// "path\0entries subtrees\n" and the tree's id when entries >= 0.
func parseCacheTree(b []byte) (*index.Tree, error) {
	bad := func(what string) (*index.Tree, error) {
		return nil, fmt.Errorf("%w: cache tree: %s", ErrIndexFormat, what)
	}
	t := &index.Tree{}
	for len(b) > 0 {
		nul := bytes.IndexByte(b, 0)
		if nul < 0 {
			return bad("path not terminated")
		}
		te := index.TreeEntry{Path: string(b[:nul])}
		b = b[nul+1:]
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			return bad("counts not terminated")
		}
		es, ts, ok := bytes.Cut(b[:nl], []byte{' '})
		n1, err1 := strconv.Atoi(string(es))
		n2, err2 := strconv.Atoi(string(ts))
		if !ok || err1 != nil || err2 != nil || n2 < 0 {
			return bad("bad counts")
		}
		te.Entries, te.Trees = n1, n2
		b = b[nl+1:]
		if n1 < 0 {
			// Invalidated: no id follows. go-git leaves such entries
			// out, and so does this reader.
			continue
		}
		if len(b) < indexHashSize {
			return bad("id truncated")
		}
		copy(te.Hash[:], b[:indexHashSize])
		b = b[indexHashSize:]
		t.Entries = append(t.Entries, te)
	}
	return t, nil
}

// ReadIndex decodes the index file at path into go-git's form: every
// entry, and the cache tree's entries. A missing file is an empty index.
func ReadIndex(path string) (*index.Index, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &index.Index{Version: 2}, nil
	}
	if err != nil {
		return nil, err
	}
	idx := &index.Index{}
	if len(data) >= 8 {
		idx.Version = binary.BigEndian.Uint32(data[4:8])
	}
	if len(data) >= 12 {
		// An entry takes at least 62 bytes: a corrupt count cannot make
		// the slice huge.
		idx.Entries = make([]*index.Entry, 0, min(int(binary.BigEndian.Uint32(data[8:12])), len(data)/62))
	}
	tree, err := ScanIndex(data, func(e *IndexEntry) {
		idx.Entries = append(idx.Entries, &index.Entry{
			Hash: e.Hash, Name: string(e.Name),
			CreatedAt: stamp(e.CtimeSec, e.CtimeNsec), ModifiedAt: stamp(e.MtimeSec, e.MtimeNsec),
			Dev: e.Dev, Inode: e.Ino, Mode: e.Mode, UID: e.UID, GID: e.GID, Size: e.Size,
			Stage: index.Stage(e.Stage), SkipWorktree: e.SkipWorktree, IntentToAdd: e.IntentToAdd,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	idx.Cache = tree
	return idx, nil
}

// stamp is a stored time as go-git decodes it: zero stays time.Time{}.
func stamp(sec, nsec uint32) time.Time {
	if sec == 0 && nsec == 0 {
		return time.Time{}
	}
	return time.Unix(int64(sec), int64(nsec))
}

// IndexPath is the index file of the layout's work tree.
func (l *Layout) IndexPath() string { return filepath.Join(l.GitDir, "index") }
