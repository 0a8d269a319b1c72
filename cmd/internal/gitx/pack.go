package gitx

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
)

// A pack file is read the way git reads it: the .idx is mapped and
// searched in place (fan-out table, then a binary search of the sorted
// names), and an object is inflated at its offset, delta chains resolved
// by offset. go-git instead decodes the whole .idx and builds an
// offset→hash map of every object before it reads the first one, which on
// mailcow's 85,000-object pack is most of the time a short command takes.

// Object types as a pack stores them.
const (
	packCommit   = 1
	packTree     = 2
	packBlob     = 3
	packTag      = 4
	packOfsDelta = 6
	packRefDelta = 7
)

// maxDeltaChain bounds a delta chain: git's default depth is 50 and
// --depth is capped at 4095; a longer chain is a corrupt or hostile pack.
const maxDeltaChain = 10000

// errCorrupt is wrapped by every error about a malformed pack or object.
var errCorrupt = errors.New("corrupt object database")

// pack is one mapped pack file and its index.
type pack struct {
	idxPath string
	idx     []byte // the mapped .idx
	n       int    // number of objects
	v1      bool   // index version 1 (no CRCs, 4-byte offsets beside the names)

	once    sync.Once
	data    []byte // the mapped .pack, mapped on first use
	dataErr error
}

// openPack maps the index idxPath; the pack beside it is mapped when an
// object is read from it.
func openPack(idxPath string) (*pack, error) {
	idx, err := mapFile(idxPath)
	if err != nil {
		return nil, err
	}
	p := &pack{idxPath: idxPath, idx: idx}
	if err := p.check(); err != nil {
		p.close()
		return nil, fmt.Errorf("%s: %w: %v", idxPath, errCorrupt, err)
	}
	return p, nil
}

// check validates the index's header and size.
func (p *pack) check() error {
	idx := p.idx
	fan := 0
	if len(idx) >= 8 && string(idx[:4]) == "\xfftOc" {
		if v := binary.BigEndian.Uint32(idx[4:8]); v != 2 {
			return fmt.Errorf("index version %d", v)
		}
		fan = 8
	} else {
		p.v1 = true
	}
	if len(idx) < fan+256*4+40 {
		return errors.New("index truncated")
	}
	p.n = int(binary.BigEndian.Uint32(idx[fan+255*4:]))
	var min int
	if p.v1 {
		min = 256*4 + p.n*24 + 40
	} else {
		min = fan + 256*4 + p.n*(20+4+4) + 40
	}
	if len(idx) < min {
		return errors.New("index truncated")
	}
	return nil
}

func (p *pack) close() {
	if p.idx != nil {
		_ = syscall.Munmap(p.idx)
		p.idx = nil
	}
	if p.data != nil {
		_ = syscall.Munmap(p.data)
		p.data = nil
	}
}

// find returns the offset of h in the pack.
func (p *pack) find(h plumbing.Hash) (int64, bool) {
	fan := 8
	if p.v1 {
		fan = 0
	}
	lo := 0
	if h[0] > 0 {
		lo = int(binary.BigEndian.Uint32(p.idx[fan+int(h[0]-1)*4:]))
	}
	hi := int(binary.BigEndian.Uint32(p.idx[fan+int(h[0])*4:]))
	if hi > p.n || lo > hi {
		return 0, false
	}
	names, stride := fan+256*4, 20
	if p.v1 {
		names, stride = 256*4+4, 24
	}
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		at := names + mid*stride
		switch c := bytes.Compare(p.idx[at:at+20], h[:]); {
		case c == 0:
			return p.offset(mid), true
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return 0, false
}

// offset returns the pack offset of the i-th object of the index.
func (p *pack) offset(i int) int64 {
	if p.v1 {
		return int64(binary.BigEndian.Uint32(p.idx[256*4+i*24:]))
	}
	base := 8 + 256*4 + p.n*24
	off := binary.BigEndian.Uint32(p.idx[base+i*4:])
	if off&0x80000000 == 0 {
		return int64(off)
	}
	large := base + p.n*4 + int(off&0x7fffffff)*8
	if large+8 > len(p.idx) {
		return -1
	}
	return int64(binary.BigEndian.Uint64(p.idx[large:]))
}

// pack returns the mapped pack data.
func (p *pack) pack() ([]byte, error) {
	p.once.Do(func() {
		path := strings.TrimSuffix(p.idxPath, ".idx") + ".pack"
		p.data, p.dataErr = mapFile(path)
		if p.dataErr == nil && (len(p.data) < 12+20 || string(p.data[:4]) != "PACK") {
			p.dataErr = fmt.Errorf("%s: %w: no pack header", path, errCorrupt)
		}
	})
	return p.data, p.dataErr
}

func mapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() == 0 || fi.Size() != int64(int(fi.Size())) {
		return nil, fmt.Errorf("%s: %w: size %d", path, errCorrupt, fi.Size())
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, &os.PathError{Op: "mmap", Path: path, Err: err}
	}
	return b, nil
}

// entry is an object's header in a pack.
type entry struct {
	typ  int
	size int64 // of the inflated data: the object, or the delta
	data int64 // offset of the compressed data
	base int64 // an OFS delta's base offset
	ref  plumbing.Hash
}

// header parses the object header at off.
func header(data []byte, off int64) (entry, error) {
	bad := func(what string) (entry, error) {
		return entry{}, fmt.Errorf("%w: object at offset %d: %s", errCorrupt, off, what)
	}
	if off < 12 || off >= int64(len(data)) {
		return bad("offset outside the pack")
	}
	i := off
	c := data[i]
	i++
	e := entry{typ: int(c>>4) & 7, size: int64(c & 15)}
	for shift := 4; c&0x80 != 0; shift += 7 {
		if i >= int64(len(data)) || shift > 56 {
			return bad("bad size")
		}
		c = data[i]
		i++
		e.size |= int64(c&0x7f) << shift
	}
	switch e.typ {
	case packOfsDelta:
		if i >= int64(len(data)) {
			return bad("truncated")
		}
		c = data[i]
		i++
		rel := int64(c & 0x7f)
		for c&0x80 != 0 {
			if i >= int64(len(data)) || rel > 1<<48 {
				return bad("bad delta base offset")
			}
			c = data[i]
			i++
			rel = (rel+1)<<7 | int64(c&0x7f)
		}
		e.base = off - rel
		if e.base < 12 || e.base >= off {
			return bad("delta base outside the pack")
		}
	case packRefDelta:
		if i+20 > int64(len(data)) {
			return bad("truncated")
		}
		copy(e.ref[:], data[i:i+20])
		i += 20
	case packCommit, packTree, packBlob, packTag:
	default:
		return bad(fmt.Sprintf("type %d", e.typ))
	}
	e.data = i
	return e, nil
}

var zlibPool sync.Pool

// inflate decompresses exactly size bytes of the zlib stream at the start
// of in.
func inflate(in []byte, size int64) ([]byte, error) {
	if size < 0 || size > 1<<40 {
		return nil, fmt.Errorf("%w: object size %d", errCorrupt, size)
	}
	br := bytes.NewReader(in)
	var zr io.ReadCloser
	if v := zlibPool.Get(); v != nil {
		zr = v.(io.ReadCloser)
		if err := zr.(zlib.Resetter).Reset(br, nil); err != nil {
			return nil, fmt.Errorf("%w: %v", errCorrupt, err)
		}
	} else {
		var err error
		if zr, err = zlib.NewReader(br); err != nil {
			return nil, fmt.Errorf("%w: %v", errCorrupt, err)
		}
	}
	defer zlibPool.Put(zr)
	out := make([]byte, size)
	if _, err := io.ReadFull(zr, out); err != nil {
		return nil, fmt.Errorf("%w: inflate: %v", errCorrupt, err)
	}
	return out, nil
}

// patchDelta applies a git delta to base.
func patchDelta(base, delta []byte) ([]byte, error) {
	bad := func(what string) ([]byte, error) { return nil, fmt.Errorf("%w: delta: %s", errCorrupt, what) }
	varint := func() (int, bool) {
		n, shift := 0, 0
		for {
			if len(delta) == 0 || shift > 56 {
				return 0, false
			}
			c := delta[0]
			delta = delta[1:]
			n |= int(c&0x7f) << shift
			shift += 7
			if c&0x80 == 0 {
				return n, true
			}
		}
	}
	src, ok := varint()
	if !ok || src != len(base) {
		return bad("base size does not match")
	}
	dst, ok := varint()
	if !ok || dst > 1<<40 {
		return bad("bad result size")
	}
	out := make([]byte, 0, dst)
	for len(delta) > 0 {
		op := delta[0]
		delta = delta[1:]
		switch {
		case op&0x80 != 0:
			var off, n int
			for i := 0; i < 4; i++ {
				if op&(1<<i) != 0 {
					if len(delta) == 0 {
						return bad("truncated copy")
					}
					off |= int(delta[0]) << (8 * i)
					delta = delta[1:]
				}
			}
			for i := 0; i < 3; i++ {
				if op&(0x10<<i) != 0 {
					if len(delta) == 0 {
						return bad("truncated copy")
					}
					n |= int(delta[0]) << (8 * i)
					delta = delta[1:]
				}
			}
			if n == 0 {
				n = 0x10000
			}
			if off+n > len(base) || len(out)+n > dst {
				return bad("copy out of bounds")
			}
			out = append(out, base[off:off+n]...)
		case op != 0:
			n := int(op)
			if n > len(delta) || len(out)+n > dst {
				return bad("insert out of bounds")
			}
			out = append(out, delta[:n]...)
			delta = delta[n:]
		default:
			return bad("opcode 0")
		}
	}
	if len(out) != dst {
		return bad("result size does not match")
	}
	return out, nil
}
