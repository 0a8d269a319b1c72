package patch

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestPatchResultRevert: Revert puts back what each patch's writes
// replaced; reverted in reverse order, a file two patches edited ends as
// before the run; a created file is removed; a dry run or a second
// Revert has nothing to revert.
func TestPatchResultRevert(t *testing.T) {
	dir := phpTree(t)
	createPatch := "description = new map\nservices = rspamd-mailcow\n[edit m]\nfile = new.map\nkind = line\nline = 10.0.0.0/8\nmatch = ^10\\.\nposition = end\ncreate = true\n"
	ps := []*Bound{
		mustBind(t, "mem", memPatch, map[string]string{"MEMORY_LIMIT": "2G"}),
		mustBind(t, "children", childPatch, nil),
		mustBind(t, "map", createPatch, nil),
	}
	res, err := Apply(osWriter{}, dir, ps, ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			return "<none>"
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	afterMem := "[web-worker]\npm.max_children = 50\nphp_admin_value[memory_limit] = 2G\n"
	if got := read("pools.conf"); got == poolsConf {
		t.Fatal("the patches changed nothing")
	}
	// children only: pools.conf back to what mem left.
	if err := res.Patches[1].Revert(osWriter{}); err != nil {
		t.Fatal(err)
	}
	if got := read("pools.conf"); got != afterMem {
		t.Errorf("pools.conf after reverting children:\n%s\nwant\n%s", got, afterMem)
	}
	if err := res.Patches[0].Revert(osWriter{}); err != nil {
		t.Fatal(err)
	}
	if got := read("pools.conf"); got != poolsConf {
		t.Errorf("pools.conf after reverting both:\n%s", got)
	}
	if got := read("other.ini"); got != otherINI {
		t.Errorf("other.ini after reverting mem:\n%s", got)
	}
	if err := res.Patches[2].Revert(osWriter{}); err != nil {
		t.Fatal(err)
	}
	if got := read("new.map"); got != "<none>" {
		t.Errorf("the created file is still there: %q", got)
	}
	if err := res.Patches[0].Revert(osWriter{}); !errors.Is(err, ErrNothingToRevert) {
		t.Errorf("second revert: %v, want ErrNothingToRevert", err)
	}

	dry, err := Apply(&dryRecorder{}, phpTree(t), ps[:1], ModeDryRun)
	if err != nil {
		t.Fatal(err)
	}
	if err := dry.Patches[0].Revert(osWriter{}); !errors.Is(err, ErrNothingToRevert) {
		t.Errorf("dry run revert: %v, want ErrNothingToRevert", err)
	}
}
