package verify

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParseClamdSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"104857600", 104857600, false},
		{"25M", 25 << 20, false},
		{"25m", 25 << 20, false},
		{"512K", 512 << 10, false},
		{"2G", 2 << 30, false},
		{"0", 0, false},
		{"", 0, true},
		{"M", 0, true},
		{"25MB", 0, true},
		{"-1", 0, true},
		{"9999999999G", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseClamdSize(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Errorf("ParseClamdSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestParseUCLSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"20971520", 20971520, false},
		{"20mb", 20 << 20, false},
		{"20Mb", 20 << 20, false},
		{"20m", 20e6, false},
		{"1k", 1000, false},
		{"1kb", 1024, false},
		{"1g", 1e9, false},
		{"1gb", 1 << 30, false},
		{"twenty", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseUCLSize(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Errorf("ParseUCLSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	mainCf = "# postfix\nmessage_size_limit = 52428800\nsmtpd_milters = inet:rspamd:9900,\n  message_size_limit = 1\nmessage_size_limit = 104857600\n"
	avConf = "clamav {\n  # max_size = 1;\n  servers = \"clamd:3310\";\n  max_size = 20971520;\n}\n"
	clamd  = "#MaxFileSize 1M\nStreamMaxLength 25M\nMaxScanSize 0\nMaxFileSize 100m\n"
)

func TestReadMessageSizes(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		// want: one "key=bytes@file:line" per setting, postfix first.
		want    []string
		small   []string
		wantErr string
	}{
		{
			name:  "upstream shapes: last main.cf line wins, continuation ignored",
			files: map[string]string{PostfixMainCf: mainCf, RspamdLocalAV: avConf, ClamdConf: clamd},
			want: []string{
				"message_size_limit=104857600@data/conf/postfix/main.cf:5",
				"rspamd antivirus max_size=20971520@data/conf/rspamd/local.d/antivirus.conf:4",
				"clamd StreamMaxLength=26214400@data/conf/clamav/clamd.conf:2",
				"clamd MaxFileSize=104857600@data/conf/clamav/clamd.conf:4",
				"clamd MaxScanSize=unlimited@data/conf/clamav/clamd.conf:3",
			},
			small: []string{"rspamd antivirus max_size", "clamd StreamMaxLength"},
		},
		{
			name: "extra.cf overrides main.cf; override.d's max_size wins",
			files: map[string]string{
				PostfixMainCf: mainCf, PostfixExtraCf: "smtp_address_preference = ipv4\nmessage_size_limit = 10485760\n",
				RspamdLocalAV: avConf, RspamdOverAV: "clamav {\n  max_size = 50mb;\n}\n",
				ClamdConf: "StreamMaxLength 10M\nMaxFileSize 10M\nMaxScanSize 10M\n",
			},
			want: []string{
				"message_size_limit=10485760@data/conf/postfix/extra.cf:2",
				"rspamd antivirus max_size=52428800@data/conf/rspamd/override.d/antivirus.conf:2",
				"clamd StreamMaxLength=10485760@data/conf/clamav/clamd.conf:1",
				"clamd MaxFileSize=10485760@data/conf/clamav/clamd.conf:2",
				"clamd MaxScanSize=10485760@data/conf/clamav/clamd.conf:3",
			},
		},
		{
			name:  "extra.cf without the key; clamd defaults",
			files: map[string]string{PostfixMainCf: "message_size_limit=0\n", PostfixExtraCf: "# nothing\n", ClamdConf: "LogTime yes\n"},
			want: []string{
				"message_size_limit=unlimited@data/conf/postfix/main.cf:1",
				"clamd StreamMaxLength=104857600@data/conf/clamav/clamd.conf:0",
				"clamd MaxFileSize=104857600@data/conf/clamav/clamd.conf:0",
				"clamd MaxScanSize=419430400@data/conf/clamav/clamd.conf:0",
			},
			small: []string{"clamd StreamMaxLength", "clamd MaxFileSize", "clamd MaxScanSize"},
		},
		{
			name:  "postfix default when main.cf does not set it",
			files: map[string]string{PostfixMainCf: "myhostname = mail\n"},
			want:  []string{"message_size_limit=10240000@data/conf/postfix/main.cf:0"},
		},
		{name: "no main.cf", files: map[string]string{ClamdConf: clamd}},
		{
			name:    "bad postfix value names file, line and key",
			files:   map[string]string{PostfixMainCf: "message_size_limit = $big\n"},
			wantErr: `data/conf/postfix/main.cf:1: message_size_limit: "$big" is not a number of bytes`,
		},
		{
			name:    "bad clamd value",
			files:   map[string]string{PostfixMainCf: mainCf, ClamdConf: "\nMaxScanSize lots\n"},
			wantErr: `data/conf/clamav/clamd.conf:2: MaxScanSize: "lots" is not a size`,
		},
		{
			name:    "bad rspamd value",
			files:   map[string]string{PostfixMainCf: mainCf, RspamdLocalAV: "clamav {\n max_size = 2 MB;\n}\n"},
			wantErr: `data/conf/rspamd/local.d/antivirus.conf:2: max_size: "2 MB" is not a size`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tt.files)
			m, err := ReadMessageSizes(dir)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			show := func(s SizeSetting) string {
				b := "unlimited"
				if s.Bytes != Unlimited {
					b = itoa(s.Bytes)
				}
				return s.Key + "=" + b + "@" + s.File + ":" + itoa(int64(s.Line))
			}
			if m.Postfix != nil {
				got = append(got, show(*m.Postfix))
			}
			for _, s := range m.Scanners {
				got = append(got, show(s))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("settings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			var small []string
			for _, s := range m.Small() {
				small = append(small, s.Key)
			}
			if strings.Join(small, ",") != strings.Join(tt.small, ",") {
				t.Errorf("Small() = %v, want %v", small, tt.small)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
