package patches

import (
	"encoding/json"
	"errors"
	"strings"
)

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

// editJSON is filled in once patches/jsonedit lands.
func editJSON(string, *boundEdit) (string, error) {
	return "", errors.New("json edits are not available yet")
}
