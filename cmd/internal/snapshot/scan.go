package snapshot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
)

// reasonNotPresent is the Skip reason for a configured path that is not
// there; Diff reports such a path as added once it is.
const reasonNotPresent = "not present"

// candidate is a file the scan chose to snapshot, not yet read.
type candidate struct {
	rel string // slash path relative to the mailcow dir
	// configured is true for a path named in Options.Paths: only those
	// have their symlinks' targets recorded too.
	configured bool
}

// scanResult is what one scan of the mailcow dir found.
type scanResult struct {
	files   []candidate
	skipped []Skip
}

// tracked reads the paths git tracks from the index, once per scan, with
// gitx's in-place reader: go-git decodes every entry of the thousands in a
// mailcow index, which took a fifth of the pre hook's time. It also
// returns the repository's common dir, which holds info/exclude. The
// repository is found as git finds it (a .git file, a linked worktree),
// but git's safe.directory refusal does not stop a snapshot: copying the
// admin's own files is what protects them when git will not work.
func tracked(mailcowDir string) (map[string]bool, string, error) {
	l, err := gitx.Discover(mailcowDir)
	if err != nil {
		return nil, "", fmt.Errorf("read the files git tracks: %w", err)
	}
	p := l.IndexPath()
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]bool{}, l.CommonDir, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read the files git tracks: %w", err)
	}
	out := map[string]bool{}
	if _, err := gitx.ScanIndex(data, func(e *gitx.IndexEntry) { out[string(e.Name)] = true }); err != nil {
		return nil, "", fmt.Errorf("read the files git tracks: %s: %w", p, err)
	}
	return out, l.CommonDir, nil
}

// readIgnoreFile parses one ignore file as git does: blank lines and
// comments skipped, patterns scoped to domain. A missing file has no
// patterns.
func readIgnoreFile(name string, domain []string) ([]gitignore.Pattern, error) {
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		// A .gitignore that is a directory or unreadable changes what is
		// ignored; guessing would snapshot the wrong set, so say so.
		return nil, fmt.Errorf("read ignore rules %s: %w", name, err)
	}
	var ps []gitignore.Pattern
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), len(data)+1)
	for sc.Scan() {
		s := strings.TrimSuffix(sc.Text(), "\r")
		if strings.HasPrefix(s, "#") || strings.TrimSpace(s) == "" {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(s, domain))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read ignore rules %s: %w", name, err)
	}
	return ps, nil
}

// scanner walks the configured dirs once. gitignore.ReadPatterns is not
// used because it walks the whole work tree (data/web, every tracked
// directory) before matching anything; instead the patterns of the
// repository root, .git/info/exclude and each configured dir's ancestors
// are read up front and each directory's .gitignore is read as the walk
// enters it, which gives the same patterns for the files that matter.
type scanner struct {
	root    string
	tracked map[string]bool
	res     *scanResult
	seen    map[string]bool
}

// scan finds the files a snapshot holds: the configured paths, present or
// not, and every untracked, gitignored file under the configured dirs.
func scan(mailcowDir string, paths, dirs []string) (*scanResult, error) {
	tr, commonDir, err := tracked(mailcowDir)
	if err != nil {
		return nil, err
	}
	s := &scanner{root: mailcowDir, tracked: tr, res: &scanResult{}, seen: map[string]bool{}}
	for _, p := range paths {
		fi, err := os.Lstat(s.abs(p))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			s.skip(p, reasonNotPresent)
		case err != nil:
			s.skip(p, "unreadable: "+errText(err))
		case fi.IsDir():
			s.skip(p, "is a directory; name it under dirs instead")
		default:
			s.add(p, true)
		}
	}
	base, err := readIgnoreFile(filepath.Join(commonDir, "info", "exclude"), nil)
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		if err := s.walkConfigured(d, base); err != nil {
			return nil, err
		}
	}
	sort.Slice(s.res.files, func(i, j int) bool { return s.res.files[i].rel < s.res.files[j].rel })
	return s.res, nil
}

func (s *scanner) abs(rel string) string { return filepath.Join(s.root, filepath.FromSlash(rel)) }

func (s *scanner) add(rel string, configured bool) {
	if s.seen[rel] {
		return
	}
	s.seen[rel] = true
	s.res.files = append(s.res.files, candidate{rel: rel, configured: configured})
}

func (s *scanner) skip(rel, reason string) {
	if s.seen[rel] {
		return
	}
	s.seen[rel] = true
	s.res.skipped = append(s.res.skipped, Skip{Path: rel, Reason: reason})
}

// walkConfigured collects the ignore patterns of dir's ancestors, decides
// whether dir itself is ignored, and walks it.
func (s *scanner) walkConfigured(dir string, base []gitignore.Pattern) error {
	ps := append([]gitignore.Pattern(nil), base...)
	comps := strings.Split(dir, "/")
	ignored := false
	for i := 0; i < len(comps); i++ {
		domain := comps[:i]
		more, err := readIgnoreFile(filepath.Join(s.root, filepath.Join(domain...), ".gitignore"), domain)
		if err != nil {
			return err
		}
		ps = append(ps, more...)
		if !ignored && gitignore.NewMatcher(ps).Match(comps[:i+1], true) {
			ignored = true
		}
	}
	fi, err := os.Lstat(s.abs(dir))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.skip(dir+"/", reasonNotPresent)
		return nil
	case err != nil:
		return fmt.Errorf("snapshot dir %s: %w", s.abs(dir), err)
	case fi.Mode()&fs.ModeSymlink != 0:
		s.skip(dir+"/", "is a symlink; not followed")
		return nil
	case !fi.IsDir():
		s.skip(dir+"/", "not a directory")
		return nil
	}
	return s.walk(comps, ps, ignored)
}

// walk visits one directory. Git never re-includes a file below an
// ignored directory, so once a directory is ignored everything below it
// is, whatever negations follow.
func (s *scanner) walk(dir []string, ps []gitignore.Pattern, ignored bool) error {
	rel := path.Join(dir...)
	absDir := s.abs(rel)
	more, err := readIgnoreFile(filepath.Join(absDir, ".gitignore"), dir)
	if err != nil {
		return err
	}
	if len(more) > 0 {
		// A fresh slice: siblings must not see this directory's patterns.
		ps = append(append(make([]gitignore.Pattern, 0, len(ps)+len(more)), ps...), more...)
	}
	m := gitignore.NewMatcher(ps)
	ents, err := os.ReadDir(absDir)
	if err != nil {
		// An unreadable directory is reported like an unreadable file:
		// the rest of the snapshot is still worth having.
		s.skip(rel+"/", "unreadable directory: "+errText(err))
		return nil
	}
	for _, e := range ents {
		if e.Name() == ".git" {
			continue
		}
		p := append(dir[:len(dir):len(dir)], e.Name())
		r := rel + "/" + e.Name()
		if e.IsDir() {
			if err := s.walk(p, ps, ignored || m.Match(p, true)); err != nil {
				return err
			}
			continue
		}
		// A tracked file is never snapshotted, so it is not matched: in a
		// mailcow checkout most files under data/conf are tracked, and
		// matching them against every pattern was most of a scan.
		if s.tracked[r] || !(ignored || m.Match(p, false)) {
			continue
		}
		switch t := e.Type(); {
		case t.IsRegular(), t&fs.ModeSymlink != 0:
			s.add(r, false)
		default:
			s.skip(r, "not a regular file or symlink ("+typeName(t)+")")
		}
	}
	return nil
}

func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	case m.IsDir():
		return "directory"
	}
	return "irregular file"
}

// errText is err's innermost message: the path is in the Skip already.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
