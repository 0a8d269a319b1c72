package patches

import "testing"

func TestLibraryParses(t *testing.T) {
	lib, err := Library()
	if err != nil {
		t.Fatal(err)
	}
	if len(lib) != 10 {
		t.Fatalf("got %d patches: %v", len(lib), Names(lib))
	}
}
