package daemonjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/jsonedit"
)

// Ensure returns data with the top-level keys req asks for set, and what
// it changed. It is a pure function.
//
// A missing key is added after the last top-level member in the file's
// style (see package jsonedit); a wrong value ("ipv6": false,
// "fixed-cidr-v6": "") is replaced in place and its [Change] is Loud. A key
// that has the right value but that update.sh's line-by-line grep would
// not find (the value on the next line, an escaped spelling such as
// "ipv\u0036") is rewritten onto one line. Nothing else changes: other
// keys, nested objects (which may hold their own "ipv6"), order, white
// space and line endings (LF or CRLF) stay byte for byte. When nothing is
// needed, out is data and changes is empty.
//
// A file mcupdate cannot edit safely is an [*Error]: empty or blank, not
// valid JSON, not an object, duplicate keys, a byte order mark or NUL
// bytes, or a top-level key that differs from a required one only in case
// (Docker's decoder matches keys case-insensitively, so which one counts is
// a guess).
func Ensure(data []byte, req Requirements) (out []byte, changes []Change, err error) {
	if err := check(data); err != nil {
		return nil, nil, err
	}
	ws := wants(req)
	members, err := jsonedit.Members(data, nil)
	if err != nil {
		return nil, nil, fromJSON(err)
	}
	for _, m := range members {
		for _, w := range ws {
			if m.Key != w.key && strings.EqualFold(m.Key, w.key) {
				line, col := position(data, m.KeyStart)
				return nil, nil, &Error{Line: line, Col: col, Err: ErrAmbiguousKey,
					Reason: fmt.Sprintf("key %q differs from %q only in case, and Docker reads both as the same option: rename or remove it", m.Key, w.key)}
			}
		}
	}

	out = data
	for _, w := range ws {
		m, ok, err := jsonedit.Lookup(out, []string{w.key})
		if err != nil {
			return nil, nil, fromJSON(err)
		}
		if !ok {
			if out, _, err = jsonedit.Set(out, []string{w.key}, json.RawMessage(w.value)); err != nil {
				return nil, nil, fromJSON(err)
			}
			changes = append(changes, Change{Key: w.key, New: w.value})
			continue
		}
		old := string(out[m.ValueStart:m.ValueEnd])
		val := old
		if !w.ok(old) {
			val = w.value
		}
		text := string(out[m.KeyStart:m.ValueStart]) + val
		if strings.ContainsAny(text, "\n") || !w.re.MatchString(text) {
			colon := string(out[m.KeyEnd:m.ValueStart])
			if strings.ContainsAny(colon, "\r\n") {
				colon = ": "
			}
			text = jsonString(w.key) + colon + val
		}
		if text == string(out[m.KeyStart:m.ValueEnd]) {
			continue
		}
		out = splice(out, m.KeyStart, m.ValueEnd, text)
		changes = append(changes, Change{Key: w.key, Old: old, New: val, Loud: old != val})
	}
	if len(changes) == 0 {
		return data, nil, nil
	}
	// Guard against a bug here ever reaching the disk: the result must be
	// what update.sh accepts.
	if err := jsonedit.Validate(out); err != nil {
		return nil, nil, fmt.Errorf("daemon.json: internal error, the edit produced invalid JSON: %w", err)
	}
	if miss := Missing(out, req); len(miss) > 0 {
		return nil, nil, fmt.Errorf("daemon.json: internal error, after the edit update.sh would still miss %s", strings.Join(miss, ", "))
	}
	return out, changes, nil
}

func splice(data []byte, from, to int, text string) []byte {
	out := make([]byte, 0, len(data)-(to-from)+len(text))
	out = append(out, data[:from]...)
	out = append(out, text...)
	return append(out, data[to:]...)
}

// position is the 1-based line and column of a byte offset.
func position(data []byte, off int) (line, col int) {
	line = 1 + bytes.Count(data[:off], []byte("\n"))
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return line, 1 + len([]rune(string(data[start:off])))
}

// check is what update.sh refuses, and what mcupdate refuses to guess at.
func check(data []byte) error {
	if len(bytes.Trim(data, " \t\r\n")) == 0 {
		return &Error{Err: ErrEmpty, Reason: "the file is empty, and update.sh stops on an empty daemon.json: put {} in it (mcupdate then adds the IPv6 keys), or remove it so mcupdate creates it"}
	}
	if err := jsonedit.Validate(data); err != nil {
		return fromJSON(err)
	}
	return nil
}

// fromJSON turns a jsonedit error into an [*Error] that says what to do.
func fromJSON(err error) error {
	var se *jsonedit.SyntaxError
	var de *jsonedit.DuplicateKeyError
	switch {
	case errors.As(err, &de):
		where := "at the top level"
		if len(de.Path) > 1 {
			where = "in " + strings.Join(de.Path[:len(de.Path)-1], ".")
		}
		return &Error{Line: de.Line, Col: de.Col, Err: ErrDuplicateKey, cause: err,
			Reason: fmt.Sprintf("duplicate key %q %s (first on line %d): Docker would use only one of them, so which one counts is ambiguous; remove one", de.Key, where, de.FirstLine)}
	case errors.As(err, &se) && errors.Is(err, jsonedit.ErrBOM):
		return &Error{Line: 1, Col: 1, Err: ErrBOM, cause: err,
			Reason: "the file starts with a UTF-8 byte order mark, which Docker's JSON decoder rejects: remove the BOM"}
	case errors.As(err, &se) && errors.Is(err, jsonedit.ErrNUL):
		return &Error{Line: se.Line, Col: se.Col, Err: ErrNUL, cause: err,
			Reason: "the file contains a NUL byte; is it really daemon.json? remove the NUL bytes"}
	case errors.As(err, &se) && errors.Is(err, jsonedit.ErrNotObject):
		return &Error{Line: se.Line, Col: se.Col, Err: ErrNotObject, cause: err,
			Reason: se.Msg + " (daemon.json must be one object, e.g. {})"}
	case errors.As(err, &se):
		return &Error{Line: se.Line, Col: se.Col, Err: ErrInvalid, cause: err,
			Reason: "invalid JSON, which update.sh stops on: " + se.Msg}
	}
	return &Error{Err: ErrInvalid, cause: err, Reason: err.Error()}
}
