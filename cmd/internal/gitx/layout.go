package gitx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	gitconfig "github.com/go-git/go-git/v5/plumbing/format/config"

	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// Sentinel errors of [Open]; a [*LayoutError] wraps one of them.
var (
	// ErrNotRepo: the directory holds no git repository git would use.
	ErrNotRepo = errors.New("not a git repository")
	// ErrBare: the repository has no work tree; a mailcow checkout has one.
	ErrBare = errors.New("bare repository, a mailcow checkout needs a work tree")
	// ErrUnsafe: git refuses the repository because another user owns it
	// (git's safe.directory rule); update.sh's git commands fail the same
	// way.
	ErrUnsafe = errors.New("git refuses to work in a repository owned by someone else")
	// ErrUnsupported: a repository format neither this git layer nor
	// go-git can read.
	ErrUnsupported = errors.New("unsupported repository format")
	// ErrCorrupt: a file of the repository cannot be parsed.
	ErrCorrupt = errors.New("corrupt repository file")
)

// LayoutError is a repository mcupdate cannot use, naming the file at
// fault, what is wrong, and what to do.
type LayoutError struct {
	Path   string // the file or directory at fault
	Err    error  // a sentinel above, or the underlying error
	Detail string // what exactly is wrong, may be empty
	// Fix is what the admin can do, as a command where there is one; ""
	// when nothing but the detail helps.
	Fix string
}

func (e *LayoutError) Error() string {
	s := e.Path + ": " + e.Err.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *LayoutError) Unwrap() error { return e.Err }

// Hint is what to do about the error, for a "mcupdate: hint:" line.
func (e *LayoutError) Hint() string { return e.Fix }

// Layout is where the pieces of a checkout's repository are, found the
// way git finds them.
type Layout struct {
	// WorkTree is the checkout (absolute, cleaned).
	WorkTree string
	// GitDir holds what belongs to this work tree: HEAD, the index,
	// logs/HEAD, MERGE_HEAD, index.lock. It is WorkTree/.git, or where a
	// .git file points (a submodule, a linked worktree,
	// --separate-git-dir).
	GitDir string
	// CommonDir holds what all work trees of the repository share: refs,
	// packed-refs, objects, config, info/exclude. It is GitDir except in
	// a linked worktree (`git worktree add`).
	CommonDir string
	// GitFile is WorkTree/.git when that is a "gitdir: …" file, else "".
	GitFile string
	// Linked: a linked worktree (GitDir has a commondir file).
	Linked bool
	// ObjectDirs are the object directories git reads, in its order:
	// CommonDir/objects, then the alternates (objects/info/alternates,
	// followed recursively, relative paths resolved against the objects
	// directory that lists them).
	ObjectDirs []string
	// MissingAlternates are alternates listed but not there; git warns
	// about each and reads on without them.
	MissingAlternates []string
	// Shallow: CommonDir/shallow lists commits whose parents were cut
	// off (`git clone --depth`).
	Shallow bool
	// Promisor is the remote a partial clone (`--filter`) fetches missing
	// objects from, "" when the repository is complete.
	Promisor string

	config *gitconfig.Config
}

// Describe says in words how the repository is laid out, for messages:
// "plain clone", or e.g. "linked worktree of /srv/mailcow/.git; objects
// also from /srv/mirror.git/objects (alternates)".
func (l *Layout) Describe() string {
	var parts []string
	switch {
	case l.Linked:
		parts = append(parts, "linked worktree of "+l.CommonDir)
	case l.GitFile != "":
		parts = append(parts, "git dir "+l.GitDir+" (.git is a file: a submodule or --separate-git-dir)")
	}
	if len(l.ObjectDirs) > 1 {
		parts = append(parts, "objects also from "+strings.Join(l.ObjectDirs[1:], ", ")+" (alternates)")
	}
	if len(l.MissingAlternates) > 0 {
		parts = append(parts, "missing alternates "+strings.Join(l.MissingAlternates, ", "))
	}
	if l.Shallow {
		parts = append(parts, "shallow clone")
	}
	if l.Promisor != "" {
		parts = append(parts, "partial clone of remote "+l.Promisor)
	}
	if len(parts) == 0 {
		return "plain clone"
	}
	return strings.Join(parts, "; ")
}

// Config returns the repository's config file as parsed (not the global
// or system one).
func (l *Layout) Config() *gitconfig.Config { return l.config }

// maxAlternateDepth is git's limit on alternates of alternates.
const maxAlternateDepth = 5

// Discover finds the repository of the checkout in dir, the way git does
// for a work tree's top directory: dir/.git as a directory or a "gitdir:"
// file, a commondir, the alternates, the shallow file and the partial
// clone settings. It reads a few small files and runs nothing; it does
// not check ownership (see [Open]).
func Discover(dir string) (*Layout, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, &LayoutError{Path: dir, Err: err}
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &LayoutError{Path: abs, Err: ErrNotRepo, Detail: "directory does not exist"}
	case err != nil:
		return nil, &LayoutError{Path: abs, Err: err}
	case !fi.IsDir():
		return nil, &LayoutError{Path: abs, Err: ErrNotRepo, Detail: "not a directory"}
	}
	l := &Layout{WorkTree: abs}
	if err := l.findGitDir(); err != nil {
		return nil, err
	}
	l.CommonDir = l.GitDir
	if data, err := os.ReadFile(filepath.Join(l.GitDir, "commondir")); err == nil {
		c := strings.TrimRight(string(data), "\r\n")
		if c == "" {
			return nil, &LayoutError{Path: filepath.Join(l.GitDir, "commondir"), Err: ErrCorrupt, Detail: "empty"}
		}
		if !filepath.IsAbs(c) {
			c = filepath.Join(l.GitDir, c)
		}
		l.CommonDir, l.Linked = filepath.Clean(c), true
		if fi, err := os.Stat(l.CommonDir); err != nil || !fi.IsDir() {
			return nil, &LayoutError{Path: filepath.Join(l.GitDir, "commondir"), Err: ErrNotRepo,
				Detail: "the main repository " + l.CommonDir + " of this linked worktree is gone",
				Fix:    "recreate the worktree from its main repository with `git worktree add`"}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, &LayoutError{Path: filepath.Join(l.GitDir, "commondir"), Err: err}
	}
	if err := l.readConfig(); err != nil {
		return nil, err
	}
	if err := l.findObjects(); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(filepath.Join(l.CommonDir, "shallow")); err == nil && fi.Size() > 0 {
		l.Shallow = true
	}
	return l, nil
}

// findGitDir sets GitDir (and GitFile) from WorkTree/.git.
func (l *Layout) findGitDir() error {
	dotGit := filepath.Join(l.WorkTree, ".git")
	fi, err := os.Stat(dotGit)
	switch {
	case err == nil && fi.IsDir():
		l.GitDir = dotGit
		return nil
	case err == nil:
		data, err := os.ReadFile(dotGit)
		if err != nil {
			return &LayoutError{Path: dotGit, Err: err}
		}
		line, _, _ := strings.Cut(string(data), "\n")
		target, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "gitdir: ")
		if !ok || strings.TrimSpace(target) == "" {
			return &LayoutError{Path: dotGit, Err: ErrNotRepo, Detail: "file does not start with \"gitdir: \""}
		}
		if !filepath.IsAbs(target) {
			// git resolves it against the directory of the .git file.
			target = filepath.Join(l.WorkTree, target)
		}
		target = filepath.Clean(target)
		if fi, err := os.Stat(target); err != nil || !fi.IsDir() {
			return &LayoutError{Path: dotGit, Err: ErrNotRepo, Detail: "gitdir " + target + " is not a directory",
				Fix: "the repository this checkout points at was moved or deleted; for a submodule, `git submodule update --init` in the superproject recreates it"}
		}
		l.GitDir, l.GitFile = target, dotGit
		return nil
	case errors.Is(err, fs.ErrNotExist):
		if isGitDir(l.WorkTree) {
			return &LayoutError{Path: l.WorkTree, Err: ErrBare, Detail: "it has HEAD, objects and refs but no .git"}
		}
		return &LayoutError{Path: l.WorkTree, Err: ErrNotRepo, Detail: "no .git in it"}
	default:
		return &LayoutError{Path: dotGit, Err: err}
	}
}

func isGitDir(dir string) bool {
	for _, n := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			return false
		}
	}
	return true
}

// knownExtensions are the repository extensions git 2.39 knows, all of
// which this layer reads (objectformat only as sha1).
var knownExtensions = map[string]bool{
	"noop": true, "noop-v1": true, "preciousobjects": true, "partialclone": true,
	"worktreeconfig": true, "objectformat": true,
}

// readConfig reads CommonDir/config for what decides how to read the
// repository.
func (l *Layout) readConfig() error {
	p := filepath.Join(l.CommonDir, "config")
	data, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &LayoutError{Path: p, Err: err}
	}
	cfg := gitconfig.New()
	if err := gitconfig.NewDecoder(bytes.NewReader(data)).Decode(cfg); err != nil {
		return &LayoutError{Path: p, Err: ErrCorrupt, Detail: err.Error()}
	}
	l.config = cfg
	ext := cfg.Section("extensions")
	for _, o := range ext.Options {
		k := strings.ToLower(o.Key)
		if !knownExtensions[k] {
			return &LayoutError{Path: p, Err: ErrUnsupported, Detail: "extensions." + o.Key + " is set, which git 2.39 and mcupdate cannot read"}
		}
	}
	if f := ext.Option("objectformat"); f != "" && !strings.EqualFold(f, "sha1") {
		return &LayoutError{Path: p, Err: ErrUnsupported, Detail: "extensions.objectformat = " + f + ": mcupdate reads SHA-1 repositories (mailcow's is one)"}
	}
	l.Promisor = ext.Option("partialclone")
	if l.Promisor == "" {
		for _, r := range cfg.Section("remote").Subsections {
			if strings.EqualFold(r.Option("promisor"), "true") {
				l.Promisor = r.Name
				break
			}
		}
	}
	return nil
}

// findObjects lists the object directories: the repository's own, then
// its alternates depth first, as git links them.
func (l *Layout) findObjects() error {
	own := filepath.Join(l.CommonDir, "objects")
	if fi, err := os.Stat(own); err != nil || !fi.IsDir() {
		return &LayoutError{Path: own, Err: ErrNotRepo, Detail: "no objects directory"}
	}
	seen := map[string]bool{}
	var visit func(objects string, depth int) error
	visit = func(objects string, depth int) error {
		key := objects
		if r, err := filepath.EvalSymlinks(objects); err == nil {
			key = r
		}
		if seen[key] {
			return nil
		}
		seen[key] = true
		l.ObjectDirs = append(l.ObjectDirs, objects)
		alts := filepath.Join(objects, "info", "alternates")
		data, err := os.ReadFile(alts)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		if err != nil {
			return &LayoutError{Path: alts, Err: err}
		}
		if depth >= maxAlternateDepth {
			// git: "ignoring alternate object stores, nesting too deep".
			return nil
		}
		for i, line := range strings.Split(string(data), "\n") {
			line = strings.TrimRight(line, "\r")
			if line == "" || line[0] == '#' {
				continue
			}
			if line[0] == '"' {
				u, err := strconv.Unquote(line)
				if err != nil {
					return &LayoutError{Path: alts, Err: ErrCorrupt, Detail: fmt.Sprintf("line %d: bad quoting", i+1)}
				}
				line = u
			}
			if !filepath.IsAbs(line) {
				line = filepath.Join(objects, line)
			}
			line = filepath.Clean(line)
			if fi, err := os.Stat(line); err != nil || !fi.IsDir() {
				l.MissingAlternates = append(l.MissingAlternates, line)
				continue
			}
			if err := visit(line, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return visit(own, 0)
}

// ownerUID is who git expects to own a repository: the effective user,
// or for root the user sudo ran as (git's SUDO_UID rule, read from the
// environment git runs with).
func ownerUID(getenv func(string) string) int {
	uid := os.Geteuid()
	if uid == 0 {
		if s := getenv("SUDO_UID"); s != "" {
			if n, err := strconv.Atoi(s); err == nil {
				uid = n
			}
		}
	}
	return uid
}

// ownedBy reports whether every path is owned by uid (as lstat sees it,
// like git).
func ownedBy(uid int, paths ...string) bool {
	for _, p := range paths {
		if p == "" {
			continue
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || int(st.Uid) != uid {
			return false
		}
	}
	return true
}

// checkOwnership applies git's safe.directory rule. When the user git
// expects owns the work tree, the git dir and the .git file, git works
// there and nothing is run; otherwise git itself is asked, since only it
// knows its safe.directory settings (system, global, command line).
func (l *Layout) checkOwnership(ctx context.Context, r *Runner) error {
	uid := ownerUID(r.getenv)
	if ownedBy(uid, l.WorkTree, l.GitDir, l.GitFile) {
		return nil
	}
	_, err := r.Run(ctx, "rev-parse", "--git-dir")
	if err == nil {
		return nil
	}
	var ge *Error
	if errors.As(err, &ge) && strings.Contains(ge.Stderr, "dubious ownership") {
		owner := "another user"
		if fi, err := os.Stat(l.WorkTree); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				owner = "uid " + strconv.Itoa(int(st.Uid))
			}
		}
		return &LayoutError{Path: l.WorkTree, Err: ErrUnsafe,
			Detail: fmt.Sprintf("it belongs to %s, mcupdate runs as uid %d, and git's safe.directory does not list it (git: %s)", owner, uid, ui.FirstLine(ge.Stderr)),
			Fix:    "if you trust it: git config --global --add safe.directory " + l.WorkTree + " (update.sh's git commands need it too)"}
	}
	return fmt.Errorf("ask git about %s: %w", l.WorkTree, err)
}

// shallowBoundary returns the commits CommonDir/shallow lists.
func (l *Layout) shallowBoundary() map[plumbing.Hash]bool {
	out := map[plumbing.Hash]bool{}
	data, err := os.ReadFile(filepath.Join(l.CommonDir, "shallow"))
	if err != nil {
		return out
	}
	for _, s := range strings.Fields(string(data)) {
		if len(s) == 40 {
			out[plumbing.NewHash(s)] = true
		}
	}
	return out
}

// Hint returns what to do about err when an error in its chain knows
// ([*LayoutError], [*MissingObjectError]), else "".
func Hint(err error) string {
	var h interface{ Hint() string }
	if errors.As(err, &h) {
		return h.Hint()
	}
	return ""
}
