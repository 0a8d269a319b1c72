package patch

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/jsonedit"
)

// KindJSON sets the value at a key path of a JSON file, keeping its
// layout.
const KindJSON Kind = "json"

func init() { register(KindJSON, jsonKind{}) }

type jsonKind struct{}

func (jsonKind) keys() []string { return []string{"path", "value", "missing"} }

func (jsonKind) parse(e *Edit, s *editSection) {
	p := s.need("path")
	e.JSONText = s.need("value")
	if p != "" {
		jp, err := parseJSONPath(p)
		if err != nil {
			s.errorf("path", "path = %q: %v", p, err)
		}
		e.Path = jp
	}
}

func (jsonKind) check(be *boundEdit, c *binding) {
	v := c.expand("value", be.JSONText)
	if !json.Valid([]byte(v)) {
		c.errorf("value", "%w: [edit %s] value is not a JSON literal (strings need quotes: \"text\")", ErrSyntax, be.Name)
	}
	be.json = json.RawMessage(v)
}

func (jsonKind) apply(s string, be *boundEdit) (string, error) { return editJSON(s, be) }

// parseJSONPath reads a json edit's path: keys separated by dots, or a
// JSON array of strings for keys that hold dots.
func parseJSONPath(p string) ([]string, error) {
	if strings.HasPrefix(strings.TrimSpace(p), "[") {
		var keys []string
		if err := json.Unmarshal([]byte(p), &keys); err != nil {
			return nil, errors.New(`want a JSON array of strings such as ["a.b", "c"]`)
		}
		if len(keys) == 0 {
			return nil, errors.New("empty path")
		}
		return keys, nil
	}
	keys := strings.Split(p, ".")
	for _, k := range keys {
		if k == "" {
			return nil, errors.New(`empty key; write keys with dots as a JSON array such as ["a.b", "c"]`)
		}
	}
	return keys, nil
}

// jsonPathString shows a path as the patch wrote it.
func jsonPathString(p []string) string {
	b, _ := json.Marshal(p)
	return string(b)
}

// editJSON sets the value at a key path, keeping the document's layout and
// key order. The key must exist unless missing = add; the objects above it
// must exist in any case.
func editJSON(s string, be *boundEdit) (string, error) {
	_, ok, err := jsonedit.Get([]byte(s), be.Path)
	switch {
	case errors.Is(err, jsonedit.ErrNoParent):
		return "", &AnchorError{Anchor: "JSON key " + jsonPathString(be.Path) + ": " + err.Error(), Err: ErrAnchorMissing}
	case err != nil:
		return "", fmt.Errorf("JSON key %s: %w", jsonPathString(be.Path), err)
	case !ok && !be.Add:
		return "", missing("JSON key %s", jsonPathString(be.Path))
	}
	out, changed, err := jsonedit.Set([]byte(s), be.Path, be.json)
	if err != nil {
		return "", fmt.Errorf("JSON key %s: %w", jsonPathString(be.Path), err)
	}
	if !changed {
		return s, nil
	}
	return string(out), nil
}
