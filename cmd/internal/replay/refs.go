package replay

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/suggest"
)

// ref is a tag or branch of the upstream clone.
type ref struct {
	name   string // as the user wrote it, or the tag name
	full   string // refs/tags/2026-03, refs/remotes/origin/master, or "" for a commit id
	commit string
	date   int64
}

// refTable holds the upstream's tags and branches, read with one command.
type refTable struct {
	tags     []ref
	branches []ref
}

func (r *replayer) readRefs(ctx context.Context) (*refTable, error) {
	out, err := r.git.run(ctx, r.work, "for-each-ref",
		"--format=%(refname)%09%(objectname)%09%(*objectname)%09%(creatordate:unix)",
		"refs/tags", "refs/remotes/origin")
	if err != nil {
		return nil, err
	}
	t := &refTable{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			continue
		}
		commit := f[1]
		if f[2] != "" { // an annotated tag: the commit it points at
			commit = f[2]
		}
		date, _ := strconv.ParseInt(f[3], 10, 64)
		switch {
		case strings.HasPrefix(f[0], "refs/tags/"):
			t.tags = append(t.tags, ref{name: strings.TrimPrefix(f[0], "refs/tags/"), full: f[0], commit: commit, date: date})
		case strings.HasPrefix(f[0], "refs/remotes/origin/") && f[0] != "refs/remotes/origin/HEAD":
			t.branches = append(t.branches, ref{name: strings.TrimPrefix(f[0], "refs/remotes/origin/"), full: f[0], commit: commit, date: date})
		}
	}
	return t, nil
}

var hexRE = regexp.MustCompile(`^[0-9a-fA-F]{4,64}$`)

// resolve finds name among the tags, then the branches, then as a commit
// id; an unknown name is an input error listing the nearest tag names.
func (r *replayer) resolve(ctx context.Context, t *refTable, name, flag string) (ref, error) {
	for _, x := range t.tags {
		if x.name == name || x.full == name {
			return x, nil
		}
	}
	for _, x := range t.branches {
		if x.name == name || x.full == name || "origin/"+x.name == name {
			return ref{name: name, full: x.full, commit: x.commit, date: x.date}, nil
		}
	}
	if hexRE.MatchString(name) {
		if c, err := r.git.run(ctx, r.work, "rev-parse", "--verify", "-q", name+"^{commit}"); err == nil {
			return ref{name: name, commit: c}, nil
		} else if isCanceled(err) {
			return ref{}, err
		}
	}
	msg := fmt.Sprintf("%s %s: no such tag, branch or commit in %s", flag, name, r.upstreamShown)
	if near := nearest(name, t.tagNames(), 5); len(near) > 0 {
		msg += "; nearest tags: " + strings.Join(near, ", ")
	}
	return ref{}, inputf("%s", msg)
}

func (t *refTable) tagNames() []string {
	out := make([]string, len(t.tags))
	for i, x := range t.tags {
		out[i] = x.name
	}
	return out
}

// matchTags returns the tags matching glob (path.Match syntax) that
// contain from and are not from itself, oldest first: the releases an
// admin at from would update to.
func (r *replayer) matchTags(ctx context.Context, t *refTable, glob string, from ref) ([]ref, error) {
	if _, err := path.Match(glob, ""); err != nil {
		return nil, inputf("--tags %q: %v", glob, err)
	}
	newer, err := r.containing(ctx, from.commit)
	if err != nil {
		return nil, err
	}
	var out []ref
	for _, x := range t.tags {
		if ok, _ := path.Match(glob, x.name); ok && newer[x.full] && x.commit != from.commit {
			out = append(out, x)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].date != out[j].date {
			return out[i].date < out[j].date
		}
		return out[i].name < out[j].name
	})
	if len(out) == 0 {
		msg := fmt.Sprintf("--tags %q: no tag newer than %s matches", glob, from.name)
		var all []string
		for _, x := range t.tags {
			if ok, _ := path.Match(glob, x.name); ok {
				all = append(all, x.name)
			}
		}
		if len(all) > 0 {
			msg += fmt.Sprintf(" (matching, but not newer: %s)", strings.Join(firstN(all, 5), ", "))
		} else if near := nearest(glob, t.tagNames(), 5); len(near) > 0 {
			msg += "; nearest tags: " + strings.Join(near, ", ")
		}
		return nil, inputf("%s", msg)
	}
	return out, nil
}

// containing returns the full names of the refs whose commit contains
// commit.
func (r *replayer) containing(ctx context.Context, commit string) (map[string]bool, error) {
	out, err := r.git.run(ctx, r.work, "for-each-ref", "--contains", commit, "--format=%(refname)", "refs/tags", "refs/remotes/origin")
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		if l != "" {
			m[l] = true
		}
	}
	return m, nil
}

// nearest returns up to n tag names closest to name; of two as close,
// the newer release name first.
func nearest(name string, candidates []string, n int) []string {
	newest := append([]string(nil), candidates...)
	sort.Sort(sort.Reverse(sort.StringSlice(newest)))
	return suggest.Nearest(name, newest, n)
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], "…")
	}
	return s
}
