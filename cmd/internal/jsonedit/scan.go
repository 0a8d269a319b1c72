package jsonedit

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 1000

// node is one parsed JSON value with its byte span in the input.
type node struct {
	start, end int // data[start:end] is the value's text
	kind       byte
	// For objects only: open and close are the offsets of '{' and '}'.
	members []Member
	objects []*node // objects[i] is members[i]'s value when it is an object
}

// parser is a strict RFC 8259 parser that keeps byte offsets. It exists
// because encoding/json cannot say where a member is, and a layout-keeping
// edit needs exactly that.
type parser struct {
	data  []byte
	pos   int
	depth int
	path  []string
}

func (p *parser) fail(off int, format string, args ...any) error {
	line, col := position(p.data, off)
	return &SyntaxError{Offset: off, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// position converts a byte offset into a 1-based line and a 1-based column
// counted in characters, as editors show them.
func position(data []byte, off int) (line, col int) {
	if off > len(data) {
		off = len(data)
	}
	prefix := data[:off]
	line = 1 + strings.Count(string(prefix), "\n")
	lineStart := strings.LastIndexByte(string(prefix), '\n') + 1
	return line, 1 + utf8.RuneCount(prefix[lineStart:])
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// describe names the byte at off for an error message.
func (p *parser) describe(off int) string {
	if off >= len(p.data) {
		return "end of input"
	}
	r, _ := utf8.DecodeRune(p.data[off:])
	if r == utf8.RuneError {
		return fmt.Sprintf("byte 0x%02x", p.data[off])
	}
	return strconv.QuoteRune(r)
}

// parseDocument parses a whole document whose top level must be an object.
func parseDocument(data []byte) (*node, error) {
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		return nil, &SyntaxError{Line: 1, Col: 1, Msg: "file starts with a UTF-8 byte order mark; remove the BOM", Err: ErrBOM}
	}
	for i, b := range data {
		if b == 0 {
			line, col := position(data, i)
			return nil, &SyntaxError{Offset: i, Line: line, Col: col, Msg: "NUL byte in file", Err: ErrNUL}
		}
	}
	p := &parser{data: data}
	p.skipSpace()
	if p.pos >= len(data) {
		return nil, &SyntaxError{Offset: p.pos, Line: 1, Col: 1, Msg: "empty document, want a JSON object such as {}", Err: ErrNotObject}
	}
	if data[p.pos] != '{' {
		start := p.pos
		what := "a value"
		if v, err := p.value(); err == nil {
			what = kindName(v.kind)
		}
		err := p.fail(start, "top level is %s, want a JSON object", what)
		err.(*SyntaxError).Err = ErrNotObject
		return nil, err
	}
	root, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(data) {
		return nil, p.fail(p.pos, "unexpected %s after the top-level object", p.describe(p.pos))
	}
	return root, nil
}

func kindName(k byte) string {
	switch k {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	default:
		return "a number"
	}
}

// parseValue parses a lone value with optional surrounding white space.
func parseValue(data []byte) (*node, error) {
	p := &parser{data: data}
	p.skipSpace()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(data) {
		return nil, p.fail(p.pos, "unexpected %s after the value", p.describe(p.pos))
	}
	return v, nil
}

func (p *parser) value() (*node, error) {
	if p.pos >= len(p.data) {
		return nil, p.fail(p.pos, "unexpected end of input, want a value")
	}
	start := p.pos
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		if _, err := p.str(); err != nil {
			return nil, err
		}
		return &node{start: start, end: p.pos, kind: '"'}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		if err := p.number(); err != nil {
			return nil, err
		}
		return &node{start: start, end: p.pos, kind: '0'}, nil
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if strings.HasPrefix(string(p.data[p.pos:min(len(p.data), p.pos+len(lit))]), lit) {
				p.pos += len(lit)
				return &node{start: start, end: p.pos, kind: lit[0]}, nil
			}
		}
		return nil, p.fail(p.pos, "unexpected %s, want a value", p.describe(p.pos))
	}
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.fail(p.pos, "nested more than %d levels deep", maxDepth)
	}
	return nil
}

func (p *parser) object() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	n := &node{start: p.pos, kind: '{'}
	p.pos++ // '{'
	seen := map[string]int{}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		n.end = p.pos
		return n, nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.fail(p.pos, "unexpected end of input in object, want a key or '}'")
		}
		if p.data[p.pos] != '"' {
			return nil, p.fail(p.pos, "unexpected %s in object, want a quoted key", p.describe(p.pos))
		}
		keyStart := p.pos
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		keyEnd := p.pos
		if first, dup := seen[key]; dup {
			line, col := position(p.data, keyStart)
			firstLine, _ := position(p.data, first)
			return nil, &DuplicateKeyError{Path: append(append([]string(nil), p.path...), key), Key: key, Line: line, Col: col, FirstLine: firstLine}
		}
		seen[key] = keyStart
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.fail(p.pos, "unexpected %s after key %q, want ':'", p.describe(p.pos), key)
		}
		p.pos++
		p.skipSpace()
		p.path = append(p.path, key)
		v, err := p.value()
		p.path = p.path[:len(p.path)-1]
		if err != nil {
			return nil, err
		}
		n.members = append(n.members, Member{Key: key, KeyStart: keyStart, KeyEnd: keyEnd, ValueStart: v.start, ValueEnd: v.end})
		if v.kind == '{' {
			n.objects = append(n.objects, v)
		} else {
			n.objects = append(n.objects, nil)
		}
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.fail(p.pos, "unexpected end of input in object, want ',' or '}'")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			n.end = p.pos
			return n, nil
		default:
			return nil, p.fail(p.pos, "unexpected %s after the value of %q, want ',' or '}'", p.describe(p.pos), key)
		}
	}
}

func (p *parser) array() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	n := &node{start: p.pos, kind: '['}
	p.pos++ // '['
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		n.end = p.pos
		return n, nil
	}
	for i := 0; ; i++ {
		p.skipSpace()
		// Keys inside arrays are reported with the index as a path step.
		p.path = append(p.path, strconv.Itoa(i))
		_, err := p.value()
		p.path = p.path[:len(p.path)-1]
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.fail(p.pos, "unexpected end of input in array, want ',' or ']'")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			n.end = p.pos
			return n, nil
		default:
			return nil, p.fail(p.pos, "unexpected %s in array, want ',' or ']'", p.describe(p.pos))
		}
	}
}

// str parses a string starting at the opening quote and returns its
// decoded value. Lone surrogates decode to U+FFFD as encoding/json does, so
// duplicate keys are judged the way Docker's decoder would see them.
func (p *parser) str() (string, error) {
	start := p.pos
	p.pos++ // opening quote
	var b strings.Builder
	for {
		if p.pos >= len(p.data) {
			return "", p.fail(start, "unterminated string")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c < 0x20:
			return "", p.fail(p.pos, "control character %s in string, escape it", p.describe(p.pos))
		case c == '\\':
			if p.pos+1 >= len(p.data) {
				return "", p.fail(start, "unterminated string")
			}
			e := p.data[p.pos+1]
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := p.hex4(p.pos + 2)
				if !ok {
					return "", p.fail(p.pos, `invalid \u escape, want four hex digits`)
				}
				p.pos += 6
				if utf16.IsSurrogate(r) {
					if r2, ok := p.hex4(p.pos + 2); ok && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							b.WriteRune(dec)
							p.pos += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				b.WriteRune(r)
				continue
			default:
				return "", p.fail(p.pos, "invalid escape %s in string", p.describe(p.pos+1))
			}
			p.pos += 2
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			p.pos++
		default:
			r, size := utf8.DecodeRune(p.data[p.pos:])
			if r == utf8.RuneError && size <= 1 {
				return "", p.fail(p.pos, "invalid UTF-8 byte 0x%02x in string", c)
			}
			b.WriteRune(r)
			p.pos += size
		}
	}
}

// hex4 reads four hex digits at off; p.data[off-2:off] is `\u`.
func (p *parser) hex4(off int) (rune, bool) {
	if off+4 > len(p.data) || off < 2 || p.data[off-2] != '\\' || p.data[off-1] != 'u' {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.data[off:off+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(v), true
}

func (p *parser) digits() int {
	n := 0
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
		n++
	}
	return n
}

func (p *parser) number() error {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(p.data) && p.data[p.pos] == '0':
		p.pos++
	case p.digits() == 0:
		return p.fail(start, "invalid number, want a digit after '-'")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if p.digits() == 0 {
			return p.fail(p.pos, "invalid number, want a digit after '.'")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if p.digits() == 0 {
			return p.fail(p.pos, "invalid number, want a digit in the exponent")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] >= '0' && p.data[p.pos] <= '9' || p.data[p.pos] == '.') {
		return p.fail(start, "invalid number (a leading zero, or a second '.')")
	}
	return nil
}
