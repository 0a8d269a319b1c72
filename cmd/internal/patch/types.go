package patch

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mcupdate/mcupdate/cmd/internal/secret"
)

// MaxParamLen bounds every parameter value: a value is a size, a number,
// a word or a list of networks, never megabytes a typo or an attacker
// pasted into mcupdate.ini, which would be written into mailcow's files.
const MaxParamLen = 64 << 10

// maxTextLen bounds a text parameter, one line of a config file.
const maxTextLen = 4096

// The parameter types a patch declares in [types]; a parameter without
// one is text.
const (
	TypeText     = "text"      // one line, no control characters
	TypeCount    = "count"     // a whole number: 50
	TypeMB       = "mb"        // a whole number of megabytes: 1024
	TypeSize     = "size"      // a number with K, M or G (powers of 1024): 512M
	TypeCIDRList = "cidr-list" // IP addresses and networks: 192.0.2.0/24 2001:db8::1
)

// ParamType is a parameter's declared type and range.
type ParamType struct {
	Kind string
	// Min and Max bound count, mb and size values (size: in bytes);
	// HasMin and HasMax say whether the patch set them.
	Min, Max       uint64
	HasMin, HasMax bool
	// Spec is the declaration as the patch wrote it: "size 32M..64G".
	Spec string
}

// orText is t, or text when the patch declared no type.
func (t ParamType) orText() ParamType {
	if t.Kind == "" {
		return ParamType{Kind: TypeText, Spec: TypeText}
	}
	return t
}

// numeric reports whether values of t are numbers a check can compare.
func (t ParamType) numeric() bool {
	return t.Kind == TypeCount || t.Kind == TypeMB || t.Kind == TypeSize
}

// parseType reads a [types] declaration: KIND or KIND MIN..MAX, where
// either bound may be left out (count 16.., size ..4G).
func parseType(spec string) (ParamType, error) {
	f := strings.Fields(spec)
	if len(f) == 0 || len(f) > 2 {
		return ParamType{}, fmt.Errorf("%q: want a type (%s) and an optional range MIN..MAX", spec, typeKinds)
	}
	t := ParamType{Kind: f[0], Spec: strings.Join(f, " ")}
	switch t.Kind {
	case TypeText, TypeCIDRList:
		if len(f) == 2 {
			return ParamType{}, fmt.Errorf("%q: type %s takes no range", spec, t.Kind)
		}
		return t, nil
	case TypeCount, TypeMB, TypeSize:
	default:
		return ParamType{}, fmt.Errorf("%q: unknown type %q (want %s)", spec, t.Kind, typeKinds)
	}
	if len(f) == 1 {
		return t, nil
	}
	lo, hi, ok := strings.Cut(f[1], "..")
	if !ok || lo == "" && hi == "" {
		return ParamType{}, fmt.Errorf("%q: range %q: want MIN..MAX, MIN.. or ..MAX", spec, f[1])
	}
	var err error
	if lo != "" {
		if t.Min, err = t.number(lo); err != nil {
			return ParamType{}, fmt.Errorf("%q: range minimum %v", spec, err)
		}
		t.HasMin = true
	}
	if hi != "" {
		if t.Max, err = t.number(hi); err != nil {
			return ParamType{}, fmt.Errorf("%q: range maximum %v", spec, err)
		}
		t.HasMax = true
	}
	if t.HasMin && t.HasMax && t.Min > t.Max {
		return ParamType{}, fmt.Errorf("%q: the range is empty", spec)
	}
	return t, nil
}

const typeKinds = "text, count, mb, size or cidr-list"

var errNotNumber = errors.New("not a number")

// number reads a count, mb or size value; a size in bytes.
func (t ParamType) number(v string) (uint64, error) {
	switch t.Kind {
	case TypeSize:
		n, err := sizeBytes(v)
		if err != nil {
			return 0, fmt.Errorf("%s is not a size such as 512K, 100M or 2G", quoteValue(v))
		}
		return n, nil
	case TypeMB:
		n, err := wholeNumber(v)
		if err != nil {
			return 0, fmt.Errorf("%s is not a whole number of megabytes such as 1024", quoteValue(v))
		}
		return n, nil
	default:
		n, err := wholeNumber(v)
		if err != nil {
			return 0, fmt.Errorf("%s is not a whole number", quoteValue(v))
		}
		return n, nil
	}
}

// wholeNumber reads digits only: no sign, no blanks, no 0x, at most 18
// of them.
func wholeNumber(v string) (uint64, error) {
	if v == "" || len(v) > 18 || strings.Trim(v, "0123456789") != "" {
		return 0, errNotNumber
	}
	return strconv.ParseUint(v, 10, 64)
}

// sizeBytes reads a size as php, postfix, rspamd and clamd take it:
// digits and one of K, M, G (either case), powers of 1024.
func sizeBytes(v string) (uint64, error) {
	mult := uint64(1)
	if v != "" {
		switch v[len(v)-1] {
		case 'K', 'k':
			mult = 1 << 10
		case 'M', 'm':
			mult = 1 << 20
		case 'G', 'g':
			mult = 1 << 30
		}
	}
	if mult > 1 {
		v = v[:len(v)-1]
	}
	n, err := wholeNumber(v)
	if err != nil || n > (1<<62)/mult {
		return 0, errNotNumber
	}
	return n * mult, nil
}

// show renders a number of t for messages, as the admin writes it.
func (t ParamType) show(n uint64) string {
	if t.Kind != TypeSize {
		return strconv.FormatUint(n, 10)
	}
	for _, u := range []struct {
		s string
		m uint64
	}{{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n >= u.m && n%u.m == 0 {
			return strconv.FormatUint(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatUint(n, 10)
}

// checkValue checks a parameter's value against its type and range. The
// message names no secret parameter's value.
func (t ParamType) checkValue(name, v string) error {
	shown := quoteValue(v)
	if secret.IsName(name) {
		shown = "the value"
	}
	switch {
	case strings.IndexByte(v, 0) >= 0:
		return fmt.Errorf("%s holds a NUL byte", shown)
	case len(v) > MaxParamLen:
		return fmt.Errorf("the value is %d bytes, more than the %d a parameter may hold", len(v), MaxParamLen)
	case !utf8.ValidString(v):
		return fmt.Errorf("%s is not valid UTF-8", shown)
	}
	switch t.Kind {
	case TypeCIDRList:
		items := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
		if len(items) == 0 {
			return errors.New("the list is empty: want IP addresses or networks such as 192.0.2.0/24 2001:db8::1")
		}
		for _, it := range items {
			if _, err := netip.ParsePrefix(it); err == nil {
				continue
			}
			if _, err := netip.ParseAddr(it); err == nil {
				continue
			}
			return fmt.Errorf("%s is not an IP address or network such as 192.0.2.0/24 or 2001:db8::/48", quoteValue(it))
		}
		return nil
	case TypeCount, TypeMB, TypeSize:
		n, err := t.number(v)
		if err != nil {
			if secret.IsName(name) {
				return errors.New("the value is not a number of the declared type " + t.Spec)
			}
			return err
		}
		if t.HasMin && n < t.Min {
			return fmt.Errorf("%s is below %s, the smallest the patch allows", shown, t.show(t.Min))
		}
		if t.HasMax && n > t.Max {
			return fmt.Errorf("%s is above %s, the largest the patch allows", shown, t.show(t.Max))
		}
		return nil
	}
	if len(v) > maxTextLen {
		return fmt.Errorf("the value is %d bytes, more than the %d a text parameter may hold", len(v), maxTextLen)
	}
	for _, r := range v {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return fmt.Errorf("%s holds a control character (%U): a text parameter is one line", shown, r)
		}
	}
	return nil
}

// quoteValue quotes a value for a message, cut to a readable length.
func quoteValue(v string) string {
	if len(v) > 40 {
		cut := 40
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		return strconv.Quote(v[:cut]) + "…"
	}
	return strconv.Quote(v)
}
