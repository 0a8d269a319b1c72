// Package jsonedit edits JSON documents written by people without
// reformatting them.
//
// An edit changes only the bytes it must: replacing a value rewrites the
// value's text and nothing else; adding a member writes it after the last
// member of its object in that object's style (a one-line object stays on
// one line, a multi-line object gets the member on its own line with the
// indentation of its siblings), with the file's line ending (LF or CRLF).
// Key order, white space and every other byte stay as they were.
//
// # Strictness
//
// Documents are parsed strictly by a small scanner of this package that
// records byte offsets (encoding/json cannot): RFC 8259 syntax, valid
// UTF-8, no byte order mark, no NUL bytes, an object at the top level, and
// no duplicate keys in any object (decoders disagree on which one wins, so
// an edit of either would be a guess). Errors say where: [*SyntaxError]
// and [*DuplicateKeyError] carry line and column.
//
// # Values
//
// A value passed to [Set] must be one valid JSON value. Surrounding white
// space is dropped; a value that spans several lines is compacted onto one
// line (json.Compact), since its line breaks and indentation could not
// match the place it is written to. A one-line value is written byte for
// byte as given.
package jsonedit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sentinel errors, wrapped by [*SyntaxError] and [*PathError] so callers can
// branch on them with errors.Is.
var (
	// ErrBOM: the document starts with a UTF-8 byte order mark.
	ErrBOM = errors.New("UTF-8 byte order mark")
	// ErrNUL: the document contains a NUL byte.
	ErrNUL = errors.New("NUL byte")
	// ErrNotObject: the top level (or a step of a path) is not an object.
	ErrNotObject = errors.New("not a JSON object")
	// ErrNoParent: a path step before the last key does not exist.
	ErrNoParent = errors.New("parent object missing")
	// ErrBadValue: the value given to Set is not one valid JSON value.
	ErrBadValue = errors.New("invalid JSON value")
	// ErrBadKey: a key given to Set is not valid UTF-8, so it could not be
	// written as it was given.
	ErrBadKey = errors.New("key is not valid UTF-8")
	// ErrEmptyPath: Set or Get was called without a key.
	ErrEmptyPath = errors.New("empty path")
)

// SyntaxError is invalid or truncated JSON, with the position of the
// problem. Offset is a byte offset; Line and Col are 1-based, Col counted
// in characters.
type SyntaxError struct {
	Offset    int
	Line, Col int
	Msg       string
	Err       error // a sentinel such as ErrBOM, or nil
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// Unwrap returns the sentinel, if any.
func (e *SyntaxError) Unwrap() error { return e.Err }

// DuplicateKeyError is an object that has the same key twice. Path is the
// path of the duplicate member; Line and Col point at its second key,
// FirstLine at the first.
type DuplicateKeyError struct {
	Path      []string
	Key       string
	Line, Col int
	FirstLine int
}

func (e *DuplicateKeyError) Error() string {
	return fmt.Sprintf("line %d, column %d: duplicate key %q (first on line %d) in %s", e.Line, e.Col, e.Key, e.FirstLine, pathString(e.Path[:len(e.Path)-1]))
}

// PathError is a path that cannot be followed in a document.
type PathError struct {
	Path []string
	Err  error
	Msg  string
}

func (e *PathError) Error() string { return fmt.Sprintf("%s: %s", pathString(e.Path), e.Msg) }

// Unwrap returns the sentinel (ErrNoParent, ErrNotObject, ErrEmptyPath,
// ErrBadValue).
func (e *PathError) Unwrap() error { return e.Err }

// pathString shows a path as a jq-like filter, which admins know from
// update.sh's own jq use.
func pathString(path []string) string {
	if len(path) == 0 {
		return "the top-level object"
	}
	var b strings.Builder
	for _, k := range path {
		b.WriteString("[")
		q, _ := marshalString(k)
		b.Write(q)
		b.WriteString("]")
	}
	return b.String()
}

// Member is one member of an object and where it is: data[KeyStart:KeyEnd]
// is the quoted key, data[ValueStart:ValueEnd] the value's text.
type Member struct {
	Key                  string // decoded
	KeyStart, KeyEnd     int
	ValueStart, ValueEnd int
}

// Validate checks that data is a strict JSON document with an object at
// the top level; see the package doc for what strict means.
func Validate(data []byte) error {
	_, err := parseDocument(data)
	return err
}

// Members returns the members of the object at path (nil or empty for the
// top level), in document order.
func Members(data []byte, path []string) ([]Member, error) {
	root, err := parseDocument(data)
	if err != nil {
		return nil, err
	}
	obj, err := walk(root, path, len(path))
	if err != nil {
		return nil, err
	}
	return obj.members, nil
}

// Lookup returns the member at path and whether it exists. A missing
// parent object is an error, a missing last key is not.
func Lookup(data []byte, path []string) (Member, bool, error) {
	if len(path) == 0 {
		return Member{}, false, &PathError{Err: ErrEmptyPath, Msg: "no key given"}
	}
	root, err := parseDocument(data)
	if err != nil {
		return Member{}, false, err
	}
	obj, err := walk(root, path, len(path)-1)
	if err != nil {
		return Member{}, false, err
	}
	if i := index(obj, path[len(path)-1]); i >= 0 {
		return obj.members[i], true, nil
	}
	return Member{}, false, nil
}

// Get returns the text of the value at path and whether it exists.
func Get(data []byte, path []string) (raw json.RawMessage, ok bool, err error) {
	m, ok, err := Lookup(data, path)
	if !ok || err != nil {
		return nil, ok, err
	}
	return json.RawMessage(data[m.ValueStart:m.ValueEnd]), true, nil
}

// walk follows path[:n] from root; every step must be an object.
func walk(root *node, path []string, n int) (*node, error) {
	obj := root
	for i := 0; i < n; i++ {
		j := index(obj, path[i])
		if j < 0 {
			return nil, &PathError{Path: path[:i+1], Err: ErrNoParent, Msg: "no such key, so " + pathString(path) + " cannot be set"}
		}
		if obj.objects[j] == nil {
			return nil, &PathError{Path: path[:i+1], Err: ErrNotObject, Msg: "not an object, so " + pathString(path) + " cannot be set"}
		}
		obj = obj.objects[j]
	}
	return obj, nil
}

func index(obj *node, key string) int {
	for i, m := range obj.members {
		if m.Key == key {
			return i
		}
	}
	return -1
}

// Set sets the member at path to value and returns the new document and
// whether it differs from data. Every object on the way must exist; the
// last key is added when missing. data is not modified.
func Set(data []byte, path []string, value json.RawMessage) (out []byte, changed bool, err error) {
	if len(path) == 0 {
		return nil, false, &PathError{Err: ErrEmptyPath, Msg: "no key given"}
	}
	for i, k := range path {
		if !utf8.ValidString(k) {
			return nil, false, &PathError{Path: path[:i+1], Err: ErrBadKey, Msg: "key is not valid UTF-8"}
		}
	}
	val, err := normalizeValue(value)
	if err != nil {
		return nil, false, &PathError{Path: path, Err: ErrBadValue, Msg: "value: " + err.Error()}
	}
	root, err := parseDocument(data)
	if err != nil {
		return nil, false, err
	}
	obj, err := walk(root, path, len(path)-1)
	if err != nil {
		return nil, false, err
	}
	key := path[len(path)-1]
	if i := index(obj, key); i >= 0 {
		m := obj.members[i]
		if bytes.Equal(data[m.ValueStart:m.ValueEnd], val) {
			return data, false, nil
		}
		return splice(data, m.ValueStart, m.ValueEnd, val), true, nil
	}
	at, text := insertion(data, root, obj, key, val)
	return splice(data, at[0], at[1], text), true, nil
}

// normalizeValue checks value and makes it fit on one line.
func normalizeValue(value json.RawMessage) ([]byte, error) {
	v := bytes.Trim(value, " \t\r\n") // JSON white space only
	if len(v) == 0 {
		return nil, errors.New("empty")
	}
	if _, err := parseValue(v); err != nil {
		return nil, err
	}
	if bytes.ContainsAny(v, "\r\n") {
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return nil, err
		}
		v = b.Bytes()
	}
	return v, nil
}

func splice(data []byte, from, to int, text []byte) []byte {
	out := make([]byte, 0, len(data)-(to-from)+len(text))
	out = append(out, data[:from]...)
	out = append(out, text...)
	return append(out, data[to:]...)
}

// marshalString quotes s as a JSON string without the HTML escaping of
// json.Marshal, so a key reads as the admin would write it.
func marshalString(s string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// insertion returns the span of data to replace and the text that adds the
// member key: val to obj, in obj's style.
func insertion(data []byte, root, obj *node, key string, val []byte) ([2]int, []byte) {
	q, _ := marshalString(key) // a Go string always marshals
	st := styleOf(data, root, obj)
	member := append(append(q, st.colon...), val...)
	nl := newline(data)

	if len(obj.members) == 0 {
		inner := data[obj.start+1 : obj.end-1] // white space only
		if !bytes.ContainsAny(inner, "\n") {
			// {} or { }: stay on one line, keeping the inner padding.
			text := append(append(append([]byte{}, inner...), member...), inner...)
			return [2]int{obj.start + 1, obj.end - 1}, text
		}
		indent := lineIndent(data, obj.start)
		var text []byte
		text = append(text, nl...)
		text = append(text, indent...)
		text = append(text, indentUnit(data)...)
		text = append(text, member...)
		text = append(text, nl...)
		text = append(text, indent...)
		return [2]int{obj.start + 1, obj.end - 1}, text
	}

	last := obj.members[len(obj.members)-1]
	var text []byte
	if ownLine(data, last.KeyStart) {
		text = append(text, ',')
		text = append(text, nl...)
		text = append(text, lineIndent(data, last.KeyStart)...)
	} else {
		text = append(text, st.comma...)
	}
	text = append(text, member...)
	return [2]int{last.ValueEnd, last.ValueEnd}, text
}

type style struct {
	colon []byte // between the key and the value, e.g. ": "
	comma []byte // between members on one line, e.g. ", "
}

// styleOf finds how obj, or else the document, spaces its colons and
// commas on one line.
func styleOf(data []byte, root, obj *node) style {
	var st style
	var visit func(n *node)
	try := func(n *node) {
		for i, m := range n.members {
			if c := data[m.KeyEnd:m.ValueStart]; st.colon == nil && !bytes.ContainsAny(c, "\r\n") {
				st.colon = c
			}
			if i > 0 {
				if c := data[n.members[i-1].ValueEnd:m.KeyStart]; st.comma == nil && !bytes.ContainsAny(c, "\r\n") {
					st.comma = c
				}
			}
		}
	}
	visit = func(n *node) {
		try(n)
		for _, o := range n.objects {
			if o != nil && (st.colon == nil || st.comma == nil) {
				visit(o)
			}
		}
	}
	try(obj)
	visit(root)
	if st.colon == nil {
		st.colon = []byte(": ")
	}
	if st.comma == nil {
		st.comma = []byte(", ")
		if !bytes.ContainsAny(st.colon, " \t") {
			st.comma = []byte(",")
		}
	}
	return st
}

// newline is the document's line ending: CRLF when its first line ends so.
func newline(data []byte) []byte {
	if i := bytes.IndexByte(data, '\n'); i > 0 && data[i-1] == '\r' {
		return []byte("\r\n")
	}
	return []byte("\n")
}

func lineStart(data []byte, off int) int { return bytes.LastIndexByte(data[:off], '\n') + 1 }

// lineIndent is the leading white space of the line holding off.
func lineIndent(data []byte, off int) []byte {
	s := lineStart(data, off)
	e := s
	for e < len(data) && (data[e] == ' ' || data[e] == '\t') {
		e++
	}
	return data[s:e]
}

// ownLine reports whether off is the first non-blank byte of its line.
func ownLine(data []byte, off int) bool {
	return len(bytes.Trim(data[lineStart(data, off):off], " \t")) == 0 && lineStart(data, off) > 0
}

// indentUnit guesses one level of indentation: a tab if the document
// indents with tabs, else the narrowest indentation by spaces, else two
// spaces (what jq and Docker's documentation use).
func indentUnit(data []byte) []byte {
	best := 0
	for _, line := range bytes.Split(data, []byte("\n"))[1:] {
		ind := lineIndent(line, 0)
		if len(ind) == len(bytes.TrimRight(line, "\r")) || len(ind) == 0 {
			continue
		}
		if ind[0] == '\t' {
			return []byte("\t")
		}
		if best == 0 || len(ind) < best {
			best = len(ind)
		}
	}
	if best == 0 {
		best = 2
	}
	return bytes.Repeat([]byte(" "), best)
}
