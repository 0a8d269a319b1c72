package gitx

import (
	"bytes"
	"container/heap"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"
)

// maxMergeBaseWalk bounds the commits mergeBase reads before it leaves
// the question to git (whose commit-graph may make a long walk cheap).
const maxMergeBaseWalk = 20000

// Flags of the walk, as git names them.
const (
	parent1 = 1 << iota
	parent2
	stale
	result
)

// mergeBase answers `git merge-base a b` (a and b full commit ids) from
// the repository, with git's own walk (commit-reach.c's
// paint_down_to_common): commits are painted from a and from b, newest
// first, until only commits below a common one are left; a common commit
// not below another is a merge base. One found is git's answer whatever
// the order of the walk; none means the histories do not meet. known is
// false where git must answer: several bases (git picks among them),
// replaced or grafted history, a shallow clone, a commit not read here, a
// walk too long.
func (r *Repo) mergeBase(a, b string) (base string, known bool) {
	if !fullHash.MatchString(a) || !fullHash.MatchString(b) || r.Layout.Shallow || r.rewritesHistory() {
		return "", false
	}
	if a == b {
		return a, true
	}
	w := &walk{r: r, commits: map[plumbing.Hash]*walkCommit{}}
	one, err := w.commit(plumbing.NewHash(a))
	if err != nil {
		return "", false
	}
	two, err := w.commit(plumbing.NewHash(b))
	if err != nil {
		return "", false
	}
	w.mark(one, parent1)
	w.mark(two, parent2)
	w.push(one)
	w.push(two)
	var found []*walkCommit
	for w.live > 0 {
		if len(w.commits) > maxMergeBaseWalk {
			return "", false
		}
		c := w.pop()
		flags := c.flags & (parent1 | parent2 | stale)
		if flags == parent1|parent2 {
			if c.flags&result == 0 {
				c.flags |= result
				found = append(found, c)
			}
			flags |= stale
		}
		for _, ph := range c.parents {
			p, err := w.commit(ph)
			if err != nil {
				return "", false
			}
			if p.flags&flags == flags {
				continue
			}
			w.mark(p, flags)
			w.push(p)
		}
	}
	var bases []*walkCommit
	for _, c := range found {
		if c.flags&stale == 0 {
			bases = append(bases, c)
		}
	}
	switch len(bases) {
	case 0:
		return "", true
	case 1:
		return bases[0].h.String(), true
	}
	return "", false
}

// rewritesHistory reports whether git would read other parents than the
// commits hold: replace refs or grafts. It looks once per Repo (the
// hooks ask for several merge bases).
func (r *Repo) rewritesHistory() bool {
	r.rewrites.Do(func() { r.rewritesSeen = r.findRewrites() })
	return r.rewritesSeen
}

func (r *Repo) findRewrites() bool {
	if r.git == nil || r.git.getenv("GIT_NO_REPLACE_OBJECTS") == "" {
		ents, err := os.ReadDir(filepath.Join(r.Layout.CommonDir, "refs", "replace"))
		if len(ents) > 0 || err != nil && !errors.Is(err, fs.ErrNotExist) {
			return true
		}
		packed, err := os.ReadFile(filepath.Join(r.Layout.CommonDir, "packed-refs"))
		if bytes.Contains(packed, []byte(" refs/replace/")) || err != nil && !errors.Is(err, fs.ErrNotExist) {
			return true
		}
	}
	_, err := os.Lstat(filepath.Join(r.Layout.CommonDir, "info", "grafts"))
	return !errors.Is(err, fs.ErrNotExist)
}

// walk is one merge-base walk: the commits read, and the queue, newest
// committer date first and, among equal dates, first queued first, as
// git's prio_queue orders them.
type walk struct {
	r       *Repo
	commits map[plumbing.Hash]*walkCommit
	queue   walkQueue
	seq     int
	live    int // queue entries of commits not stale: git's queue_has_nonstale
}

type walkCommit struct {
	h       plumbing.Hash
	parents []plumbing.Hash
	date    int64
	flags   int
	queued  int // entries in the queue
}

func (w *walk) commit(h plumbing.Hash) (*walkCommit, error) {
	if c, ok := w.commits[h]; ok {
		return c, nil
	}
	t, body, err := w.r.object(h)
	if err != nil {
		return nil, err
	}
	if t != plumbing.CommitObject {
		return nil, errors.New("not a commit")
	}
	c := &walkCommit{h: h}
	for len(body) > 0 {
		line, rest, _ := bytes.Cut(body, []byte{'\n'})
		if len(line) == 0 {
			break
		}
		if p, ok := bytes.CutPrefix(line, []byte("parent ")); ok {
			if len(p) != 40 {
				return nil, errCorrupt
			}
			c.parents = append(c.parents, plumbing.NewHash(string(p)))
		} else if who, ok := bytes.CutPrefix(line, []byte("committer ")); ok {
			// "Name <email> 1700000000 +0100": the date after the last '>'.
			i := bytes.LastIndexByte(who, '>')
			if i < 0 {
				return nil, errCorrupt
			}
			f := bytes.Fields(who[i+1:])
			if len(f) == 0 {
				return nil, errCorrupt
			}
			if c.date, err = strconv.ParseInt(string(f[0]), 10, 64); err != nil {
				return nil, errCorrupt
			}
		}
		body = rest
	}
	w.commits[h] = c
	return c, nil
}

// mark adds flags to c, keeping the count of live queue entries.
func (w *walk) mark(c *walkCommit, flags int) {
	if c.flags&stale == 0 && flags&stale != 0 {
		w.live -= c.queued
	}
	c.flags |= flags
}

// push queues c (again, when it gained a flag since it was queued).
func (w *walk) push(c *walkCommit) {
	w.seq++
	c.queued++
	if c.flags&stale == 0 {
		w.live++
	}
	heap.Push(&w.queue, queued{c: c, seq: w.seq})
}

func (w *walk) pop() *walkCommit {
	c := heap.Pop(&w.queue).(queued).c
	c.queued--
	if c.flags&stale == 0 {
		w.live--
	}
	return c
}

type queued struct {
	c   *walkCommit
	seq int
}

type walkQueue []queued

func (q walkQueue) Len() int { return len(q) }
func (q walkQueue) Less(i, j int) bool {
	if q[i].c.date != q[j].c.date {
		return q[i].c.date > q[j].c.date
	}
	return q[i].seq < q[j].seq
}
func (q walkQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *walkQueue) Push(x any)   { *q = append(*q, x.(queued)) }
func (q *walkQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
