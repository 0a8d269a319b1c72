package suggest

import (
	"reflect"
	"testing"
)

// The cases are the ones the four callers meet: patch names in
// mcupdate.ini, release tags for replay, compose services in an
// override, paths asked of a snapshot.
func TestNearest(t *testing.T) {
	patches := []string{"dovecot-fts", "fts-heap", "greylist-off", "php-memory-limit", "php-upload-size", "sogo-workers"}
	tags := []string{"2025-09", "2025-10", "2025-10a", "2026-01", "2026-01a", "2026-03", "nightly-2026-01"}
	for _, tc := range []struct {
		name       string
		candidates []string
		want       []string
	}{
		{"greylist_off", patches, []string{"greylist-off"}},
		{"greylist-of", patches, []string{"greylist-off"}},
		{"php-memory", patches, []string{"php-memory-limit"}},
		// Inside another name: still meant.
		{"memory", patches, []string{"php-memory-limit"}},
		{"unrelated", patches, nil},
		// Ties: the nearer byte first, then the candidates' order.
		{"2026-02", tags, []string{"2026-01", "2026-03", "2025-09"}},
		{"2025-10b", tags, []string{"2025-10", "2025-10a", "2025-09"}},
		{"2026", tags, []string{"2026-01", "2026-01a", "2026-03"}},
		{"v1.2.3", tags, nil},
		{"2026-01", tags, []string{"2026-01", "2026-01a", "2026-03"}},
	} {
		got := Nearest(tc.name, tc.candidates, 3)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Nearest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestClosest(t *testing.T) {
	services := []string{"dovecot-mailcow", "postfix-mailcow", "watchdog-mailcow-ng"}
	for _, tc := range []struct {
		name, want string
	}{
		{"watchdog-mailcow", "watchdog-mailcow-ng"},
		{"postfix-mailcw", "postfix-mailcow"},
		{"my-app", ""},
	} {
		got, ok := Closest(tc.name, services)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Closest(%q) = %q, %v, want %q", tc.name, got, ok, tc.want)
		}
	}
}

func TestNearestPath(t *testing.T) {
	paths := []string{"data/conf/nginx/extra.conf", "data/conf/postfix/extra.cf", "data/conf/postfix/main.cf", "data/conf/rspamd/override.d/ratelimit.conf", "docker-compose.override.yml", "mailcow.conf"}
	for _, tc := range []struct {
		name string
		want string
	}{
		{"mailcow.cnf", "mailcow.conf"},
		// Only the file name typed.
		{"ratelimit.cnf", "data/conf/rspamd/override.d/ratelimit.conf"},
		{"extra.cf", "data/conf/postfix/extra.cf"},
		// A whole path is compared whole: the other extra.conf is
		// farther.
		{"data/conf/postfix/extra.conf", "data/conf/postfix/extra.cf"},
		{"/etc/passwd", ""},
	} {
		got := NearestPath(tc.name, paths, 3)
		if tc.want == "" && len(got) > 0 || tc.want != "" && (len(got) == 0 || got[0] != tc.want) {
			t.Errorf("NearestPath(%q) = %q, want %q first", tc.name, got, tc.want)
		}
	}
}

func TestMaxDistance(t *testing.T) {
	for name, want := range map[string]int{"": 3, "fts": 3, "2026-04": 3, "php-upload-size": 5, "data/conf/postfix/extra.conf": 9} {
		if got := MaxDistance(name); got != want {
			t.Errorf("MaxDistance(%q) = %d, want %d", name, got, want)
		}
	}
}
