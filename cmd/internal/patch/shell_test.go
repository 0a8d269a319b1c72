package patch

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// shellCases are variables files and what the shell makes of their
// quoting: bad is the line an unterminated quote opens on (0: none);
// inside, for a good file, the lines that start inside a word.
var shellCases = []struct {
	name, in string
	bad      int
	inside   []int
}{
	{name: "plain", in: "# mailcow\nDBPASS=x\nFTS_HEAP=128\n"},
	{name: "quoted values", in: "A='it''s'\nB=\"a \\\" b\"\nC=`echo x`\nD=a\\'b\n"},
	{name: "apostrophe in a comment", in: "# don't touch\nA=1 # it's fine\nB=2\n"},
	{name: "hash inside a word", in: "A=x#'y\n", bad: 1},
	{name: "unterminated single quote", in: "DBPASS='x\nFTS_HEAP=128\n", bad: 1},
	{name: "unterminated double quote", in: "A=1\nDBPASS=\"x\nFTS_HEAP=128\n", bad: 2},
	{name: "escaped double quote does not close", in: "A=\"x\\\"\nB=1\n", bad: 1},
	{name: "backslash escapes a quote outside quotes", in: "A=x\\\"\nB=1\n"},
	{name: "unterminated backquote", in: "A=`date\nB=1\n", bad: 1},
	{name: "value over two lines", in: "A='one\ntwo'\nB=1\n", inside: []int{2}},
	{name: "continuation line", in: "A=one\\\nB=two\nC=3\n", inside: []int{2}},
	{name: "crlf", in: "A='x'\r\nB=\"y\"\r\n"},
	{name: "last line unterminated", in: "A=1\nB='", bad: 2},
}

// TestShellLines checks shellLines against the cases, and each case
// against the real shells: sh -n and bash -n must refuse exactly the
// files shellLines refuses.
func TestShellLines(t *testing.T) {
	shells := []string{}
	for _, sh := range []string{"sh", "bash"} {
		if _, err := exec.LookPath(sh); err == nil {
			shells = append(shells, sh)
		}
	}
	dir := t.TempDir()
	for _, tc := range shellCases {
		t.Run(tc.name, func(t *testing.T) {
			inside, err := shellLines(tc.in)
			switch {
			case tc.bad > 0:
				if !errors.Is(err, ErrShellQuoting) || !strings.HasPrefix(err.Error(), "line "+strconv.Itoa(tc.bad)+": ") {
					t.Errorf("err = %v, want ErrShellQuoting on line %d", err, tc.bad)
				}
			case err != nil:
				t.Errorf("err = %v", err)
			default:
				var got []int
				for i, in := range inside {
					if in {
						got = append(got, i+1)
					}
				}
				if !reflect.DeepEqual(got, tc.inside) {
					t.Errorf("lines inside a word %v, want %v", got, tc.inside)
				}
			}
			f := filepath.Join(dir, "mailcow.conf")
			if err := os.WriteFile(f, []byte(tc.in), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, sh := range shells {
				out, err := exec.Command(sh, "-n", f).CombinedOutput()
				if (err != nil) != (tc.bad > 0) {
					t.Errorf("%s -n: %v %s; shellLines: bad line %d", sh, err, out, tc.bad)
				}
			}
		})
	}
}

// TestEditEnvBrokenQuoting: an env edit of a file with an unterminated
// quote is refused with the line; the shell would read FTS_HEAP as part
// of DBPASS's value. A line inside a multi-line value is no assignment.
func TestEditEnvBrokenQuoting(t *testing.T) {
	heap := "kind = env\nkey = FTS_HEAP\nvalue = 1024\n"
	runEditCases(t, []editCase{
		{name: "unterminated quote refused", edit: heap, in: "# x\nDBPASS='s3cret\nFTS_HEAP=128\n", err: ErrShellQuoting, errText: "line 2: broken shell quoting: the ' quote opened there is never closed"},
		{name: "also with missing = add", edit: heap + "missing = add\n", in: "DBPASS=\"s3cret\n", err: ErrShellQuoting, errText: "line 1:"},
		{name: "line in a multi-line value is no assignment", edit: heap, in: "X='a\nFTS_HEAP=1'\nFTS_HEAP=128\n", want: "X='a\nFTS_HEAP=1'\nFTS_HEAP=1024\n"},
		{name: "only such a line is missing", edit: heap, in: "X='a\nFTS_HEAP=1'\n", err: ErrAnchorMissing},
		{name: "value spanning lines refused", edit: heap, in: "FTS_HEAP='12\n8'\n", err: ErrShellQuoting, errText: "line 1: broken shell quoting: the value of FTS_HEAP continues on line 2"},
		{name: "append after a trailing backslash refused", edit: heap + "missing = add\n", in: "A=1\nB=x\\", err: ErrShellQuoting, errText: "line 2: broken shell quoting: it ends in a backslash"},
		{name: "append after a comment ending in a backslash", edit: heap + "missing = add\n", in: "# a \\\n", want: "# a \\\nFTS_HEAP=1024\n"},
		{name: "comment with apostrophe is fine", edit: heap, in: "# don't\nFTS_HEAP=128 # it's MB\n", want: "# don't\nFTS_HEAP=1024 # it's MB\n"},
	})
	if strings.Contains(func() string { _, err := shellLines("DBPASS='s3cret\n"); return err.Error() }(), "s3cret") {
		t.Error("the error shows the value")
	}
}
