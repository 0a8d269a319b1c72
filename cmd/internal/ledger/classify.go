package ledger

import (
	"context"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/gitx"
)

// Outcome is what an update did to a customization.
type Outcome string

// The outcomes, best first.
const (
	// Kept: the merge left the block's lines in the file.
	Kept Outcome = "kept"
	// PutBack: the merge dropped them and a patch (or the admin) put them
	// back before the analysis ran.
	PutBack Outcome = "put-back"
	// Moved: the lines are gone from the file but stand in the file that
	// overrides it (postfix extra.cf for main.cf, say).
	Moved Outcome = "moved"
	// Lost: the lines are gone.
	Lost Outcome = "lost"
	// Deleted: upstream deleted the customized file.
	Deleted Outcome = "deleted"
)

// Bad reports whether the outcome needs the admin.
func (o Outcome) Bad() bool { return o == Lost || o == Deleted }

// Result is one block's outcome.
type Result struct {
	Block   Block   `json:"block"`
	Outcome Outcome `json:"outcome"`
	// Missing are the block's lines the file does not reflect (for Lost,
	// Moved and Deleted).
	Missing []Line `json:"missing,omitempty"`
	// By names the patch that put the block back, or the override file
	// that now holds it.
	By string `json:"by,omitempty"`
}

// Files are the versions of one customized file an update left.
type Files struct {
	// Merged is the file in the merge's result (HEAD's tree); ok is false
	// when the merge result has no such file.
	Merged   []byte
	MergedOK bool
	// Now is the file as it is after the post hook (patches re-applied);
	// NowOK is false when it does not exist.
	Now   []byte
	NowOK bool
	// Override is the content of the file that overrides this one, nil
	// when there is none; OverrideName names it.
	Override     []byte
	OverrideName string
	// Patch names the enabled patch that edits the file, "" for none.
	Patch string
}

// Classify decides what an update did to block b, three-way: the
// upstream base and the admin's version are in the block, the merge
// result and the file now in f.
func Classify(b Block, f Files) Result {
	r := Result{Block: b}
	if !f.NowOK {
		r.Outcome, r.Missing = Deleted, b.Lost(nil)
		if len(r.Missing) == 0 {
			r.Missing = b.Lines
		}
		return r
	}
	missing := b.Lost(Sums(f.Now))
	if len(missing) == 0 {
		r.Outcome = Kept
		if !f.MergedOK || len(b.Lost(Sums(f.Merged))) > 0 {
			r.Outcome, r.By = PutBack, f.Patch
		}
		return r
	}
	r.Missing = missing
	if f.Override != nil && allIn(missing, Sums(f.Override)) {
		r.Outcome, r.By = Moved, f.OverrideName
		return r
	}
	r.Outcome = Lost
	return r
}

// allIn reports whether every line of ls is an added line that have has.
func allIn(ls []Line, have map[string]bool) bool {
	for _, l := range ls {
		if l.Op != "+" || !have[l.Sum] {
			return false
		}
	}
	return true
}

// OverrideFor returns the file mailcow reads after p, whose settings win
// over p's, or "" when there is none. docker-compose.override.yml is
// judged per service by the risk diff.
func OverrideFor(p string) string {
	switch {
	case strings.HasPrefix(p, "data/conf/rspamd/local.d/"):
		return "data/conf/rspamd/override.d/" + strings.TrimPrefix(p, "data/conf/rspamd/local.d/")
	case p == "data/conf/dovecot/dovecot.conf":
		return "data/conf/dovecot/extra.conf"
	case p == "data/conf/postfix/main.cf":
		return "data/conf/postfix/extra.cf"
	}
	return ""
}

// Judge finds the customizations of mine against the upstream commit base
// (see [Scan]) and classifies them (see [JudgeSet]).
func Judge(ctx context.Context, g *gitx.Runner, base, mine string, red func(string) string, versions func(file string) (Files, error)) (*Set, []Result, error) {
	set, err := Scan(ctx, g, base, mine, red)
	if err != nil {
		return nil, nil, err
	}
	out, err := JudgeSet(set, versions)
	return set, out, err
}

// JudgeSet classifies each customization of set against the versions of
// its file that versions returns: the one judgement of what an update
// does to the install's customizations, for the post hook, diff, replay
// and the pre hook's prediction alike.
func JudgeSet(set *Set, versions func(file string) (Files, error)) ([]Result, error) {
	var out []Result
	for _, file := range set.Files() {
		f, err := versions(file)
		if err != nil {
			return nil, err
		}
		for _, b := range set.Blocks {
			if b.File == file {
				out = append(out, Classify(b, f))
			}
		}
	}
	return out, nil
}

// Public returns results fit to show or send: the line sums are left out.
// A sum identifies a line without holding it, which is what the ledger in
// the state dir needs; outside it, the sum of a line that holds a
// password would let anyone test guesses of it.
func Public(rs []Result) []Result {
	out := make([]Result, len(rs))
	for i, r := range rs {
		r.Block.Lines = publicLines(r.Block.Lines)
		r.Missing = publicLines(r.Missing)
		out[i] = r
	}
	return out
}

func publicLines(ls []Line) []Line {
	if ls == nil {
		return nil
	}
	out := make([]Line, len(ls))
	for i, l := range ls {
		l.Sum = ""
		out[i] = l
	}
	return out
}
