package patch

import (
	"strings"
	"testing"
)

// Enabling a patch over an equal hand edit changes nothing in the file
// (issue 13): a block whose lines the admin wrote by hand, a size the
// service reads the same in the admin's units.
func TestEditAdoptsHandEdits(t *testing.T) {
	wl := "# Whitelist\n#10.0.0.0/8\n"
	block := "kind = block\nposition = end\ncontent = \"\"\"\n192.0.2.10\n2001:db8::/48\n\"\"\"\n"
	marked := wl + "# BEGIN mcupdate t/e\n192.0.2.10\n2001:db8::/48\n# END mcupdate t/e\n"
	clamd := "kind = line\nline = StreamMaxLength ${P|bytes}\nmatch = ^\\s*StreamMaxLength\\s\nsizes = clamd\n"
	rspamd := "kind = line\nline = max_size = ${P|bytes};\nmatch = ^\\s*max_size\\s*=\nsizes = rspamd\n"
	runEditCases(t, []editCase{
		{name: "block: the admin's lines stand for the block", edit: block,
			in: wl + "192.0.2.10\n2001:db8::/48\n", want: wl + "192.0.2.10\n2001:db8::/48\n"},
		{name: "block: blank lines and trailing blanks between them", edit: block,
			in: wl + "192.0.2.10  \n\n2001:db8::/48\n# mine\n", want: wl + "192.0.2.10  \n\n2001:db8::/48\n# mine\n"},
		{name: "block: only some of the lines: the marked block is added", edit: block,
			in: wl + "192.0.2.10\n", want: wl + "192.0.2.10\n" + strings.TrimPrefix(marked, wl)},
		{name: "block: lines apart are not the block", edit: block,
			in: wl + "192.0.2.10\n10.1.1.1\n2001:db8::/48\n", want: wl + "192.0.2.10\n10.1.1.1\n2001:db8::/48\n" + strings.TrimPrefix(marked, wl)},
		{name: "block: lines in another patch's block do not count", edit: block,
			in:   wl + "# BEGIN mcupdate other/x\n192.0.2.10\n2001:db8::/48\n# END mcupdate other/x\n",
			want: wl + "# BEGIN mcupdate other/x\n192.0.2.10\n2001:db8::/48\n# END mcupdate other/x\n" + strings.TrimPrefix(marked, wl)},
		{name: "block: its own marked block is still edited", edit: block,
			in: wl + "# BEGIN mcupdate t/e\n192.0.2.99\n# END mcupdate t/e\n", want: marked},
		{name: "clamd: 2048M written as 2G is kept", edit: clamd, in: "StreamMaxLength 2G\n", want: "StreamMaxLength 2G\n"},
		{name: "clamd: 2048M written in K is kept", edit: clamd, in: "StreamMaxLength 2097152k\n", want: "StreamMaxLength 2097152k\n"},
		{name: "clamd: another size is set in bytes", edit: clamd, in: "StreamMaxLength 25M\n", want: "StreamMaxLength 2147483648\n"},
		{name: "clamd: an unreadable size is set", edit: clamd, in: "StreamMaxLength 2X\n", want: "StreamMaxLength 2147483648\n"},
		{name: "rspamd: 2048mb is 2048M", edit: rspamd, in: "  max_size = 2048mb;\n", want: "  max_size = 2048mb;\n"},
		{name: "rspamd: 2048m is powers of 1000, not the size", edit: rspamd, in: "  max_size = 2048m;\n", want: "  max_size = 2147483648;\n"},
		{name: "rspamd: the rest of the line must be the same", edit: rspamd, in: "  max_size = 2048mb; # big\n", want: "  max_size = 2147483648;\n"},
		{name: "no sizes key: bytes only", edit: "kind = line\nline = StreamMaxLength ${P|bytes}\nmatch = ^StreamMaxLength\\s\n",
			in: "StreamMaxLength 2G\n", want: "StreamMaxLength 2147483648\n"},
	})
}

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		dialect, in string
		want        int64
		ok          bool
	}{
		{SizesBytes, "52428800", 52428800, true},
		{SizesBytes, "50M", 0, false},
		{SizesClamd, "50M", 50 << 20, true},
		{SizesClamd, "50m", 50 << 20, true},
		{SizesClamd, "2g", 2 << 30, true},
		{SizesClamd, "10K", 10 << 10, true},
		{SizesClamd, "50MB", 0, false},
		{SizesRspamd, "50mb", 50 << 20, true},
		{SizesRspamd, "50M", 50e6, true},
		{SizesRspamd, "1GB", 1 << 30, true},
		{SizesRspamd, "-1", 0, false},
		{SizesRspamd, "", 0, false},
		{SizesClamd, "99999999999999999999G", 0, false},
		{"weird", "1", 0, false},
	} {
		got, err := ParseSize(tt.dialect, tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%s, %q) = %d, %v; want %d, ok %v", tt.dialect, tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseSizesKey(t *testing.T) {
	_, err := Parse("t.ini", []byte("description = t\n[edit e]\nfile = f\nkind = line\nline = a 1\nsizes = clamdd\n"))
	if err == nil || !strings.Contains(err.Error(), `sizes = "clamdd": want bytes, clamd or rspamd`) || !strings.Contains(err.Error(), "t.ini:6") {
		t.Errorf("bad sizes: %v", err)
	}
	_, err = Parse("t.ini", []byte("description = t\n[edit e]\nfile = f\nkind = ini\nkey = a\nvalue = 1\nsizes = clamd\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown key "sizes" for kind ini`) {
		t.Errorf("sizes on an ini edit: %v", err)
	}
}

// FuzzSameSizes: never panics; symmetric; a line is the same as itself.
func FuzzSameSizes(f *testing.F) {
	for _, s := range [][2]string{{"StreamMaxLength 50M", "StreamMaxLength 52428800"}, {"max_size = 50mb;", "max_size = 52428800;"}, {"a 1 b 2k", "a 1 b 2048"}, {"99999999999999999999G", "1"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, d := range []string{SizesBytes, SizesClamd, SizesRspamd} {
			if sameSizes(d, a, b) != sameSizes(d, b, a) {
				t.Errorf("%s: not symmetric for %q, %q", d, a, b)
			}
			if sizeToken.MatchString(a) && !sameSizes(d, a, a) && sameSizes(d, a, b) {
				t.Errorf("%s: %q is not the same as itself but as %q", d, a, b)
			}
		}
	})
}
