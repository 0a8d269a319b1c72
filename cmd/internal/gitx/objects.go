package gitx

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"container/list"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// errNotHere means no object directory has the object.
var errNotHere = errors.New("not in the object directories")

// odb is one object directory: its packs and its loose objects.
type odb struct {
	dir     string
	packs   []*pack
	scanned time.Time // mtime of dir/pack when the packs were listed
	// bad are the pack indexes that cannot be read, with why: git too
	// reads on without them, and a missing object names them.
	bad []string
}

// store reads objects from the object directories of a layout, own first,
// then the alternates: what git reads, without go-git's whole-pack index.
type store struct {
	mu    sync.RWMutex
	dbs   []*odb
	cache *baseCache
}

// baseCacheBytes bounds the delta bases kept: a release's trees and the
// config files a risk diff reads fit many times over.
const baseCacheBytes = 32 << 20

func newStore(dirs []string) (*store, error) {
	s := &store{cache: newBaseCache(baseCacheBytes)}
	for _, d := range dirs {
		db := &odb{dir: d}
		if err := db.scan(); err != nil {
			s.close()
			return nil, err
		}
		s.dbs = append(s.dbs, db)
	}
	return s, nil
}

// scan (re)lists the packs of db, keeping those already open, newest
// first as git prefers them.
func (db *odb) scan() error {
	pdir := filepath.Join(db.dir, "pack")
	fi, err := os.Stat(pdir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	db.scanned = fi.ModTime()
	ents, err := os.ReadDir(pdir)
	if err != nil {
		return err
	}
	db.bad = nil
	open := map[string]*pack{}
	for _, p := range db.packs {
		open[p.idxPath] = p
	}
	type found struct {
		p     *pack
		mtime time.Time
	}
	var list []found
	for _, e := range ents {
		name := e.Name()
		if filepath.Ext(name) != ".idx" {
			continue
		}
		path := filepath.Join(pdir, name)
		if _, err := os.Stat(path[:len(path)-4] + ".pack"); err != nil {
			continue // a pack being written or removed
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		p := open[path]
		if p == nil {
			if p, err = openPack(path); err != nil {
				db.bad = append(db.bad, err.Error())
				continue
			}
		}
		delete(open, path)
		list = append(list, found{p, info.ModTime()})
	}
	for _, p := range open {
		p.close()
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].mtime.After(list[j].mtime) })
	db.packs = db.packs[:0]
	for _, f := range list {
		db.packs = append(db.packs, f.p)
	}
	return nil
}

// unreadable lists the pack indexes that could not be read.
func (s *store) unreadable() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for _, db := range s.dbs {
		out = append(out, db.bad...)
	}
	return out
}

func (s *store) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, db := range s.dbs {
		for _, p := range db.packs {
			p.close()
		}
		db.packs = nil
	}
}

// read returns the type and content of object h.
func (s *store) read(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	t, b, err := s.lookup(h, 0)
	if !errors.Is(err, errNotHere) {
		return t, b, err
	}
	// A git running beside us (gc, fetch) may have packed or added it
	// since the packs were listed: look again, as git does.
	if s.rescan() {
		return s.lookup(h, 0)
	}
	return t, b, err
}

// rescan lists the packs again where a pack directory changed; it
// reports whether any did.
func (s *store) rescan() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for _, db := range s.dbs {
		fi, err := os.Stat(filepath.Join(db.dir, "pack"))
		if err != nil || fi.ModTime().Equal(db.scanned) {
			continue
		}
		if db.scan() == nil {
			changed = true
		}
	}
	return changed
}

func (s *store) lookup(h plumbing.Hash, depth int) (plumbing.ObjectType, []byte, error) {
	if depth > maxDeltaChain {
		return 0, nil, fmt.Errorf("%w: delta chain of %s too deep", errCorrupt, h)
	}
	s.mu.RLock()
	for _, db := range s.dbs {
		for _, p := range db.packs {
			if off, ok := p.find(h); ok {
				s.mu.RUnlock()
				return s.readPacked(p, off, depth)
			}
		}
	}
	dbs := s.dbs
	s.mu.RUnlock()
	for _, db := range dbs {
		t, b, err := readLoose(db.dir, h)
		if !errors.Is(err, errNotHere) {
			return t, b, err
		}
	}
	return 0, nil, errNotHere
}

// readPacked reads the object at off in p, resolving its delta chain.
func (s *store) readPacked(p *pack, off int64, depth int) (plumbing.ObjectType, []byte, error) {
	data, err := p.pack()
	if err != nil {
		return 0, nil, err
	}
	type link struct {
		off int64
		e   entry
	}
	var chain []link
	var typ plumbing.ObjectType
	var body []byte
	cur := off
	for {
		if len(chain) > maxDeltaChain {
			return 0, nil, fmt.Errorf("%s: %w: delta chain too long at offset %d", p.idxPath, errCorrupt, off)
		}
		if t, b, ok := s.cache.get(p, cur); ok {
			typ, body = t, b
			break
		}
		e, err := header(data, cur)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", p.idxPath, err)
		}
		if e.typ == packOfsDelta {
			chain = append(chain, link{cur, e})
			cur = e.base
			continue
		}
		if e.typ == packRefDelta {
			chain = append(chain, link{cur, e})
			if bo, ok := p.find(e.ref); ok {
				cur = bo
				continue
			}
			// A base in another pack (or loose): read it whole.
			typ, body, err = s.lookup(e.ref, depth+len(chain))
			if err != nil {
				if errors.Is(err, errNotHere) {
					return 0, nil, fmt.Errorf("%s: %w: delta base %s of the object at offset %d is missing", p.idxPath, errCorrupt, e.ref, cur)
				}
				return 0, nil, err
			}
			break
		}
		if body, err = inflate(data[e.data:], e.size); err != nil {
			return 0, nil, fmt.Errorf("%s: offset %d: %w", p.idxPath, cur, err)
		}
		typ = plumbing.ObjectType(e.typ)
		if len(chain) > 0 {
			s.cache.put(p, cur, typ, body)
		}
		break
	}
	for i := len(chain) - 1; i >= 0; i-- {
		l := chain[i]
		delta, err := inflate(data[l.e.data:], l.e.size)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: offset %d: %w", p.idxPath, l.off, err)
		}
		if body, err = patchDelta(body, delta); err != nil {
			return 0, nil, fmt.Errorf("%s: offset %d: %w", p.idxPath, l.off, err)
		}
		if i > 0 {
			s.cache.put(p, l.off, typ, body)
		}
	}
	return typ, body, nil
}

// readLoose reads h from dir/xx/yyyy….
func readLoose(dir string, h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	hx := hex.EncodeToString(h[:])
	p := filepath.Join(dir, hx[:2], hx[2:])
	raw, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return 0, nil, errNotHere
	}
	if err != nil {
		return 0, nil, err
	}
	var zr io.ReadCloser
	if v := zlibPool.Get(); v != nil {
		zr = v.(io.ReadCloser)
		err = zr.(zlib.Resetter).Reset(bytes.NewReader(raw), nil)
	} else {
		zr, err = zlib.NewReader(bytes.NewReader(raw))
	}
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w: %v", p, errCorrupt, err)
	}
	defer zlibPool.Put(zr)
	// The header is "<type> <size>\0", within its first 32 bytes.
	br := bufio.NewReaderSize(zr, 64)
	hdrb, err := br.ReadSlice(0)
	if err != nil || len(hdrb) > 32 {
		return 0, nil, fmt.Errorf("%s: %w: bad header", p, errCorrupt)
	}
	name, sz, ok := bytes.Cut(hdrb[:len(hdrb)-1], []byte{' '})
	size, err := strconv.ParseInt(string(sz), 10, 64)
	if !ok || err != nil || size < 0 || size > 1<<40 {
		return 0, nil, fmt.Errorf("%s: %w: bad header", p, errCorrupt)
	}
	t, err := plumbing.ParseObjectType(string(name))
	if err != nil || t < plumbing.CommitObject || t > plumbing.TagObject {
		return 0, nil, fmt.Errorf("%s: %w: bad type %q", p, errCorrupt, name)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(br, body); err != nil {
		return 0, nil, fmt.Errorf("%s: %w: %v", p, errCorrupt, err)
	}
	return t, body, nil
}

// baseCache keeps resolved delta bases by pack and offset, least recently
// used dropped first, within a byte budget.
type baseCache struct {
	mu    sync.Mutex
	max   int
	size  int
	order *list.List
	items map[baseKey]*list.Element
}

type baseKey struct {
	p   *pack
	off int64
}

type baseItem struct {
	key  baseKey
	typ  plumbing.ObjectType
	data []byte
}

func newBaseCache(max int) *baseCache {
	return &baseCache{max: max, order: list.New(), items: map[baseKey]*list.Element{}}
}

func (c *baseCache) get(p *pack, off int64) (plumbing.ObjectType, []byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[baseKey{p, off}]
	if !ok {
		return 0, nil, false
	}
	c.order.MoveToFront(el)
	it := el.Value.(*baseItem)
	return it.typ, it.data, true
}

func (c *baseCache) put(p *pack, off int64, t plumbing.ObjectType, data []byte) {
	if len(data) > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := baseKey{p, off}
	if _, ok := c.items[k]; ok {
		return
	}
	c.items[k] = c.order.PushFront(&baseItem{key: k, typ: t, data: data})
	c.size += len(data)
	for c.size > c.max {
		el := c.order.Back()
		it := el.Value.(*baseItem)
		c.order.Remove(el)
		delete(c.items, it.key)
		c.size -= len(it.data)
	}
}

// ObjectID is the id git gives data as an object of type t (`git
// hash-object -t T`): the SHA-1 of "T LEN\0" and data. Plain SHA-1, not
// go-git's collision-detecting one: mcupdate hashes work-tree files and
// the objects it writes itself, whose content it already has.
func ObjectID(t plumbing.ObjectType, data []byte) plumbing.Hash {
	h := sha1.New()
	h.Write([]byte(t.String()))
	h.Write([]byte{' '})
	h.Write(strconv.AppendInt(nil, int64(len(data)), 10))
	h.Write([]byte{0})
	h.Write(data)
	var id plumbing.Hash
	copy(id[:], h.Sum(nil))
	return id
}
