package patch

import "testing"

// TestMaskDiff: the dry-run diff of a changed password shows neither the
// new one (a secret parameter) nor the old one (the file's old line).
func TestMaskDiff(t *testing.T) {
	m := newMasker(map[string]string{"DB_PASS": "newSecret1", "HOST": "db.example.org"})
	diff := "--- a/f.cf\n+++ b/f.cf\n@@ -1,3 +1,3 @@\n host = x\n-password = oldSecret0\n+password = newSecret1\n-- removed, starts with dashes\n"
	want := "--- a/f.cf\n+++ b/f.cf\n@@ -1,3 +1,3 @@\n host = x\n-password = ********\n+password = ********\n-********\n"
	if got := m.maskDiff(diff); got != want {
		t.Errorf("maskDiff:\n%s\nwant\n%s", got, want)
	}
	if got := newMasker(map[string]string{"HOST": "db"}).maskDiff(diff); got != diff {
		t.Errorf("a patch without secrets had its diff changed:\n%s", got)
	}
}
