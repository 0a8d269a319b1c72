package gitx

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
)

// ErrNoHead: the git dir has no HEAD file; go-git and git then say "not a
// repository", which hides what is wrong.
var ErrNoHead = errors.New("HEAD is missing")

// ErrUnknownRevision: a revision names no commit.
var ErrUnknownRevision = errors.New("unknown revision")

// DefaultTimeout bounds each git command a [Repo] runs when
// Options.Timeout is 0: a hung git (a lock on a network file system, a
// lazy fetch that never answers) must not hold a hook forever.
const DefaultTimeout = 2 * time.Minute

// Options tune [Open].
type Options struct {
	// Ctx bounds the git commands Open itself runs; nil means
	// context.Background().
	Ctx context.Context
	// Env is the environment of the git commands the repository runs;
	// nil means os.Environ().
	Env []string
	// Timeout bounds each git command; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Repo is a checkout's repository opened the way git opens it: a .git
// file and commondir, alternates, packed refs, shallow and partial clones.
// It embeds go-git's Repository for refs, config and objects; its objects
// come from this package's store, which reads packs without indexing them
// whole, and asks the git CLI for what is not local. Close releases it.
type Repo struct {
	*git.Repository
	Layout *Layout

	git  *Runner
	objs *store

	mu      sync.Mutex
	batch   *catFile
	cut     map[plumbing.Hash]bool // parents of the shallow boundary, once computed
	cutDone bool

	rewrites     sync.Once // replace refs or grafts, looked for once
	rewritesSeen bool
}

// Open opens the repository of the checkout in dir. It fails with a
// [*LayoutError] when git would refuse the checkout too (not a
// repository, bare, another user's without safe.directory) or when its
// format is one this layer cannot read.
func Open(dir string, opt Options) (*Repo, error) {
	ctx := opt.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if opt.Timeout == 0 {
		opt.Timeout = DefaultTimeout
	}
	l, err := Discover(dir)
	if err != nil {
		return nil, err
	}
	run := &Runner{Dir: l.WorkTree, Env: opt.Env, Timeout: opt.Timeout}
	if err := l.checkOwnership(ctx, run); err != nil {
		return nil, err
	}
	if strings.EqualFold(l.config.Section("core").Option("bare"), "true") {
		return nil, &LayoutError{Path: l.GitDir, Err: ErrBare, Detail: "core.bare = true"}
	}
	if _, err := os.Lstat(filepath.Join(l.GitDir, "HEAD")); errors.Is(err, fs.ErrNotExist) {
		return nil, &LayoutError{Path: filepath.Join(l.GitDir, "HEAD"), Err: ErrNoHead, Detail: "file is missing"}
	}
	objs, err := newStore(l.ObjectDirs)
	if err != nil {
		return nil, &LayoutError{Path: l.ObjectDirs[0], Err: ErrCorrupt, Detail: err.Error()}
	}
	var dot billy.Filesystem = osfs.New(l.GitDir)
	if l.Linked {
		dot = dotgit.NewRepositoryFilesystem(dot, osfs.New(l.CommonDir))
	}
	r := &Repo{Layout: l, git: run, objs: objs}
	run.repo = r
	// The storage's own object cache is never used: objects come from
	// the store.
	fsStore := filesystem.NewStorageWithOptions(dot, cache.NewObjectLRU(64*cache.KiByte), filesystem.Options{})
	repo, err := git.Open(&storage{Storage: fsStore, r: r}, osfs.New(l.WorkTree))
	if err != nil {
		objs.close()
		return nil, &LayoutError{Path: l.GitDir, Err: err}
	}
	r.Repository = repo
	return r, nil
}

// Close releases the mapped packs and stops a git the repository runs.
func (r *Repo) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var err error
	if r.batch != nil {
		err = r.batch.p.Close()
		r.batch = nil
	}
	r.objs.close()
	return err
}

// Git returns the runner of the git CLI in the work tree, with the
// repository's environment and timeout. Its DiffTree and Blobs are
// answered from the repository itself while it is open, without a git
// process, and by git when that cannot answer (a revision only git
// reads, an object to fetch).
func (r *Repo) Git() *Runner { return r.git }

// object returns the type and content of h: from the object directories,
// else, in a partial clone, from git (which fetches it from the promisor
// remote); else a [*MissingObjectError] that says why it is missing.
func (r *Repo) object(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	t, b, err := r.objs.read(h)
	if err == nil {
		return t, b, nil
	}
	if !errors.Is(err, errNotHere) {
		return 0, nil, fmt.Errorf("read object %s in %s: %w", h, r.Layout.CommonDir, err)
	}
	if r.Layout.Promisor != "" {
		return r.fetch(h)
	}
	return 0, nil, r.missing(h, "")
}

// MissingObjectError is an object the repository does not have, with why
// (the layout) and what to do. It matches plumbing.ErrObjectNotFound.
type MissingObjectError struct {
	Hash     plumbing.Hash
	WorkTree string
	Layout   string
	Why      string
	Fix      string
}

func (e *MissingObjectError) Error() string {
	return fmt.Sprintf("object %s is not in the repository of %s (%s): %s", e.Hash, e.WorkTree, e.Layout, e.Why)
}

// Is makes errors.Is(err, plumbing.ErrObjectNotFound) true.
func (e *MissingObjectError) Is(target error) bool { return target == plumbing.ErrObjectNotFound }

// Hint is what to do about it.
func (e *MissingObjectError) Hint() string { return e.Fix }

// missing explains why h is not there; gitSaid is git's word on a failed
// lazy fetch.
func (r *Repo) missing(h plumbing.Hash, gitSaid string) error {
	l := r.Layout
	e := &MissingObjectError{Hash: h, WorkTree: l.WorkTree, Layout: l.Describe(),
		Fix: "run `git fsck` in " + l.WorkTree + " to see what is damaged"}
	switch {
	case l.Shallow && r.beyondShallow(h):
		e.Why = "it is history the shallow clone cut off (" + filepath.Join(l.CommonDir, "shallow") + ")"
		e.Fix = "fetch the history: git -C " + l.WorkTree + " fetch --unshallow"
	case l.Promisor != "":
		e.Why = "this partial clone does not have it and git could not fetch it from remote " + l.Promisor
		if gitSaid != "" {
			e.Why += ": " + gitSaid
		}
		e.Fix = "check that `git fetch " + l.Promisor + "` works in " + l.WorkTree
	case len(l.MissingAlternates) > 0:
		e.Why = "the object directories it borrows objects from are gone: " + strings.Join(l.MissingAlternates, ", ") +
			" (listed in " + filepath.Join(l.CommonDir, "objects", "info", "alternates") + ")"
		e.Fix = "restore the repository those objects came from, or re-clone mailcow without --shared/--reference"
	case l.Shallow:
		e.Why = "the clone is shallow (" + filepath.Join(l.CommonDir, "shallow") + ") and the object may lie beyond its history"
		e.Fix = "fetch the history: git -C " + l.WorkTree + " fetch --unshallow"
	default:
		e.Why = "no object directory has it (" + strings.Join(l.ObjectDirs, ", ") + ")"
		if bad := r.objs.unreadable(); len(bad) > 0 {
			e.Why += "; these packs cannot be read: " + strings.Join(bad, "; ")
		}
	}
	return e
}

// beyondShallow reports whether h is a parent of a commit of the shallow
// boundary: history the clone does not have.
func (r *Repo) beyondShallow(h plumbing.Hash) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.cutDone {
		r.cutDone = true
		r.cut = map[plumbing.Hash]bool{}
		for c := range r.Layout.shallowBoundary() {
			t, b, err := r.objs.read(c)
			if err != nil || t != plumbing.CommitObject {
				continue
			}
			for _, p := range commitParents(b) {
				r.cut[p] = true
			}
		}
	}
	return r.cut[h]
}

// commitParents reads the parent lines of a commit object's header.
func commitParents(b []byte) []plumbing.Hash {
	var out []plumbing.Hash
	for len(b) > 0 {
		line, rest, _ := bytes.Cut(b, []byte{'\n'})
		if len(line) == 0 {
			break
		}
		if p, ok := bytes.CutPrefix(line, []byte("parent ")); ok && len(p) == 40 {
			out = append(out, plumbing.NewHash(string(p)))
		}
		b = rest
	}
	return out
}

// catFile is a running `git cat-file --batch`.
type catFile struct {
	p   *Proc
	out *bufio.Reader
}

// fetch asks git for h: in a partial clone git fetches a missing object
// from the promisor remote and stores it.
func (r *Repo) fetch(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	t, body, gitSaid, err := r.ask(h)
	if err != nil {
		return 0, nil, err
	}
	if body == nil {
		return 0, nil, r.missing(h, gitSaid)
	}
	return t, body, nil
}

// ask sends h to the running `git cat-file --batch`, starting it first if
// needed. A nil body means git has not got it; gitSaid is then git's last
// word on stderr.
func (r *Repo) ask(h plumbing.Hash) (t plumbing.ObjectType, body []byte, gitSaid string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.batch == nil {
		p, err := r.git.Start(context.Background(), "cat-file", "--batch")
		if err != nil {
			return 0, nil, "", fmt.Errorf("ask git for object %s: %w", h, err)
		}
		r.batch = &catFile{p: p, out: bufio.NewReader(p.Stdout)}
	}
	b := r.batch
	timer := time.AfterFunc(r.git.Timeout, b.p.Kill)
	t, body, err = b.get(h)
	expired := !timer.Stop()
	if err != nil {
		// The pipe is in an unknown state: start a new git next time.
		b.p.Kill()
		_ = b.p.Close()
		r.batch = nil
		// git dies when a lazy fetch fails: its last words say why.
		said := lastLine(b.p.Stderr())
		switch {
		case expired:
			said = fmt.Sprintf("no answer within %v", r.git.Timeout)
		case said == "":
			said = err.Error()
		}
		return 0, nil, said, nil
	}
	if body == nil {
		return 0, nil, lastLine(b.p.Stderr()), nil
	}
	return t, body, "", nil
}

// get sends one request; a nil body means git says the object is missing.
func (c *catFile) get(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	if _, err := io.WriteString(c.p.Stdin, h.String()+"\n"); err != nil {
		return 0, nil, err
	}
	line, err := c.out.ReadString('\n')
	if err != nil {
		return 0, nil, err
	}
	f := strings.Fields(line)
	if len(f) == 2 && f[1] == "missing" {
		return 0, nil, nil
	}
	if len(f) != 3 || f[0] != h.String() {
		return 0, nil, fmt.Errorf("unexpected answer %q", strings.TrimSpace(line))
	}
	t, err := plumbing.ParseObjectType(f[1])
	size, serr := strconv.ParseInt(f[2], 10, 64)
	if err != nil || serr != nil || size < 0 || size > 1<<40 {
		return 0, nil, fmt.Errorf("unexpected answer %q", strings.TrimSpace(line))
	}
	body := make([]byte, size+1) // and the newline after it
	if _, err := io.ReadFull(c.out, body); err != nil {
		return 0, nil, err
	}
	return t, body[:size], nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// fullHash matches a full SHA-1 object id.
var fullHash = regexp.MustCompile(`^[0-9a-f]{40}$`)

// plainRef matches a revision that can only be a ref name (or a short
// hash): no revision syntax git would have to interpret.
var plainRef = regexp.MustCompile(`^[A-Za-z0-9_./-]+$`)

// shortHash matches what git may take for an abbreviated object id.
var shortHash = regexp.MustCompile(`^[0-9a-fA-F]{4,39}$`)

// pseudoRef matches HEAD, ORIG_HEAD, FETCH_HEAD and the like.
var pseudoRef = regexp.MustCompile(`^[A-Z][A-Z_]*$`)

// Resolve returns the object a revision names, as `git rev-parse` does.
// Full hashes and ref names ("HEAD", "ORIG_HEAD", "origin/master",
// "refs/tags/2026-03") are resolved here, in git's order; everything
// else (a short hash, "HEAD~1", "@{upstream}") by git itself.
func (r *Repo) Resolve(rev string) (plumbing.Hash, error) {
	if fullHash.MatchString(rev) {
		return plumbing.NewHash(rev), nil
	}
	if plainRef.MatchString(rev) && !strings.Contains(rev, "..") {
		names := []string{"refs/" + rev, "refs/tags/" + rev, "refs/heads/" + rev, "refs/remotes/" + rev, "refs/remotes/" + rev + "/HEAD"}
		if pseudoRef.MatchString(rev) || strings.HasPrefix(rev, "refs/") {
			// git reads $GIT_DIR/<rev> only for these.
			names = append([]string{rev}, names...)
		}
		for _, name := range names {
			ref, err := r.Reference(plumbing.ReferenceName(name), true)
			if err == nil {
				return ref.Hash(), nil
			}
			if !errors.Is(err, plumbing.ErrReferenceNotFound) {
				return plumbing.ZeroHash, fmt.Errorf("read ref %s: %w", name, err)
			}
		}
	}
	if plainRef.MatchString(rev) && !shortHash.MatchString(rev) {
		// No ref of that name, and no syntax nor short hash for git to
		// read: git would not find it either.
		return plumbing.ZeroHash, fmt.Errorf("%w %s", ErrUnknownRevision, rev)
	}
	out, err := r.git.Output(context.Background(), "rev-parse", "--verify", "--quiet", "--end-of-options", rev)
	if ExitCode(err) == 1 {
		return plumbing.ZeroHash, fmt.Errorf("%w %s", ErrUnknownRevision, rev)
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if !fullHash.MatchString(out) {
		return plumbing.ZeroHash, fmt.Errorf("%w %s", ErrUnknownRevision, rev)
	}
	return plumbing.NewHash(out), nil
}

// ResolveCommit returns the commit a revision names, peeling tags.
func (r *Repo) ResolveCommit(rev string) (*object.Commit, error) {
	h, err := r.Resolve(rev)
	if err != nil {
		return nil, err
	}
	for i := 0; i < 10; i++ {
		t, b, err := r.object(h)
		if err != nil {
			return nil, err
		}
		switch t {
		case plumbing.CommitObject:
			return object.DecodeCommit(r.Storer, &memObject{h: h, t: t, b: b})
		case plumbing.TagObject:
			tag, err := object.DecodeTag(r.Storer, &memObject{h: h, t: t, b: b})
			if err != nil {
				return nil, fmt.Errorf("tag %s: %w", h, err)
			}
			h = tag.Target
		default:
			return nil, fmt.Errorf("%w: %s names a %s, not a commit", ErrUnknownRevision, rev, t)
		}
	}
	return nil, fmt.Errorf("%w: %s: tags nested too deep", ErrUnknownRevision, rev)
}

// MergeBase returns the best common ancestor of a and b as `git merge`
// picks it. In a shallow clone whose history stops before the two meet,
// the error says so and how to fetch the history (git's merge refuses
// such "unrelated histories" too); it still matches ErrNoMergeBase.
func (r *Repo) MergeBase(ctx context.Context, a, b string) (string, error) {
	base, err := r.git.MergeBase(ctx, a, b)
	if errors.Is(err, ErrNoMergeBase) && r.Layout.Shallow {
		return "", &LayoutError{Path: filepath.Join(r.Layout.CommonDir, "shallow"), Err: ErrNoMergeBase,
			Detail: fmt.Sprintf("%s and %s meet, if at all, beyond the history this shallow clone has (git merge refuses them as unrelated histories)", a, b),
			Fix:    "fetch the history: git -C " + r.Layout.WorkTree + " fetch --unshallow"}
	}
	return base, err
}

// storage is go-git's filesystem storage for refs, config, the index and
// shallow, with objects from the Repo.
type storage struct {
	*filesystem.Storage
	r *Repo
}

func (s *storage) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	typ, b, err := s.r.object(h)
	if err != nil {
		return nil, err
	}
	if t != plumbing.AnyObject && typ != t {
		// go-git's storages answer a type mismatch this way.
		return nil, plumbing.ErrObjectNotFound
	}
	return &memObject{h: h, t: typ, b: b}, nil
}

func (s *storage) HasEncodedObject(h plumbing.Hash) error {
	_, _, err := s.r.objs.read(h)
	if errors.Is(err, errNotHere) {
		return plumbing.ErrObjectNotFound
	}
	return err
}

func (s *storage) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	_, b, err := s.r.object(h)
	return int64(len(b)), err
}

// IterEncodedObjects iterates the repository's own objects only (not its
// alternates'), as go-git's storage does; mcupdate resolves short hashes
// with git instead.
func (s *storage) IterEncodedObjects(t plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	return s.Storage.IterEncodedObjects(t)
}

// Config hides the repository extensions from go-git, which refuses every
// one but "noop"; Discover accepted only those this layer reads.
func (s *storage) Config() (*config.Config, error) {
	cfg, err := s.Storage.Config()
	if err != nil || cfg.Raw == nil || !cfg.Raw.HasSection("extensions") {
		return cfg, err
	}
	cfg.Raw.RemoveSection("extensions")
	return cfg, nil
}

// memObject is an object read whole; its hash is the id it was read by,
// not recomputed.
type memObject struct {
	h plumbing.Hash
	t plumbing.ObjectType
	b []byte
}

func (o *memObject) Hash() plumbing.Hash             { return o.h }
func (o *memObject) Type() plumbing.ObjectType       { return o.t }
func (o *memObject) SetType(t plumbing.ObjectType)   { o.t = t }
func (o *memObject) Size() int64                     { return int64(len(o.b)) }
func (o *memObject) SetSize(int64)                   {}
func (o *memObject) Reader() (io.ReadCloser, error)  { return io.NopCloser(bytes.NewReader(o.b)), nil }
func (o *memObject) Writer() (io.WriteCloser, error) { return nil, errReadOnly }

var errReadOnly = errors.New("gitx: objects are read-only")
