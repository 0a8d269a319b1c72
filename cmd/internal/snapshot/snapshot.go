// Package snapshot keeps copies of the files mailcow's update.sh may lose
// or rewrite, and puts them back.
//
// # What a snapshot holds
//
// The configured paths (by default mailcow.conf and
// docker-compose.override.yml, which update.sh rewrites or empties) and
// every gitignored file under the configured directories (by default
// data/conf): a file that git does not track and that the repository's
// ignore rules (.gitignore at every level, .git/info/exclude) match. A
// tracked file is never gitignored, even when a pattern matches it: git
// itself merges those. Only the configured directories are walked, so
// large ignored data directories elsewhere cost nothing.
//
// Symlinks are recorded as links, not followed. A configured path that
// is a link (mailcow.conf may be one; .env links to it) also gets its
// target recorded when the target is inside the mailcow dir, as its own
// entry. A link that leads outside the mailcow dir is recorded as the
// link (its target text) and listed in Skipped: mcupdate neither keeps
// nor writes a file outside the mailcow dir. The one exception is
// mailcow.conf ([patches.LinkedFile]), which update.sh itself edits
// through its link: its target's content is recorded with the link entry
// (TargetOutside), for the risk diff and for an explicit restore.
//
// A file that cannot be read (permissions, a named pipe or socket, too
// large) is listed in the manifest's Skipped and never aborts the
// snapshot.
//
// # Store layout
//
//	<store>/objects/<sha256>          content, stored once across snapshots
//	<store>/<ID>/manifest.json        written last: no manifest, no snapshot
//
// IDs are UTC times (20060102T150405Z, then -2, -3 within one second),
// and each sorts after every ID already in the store, also when the clock
// went back: they sort strictly by creation.
// Every file is 0600 and every directory 0700 whatever the umask:
// mailcow.conf holds the database passwords. All writes go through an
// [fsx.System], so a dry run records them and a check refuses them.
//
// The caller holds the state dir's lock: two runs must not prune each
// other's objects.
package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/errlist"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
)

// Defaults, the same as mcupdate.ini's.
var (
	DefaultPaths = []string{"mailcow.conf", "docker-compose.override.yml"}
	DefaultDirs  = []string{"data/conf"}
)

// DefaultKeep is how many snapshots are kept when Options.Keep is 0.
const DefaultKeep = 10

// DefaultMaxSize is the largest file snapshotted when Options.MaxSize is
// 0; configuration files are small, and a stray dump in data/conf must
// not fill the state dir on every update.
const DefaultMaxSize = 32 << 20

// Options says what to snapshot and where to keep it.
type Options struct {
	MailcowDir string
	Store      string   // the state dir's snapshots/
	Paths      []string // relative to MailcowDir; nil means DefaultPaths
	Dirs       []string // relative to MailcowDir; nil means DefaultDirs
	Keep       int      // newest snapshots kept; 0 means DefaultKeep
	Commit     string   // the mailcow commit the snapshot was taken at
	Now        time.Time
	MaxSize    int64 // largest file snapshotted; 0 means DefaultMaxSize
	// SkipUnchanged makes Create take no new snapshot when the newest one
	// holds exactly what it would hold (the same files, contents, modes,
	// owners and links, the same skipped files, commit and configuration)
	// and its objects are intact: it returns that one, with Reused set.
	SkipUnchanged bool
}

// Seams overridden by tests to inject read faults: the tests run as root,
// who can read any file.
var (
	openFile = func(name string) (*os.File, error) {
		// O_NOFOLLOW and O_NONBLOCK: a file swapped for a link or a FIFO
		// between the walk and the read is neither followed nor waited on.
		return os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	}
	readAll = io.ReadAll
)

// errTooLarge marks a file over the size limit.
var errTooLarge = errors.New("too large")

// readRegular reads a regular file without following a link at name.
func readRegular(name string, max int64) (data []byte, fi fs.FileInfo, err error) {
	f, err := openFile(name)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if fi, err = f.Stat(); err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("not a regular file (%s)", typeName(fi.Mode().Type()))
	}
	if fi.Size() > max {
		return nil, nil, fmt.Errorf("%w: %d bytes, limit %d", errTooLarge, fi.Size(), max)
	}
	data, err = readAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(data)) > max {
		return nil, nil, fmt.Errorf("%w: grew past the limit of %d bytes while read", errTooLarge, max)
	}
	return data, fi, nil
}

func owner(fi fs.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return 0, 0
}

// inside returns abs relative to root, with slashes, if abs is below root.
func inside(root, abs string) (string, bool) {
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

func checkOptions(opt *Options) error {
	if opt.MailcowDir == "" || opt.Store == "" {
		return errors.New("snapshot: mailcow dir and store must be set")
	}
	if opt.Paths == nil {
		opt.Paths = DefaultPaths
	}
	if opt.Dirs == nil {
		opt.Dirs = DefaultDirs
	}
	for _, p := range append(append([]string(nil), opt.Paths...), opt.Dirs...) {
		if err := checkRel(p); err != nil {
			return fmt.Errorf("snapshot paths: %w", err)
		}
	}
	if opt.Keep == 0 {
		opt.Keep = DefaultKeep
	}
	if opt.Keep < 0 {
		return fmt.Errorf("snapshot keep %d: want at least 1", opt.Keep)
	}
	if opt.MaxSize == 0 {
		opt.MaxSize = DefaultMaxSize
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	return nil
}

// PruneError is returned by [Create] together with the new manifest when
// the snapshot was taken but removing old ones failed.
type PruneError struct{ Err error }

func (e *PruneError) Error() string { return "snapshot taken, but pruning failed: " + e.Err.Error() }

// Unwrap returns the pruning error.
func (e *PruneError) Unwrap() error { return e.Err }

// Create takes a snapshot of opt.MailcowDir into opt.Store and prunes the
// store to the newest opt.Keep. On error no manifest is written and no
// object this call wrote is left, so earlier snapshots are as they were;
// the one exception is a [*PruneError], returned with the new manifest.
func Create(sys fsx.System, opt Options) (*Manifest, error) {
	if err := checkOptions(&opt); err != nil {
		return nil, err
	}
	res, err := scan(opt.MailcowDir, opt.Paths, opt.Dirs)
	if err != nil {
		return nil, err
	}
	m := &Manifest{
		Version:    Version,
		Time:       opt.Now.UTC().Truncate(time.Second),
		MailcowDir: opt.MailcowDir,
		Commit:     opt.Commit,
		Paths:      opt.Paths,
		Dirs:       opt.Dirs,
		Skipped:    res.skipped,
		Entries:    []Entry{},
	}
	if err := ensureDir(sys, opt.Store); err != nil {
		return nil, err
	}
	objDir := filepath.Join(opt.Store, ObjectsDir)
	if err := ensureDir(sys, objDir); err != nil {
		return nil, err
	}
	c := &creator{sys: sys, opt: opt, m: m, done: map[string]bool{}, queued: map[string]bool{}}
	if c.root, err = filepath.EvalSymlinks(opt.MailcowDir); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	for _, f := range res.files {
		if err = c.record(f); err != nil {
			break
		}
	}
	if err == nil && opt.SkipUnchanged && len(c.pending) == 0 {
		// No object to write: every content is already in the store.
		if last, lerr := Load(opt.Store, Latest); lerr == nil && sameContent(last, m) {
			last.Reused = true
			if perr := Prune(sys, opt.Store, opt.Keep); perr != nil {
				return last, &PruneError{Err: perr}
			}
			return last, nil
		}
	}
	if err == nil {
		err = c.flush()
	}
	if err == nil {
		err = c.writeManifest()
	}
	if err != nil {
		c.undo()
		return nil, err
	}
	if perr := Prune(sys, opt.Store, opt.Keep); perr != nil {
		return m, &PruneError{Err: perr}
	}
	return m, nil
}

// sameContent reports whether two manifests hold the same snapshot, their
// IDs and times aside.
func sameContent(a, b *Manifest) bool {
	key := func(m *Manifest) string {
		es := append([]Entry{}, m.Entries...)
		sortEntries(es)
		sk := append([]Skip{}, m.Skipped...)
		data, err := json.Marshal(struct {
			Dir, Commit string
			Paths, Dirs []string
			Entries     []Entry
			Skipped     []Skip
		}{m.MailcowDir, m.Commit, append([]string{}, m.Paths...), append([]string{}, m.Dirs...), es, sk})
		if err != nil {
			return "error: " + err.Error()
		}
		return string(data)
	}
	ka := key(a)
	return !strings.HasPrefix(ka, "error: ") && ka == key(b)
}

// ensureDir creates dir 0700 or tightens it to 0700.
func ensureDir(sys fsx.System, dir string) error {
	if err := sys.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("snapshot store: %w", err)
	}
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm() != 0o700 {
		if err := sys.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("snapshot store: %w", err)
		}
	}
	return nil
}

type creator struct {
	sys     fsx.System
	opt     Options
	m       *Manifest
	root    string          // the mailcow dir with its own links resolved
	done    map[string]bool // paths recorded or skipped
	written []string        // objects this run wrote
	queued  map[string]bool // objects waiting in pending
	pending []pendingObject
	idDir   string
}

func (c *creator) skip(rel, reason string) {
	c.done[rel] = true
	c.m.Skipped = append(c.m.Skipped, Skip{Path: rel, Reason: reason})
}

// record adds one scanned path to the manifest, storing its content.
func (c *creator) record(f candidate) error {
	if c.done[f.rel] {
		return nil
	}
	abs := filepath.Join(c.opt.MailcowDir, filepath.FromSlash(f.rel))
	fi, err := os.Lstat(abs)
	if err != nil {
		c.skip(f.rel, "unreadable: "+errText(err))
		return nil
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		data, fi, err := readRegular(abs, c.opt.MaxSize)
		if err != nil {
			c.skip(f.rel, "unreadable: "+errText(err))
			return nil
		}
		e := fileEntry(f.rel, TypeFile, fi, data)
		if err := c.store(f.rel, e.SHA256, data); err != nil {
			return err
		}
		c.add(e)
		return nil
	}
	target, err := os.Readlink(abs)
	if err != nil {
		c.skip(f.rel, "unreadable link: "+errText(err))
		return nil
	}
	uid, gid := owner(fi)
	e := Entry{Path: f.rel, Type: TypeSymlink, Mode: 0o777, UID: uid, GID: gid, Size: int64(len(target)), Target: target}
	if !f.configured {
		c.add(e)
		return nil
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		// A dangling link is still worth restoring as the link it was.
		c.add(e)
		return nil
	}
	if rel, ok := inside(c.root, resolved); ok {
		c.add(e)
		return c.record(candidate{rel: rel})
	}
	if f.rel != patch.LinkedFile {
		c.add(e)
		c.m.Skipped = append(c.m.Skipped, Skip{Path: f.rel, Reason: OutsideLinkReason(resolved)})
		return nil
	}
	data, tfi, err := readRegular(resolved, c.opt.MaxSize)
	if err != nil {
		c.add(e)
		c.m.Skipped = append(c.m.Skipped, Skip{Path: f.rel, Reason: "link target " + resolved + " (outside the mailcow dir) unreadable: " + errText(err)})
		return nil
	}
	t := fileEntry(f.rel, TypeSymlink, tfi, data)
	t.Target, t.TargetOutside = target, true
	if err := c.store(f.rel, t.SHA256, data); err != nil {
		return err
	}
	c.add(t)
	return nil
}

// OutsideLinkReason is the Skip reason of a configured path that is a link
// leading outside the mailcow dir.
func OutsideLinkReason(target string) string {
	return "a link to " + target + ", outside the mailcow dir: the snapshot keeps the link, not that file's content (mcupdate never writes outside the mailcow dir; move the file into it to have it protected)"
}

func fileEntry(rel string, typ EntryType, fi fs.FileInfo, data []byte) Entry {
	uid, gid := owner(fi)
	return Entry{Path: rel, Type: typ, Mode: ModeOf(fi.Mode()), UID: uid, GID: gid, Size: int64(len(data)), SHA256: hashOf(data)}
}

func (c *creator) add(e Entry) {
	c.done[e.Path] = true
	c.m.Entries = append(c.m.Entries, e)
}

// objectWriters is how many objects are written at once: each write
// waits on two fsyncs, and overlapping them makes a first snapshot of a
// few hundred files several times faster.
const objectWriters = 8

type pendingObject struct {
	rel, sha string
	data     []byte
}

// store queues an object for [creator.flush] unless the store already
// holds it intact.
func (c *creator) store(rel, sha string, data []byte) error {
	if c.queued[sha] || objectOK(c.opt.Store, sha, len(data)) {
		return nil
	}
	c.queued[sha] = true
	c.pending = append(c.pending, pendingObject{rel: rel, sha: sha, data: data})
	return nil
}

// flush writes the queued objects; the first error stops further writes
// and is returned naming its file.
func (c *creator) flush() error {
	jobs := make(chan pendingObject)
	errs := make(chan error, len(c.pending))
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failed atomic.Bool
	for w := 0; w < objectWriters; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if failed.Load() {
					continue
				}
				p := objectPath(c.opt.Store, j.sha)
				_, statErr := os.Lstat(p)
				if err := c.sys.WriteFile(p, j.data, 0o600); err != nil {
					failed.Store(true)
					errs <- fmt.Errorf("snapshot %s: store its content: %w", j.rel, err)
					continue
				}
				// A damaged object that was repaired stays on undo:
				// older snapshots use it.
				if errors.Is(statErr, fs.ErrNotExist) {
					mu.Lock()
					c.written = append(c.written, p)
					mu.Unlock()
				}
			}
		}()
	}
	for _, j := range c.pending {
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errlist.Join(all...)
}

// newID returns an ID that sorts after every ID in the store (with a
// manifest or not): its time, or, within the newest ID's second or when
// the clock went back, the newest's time with the next counter. IDs then
// sort strictly by creation, so pruning never takes the snapshot just
// made for the oldest, and an ID it freed is never reused.
func (c *creator) newID() (string, error) {
	complete, incomplete, err := ids(c.opt.Store)
	if err != nil {
		return "", err
	}
	newest := ""
	for _, id := range append(complete, incomplete...) {
		if newest == "" || idLess(newest, id) {
			newest = id
		}
	}
	base, n := c.m.Time.Format(IDLayout), 1
	if nb, nn := idKey(newest); newest != "" && base <= nb {
		base, n = nb, nn+1
	}
	for ; n < 1000000; n++ {
		id := base
		if n > 1 {
			id = fmt.Sprintf("%s-%d", base, n)
		}
		if _, err := os.Lstat(filepath.Join(c.opt.Store, id)); errors.Is(err, fs.ErrNotExist) {
			return id, nil
		}
	}
	return "", fmt.Errorf("snapshot store %s: no free ID after %s", c.opt.Store, base)
}

func (c *creator) writeManifest() error {
	id, err := c.newID()
	if err != nil {
		return err
	}
	c.m.ID, c.idDir = id, filepath.Join(c.opt.Store, id)
	// Entries are sorted so manifests diff well and Restore is ordered.
	sortEntries(c.m.Entries)
	data, err := marshalManifest(c.m)
	if err != nil {
		return err
	}
	if err := c.sys.MkdirAll(c.idDir, 0o700); err != nil {
		return fmt.Errorf("snapshot %s: %w", c.m.ID, err)
	}
	if err := c.sys.WriteFile(filepath.Join(c.idDir, ManifestFile), data, 0o600); err != nil {
		return fmt.Errorf("snapshot %s: write manifest: %w", c.m.ID, err)
	}
	return nil
}

// undo removes what a failed Create wrote, so the store is as before.
func (c *creator) undo() {
	for _, p := range c.written {
		_ = c.sys.Remove(p)
	}
	// A System that failed mid-write may leave its temp file behind.
	if tmps, err := filepath.Glob(filepath.Join(c.opt.Store, ObjectsDir, fsx.TempPrefix+"*")); err == nil {
		for _, t := range tmps {
			_ = c.sys.Remove(t)
		}
	}
	if c.idDir != "" {
		_ = c.sys.Remove(filepath.Join(c.idDir, ManifestFile))
		_ = c.sys.Remove(c.idDir)
	}
}
