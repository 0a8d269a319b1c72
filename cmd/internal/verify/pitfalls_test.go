package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/upstreamtest"
)

// testNow is the time the pitfall tests run at.
var testNow = time.Date(2026, 7, 15, 12, 0, 0, 0, time.UTC)

// stockConf is a mailcow.conf as generate_config.sh writes it (the keys
// the checks read, and a secret).
const stockConf = `# ------------------------------
# mailcow web ui configuration
# ------------------------------
MAILCOW_HOSTNAME=mail.example.org
DBPASS=stockDbPass1234
ADDITIONAL_SAN=
SKIP_LETS_ENCRYPT=n
SKIP_FTS=n
FTS_HEAP=128
FTS_PROCS=1
IPV4_NETWORK=172.22.1
IPV6_NETWORK=fd4d:6169:6c63:6f77::/64
`

// upstreamInstall builds a mailcow dir from one release's real files,
// with a stock mailcow.conf, a certificate for mail.example.org valid for
// 60 more days, an empty daemon.json and a subuid file, and returns the
// options to verify it with.
func upstreamInstall(t testing.TB, tag string) Options {
	t.Helper()
	src := upstreamtest.Tag(t, tag)
	root := t.TempDir()
	dir := filepath.Join(root, "mailcow")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "dot.gitignore" {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return writeFile(filepath.Join(dir, rel), data)
	})
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, dir, map[string]string{
		MailcowConf: stockConf,
		TLSCert:     string(makeCert(t, []string{"mail.example.org"}, testNow.AddDate(0, -1, 0), testNow.AddDate(0, 0, 60))),
	})
	writeTree(t, root, map[string]string{"etc/docker/daemon.json": "{}\n", "etc/subuid": "dockremap:165536:65536\n"})
	cfg := config.Default()
	return Options{MailcowDir: dir, Config: cfg, Now: testNow,
		DaemonJSON: filepath.Join(root, "etc/docker/daemon.json"), SubUID: filepath.Join(root, "etc/subuid")}
}

func writeFile(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

// makeCert returns a self-signed certificate for names, in PEM.
func makeCert(t testing.TB, names []string, notBefore, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// runPitfall runs one pitfall check, as Run does.
func runPitfall(t *testing.T, opt Options, name string) Check {
	t.Helper()
	for _, p := range pitfallChecks {
		if p.name == name {
			c := p.run(newMailcowFiles(opt))
			c.Name = name
			return c
		}
	}
	t.Fatalf("no pitfall check %s", name)
	return Check{}
}

func showCheck(c Check) string {
	var b strings.Builder
	b.WriteString(string(c.Status) + ": " + c.Detail + "\n")
	for _, it := range c.Items {
		b.WriteString("  - " + it + "\n")
	}
	if c.Fix != "" {
		b.WriteString("  fix: " + c.Fix + "\n")
	}
	return b.String()
}

// A stock install of every release passes every pitfall check: no false
// alarm on what mailcow ships.
func TestPitfallsStockReleases(t *testing.T) {
	dir := upstreamtest.Dir(t)
	for _, tag := range upstreamtest.Tags(t, dir) {
		t.Run(tag, func(t *testing.T) {
			opt := upstreamInstall(t, tag)
			for _, p := range pitfallChecks {
				c := runPitfall(t, opt, p.name)
				if c.Status != StatusOK && c.Status != StatusSkipped {
					t.Errorf("%s on stock %s:\n%s", p.name, tag, showCheck(c))
				}
			}
		})
	}
}

// appendFile adds text to a file of the install.
func appendFile(t testing.TB, dir, rel, text string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	old, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := writeFile(p, append(old, text...)); err != nil {
		t.Fatal(err)
	}
}

// replaceIn replaces old (which must be there) in a file of the install.
func replaceIn(t testing.TB, dir, rel, old, new string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s has no %q", rel, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// pitfallCase is an admin's edit of a real install and what one check
// must say about it.
type pitfallCase struct {
	name  string
	check string
	tags  []string
	edit  func(t *testing.T, opt *Options)
	want  Status
	// says are substrings of the check's detail, items and fix.
	says []string
}

// runPitfallCases runs each case on each of its tags: the install without
// the edit passes the check, the edited one gets the wanted status and
// says what it must.
func runPitfallCases(t *testing.T, cases []pitfallCase) {
	t.Helper()
	for _, tc := range cases {
		for _, tag := range tc.tags {
			t.Run(tc.name+"/"+tag, func(t *testing.T) {
				opt := upstreamInstall(t, tag)
				if c := runPitfall(t, opt, tc.check); c.Status != StatusOK && c.Status != StatusSkipped {
					t.Fatalf("before the edit:\n%s", showCheck(c))
				}
				tc.edit(t, &opt)
				c := runPitfall(t, opt, tc.check)
				if c.Status != tc.want {
					t.Fatalf("status %s, want %s:\n%s", c.Status, tc.want, showCheck(c))
				}
				text := showCheck(c)
				for _, s := range tc.says {
					if !strings.Contains(text, s) {
						t.Errorf("report does not say %q:\n%s", s, text)
					}
				}
				if c.Status != StatusOK && c.Fix == "" {
					t.Errorf("no fix:\n%s", text)
				}
			})
		}
	}
}
