package jsonedit

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// unmarshal is json.Unmarshal keeping numbers as written, so that numbers
// too large for a float64 compare too.
func unmarshal(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("data after the value")
	}
	return nil
}

func decode(t testing.TB, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := unmarshal(data, &m); err != nil {
		t.Fatalf("encoding/json rejects %q: %v", data, err)
	}
	return m
}

func TestSet(t *testing.T) {
	tests := []struct {
		name string
		in   string
		path []string
		val  string
		want string
	}{
		{"one-line add", `{"log-driver": "local", "ipv6":true}`, []string{"a"}, `1`,
			`{"log-driver": "local", "ipv6":true, "a": 1}`},
		{"one-line compact add", `{"a":1,"b":2}` + "\n", []string{"c"}, `"x"`,
			`{"a":1,"b":2,"c":"x"}` + "\n"},
		{"one-line single member compact", `{"a":1}`, []string{"c"}, `true`, `{"a":1,"c":true}`},
		{"one-line single member spaced", `{"a": 1}`, []string{"c"}, `true`, `{"a": 1, "c": true}`},
		{"one-line replace", `{"ipv6": false, "x": 1}`, []string{"ipv6"}, `true`, `{"ipv6": true, "x": 1}`},
		{"pretty 2 add", "{\n  \"a\": 1,\n  \"b\": [1, 2]\n}\n", []string{"c"}, `"v"`,
			"{\n  \"a\": 1,\n  \"b\": [1, 2],\n  \"c\": \"v\"\n}\n"},
		{"pretty 4 add no trailing newline", "{\n    \"a\": 1\n}", []string{"c"}, `null`,
			"{\n    \"a\": 1,\n    \"c\": null\n}"},
		{"tabs add", "{\n\t\"a\": {\n\t\t\"x\": 1\n\t}\n}\n", []string{"a", "y"}, `2`,
			"{\n\t\"a\": {\n\t\t\"x\": 1,\n\t\t\"y\": 2\n\t}\n}\n"},
		{"crlf add", "{\r\n  \"a\": 1\r\n}\r\n", []string{"b"}, `2`, "{\r\n  \"a\": 1,\r\n  \"b\": 2\r\n}\r\n"},
		{"crlf empty multi-line", "{\r\n}\r\n", []string{"b"}, `2`, "{\r\n  \"b\": 2\r\n}\r\n"},
		{"empty", `{}`, []string{"k"}, `1`, `{"k": 1}`},
		{"empty spaced", `{ }`, []string{"k"}, `1`, `{ "k": 1 }`},
		{"empty multi-line", "{\n}\n", []string{"k"}, `1`, "{\n  \"k\": 1\n}\n"},
		{"empty nested multi-line 4", "{\n    \"o\": {\n    }\n}\n", []string{"o", "k"}, `1`,
			"{\n    \"o\": {\n        \"k\": 1\n    }\n}\n"},
		{"nested replace", `{"a": {"b": {"c": 1}}, "c": 1}`, []string{"a", "b", "c"}, `[1,2]`,
			`{"a": {"b": {"c": [1,2]}}, "c": 1}`},
		{"strings with braces", `{"s": "{\"x\": [1,}", "t": "a,b:c"}`, []string{"u"}, `"}"`,
			`{"s": "{\"x\": [1,}", "t": "a,b:c", "u": "}"}`},
		{"unicode escaped key matches", `{"ipv\u0036": false}`, []string{"ipv6"}, `true`, `{"ipv\u0036": true}`},
		{"unicode value", `{"name": "Grüße \ud83d\ude00"}`, []string{"k"}, `"ä"`, `{"name": "Grüße \ud83d\ude00", "k": "ä"}`},
		{"number replace", `{"n": 1.5e10, "m": -0}`, []string{"n"}, `2`, `{"n": 2, "m": -0}`},
		{"multi-line value compacted", "{\n  \"a\": 1\n}\n", []string{"o"}, "{\n \"x\": [1,\n 2]\n}",
			"{\n  \"a\": 1,\n  \"o\": {\"x\":[1,2]}\n}\n"},
		{"value trimmed", `{"a": 1}`, []string{"a"}, "  2 \n", `{"a": 2}`},
		{"key needing escape", `{}`, []string{`a"<b>`}, `1`, `{"a\"<b>": 1}`},
		{"mixed first on brace line", "{ \"a\": 1,\n  \"b\": 2 }", []string{"c"}, `3`, "{ \"a\": 1,\n  \"b\": 2,\n  \"c\": 3 }"},
		{"multi-line but last shares line", "{\n  \"a\": 1, \"b\": 2\n}", []string{"c"}, `3`, "{\n  \"a\": 1, \"b\": 2, \"c\": 3\n}"},
		{"space before colon kept", "{\n  \"a\" : 1\n}", []string{"b"}, `2`, "{\n  \"a\" : 1,\n  \"b\" : 2\n}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			orig := append([]byte(nil), in...)
			out, changed, err := Set(in, tt.path, json.RawMessage(tt.val))
			if err != nil {
				t.Fatalf("Set: %v", err)
			}
			if !bytes.Equal(in, orig) {
				t.Fatalf("Set modified its input")
			}
			if got := string(out); got != tt.want {
				t.Fatalf("Set:\n got %q\nwant %q", got, tt.want)
			}
			if !changed {
				t.Errorf("changed = false")
			}
			decode(t, out)
			out2, changed2, err := Set(out, tt.path, json.RawMessage(tt.val))
			if err != nil || changed2 || !bytes.Equal(out2, out) {
				t.Errorf("second Set: changed=%v err=%v out=%q", changed2, err, out2)
			}
			raw, ok, err := Get(out, tt.path)
			if err != nil || !ok {
				t.Fatalf("Get: ok=%v err=%v", ok, err)
			}
			var a, b any
			_ = unmarshal(raw, &a)
			_ = unmarshal([]byte(tt.val), &b)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("Get = %s, want %s", raw, tt.val)
			}
		})
	}
}

func TestSetUnchanged(t *testing.T) {
	in := []byte("{\n  \"a\": true\n}\n")
	out, changed, err := Set(in, []string{"a"}, json.RawMessage("true"))
	if err != nil || changed || !bytes.Equal(out, in) {
		t.Fatalf("Set same value: changed=%v err=%v out=%q", changed, err, out)
	}
}

func TestSetErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		path []string
		val  string
		is   error
		msg  string
	}{
		{"missing parent", `{"a": {}}`, []string{"b", "c"}, `1`, ErrNoParent, `["b"]: no such key`},
		{"parent not object", `{"a": [1]}`, []string{"a", "c"}, `1`, ErrNotObject, `["a"]: not an object`},
		{"bad value", `{}`, []string{"a"}, `{"x":}`, ErrBadValue, `["a"]: value: line 1, column 6`},
		{"two values", `{}`, []string{"a"}, `1 2`, ErrBadValue, "after the value"},
		{"empty value", `{}`, []string{"a"}, ` `, ErrBadValue, "empty"},
		{"empty path", `{}`, nil, `1`, ErrEmptyPath, "no key"},
		{"invalid utf-8 key", `{}`, []string{"\xff"}, `1`, ErrBadKey, "not valid UTF-8"},
		{"bad document", `{"a": 1,}`, []string{"a"}, `1`, nil, "line 1, column 9"},
		{"top-level array", `[]`, []string{"a"}, `1`, ErrNotObject, "top level is an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := Set([]byte(tt.in), tt.path, json.RawMessage(tt.val))
			if err == nil {
				t.Fatalf("Set = %q, want error", out)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		line, col int    // of a *SyntaxError, 0 to skip
		is        error  // sentinel, or nil
		msg       string // substring of the message
	}{
		{"ok", "{\"a\": [1, {\"b\": null}], \"c\": \"\\u00e4\"}\n", 0, 0, nil, ""},
		{"ok crlf", "{\r\n\t\"a\": 1\r\n}\r\n", 0, 0, nil, ""},
		{"empty", "", 1, 1, ErrNotObject, "empty document"},
		{"blank", " \n\t", 1, 1, ErrNotObject, "empty document"},
		{"array", "[]", 1, 1, ErrNotObject, "top level is an array"},
		{"string", ` "x"`, 1, 2, ErrNotObject, "top level is a string"},
		{"truncated", "{\n  \"a\": 1,\n", 3, 1, nil, "end of input"},
		{"truncated string", "{\"a\": \"xy", 1, 7, nil, "unterminated string"},
		{"trailing comma", "{\n  \"a\": 1,\n}", 3, 1, nil, "want a quoted key"},
		{"missing colon", `{"a" 1}`, 1, 6, nil, "want ':'"},
		{"single quotes", `{'a': 1}`, 1, 2, nil, "want a quoted key"},
		{"comment", "{\n  // no\n}", 2, 3, nil, "want a quoted key"},
		{"garbage after", `{} {}`, 1, 4, nil, "after the top-level object"},
		{"leading zero", `{"a": 01}`, 1, 7, nil, "invalid number"},
		{"bare minus", `{"a": -}`, 1, 7, nil, "invalid number"},
		{"bad exponent", `{"a": 1e}`, 1, 9, nil, "exponent"},
		{"bad literal", `{"a": tru}`, 1, 7, nil, "want a value"},
		{"bad escape", `{"a": "\x"}`, 1, 8, nil, "invalid escape"},
		{"bad unicode escape", `{"a": "\u12"}`, 1, 8, nil, `\u escape`},
		{"raw newline in string", "{\"a\": \"x\ny\"}", 1, 9, nil, "control character"},
		{"invalid utf-8", "{\"a\": \"\xff\"}", 1, 8, nil, "invalid UTF-8"},
		{"bom", "\xEF\xBB\xBF{}", 1, 1, ErrBOM, "remove the BOM"},
		{"nul", "{\"a\": 1}\x00", 1, 9, ErrNUL, "NUL byte"},
		{"column counts characters", `{"ä": 1 2}`, 1, 9, nil, "want ',' or '}'"},
		{"too deep", strings.Repeat(`{"a":`, 1001) + "1" + strings.Repeat("}", 1001), 1, 0, nil, "nested more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate([]byte(tt.in))
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Validate = %v (%T), want *SyntaxError", err, err)
			}
			if se.Line != tt.line || (tt.col != 0 && se.Col != tt.col) {
				t.Errorf("position %d:%d, want %d:%d (%v)", se.Line, se.Col, tt.line, tt.col, err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			// Only these are stricter than encoding/json on purpose.
			stricter := map[string]bool{"array": true, "string": true, "bom": true, "too deep": true, "invalid utf-8": true}
			if json.Valid([]byte(tt.in)) && !stricter[tt.name] {
				t.Errorf("encoding/json accepts what Validate rejects")
			}
		})
	}
}

func TestValidateDuplicate(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		key       string
		line      int
		firstLine int
		where     string
	}{
		{"top level", "{\n  \"ipv6\": true,\n  \"ipv6\": false\n}", "ipv6", 3, 2, "the top-level object"},
		{"escaped spelling", `{"ipv6": true, "ipv\u0036": false}`, "ipv6", 1, 1, "the top-level object"},
		{"nested", "{\"a\": {\n\"b\": 1,\n\"b\": 2}}", "b", 3, 2, `["a"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate([]byte(tt.in))
			var de *DuplicateKeyError
			if !errors.As(err, &de) {
				t.Fatalf("Validate = %v, want *DuplicateKeyError", err)
			}
			if de.Key != tt.key || de.Line != tt.line || de.FirstLine != tt.firstLine {
				t.Errorf("got key %q line %d first %d, want %q %d %d", de.Key, de.Line, de.FirstLine, tt.key, tt.line, tt.firstLine)
			}
			if !strings.Contains(err.Error(), tt.where) || !strings.Contains(err.Error(), `"`+tt.key+`"`) {
				t.Errorf("error %q does not name %q in %s", err, tt.key, tt.where)
			}
		})
	}
}

func TestGet(t *testing.T) {
	doc := []byte(`{"a": {"b": [1, 2], "c": "x"}, "d": null}`)
	tests := []struct {
		path []string
		want string
		ok   bool
	}{
		{[]string{"a", "b"}, `[1, 2]`, true},
		{[]string{"a"}, `{"b": [1, 2], "c": "x"}`, true},
		{[]string{"d"}, `null`, true},
		{[]string{"e"}, ``, false},
		{[]string{"a", "e"}, ``, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.path, "."), func(t *testing.T) {
			raw, ok, err := Get(doc, tt.path)
			if err != nil || ok != tt.ok || string(raw) != tt.want {
				t.Fatalf("Get = %q, %v, %v; want %q, %v", raw, ok, err, tt.want, tt.ok)
			}
		})
	}
	if _, _, err := Get(doc, []string{"x", "y"}); !errors.Is(err, ErrNoParent) {
		t.Errorf("Get through a missing parent: %v, want ErrNoParent", err)
	}
}

func TestMembers(t *testing.T) {
	doc := []byte("{\"b\": 1,\n \"a\" : {\"x\": true}}")
	ms, err := Members(doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, string(doc[m.KeyStart:m.KeyEnd])+"="+string(doc[m.ValueStart:m.ValueEnd]))
	}
	want := []string{`"b"=1`, `"a"={"x": true}`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Members = %q, want %q", got, want)
	}
}

// FuzzSet checks the contract of Set on arbitrary documents: no panic, and
// on success a valid document where only the target changed.
func FuzzSet(f *testing.F) {
	seeds := []struct{ doc, key, val string }{
		{`{"log-driver": "local", "ipv6":true,"fixed-cidr-v6":"fd00:dead:beef:c0::/80"}`, "ipv6", "true"},
		{"{\n  \"a\": 1\n}\n", "b", `"x"`},
		{"{\r\n\t\"a\": {\r\n\t}\r\n}", "a", `{"k": [1, 2]}`},
		{`{}`, "k", "null"},
		{`{ }`, "k", "-1.5e3"},
		{"{\n}", "k", "\"\\u00e4\""},
		{`{"s": "{,}\"", "a": {"b": 1}}`, "a", "{\n\"c\": 2}"},
		{`[]`, "a", "1"},
		{`{"a": 1, "a": 2}`, "a", "1"},
	}
	for _, s := range seeds {
		f.Add([]byte(s.doc), s.key, []byte(s.val), false)
		f.Add([]byte(s.doc), s.key, []byte(s.val), true)
	}
	f.Fuzz(func(t *testing.T, doc []byte, key string, val []byte, nested bool) {
		path := []string{key}
		if nested {
			// Aim at the first object member, to exercise nested edits.
			ms, err := Members(doc, nil)
			if err != nil {
				return
			}
			for _, m := range ms {
				if doc[m.ValueStart] == '{' {
					path = []string{m.Key, key}
					break
				}
			}
		}
		out, changed, err := Set(doc, path, val)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Set(%q) produced invalid JSON %q", doc, out)
		}
		if err := Validate(out); err != nil {
			t.Fatalf("Set produced a document Validate rejects: %v\n%q", err, out)
		}
		if !changed && !bytes.Equal(out, doc) {
			t.Fatalf("changed = false but output differs")
		}
		raw, ok, err := Get(out, path)
		if err != nil || !ok {
			t.Fatalf("Get after Set: ok=%v err=%v", ok, err)
		}
		var got, want any
		if err := unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		if err := unmarshal(val, &want); err != nil {
			t.Fatalf("Set accepted a value encoding/json rejects: %q", val)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Get = %s, want %s", raw, val)
		}
		before, after := decode(t, doc), decode(t, out)
		setIn(before, path, want)
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("other members changed:\n in %q\nout %q", doc, out)
		}
		out2, changed2, err := Set(out, path, val)
		if err != nil || changed2 || !bytes.Equal(out2, out) {
			t.Fatalf("second Set changed something: %v %v\n%q\n%q", changed2, err, out, out2)
		}
		// Values are put on one line, and a member takes at most one new
		// line, so an edit never adds more than one line break.
		if d := bytes.Count(out, []byte("\n")) - bytes.Count(doc, []byte("\n")); d > 1 {
			t.Fatalf("edit changed the line count by %d:\n in %q\nout %q", d, doc, out)
		}
	})
}

func setIn(m map[string]any, path []string, v any) {
	for _, k := range path[:len(path)-1] {
		m = m[k].(map[string]any)
	}
	m[path[len(path)-1]] = v
}

// FuzzValidate compares Validate with encoding/json: what Validate accepts
// encoding/json accepts, and a syntax error Validate reports on UTF-8 input
// is one encoding/json reports too.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{`{}`, `{"a": [1, {"b": "\u00e4"}]}`, "{\r\n}", `{"a": 01}`, `{"a": 1,}`, `[1]`, `{"a":"\ud800"}`, `{"a": -0.0e+1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		err := Validate(doc)
		if err == nil {
			if !json.Valid(doc) {
				t.Fatalf("Validate accepts what encoding/json rejects: %q", doc)
			}
			return
		}
		var se *SyntaxError
		if errors.As(err, &se) && se.Err == nil && utf8.Valid(doc) && !strings.Contains(se.Msg, "nested") && json.Valid(doc) {
			t.Fatalf("Validate: %v, but encoding/json accepts %q", err, doc)
		}
	})
}
