package secret

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIsName(t *testing.T) {
	for name, want := range map[string]bool{
		"DBPASS": true, "DBROOT": true, "REDISPASS": true, "REDISMASTERPASS": true, "DOVECOT_MASTER_PASS": true,
		"API_KEY": true, "API_KEY_READ_ONLY": true, "SOGO_URL_ENCRYPTION_KEY": true, "SPAMHAUS_DQS_KEY": true,
		"ACME_TOKEN": true, "my_secret": true, "DB_PASS": true, "APIKEY": true, "PASS2": true,
		"smtp_sasl_password_maps": true, "lmtp_sasl_password_maps": true, "password": true, "enable_password": true,
		"bindPassword": true, "SOGoURLPathEncryptionKey": true, "SOGoSMTPAuthenticationPassword": true, "MYSQL_ROOT_PASSWORD": true,
		"db_password": true, "passwd": true, "ssl_key": true, "privkey": true,
		"MAILCOW_PASS_SCHEME": false, "default_pass_scheme": false, "MAILCOW_HOSTNAME": false, "DBNAME": false,
		"fts_tokenizer_generic": false, "phpfpm_keycloak_sync": false, "auth_verbose_passwords": false,
		"pm.max_children": false, "php_admin_value[memory_limit]": false, "passdb": false, "": false, "_": false,
	} {
		if got := IsName(name); got != want {
			t.Errorf("IsName(%q) = %v, want %v", name, got, want)
		}
	}
}

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
		{"short values only where named", []string{"DBPASS=12345\nAPI_KEY=n"}, "12345 n DBPASS=12345", "12345 n DBPASS=<redacted>"},
		{"not a secret key", []string{"MAILCOW_HOSTNAME=mail.example.org\nMAILCOW_PASS_SCHEME=BLF-CRYPT"}, "mail.example.org BLF-CRYPT", "mail.example.org BLF-CRYPT"},
		{"longest first", []string{"DBPASS=abcdefgh\nREDISPASS=abcdefgh-longer"}, "abcdefgh-longer", "<redacted>"},
		{"overlapping", []string{"DBPASS=xxxxxxy\nREDISPASS=xyzzzzz"}, "<xxxxxxyzzzzz>", "<<redacted>>"},
		{"overlapping self", []string{"DBPASS=aaaaaa"}, "aaaaaaaa", "<redacted>"},
		{"several confs, nil skipped", []string{"DBPASS=newPassword1", "", "DBPASS=oldPassword1"}, "oldPassword1/newPassword1", "<redacted>/<redacted>"},
		{"CRLF", []string{"DBPASS=crlfPassword\r\nX=1\r\n"}, "crlfPassword", "<redacted>"},
		{"long line before", []string{strings.Repeat("#", 2<<20) + "\nDBPASS=afterLongLine"}, "afterLongLine", "<redacted>"},
		{"no secrets", nil, "text", "text"},
		// A diff's context line names the secret itself: no conf needed.
		{"diff context line", nil, "@@ -1,3 +1,3 @@\n DBPASS=ctxPassw0rd\n-FTS_HEAP=128\n+FTS_HEAP=512\n", "@@ -1,3 +1,3 @@\n DBPASS=<redacted>\n-FTS_HEAP=128\n+FTS_HEAP=512\n"},
		{"value a text sets is hidden in all of it", nil, "relay uses Rel4yPassw0rd\nsmtp_sasl_password_maps = static:relay:Rel4yPassw0rd\n", "relay uses <redacted>\nsmtp_sasl_password_maps = <redacted>\n"},
		{"learned from another file", []string{"smtp_sasl_password_maps = static:relay:Rel4yPassw0rd"}, "x static:relay:Rel4yPassw0rd y", "x <redacted> y"},
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

// TestSettings: the secret-bearing settings of the files mailcow admins
// edit are hidden in any line, context and lost lines included; values
// that only point at a secret are kept.
func TestSettings(t *testing.T) {
	for _, tc := range []struct{ file, in, want string }{
		// mailcow.conf, compose
		{"mailcow.conf", " DBPASS=ctxPassw0rd", " DBPASS=<redacted>"},
		{"mailcow.conf", "# DBROOT='old root pw' # kept", "# DBROOT='<redacted>' # kept"},
		{"docker-compose.override.yml", "      - MYSQL_PASSWORD=composePw9", "      - MYSQL_PASSWORD=<redacted>"},
		{"docker-compose.override.yml", "      MYSQL_PASSWORD: composePw9", "      MYSQL_PASSWORD: <redacted>"},
		{"docker-compose.yml", "        - DBPASS=${DBPASS}", "        - DBPASS=${DBPASS}"},
		{"docker-compose.yml", "        - SOGO_URL_ENCRYPTION_KEY=${SOGO_URL_ENCRYPTION_KEY:-SOGoSuperSecret0}", "        - SOGO_URL_ENCRYPTION_KEY=${SOGO_URL_ENCRYPTION_KEY:-SOGoSuperSecret0}"},
		{"docker-compose.yml", `        ofelia.job-exec.phpfpm_keycloak_sync.schedule: "0 * * * * *"`, `        ofelia.job-exec.phpfpm_keycloak_sync.schedule: "0 * * * * *"`},
		// postfix
		{"main.cf", "+smtp_sasl_password_maps = static:relayuser:Rel4yPassw0rd", "+smtp_sasl_password_maps = <redacted>"},
		{"main.cf", "smtp_sasl_password_maps = inline:{ [relay]:587=user:pw12345 }", "smtp_sasl_password_maps = <redacted>"},
		{"main.cf", "smtp_sasl_password_maps = proxy:mysql:/opt/postfix/conf/sql/mysql_sasl_passwd_maps_sender_dependent.cf", "smtp_sasl_password_maps = proxy:mysql:/opt/postfix/conf/sql/mysql_sasl_passwd_maps_sender_dependent.cf"},
		{"main.cf", "smtp_sasl_password_maps = hash:/opt/postfix/conf/sasl_passwd", "smtp_sasl_password_maps = hash:/opt/postfix/conf/sasl_passwd"},
		{"main.cf", "smtpd_tls_key_file = /etc/ssl/mail/key.pem", "smtpd_tls_key_file = /etc/ssl/mail/key.pem"},
		{"main.cf", "smtp_sasl_password_maps =\n    static:cont:Continued99\nrelayhost = [smtp.example.org]:587", "smtp_sasl_password_maps =\n    <redacted>\nrelayhost = [smtp.example.org]:587"},
		{"main.cf diff", "@@ -1,4 +1,4 @@\n smtp_sasl_password_maps =\n-    static:cont:OldCont99\n+    static:cont:NewCont99\n relayhost = x", "@@ -1,4 +1,4 @@\n smtp_sasl_password_maps =\n-    <redacted>\n+    <redacted>\n relayhost = x"},
		{"main.cf diff, context continuation", "@@ -1,3 +1,3 @@\n smtp_sasl_password_maps =\n      static:cont:Ctx12345\n-relayhost = a\n+relayhost = b", "@@ -1,3 +1,3 @@\n smtp_sasl_password_maps =\n      <redacted>\n-relayhost = a\n+relayhost = b"},
		{"lost lines", "-smtp_sasl_password_maps =\n-    static:cont:Lost12345", "-smtp_sasl_password_maps =\n-    <redacted>"},
		{"master.cf", "  -o smtp_sasl_password_maps=static:u:ZZtopSecret -o smtp_sasl_auth_enable=yes", "  -o smtp_sasl_password_maps=<redacted> -o smtp_sasl_auth_enable=yes"},
		{"sql/relay.cf", "password = SqlPassw0rd", "password = <redacted>"},
		// dovecot
		{"dovecot extra.conf", "  connect = host=/var/run/mysqld/mysqld.sock dbname=mailcow user=mailcow password=Dov3cotPw", "  connect = host=/var/run/mysqld/mysqld.sock dbname=mailcow user=mailcow password=<redacted>"},
		{"dovecot extra.conf", "  args = /etc/dovecot/ldap.conf.ext password=Xargs1234 other=1", "  args = /etc/dovecot/ldap.conf.ext password=<redacted> other=1"},
		{"dovecot extra.conf", "dnpass = LdapDnPass1", "dnpass = <redacted>"},
		{"dovecot", "ssl_key = </etc/ssl/mail/key.pem", "ssl_key = </etc/ssl/mail/key.pem"},
		{"dovecot", "auth_verbose_passwords = no", "auth_verbose_passwords = no"},
		{"dovecot", "    fts_tokenizer_generic = algorithm=simple maxlen=30", "    fts_tokenizer_generic = algorithm=simple maxlen=30"},
		// rspamd worker-controller.inc
		{"worker-controller.inc", `password = "$2$abcdefghijklmnop$qrstuvwxyz";`, `password = "<redacted>";`},
		{"worker-controller.inc", `enable_password = "Enable1234";`, `enable_password = "<redacted>";`},
		{"worker-controller.inc", `  password = "${REDISPASS}";`, `  password = "${REDISPASS}";`},
		// SOGo
		{"sogo.conf", `    bindPassword = "LdapBind99";`, `    bindPassword = "<redacted>";`},
		{"sogo.conf", `    SOGoProfileURL = "mysql://mailcow:Sogodbpass1@%2Fvar%2Frun%2Fmysqld%2Fmysqld.sock/mailcow/sogo_user_profile";`, `    SOGoProfileURL = "mysql://mailcow:<redacted>@%2Fvar%2Frun%2Fmysqld%2Fmysqld.sock/mailcow/sogo_user_profile";`},
		{"sogo.conf", `      viewURL = "mysql://mailcow:Sogodbpass1@mysql:3306/mailcow/_sogo_static_view";`, `      viewURL = "mysql://mailcow:<redacted>@mysql:3306/mailcow/_sogo_static_view";`},
		{"sogo.conf", `    //SOGoURLPathEncryptionKey = "SOGoSuperSecret0";`, `    //SOGoURLPathEncryptionKey = "<redacted>";`},
		{"sogo.conf", `    SOGoPasswordChangeEnabled = NO;`, `    SOGoPasswordChangeEnabled = NO;`},
		{"sogo.conf", `    SOGoSMTPAuthenticationPassword = smtpPw1234;`, `    SOGoSMTPAuthenticationPassword = <redacted>;`},
		// JSON, PHP
		{"json", `  "api_key": "jsonkey12345",`, `  "api_key": "<redacted>",`},
		{"vars.local.inc.php", `$CONF['db_password'] = 'phpPass123';`, `$CONF['db_password'] = '<redacted>';`},
		{"php", `  'password' => 'arrPass123',`, `  'password' => '<redacted>',`},
		// Not settings
		{"message", "key added by the update: API_KEY=<redacted>", "key added by the update: API_KEY=<redacted>"},
		{"message", "/etc/m.ini:5: [patch db] DB_PASS: the value holds a NUL byte", "/etc/m.ini:5: [patch db] DB_PASS: the value holds a NUL byte"},
		{"rspamd", `whitelisted_ip = "http://nginx:8081/forwardinghosts.php";`, `whitelisted_ip = "http://nginx:8081/forwardinghosts.php";`},
		{"pools.conf", "php_admin_value[memory_limit] = 512M", "php_admin_value[memory_limit] = 512M"},
	} {
		if got := NewRedactor().String(tc.in); got != tc.want {
			t.Errorf("%s:\n  %q\n→ %q\nwant %q", tc.file, tc.in, got, tc.want)
		}
	}
}

// TestUpstreamFilesKept: the real config files of mailcow's releases
// hold no secret of their own; the redactor must leave every line of them
// as it is but the few that set one (the commented-out SOGo example key).
func TestUpstreamFilesKept(t *testing.T) {
	root := filepath.Join("..", "..", "..", "shared", "upstream")
	if _, err := os.Stat(root); err != nil {
		t.Skip("../shared/upstream is absent")
	}
	files, changed := 0, 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil || bytes.IndexByte(data, 0) >= 0 {
			return err
		}
		files++
		out := NewRedactor(data).String(string(data))
		if out == string(data) {
			return nil
		}
		a, b := strings.Split(string(data), "\n"), strings.Split(out, "\n")
		for i := range a {
			if a[i] == b[i] {
				continue
			}
			changed++
			if !strings.Contains(a[i], "SOGoURLPathEncryptionKey") && !strings.Contains(a[i], "SOGoSuperSecret0") {
				t.Errorf("%s:%d: %q redacted as %q", p, i+1, a[i], b[i])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d upstream files, %d lines redacted", files, changed)
}

func TestRedactorNil(t *testing.T) {
	var r *Redactor
	if r.String("DBPASS") != "DBPASS" || !bytes.Equal(r.Bytes([]byte("x")), []byte("x")) || r.Len() != 0 {
		t.Error("nil Redactor changed its input")
	}
	if got := r.String("DBPASS=nilPassword"); got != "DBPASS=<redacted>" {
		t.Errorf("nil Redactor: %q: a setting's rule applies without learned values", got)
	}
	if r.Learn(nil).Len() != 0 || r.Learn([]byte("DBPASS=learned123")).Len() != 1 {
		t.Error("Learn")
	}
}

// BenchmarkLearn reads a 50 MB mailcow.conf of settings, the worst a
// hostile one can be for the redactor (every line a KEY=VALUE).
func BenchmarkLearn(b *testing.B) {
	var conf bytes.Buffer
	for i := 0; conf.Len() < 50<<20; i++ {
		conf.WriteString("PADDING_VARIABLE_" + strings.Repeat("X", i%7) + "=some value of a huge mailcow.conf\n")
	}
	conf.WriteString("DBPASS=endOfHugeConf\n")
	b.SetBytes(int64(conf.Len()))
	b.ResetTimer()
	for b.Loop() {
		if r := NewRedactor(conf.Bytes()); r.Len() != 1 {
			b.Fatalf("learned %d values", r.Len())
		}
	}
}

// TestSecretWordIn: every name IsName takes holds a word secretWordIn
// finds, so that its shortcut skips no secret setting.
func TestSecretWordIn(t *testing.T) {
	names := []string{"DBPASS", "DBROOT", "dbroot", "API_KEY_READ_ONLY", "smtp_sasl_password_maps", "bindPassword",
		"SOGoURLPathEncryptionKey", "REDISPASS", "MAILCOW_PASSPHRASE2", "client_secret", "access-token", "x.passwd"}
	for _, w := range secretWords {
		names = append(names, w, strings.ToLower(w), "my_"+w+"9")
	}
	for _, n := range names {
		if !IsName(n) {
			t.Errorf("precondition: IsName(%q) is false", n)
		}
		if !secretWordIn("  " + n + " = value") {
			t.Errorf("secretWordIn misses %q", n)
		}
	}
	for _, l := range []string{"", "ab", "hostname = mail.example.org", "MAILCOW_HOSTNAME=mx", `"port": 25,`} {
		if secretWordIn(l) {
			t.Errorf("secretWordIn(%q) = true", l)
		}
	}
}

// TestJoin: r.Join(NewRedactor(texts…)) hides what r.Learn(texts…) does.
func TestJoin(t *testing.T) {
	a := []byte("DBPASS=aaaaaaaaaaaa\nREDISPASS=bbbbbbbbbbbb\n")
	b := []byte("password = cccccccccccc\nDBPASS=aaaaaaaaaaaa\n")
	c := []byte("api_key = dddddddddddd\n")
	for _, r := range []*Redactor{nil, NewRedactor(), NewRedactor(a), NewRedactor(c), NewRedactor(a, c)} {
		for _, texts := range [][][]byte{nil, {a}, {b}, {b, c}} {
			vals := func(r *Redactor) string {
				if r == nil {
					return ""
				}
				return strings.Join(r.values, ",")
			}
			if want, got := vals(r.Learn(texts...)), vals(r.Join(NewRedactor(texts...))); got != want {
				t.Errorf("Join %v, Learn %v", got, want)
			}
		}
	}
}
