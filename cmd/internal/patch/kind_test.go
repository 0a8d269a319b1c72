package patch

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// Every kind is registered, and patches/README.md documents each with
// the keys it takes: a new kind's file cannot go undocumented.
func TestKindsDocumented(t *testing.T) {
	want := []Kind{KindINI, KindEnv, KindLine, KindBlock, KindJSON, KindFile, KindMode}
	if len(kinds) != len(want) {
		t.Errorf("%d kinds registered (%s), the test knows %d", len(kinds), kindNames(), len(want))
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "patches", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z]+)` \\| ([^|]*) \\|")
	quoted := regexp.MustCompile("`([a-z_]+)[^`]*`")
	documented := map[Kind][]string{}
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		for _, q := range quoted.FindAllStringSubmatch(m[2], -1) {
			documented[Kind(m[1])] = append(documented[Kind(m[1])], q[1])
		}
	}
	for _, k := range want {
		ek, ok := kinds[k]
		if !ok {
			t.Errorf("kind %s is not registered", k)
			continue
		}
		keys := append([]string(nil), ek.keys()...)
		for _, key := range keys {
			if key == "kind" || key == "file" {
				t.Errorf("kind %s lists %s, which every kind takes", k, key)
			}
		}
		doc := documented[k]
		sort.Strings(keys)
		sort.Strings(doc)
		if !reflect.DeepEqual(keys, doc) {
			t.Errorf("kind %s takes %s; patches/README.md documents %s", k, strings.Join(keys, ", "), strings.Join(doc, ", "))
		}
	}
}
