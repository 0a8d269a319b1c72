package patch

import (
	"errors"
	"testing"
)

// TestParseNUL: a patch file with a NUL byte is refused with its line,
// rather than writing the NUL into a mailcow config file.
func TestParseNUL(t *testing.T) {
	src := "description = d\n[edit a]\nfile = data/conf/postfix/extra.cf\nkind = line\nline = x\x00y\nposition = end\n"
	_, err := Parse("junk.ini", []byte(src))
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ErrSyntax) || err.Error() != "junk.ini:5: invalid patch: NUL byte" {
		t.Fatalf("err = %v", err)
	}
}
