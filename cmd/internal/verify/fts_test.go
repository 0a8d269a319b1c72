package verify

import "testing"

func TestDovecotMB(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{{"2G", 2048}, {"2 GB", 2048}, {"512M", 512}, {"128 MB", 128}, {"1024k", 1}, {"1048577", 2}, {"1T", 1 << 20}, {"0", -1}, {"x", -1}, {"G", -1}} {
		got, ok := dovecotMB(tt.in)
		if !ok {
			got = -1
		}
		if got != tt.want {
			t.Errorf("dovecotMB(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// FuzzDovecotMB: a size dovecotMB accepts is positive, whatever a
// dovecot setting's value holds.
func FuzzDovecotMB(f *testing.F) {
	for _, s := range []string{"2G", "2 GB", "512M", "1048577", "0", "G", "9999999999999T"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if mb, ok := dovecotMB(v); ok && mb <= 0 {
			t.Fatalf("dovecotMB(%q) = %d", v, mb)
		}
	})
}
