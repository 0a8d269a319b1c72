package gitx

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// upstreamRev matches BRANCH@{upstream} and BRANCH@{u}.
var upstreamRev = regexp.MustCompile(`^([A-Za-z0-9_./-]+)@\{(?:upstream|u)\}$`)

// revParse answers `git rev-parse --verify --quiet REV^{commit}` for a
// ref name or BRANCH@{upstream} from the repository; known is false where
// git must answer (other revision syntax, a configuration or ref this
// does not read as git would).
func (r *Repo) revParse(rev string) (hash string, ok, known bool) {
	var h plumbing.Hash
	if name, isUp := r.upstreamRef(rev); isUp {
		ref, err := r.Reference(plumbing.ReferenceName(name), true)
		if err != nil {
			return "", false, false // git says why: no such remote-tracking branch
		}
		h = ref.Hash()
	} else if upstreamRev.MatchString(rev) || !plainRef.MatchString(rev) || shortHash.MatchString(rev) || strings.Contains(rev, "..") {
		return "", false, false
	} else {
		var err error
		if h, err = r.Resolve(rev); errors.Is(err, ErrUnknownRevision) {
			return "", false, true
		} else if err != nil {
			return "", false, false
		}
	}
	c, err := r.ResolveCommit(h.String())
	if err != nil {
		return "", false, false
	}
	return c.Hash.String(), true, true
}

// upstreamRef returns the ref BRANCH@{upstream} names, from the
// repository's config as git reads it (branch.BRANCH.remote and .merge,
// the remote's fetch refspecs); ok is false when rev is not that or the
// config is one only git reads (includes, per-worktree config, several
// merge refs or matching refspecs, negative refspecs).
func (r *Repo) upstreamRef(rev string) (string, bool) {
	m := upstreamRev.FindStringSubmatch(rev)
	cfg := r.Layout.config
	if m == nil || cfg == nil {
		return "", false
	}
	for _, s := range cfg.Sections {
		if n := strings.ToLower(s.Name); n == "include" || n == "includeif" {
			return "", false
		}
	}
	if strings.EqualFold(cfg.Section("extensions").Option("worktreeconfig"), "true") {
		return "", false
	}
	if !cfg.Section("branch").HasSubsection(m[1]) {
		return "", false
	}
	b := cfg.Section("branch").Subsection(m[1])
	remote := b.Options.GetAll("remote")
	merge := b.Options.GetAll("merge")
	if len(remote) == 0 || len(merge) != 1 || !strings.HasPrefix(merge[0], "refs/") {
		return "", false
	}
	if remote[len(remote)-1] == "." {
		return merge[0], true // a local branch
	}
	if !cfg.Section("remote").HasSubsection(remote[len(remote)-1]) {
		return "", false
	}
	var dst string
	for _, spec := range cfg.Section("remote").Subsection(remote[len(remote)-1]).Options.GetAll("fetch") {
		rs := config.RefSpec(spec)
		if strings.HasPrefix(spec, "^") || rs.Validate() != nil {
			return "", false
		}
		if !rs.Match(plumbing.ReferenceName(merge[0])) {
			continue
		}
		if dst != "" {
			return "", false
		}
		dst = rs.Dst(plumbing.ReferenceName(merge[0])).String()
	}
	return dst, dst != ""
}

// abbrevRules are git's ref_rev_parse_rules, in its order.
var abbrevRules = []string{"%s", "refs/%s", "refs/tags/%s", "refs/heads/%s", "refs/remotes/%s", "refs/remotes/%s/HEAD"}

// shorten returns the shortest name of the ref that no other rule would
// take for another ref, as `git rev-parse --abbrev-ref` (strict: git's
// default core.warnAmbiguousRefs) picks it; ok is false where only git
// can tell.
func (r *Repo) shorten(name string) (string, bool) {
	for i := len(abbrevRules) - 1; i > 0; i-- {
		pre, post, _ := strings.Cut(abbrevRules[i], "%s")
		if !strings.HasPrefix(name, pre) || !strings.HasSuffix(name, post) || len(name) <= len(pre)+len(post) {
			continue
		}
		short := name[len(pre) : len(name)-len(post)]
		taken := false
		for j, rule := range abbrevRules {
			if j == i {
				continue
			}
			other := strings.Replace(rule, "%s", short, 1)
			exists, known := r.refExists(other)
			if !known {
				return "", false
			}
			taken = taken || exists
		}
		if !taken {
			return short, true
		}
	}
	return "", false
}

// refExists reports whether a ref of that name exists, loose or packed;
// known is false when it cannot tell.
func (r *Repo) refExists(name string) (exists, known bool) {
	if !strings.HasPrefix(name, "refs/") {
		// A file in the git dir (or the common dir), as git's files
		// backend looks for it.
		for _, d := range []string{r.Layout.GitDir, r.Layout.CommonDir} {
			if _, err := os.Lstat(filepath.Join(d, filepath.FromSlash(name))); err == nil {
				return true, true
			} else if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
				return false, false
			}
		}
		return false, true
	}
	_, err := r.Reference(plumbing.ReferenceName(name), false)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return false, true
	}
	return err == nil, err == nil
}
