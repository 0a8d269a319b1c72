package fsx

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckRel(t *testing.T) {
	for _, tc := range []struct {
		rel  string
		want string // "" for a path that is fine
	}{
		{"mailcow.conf", ""},
		{"data/conf/postfix/extra.cf", ""},
		{"./data/conf/x", ""},
		{"data//conf/x", ""},
		{"data/conf/x..y", ""},
		{"", "empty path"},
		{"/etc/passwd", `"/etc/passwd" is absolute`},
		{`\etc\passwd`, `is absolute`},
		{"data/x\x00", "holds a NUL byte"},
		{"..", "goes up a directory"},
		{"../x", "goes up a directory"},
		{"data/../../x", `"data/../../x" goes up a directory (..)`},
		{"data/..", "goes up a directory"},
		{".", "names the mailcow dir itself"},
		{"./", "names the mailcow dir itself"},
		{"data/./", ""},
	} {
		err := CheckRel(tc.rel)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckRel(%q) = %v, want nil", tc.rel, err)
		case tc.want != "" && (!errors.Is(err, ErrUnsafePath) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckRel(%q) = %v, want an ErrUnsafePath saying %q", tc.rel, err, tc.want)
		case err != nil && !strings.HasPrefix(err.Error(), "path outside the mailcow directory: "):
			t.Errorf("CheckRel(%q) = %q: does not say what is wrong first", tc.rel, err)
		}
	}
}

func FuzzCheckRel(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "/x", "a/../b", ".", "a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rel string) {
		if CheckRel(rel) != nil {
			return
		}
		// An accepted path, cleaned, stays below the directory.
		for _, part := range strings.Split(rel, "/") {
			if part == ".." {
				t.Fatalf("accepted %q", rel)
			}
		}
		if rel == "" || rel[0] == '/' || strings.ContainsRune(rel, 0) {
			t.Fatalf("accepted %q", rel)
		}
	})
}
