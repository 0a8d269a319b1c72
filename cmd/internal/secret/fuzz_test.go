package secret

import (
	"strings"
	"testing"
)

// FuzzRedactor: no value a fuzzed config file sets under a secret name
// survives in a fuzzed text, whatever surrounds it; and a secret setting
// written into the text itself is hidden with no learning at all.
func FuzzRedactor(f *testing.F) {
	f.Add([]byte("DBPASS=abcdefgh123\n"), "before abcdefgh123 after", "Sx9-relay")
	f.Add([]byte("API_KEY=\"aaaaaaab\"\nREDISPASS=aaaaaaa"), "aaaaaaaaaaaaab", "aaaaaaab")
	f.Add([]byte("#TOKEN='x y z w v'"), "'x y z w v'", "x y z")
	f.Add([]byte("smtp_sasl_password_maps = static:relay:Rel4yPassw0rd\n"), "[relay]:587 relay:Rel4yPassw0rd", "static:u:p4ssw0rd")
	f.Add([]byte("smtp_sasl_password_maps =\n    static:cont:Continued99\n"), "@@ -1 +1 @@\n-    static:cont:Continued99", "inline:{ a=b:c }")
	f.Add([]byte(`SOGoProfileURL = "mysql://mailcow:Sogodbpass1@%2Fvar/mailcow";`), "mysql://x:Sogodbpass1@y", "Sogodbpass1")
	f.Fuzz(func(t *testing.T, conf []byte, text, v string) {
		r := NewRedactor(conf)
		out := r.String(text)
		if got := string(r.Bytes([]byte(text))); got != out {
			t.Fatalf("Bytes and String differ: %q vs %q", got, out)
		}
		// A value with < or > could be formed across the edge of a
		// Redacted marker, which hides nothing of the input.
		if !strings.Contains(text, Redacted) {
			for _, s := range r.values {
				if !strings.ContainsAny(s, "<>") && !strings.Contains(Redacted, s) && strings.Contains(out, s) {
					t.Fatalf("secret %q learned from %q survives in %q (from %q)", s, conf, out, text)
				}
			}
		}
		// A secret setting in the text: its value is hidden.
		v = strings.TrimSpace(v)
		if v == "" || exempt(v) || strings.HasSuffix(v, `\`) || strings.Trim(v, "|>-") == "" || strings.ContainsAny(v, "\n\r\"'`<>#;,") || strings.Contains(text, Redacted) {
			return
		}
		for _, line := range []string{"ZZ_PASSWORD=" + v, " smtp_sasl_password_maps = " + v, "-    bindPassword = \"" + v + "\";"} {
			in := text + "\n" + line + "\n" + text
			got := r.String(in)
			if strings.Contains(got, line) || !strings.Contains(got, Redacted) {
				t.Fatalf("the setting %q survives in %q", line, got)
			}
			if len(v) >= MinLen && strings.Contains(got, v) {
				t.Fatalf("the value %q of %q survives in %q", v, line, got)
			}
		}
	})
}
