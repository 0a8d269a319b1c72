package risk

import (
	"bytes"
	"strings"
	"testing"
)

func TestRedactor(t *testing.T) {
	tests := []struct {
		name  string
		confs []string
		in    string
		want  string
	}{
		{"password", []string{"DBPASS=abcdefgh123\n"}, "pw abcdefgh123 end", "pw <redacted> end"},
		{"every occurrence", []string{"DBPASS=abcdefgh123"}, "abcdefgh123abcdefgh123", "<redacted><redacted>"},
		{"quoted, export, spaces", []string{`export API_KEY = "k3y-value-xyz"`}, `key "k3y-value-xyz"`, `key "<redacted>"`},
		{"single quotes", []string{"REDISPASS='r3disPass'"}, "r3disPass", "<redacted>"},
		{"commented out", []string{"#API_KEY=OldApiKey9999"}, "x OldApiKey9999", "x <redacted>"},
		{"inline comment", []string{"SOGO_URL_ENCRYPTION_KEY=Abcdefghijklmnop # generated"}, "Abcdefghijklmnop", "<redacted>"},
		{"DBROOT", []string{"DBROOT=RootRootRoot"}, "RootRootRoot", "<redacted>"},
		{"lower-case name, secret/token", []string{"my_secret=s3cr3tValue\nACME_TOKEN=t0kenValue"}, "s3cr3tValue t0kenValue", "<redacted> <redacted>"},
		{"short values kept", []string{"DBPASS=12345\nAPI_KEY=n"}, "12345 n", "12345 n"},
		{"not a secret key", []string{"MAILCOW_HOSTNAME=mail.example.org\nMAILCOW_PASS_SCHEME=BLF-CRYPT"}, "mail.example.org BLF-CRYPT", "mail.example.org BLF-CRYPT"},
		{"longest first", []string{"DBPASS=abcdefgh\nREDISPASS=abcdefgh-longer"}, "abcdefgh-longer", "<redacted>"},
		{"overlapping", []string{"DBPASS=xxxxxxy\nREDISPASS=xyzzzzz"}, "<xxxxxxyzzzzz>", "<<redacted>>"},
		{"overlapping self", []string{"DBPASS=aaaaaa"}, "aaaaaaaa", "<redacted>"},
		{"several confs, nil skipped", []string{"DBPASS=newPassword1", "", "DBPASS=oldPassword1"}, "oldPassword1/newPassword1", "<redacted>/<redacted>"},
		{"CRLF", []string{"DBPASS=crlfPassword\r\nX=1\r\n"}, "crlfPassword", "<redacted>"},
		{"long line before", []string{strings.Repeat("#", 2<<20) + "\nDBPASS=afterLongLine"}, "afterLongLine", "<redacted>"},
		{"no secrets", nil, "text", "text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var confs [][]byte
			for _, c := range tt.confs {
				confs = append(confs, []byte(c))
			}
			r := NewRedactor(confs...)
			if got := r.String(tt.in); got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := r.Bytes([]byte(tt.in)); string(got) != tt.want {
				t.Errorf("Bytes(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactorNil(t *testing.T) {
	var r *Redactor
	if r.String("DBPASS") != "DBPASS" || !bytes.Equal(r.Bytes([]byte("x")), []byte("x")) || r.Len() != 0 {
		t.Error("nil Redactor changed its input")
	}
}

// FuzzRedactor checks that no secret of a fuzzed mailcow.conf survives in
// a fuzzed text, whatever surrounds it.
func FuzzRedactor(f *testing.F) {
	f.Add([]byte("DBPASS=abcdefgh123\n"), "before abcdefgh123 after")
	f.Add([]byte("API_KEY=\"aaaaaaab\"\nREDISPASS=aaaaaaa"), "aaaaaaaaaaaaab")
	f.Add([]byte("#TOKEN='x y z w v'"), "'x y z w v'")
	f.Fuzz(func(t *testing.T, conf []byte, text string) {
		r := NewRedactor(conf)
		out := r.String(text)
		if got := string(r.Bytes([]byte(text))); got != out {
			t.Fatalf("Bytes and String differ: %q vs %q", got, out)
		}
		for _, line := range lines(conf) {
			key, raw, ok := assignment(line, true)
			if !ok || !IsSecretKey(key) {
				continue
			}
			v := unquote(raw)
			if len(v) < MinSecretLen {
				continue
			}
			// A value with < or > could be formed across the edge of
			// a Redacted marker, which hides nothing of the input.
			if strings.ContainsAny(v, "<>") || strings.Contains(Redacted, v) || strings.Contains(text, Redacted) {
				continue
			}
			if strings.Contains(out, v) {
				t.Fatalf("secret %q of %q survives in %q (from %q)", v, key, out, text)
			}
		}
	})
}
