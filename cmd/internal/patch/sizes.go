package patch

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// The size dialects of the services mailcow runs: how each writes a size
// in its configuration. A line edit with `sizes = DIALECT` leaves a line
// that says the same size in other units as it is (`StreamMaxLength 50M`
// is 52428800 bytes to clamd).
const (
	// SizesBytes is bytes only (postfix).
	SizesBytes = "bytes"
	// SizesClamd is clamd.conf's: bytes, or K, M, G in either case,
	// powers of 1024.
	SizesClamd = "clamd"
	// SizesRspamd is rspamd's UCL: bytes, or k, m, g (powers of 1000) and
	// kb, mb, gb (powers of 1024), in any case.
	SizesRspamd = "rspamd"
)

var sizeDialects = map[string]bool{SizesBytes: true, SizesClamd: true, SizesRspamd: true}

// ParseSize reads the size s as the service of dialect reads it and
// returns it in bytes.
func ParseSize(dialect, s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty size")
	}
	mult := int64(1)
	num := s
	switch dialect {
	case SizesBytes:
	case SizesClamd:
		switch s[len(s)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		}
		if mult != 1 {
			num = s[:len(s)-1]
		}
	case SizesRspamd:
		l := strings.ToLower(s)
		for _, u := range []struct {
			suf string
			m   int64
		}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1e3}, {"m", 1e6}, {"g", 1e9}} {
			if strings.HasSuffix(l, u.suf) {
				mult, num = u.m, s[:len(s)-len(u.suf)]
				break
			}
		}
	default:
		return 0, fmt.Errorf("unknown size dialect %q", dialect)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}

// sizeToken is a number with an optional unit, standing alone.
var sizeToken = regexp.MustCompile(`\b[0-9]+[A-Za-z]{0,2}\b`)

// sameSizes reports whether the lines a and b differ only in how they
// write sizes, and each pair of sizes is the same number of bytes in
// dialect.
func sameSizes(dialect, a, b string) bool {
	ia, ib := sizeToken.FindAllStringIndex(a, -1), sizeToken.FindAllStringIndex(b, -1)
	if len(ia) != len(ib) || len(ia) == 0 {
		return false
	}
	pa, pb := 0, 0
	for k := range ia {
		if a[pa:ia[k][0]] != b[pb:ib[k][0]] {
			return false
		}
		ta, tb := a[ia[k][0]:ia[k][1]], b[ib[k][0]:ib[k][1]]
		if ta != tb {
			na, erra := ParseSize(dialect, ta)
			nb, errb := ParseSize(dialect, tb)
			if erra != nil || errb != nil || na != nb {
				return false
			}
		}
		pa, pb = ia[k][1], ib[k][1]
	}
	return a[pa:] == b[pb:]
}
