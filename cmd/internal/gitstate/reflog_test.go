package gitstate

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

const (
	h1 = "1111111111111111111111111111111111111111"
	h2 = "2222222222222222222222222222222222222222"
	h3 = "3333333333333333333333333333333333333333"
)

func TestParseReflog(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []reflogEntry
	}{
		{"empty", "", nil},
		{
			name: "git's own lines",
			in: h1 + " " + h2 + " A U Thor <a@example.org> 1700000000 +0100\tcommit: x\n" +
				h2 + " " + h3 + " A U Thor <a@example.org> 1700000001 -0500\tcheckout: moving from master to v1\n",
			want: []reflogEntry{{h1, h2, "commit: x"}, {h2, h3, "checkout: moving from master to v1"}},
		},
		{
			name: "CRLF, no final newline, junk and a torn last line",
			in: "garbage line\r\n" + h1 + " " + h2 + " n <e> 1 +0000\tclone: from x\r\n" +
				"\n" + "zz " + h2 + " n <e> 1 +0000\tbad hash\n" + h2 + " " + h3,
			want: []reflogEntry{{h1, h2, "clone: from x"}},
		},
		{
			name: "empty message and no identity",
			in:   h1 + " " + h2 + "\t\n",
			want: []reflogEntry{{h1, h2, ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseReflog([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckoutFrom(t *testing.T) {
	tests := []struct {
		msg, from string
		ok        bool
	}{
		{"checkout: moving from master to v1", "master", true},
		{"checkout: moving from nightly to 2026-07a to x", "nightly", true},
		{"checkout: moving from " + h1 + " to master", h1, true},
		{"checkout: moving from  to x", "", false},
		{"checkout: moving from master", "", false},
		{"commit: checkout: moving from a to b", "", false},
		{"rebase (finish): returning to refs/heads/master", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			from, ok := checkoutFrom(tt.msg)
			if from != tt.from || ok != tt.ok {
				t.Errorf("got %q %v, want %q %v", from, ok, tt.from, tt.ok)
			}
		})
	}
}

func TestValidBranch(t *testing.T) {
	for _, b := range []string{"master", "nightly", "legacy", "feature/x", "2026-07a"} {
		if err := validBranch(b); err != nil {
			t.Errorf("validBranch(%q): %v", b, err)
		}
	}
	for _, b := range []string{"", "HEAD", "-x", "a b", "a..b", "a.lock", "a\"b", `a\b`, "a/", "/a", "a//b", ".a", "a~1", "a^", "a:b", "a@{1}", "@", "x\x00"} {
		if err := validBranch(b); err == nil {
			t.Errorf("validBranch(%q) accepted", b)
		}
	}
}

func TestReflogBranch(t *testing.T) {
	tests := []struct {
		name string
		log  string
		want string
	}{
		{"none", "", ""},
		{"last checkout from a branch", line(h1, h2, "checkout: moving from master to nightly") + line(h2, h3, "checkout: moving from nightly to v1"), "nightly"},
		{"detached to detached skips hashes", line(h1, h2, "checkout: moving from nightly to "+h2) + line(h2, h3, "checkout: moving from "+h2+" to "+h3), "nightly"},
		{"deleted branch skipped", line(h1, h2, "checkout: moving from master to tmp") + line(h2, h3, "checkout: moving from tmp to v1"), "master"},
		{"remote-only branch counts", line(h1, h2, "checkout: moving from legacy to v1"), "legacy"},
		{"invalid name skipped", line(h1, h2, "checkout: moving from master to x") + line(h2, h3, "checkout: moving from a..b to v1"), "master"},
		{"other messages ignored", line(h1, h2, "checkout: moving from master to x") + line(h2, h3, "commit: checkout: moving from nightly to y") + line(h3, h1, "reset: moving to HEAD~1"), "master"},
	}
	f := newFixture(t)
	f.git(t, "branch", "nightly", "origin/nightly")
	o, err := open(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(f.dir, ".git", "logs", "HEAD"), []byte(tt.log), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := o.reflogBranch()
			if err != nil || got != tt.want {
				t.Errorf("got %q %v, want %q", got, err, tt.want)
			}
		})
	}
}

func line(old, new, msg string) string {
	return reflogLine(plumbing.NewHash(old), plumbing.NewHash(new), "n", "e@x", time.Unix(1700000000, 0).UTC(), msg)
}

func TestReadTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	content := strings.Repeat("0123456789\n", 100)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		max  int64
		want string
	}{
		{2000, content},
		{int64(len(content)), content},
		{25, strings.Repeat("0123456789\n", 2)}, // the torn first line is dropped
		{11, "0123456789\n"},
	} {
		got, err := readTail(p, tt.max)
		if err != nil || string(got) != tt.want {
			t.Errorf("readTail(%d) = %q %v, want %q", tt.max, got, err, tt.want)
		}
	}
}

func TestReflogLine(t *testing.T) {
	got := reflogLine(plumbing.NewHash(h1), plumbing.NewHash(h2), "mcupdate", "m@x", time.Unix(1783991045, 0).In(time.FixedZone("", -(4*3600+30*60))), "a\tb\nc")
	want := h1 + " " + h2 + " mcupdate <m@x> 1783991045 -0430\ta b c\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if e := parseReflog([]byte(got)); len(e) != 1 || e[0].Message != "a b c" {
		t.Errorf("round trip: %q", e)
	}
}

// FuzzParseReflog: any bytes parse without panic, every entry has valid
// hashes and a one-line message, and a formatted line reads back.
func FuzzParseReflog(f *testing.F) {
	f.Add([]byte(line(h1, h2, "checkout: moving from master to v1")))
	f.Add([]byte(h1 + " " + h2 + "\t\r\n\n\tx\n" + h2))
	f.Add([]byte("checkout: moving from \t to \n"))
	f.Add([]byte(strings.Repeat(h3+" ", 3) + "\t" + strings.Repeat("\t", 5)))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, e := range parseReflog(data) {
			if !isHexHash(e.Old) || !isHexHash(e.New) || strings.ContainsAny(e.Message, "\n") {
				t.Fatalf("bad entry %q", e)
			}
			if from, ok := checkoutFrom(e.Message); ok && (from == "" || strings.Contains(from, " to ")) {
				t.Fatalf("checkoutFrom(%q) = %q", e.Message, from)
			}
		}
		msg := string(data)
		l := reflogLine(plumbing.NewHash(h1), plumbing.NewHash(h2), "n", "e", time.Unix(0, 0).UTC(), msg)
		got := parseReflog([]byte(l))
		if len(got) != 1 || strings.ContainsAny(got[0].Message, "\n\t") {
			t.Fatalf("round trip of %q: %q", msg, got)
		}
	})
}

func TestParseHead(t *testing.T) {
	tests := []struct {
		in      string
		ref     string
		hash    string
		problem string
	}{
		{"ref: refs/heads/master\n", "refs/heads/master", "", ""},
		{"ref:refs/heads/nightly", "refs/heads/nightly", "", ""},
		{h1 + "\r\n", "", h1, ""},
		{"", "", "", `content "" is neither "ref: refs/…" nor a commit hash`},
		{"garbage", "", "", `content "garbage" is neither "ref: refs/…" nor a commit hash`},
		{"ref: HEAD\n", "", "", `invalid ref name "HEAD"`},
		{"ref: refs/heads/../../config", "", "", `invalid ref name "refs/heads/../../config"`},
		{strings.Repeat("AbCd", 10), "", strings.Repeat("abcd", 10), ""},
		{h1[:39], "", "", `content "` + h1[:39] + `" is neither "ref: refs/…" nor a commit hash`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			h, problem := parseHead([]byte(tt.in))
			hash := ""
			if h.ref == "" && problem == "" {
				hash = h.hash.String()
			}
			if string(h.ref) != tt.ref || hash != tt.hash || problem != tt.problem {
				t.Errorf("got %q %q %q, want %q %q %q", h.ref, hash, problem, tt.ref, tt.hash, tt.problem)
			}
		})
	}
}

// FuzzParseHead: garbage in .git/HEAD is reported, never a panic, and an
// accepted ref is one that is safe to turn into a path.
func FuzzParseHead(f *testing.F) {
	for _, s := range []string{"ref: refs/heads/master\n", h1, "garbage", "ref: refs/heads/../x", "ref: \x00", strings.Repeat("a", 200)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, problem := parseHead(data)
		if problem != "" {
			if len(problem) > 300 {
				t.Fatalf("problem too long: %d bytes", len(problem))
			}
			return
		}
		if h.ref != "" && (!h.ref.IsSafe() || !strings.HasPrefix(string(h.ref), "refs/")) {
			t.Fatalf("unsafe ref %q accepted", h.ref)
		}
	})
}
