package verify

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseNet(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"192.0.2.1", "192.0.2.1/32"},
		{"[2001:db8::]/32", "2001:db8::/32"},
		{"[::1]/128", "::1/128"},
		{"[fe80::1]", "fe80::1/128"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"[::ffff:127.0.0.0]/104", "127.0.0.0/8"},
		{"[::ffff:10.0.0.0]/64", ""},
		{"fe80::1%eth0", ""},
		{"$mynetworks", ""},
		{"hash:/etc/postfix/network_table", ""},
		{"10.0.0.0/33", ""},
		{"mail.example.org", ""},
	} {
		p, ok := parseNet(tt.in)
		got := ""
		if ok {
			got = p.String()
		}
		if got != tt.want {
			t.Errorf("parseNet(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCovered(t *testing.T) {
	set := func(s string) []netip.Prefix {
		var out []netip.Prefix
		for _, f := range strings.Fields(s) {
			out = append(out, netip.MustParsePrefix(f))
		}
		return out
	}
	for _, tt := range []struct {
		p    string
		set  string
		want bool
	}{
		{"192.168.10.0/24", "192.168.0.0/16", true},
		{"192.168.10.0/24", "192.168.10.0/24", true},
		{"192.168.10.0/24", "192.168.10.0/25", false},
		{"192.168.10.0/24", "192.168.10.0/25 192.168.10.128/25", true},
		{"192.168.10.0/24", "192.168.10.0/26 192.168.10.64/26 192.168.10.128/25", true},
		{"192.168.10.0/24", "192.168.10.0/26 192.168.10.128/25", false},
		{"192.168.10.5/32", "192.168.10.0/24", true},
		{"10.0.0.0/8", "0.0.0.0/1", true},
		{"0.0.0.0/0", "0.0.0.0/1 128.0.0.0/1", true},
		{"2001:db8::/32", "2001:db8::/33 2001:db8:8000::/33", true},
		{"::/0", "0.0.0.0/0", false},
		{"10.0.0.0/8", "::/0", false},
	} {
		if got := covered(netip.MustParsePrefix(tt.p), set(tt.set)); got != tt.want {
			t.Errorf("covered(%s, %s) = %v, want %v", tt.p, tt.set, got, tt.want)
		}
	}
}

// FuzzParseNetList: whatever an admin writes in mynetworks, a map or
// ADDITIONAL_MYNETWORKS, every network read is canonical and covers
// itself, and every field is read or noted.
func FuzzParseNetList(f *testing.F) {
	f.Add("127.0.0.0/8 [::ffff:127.0.0.0]/104, [::1]/128 $x hash:/y 192.0.2.1")
	f.Add("[2001:db8::]/32,,10.0.0.0/33\n# c")
	f.Fuzz(func(t *testing.T, in string) {
		es, notes := parseNetList(in, "f")
		if len(es)+len(notes) != len(strings.FieldsFunc(in, isListSep)) {
			t.Fatalf("%d networks and %d notes for %q", len(es), len(notes), in)
		}
		for _, e := range es {
			if !e.Prefix.IsValid() || e.Prefix != e.Prefix.Masked() || e.Prefix.Addr().Is4In6() {
				t.Fatalf("%q: network %v", e.Raw, e.Prefix)
			}
			if !covered(e.Prefix, []netip.Prefix{e.Prefix}) {
				t.Fatalf("%v does not cover itself", e.Prefix)
			}
		}
		ps, n := mapNets([]byte(in))
		if len(ps) > n {
			t.Fatalf("%d networks of %d entries", len(ps), n)
		}
	})
}
