package adopt

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/ledger"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
)

var now = time.Date(2026, 7, 19, 8, 0, 0, 0, time.UTC)

func TestMovePostfix(t *testing.T) {
	block := func(lines ...string) ledger.Block {
		b := ledger.Block{ID: "b"}
		for _, l := range lines {
			b.Lines = append(b.Lines, ledger.Line{Op: l[:1], Text: l[1:]})
		}
		return b
	}
	tests := []struct {
		name   string
		blocks []ledger.Block
		extra  string
		want   string
		err    string
	}{
		{name: "into a new extra.cf", blocks: []ledger.Block{block("-message_size_limit = 104857600", "+message_size_limit = 52428800")},
			want: "# from data/conf/postfix/main.cf (mcupdate adopt, 2026-07-19)\nmessage_size_limit = 52428800\n"},
		{name: "after the admin's own lines, a missing newline added", blocks: []ledger.Block{block("+smtpd_tls_loglevel = 1"), block("+# relay", "+relayhost = [smtp.example.org]:587")},
			extra: "mynetworks = 10.0.0.0/8",
			want:  "mynetworks = 10.0.0.0/8\n# from data/conf/postfix/main.cf (mcupdate adopt, 2026-07-19)\nsmtpd_tls_loglevel = 1\n# relay\nrelayhost = [smtp.example.org]:587\n"},
		{name: "extra.cf says it already", blocks: []ledger.Block{block("+message_size_limit = 52428800")}, extra: "message_size_limit = 52428800\n", want: "message_size_limit = 52428800\n"},
		{name: "extra.cf says otherwise, and wins", blocks: []ledger.Block{block("+message_size_limit = 52428800")}, extra: "message_size_limit = 1\n", err: "extra.cf sets message_size_limit already (= 1)"},
		{name: "a removed parameter", blocks: []ledger.Block{block("-smtpd_helo_required = yes")}, err: `"smtpd_helo_required = yes" is removed`},
		{name: "a continuation line", blocks: []ledger.Block{block("+    reject_unknown_helo_hostname,")}, err: "sets no parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := movePostfix(tt.blocks, []byte(tt.extra), now)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// install is a clone of an upstream repository with the admin's edits
// uncommitted, and a configuration path in a scratch dir.
type install struct {
	dir, up string
	cfg     *config.Config
}

func newInstall(t *testing.T, upstream, edits map[string]string, cfgText string) *install {
	t.Helper()
	root := t.TempDir()
	in := &install{dir: filepath.Join(root, "mailcow"), up: filepath.Join(root, "upstream")}
	gittest.Init(t, in.up)
	gittest.Commit(t, in.up, "mailcow 2026-05", upstream)
	gittest.Git(t, root, "clone", "-q", in.up, "mailcow")
	gittest.WriteFiles(t, in.dir, edits)
	cfgPath := filepath.Join(root, "etc", "mcupdate.ini")
	if cfgText != "" {
		gittest.WriteFiles(t, root, map[string]string{"etc/mcupdate.ini": cfgText})
	}
	c, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	in.cfg = c
	return in
}

func (in *install) make(t *testing.T) *Plan {
	t.Helper()
	p, err := Make(context.Background(), Options{MailcowDir: in.dir, Config: in.cfg, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// write applies the plan and reloads the configuration.
func (in *install) write(t *testing.T, p *Plan) {
	t.Helper()
	if _, err := p.Apply(fsx.Real{}); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(in.cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	in.cfg = c
}

func (in *install) read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(in.dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func by(p *Plan, file string) map[string]string {
	out := map[string]string{}
	for _, it := range p.Items {
		if it.File == file {
			for _, b := range it.Blocks {
				out[it.By[b.ID]+" "+it.Patch[b.ID]] = it.Why[b.ID]
			}
		}
	}
	return out
}

const pools = "[system-worker]\nphp_admin_value[memory_limit] = 256M\n\n[web-worker]\nuser = www-data\nphp_admin_value[memory_limit] = 512M\npm.max_children = 20\n"

// TestAdoptHalfDoneEdit: the php memory limit raised in pools.conf only.
// php-memory-limit would also change other.ini, so it is not taken: an
// own patch with an ini edit of [web-worker] protects the edit, and
// changes nothing.
func TestAdoptHalfDoneEdit(t *testing.T) {
	up := map[string]string{
		"data/conf/phpfpm/php-fpm.d/pools.conf":  pools,
		"data/conf/phpfpm/php-conf.d/other.ini":  "memory_limit = 512M\n",
		"data/conf/rspamd/local.d/greylist.conf": "enabled = true;\n",
	}
	in := newInstall(t, up, map[string]string{"data/conf/phpfpm/php-fpm.d/pools.conf": strings.Replace(pools, "512M", "2048M", 1)}, "")
	p := in.make(t)
	got := by(p, "data/conf/phpfpm/php-fpm.d/pools.conf")
	if _, ok := got["own patch adopted-phpfpm-php-fpm.d-pools.conf"]; !ok || len(got) != 1 {
		t.Fatalf("pools.conf protected by %v, want the own patch", got)
	}
	var src string
	for _, w := range p.Writes {
		if strings.HasSuffix(w.Path, "adopted-phpfpm-php-fpm.d-pools.conf.ini") {
			src = string(w.New)
		}
	}
	for _, want := range []string{"kind = ini\nsection = web-worker\nkey = php_admin_value[memory_limit]\nvalue = 2048M\n", "services = php-fpm-mailcow\n"} {
		if !strings.Contains(src, want) {
			t.Errorf("own patch lacks %q:\n%s", want, src)
		}
	}
	if strings.Join(p.Enable, " ") != "adopted-phpfpm-php-fpm.d-pools.conf" || !p.SetDir {
		t.Errorf("enable %v, set dir %v", p.Enable, p.SetDir)
	}
	before := in.read(t, "data/conf/phpfpm/php-conf.d/other.ini")
	in.write(t, p)
	if in.read(t, "data/conf/phpfpm/php-conf.d/other.ini") != before {
		t.Error("other.ini changed")
	}
	if p2 := in.make(t); len(p2.Items) != 0 {
		t.Errorf("a second adopt proposes %d items", len(p2.Items))
	}
	// After an update that resets pools.conf to a new upstream version,
	// the own patch puts 2048M back in [web-worker] only.
	lib, _ := patch.Library()
	own, err := patch.LoadDir(in.cfg.PatchDir)
	if err != nil {
		t.Fatal(err)
	}
	bound, _, err := patch.Resolve(patch.Settings{Enabled: in.cfg.Enabled, Params: in.cfg.Params}, lib, own)
	if err != nil {
		t.Fatal(err)
	}
	gittest.WriteFiles(t, in.dir, map[string]string{"data/conf/phpfpm/php-fpm.d/pools.conf": strings.Replace(pools, "pm.max_children = 20", "pm.max_children = 30", 1)})
	if _, err := patch.Apply(fsx.Real{}, in.dir, bound, patch.ModeApply); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(strings.Replace(pools, "pm.max_children = 20", "pm.max_children = 30", 1), "512M", "2048M", 1)
	if got := in.read(t, "data/conf/phpfpm/php-fpm.d/pools.conf"); got != want {
		t.Errorf("after the update:\n%s\nwant:\n%s", got, want)
	}
}

// TestAdoptOwnPatchShapes: an added line after a unique line, added lines
// at the end; a replaced line whose key and text are not one of a kind in
// the file cannot be anchored, and says so, now and on the next adopt.
func TestAdoptOwnPatchShapes(t *testing.T) {
	conf := "# dovecot\nprotocols = imap lmtp\nlisten = *\n\nprotocol imap {\n  mail_plugins = quota\n}\nprotocol lmtp {\n  mail_plugins = quota\n}\n"
	mine := "# dovecot\nprotocols = imap lmtp\nmail_max_userip_connections = 50\nlisten = *\n\nprotocol imap {\n  mail_plugins = quota imap_quota\n}\nprotocol lmtp {\n  mail_plugins = quota\n}\n# mine\nauth_verbose = yes\n"
	in := newInstall(t, map[string]string{"data/conf/dovecot/dovecot.conf": conf}, map[string]string{"data/conf/dovecot/dovecot.conf": mine}, "[general]\nbranch = master\n")
	p := in.make(t)
	if p.Unprotected != 1 {
		t.Fatalf("%d unprotected, want 1", p.Unprotected)
	}
	if why := by(p, "data/conf/dovecot/dovecot.conf")["none "]; why != `"  mail_plugins = quota imap_quota": the line it replaces is not one of a kind in the file` {
		t.Errorf("mail_plugins: %q", why)
	}
	var src string
	for _, w := range p.Writes {
		if strings.Contains(w.What, "own patch") {
			src = string(w.New)
		}
	}
	for _, want := range []string{
		"kind = line\nline = mail_max_userip_connections = 50\nafter = ^protocols = imap lmtp$\n",
		"kind = block\ncontent = \"\"\"\n# mine\nauth_verbose = yes\n\"\"\"\nposition = end\n",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("own patch lacks\n%s\nin:\n%s", want, src)
		}
	}
	in.write(t, p)
	if got := in.read(t, "data/conf/dovecot/dovecot.conf"); got != mine {
		t.Errorf("dovecot.conf changed:\n%s", got)
	}
	// verify counts the file covered; adopt still names the one block.
	p2 := in.make(t)
	if p2.Unprotected != 1 || len(p2.Items) != 1 || len(p2.Items[0].Blocks) != 1 || !p2.Items[0].Covered || len(p2.Writes) != 0 {
		t.Errorf("second adopt: %d unprotected, %d items, %d writes", p2.Unprotected, len(p2.Items), len(p2.Writes))
	}
}

// TestAdoptCannot: a removed line and a deleted file cannot be protected;
// adopt says why and writes nothing for them.
func TestAdoptCannot(t *testing.T) {
	in := newInstall(t, map[string]string{
		"data/conf/postfix/master.cf": "smtp inet n - n - 1 postscreen\nsubmission inet n - n - - smtpd\n",
		"data/conf/sogo/sogo.conf":    "{\n  SOGoLanguage = English;\n}\n",
	}, map[string]string{"data/conf/postfix/master.cf": "smtp inet n - n - 1 postscreen\n"}, "")
	if err := os.Remove(filepath.Join(in.dir, "data/conf/sogo/sogo.conf")); err != nil {
		t.Fatal(err)
	}
	p := in.make(t)
	if p.Unprotected != 2 {
		t.Fatalf("%d unprotected, want 2", p.Unprotected)
	}
	if why := by(p, "data/conf/postfix/master.cf")["none "]; !strings.Contains(why, "a patch cannot remove lines") {
		t.Errorf("master.cf: %q", why)
	}
	if why := by(p, "data/conf/sogo/sogo.conf")["none "]; !strings.Contains(why, "the file is deleted here") {
		t.Errorf("sogo.conf: %q", why)
	}
	if len(p.Writes) != 0 || len(p.Enable) != 0 {
		t.Errorf("writes %v, enables %v", p.Writes, p.Enable)
	}
}

// TestAdoptConfigKeepsTheAdminsFile: mcupdate.ini's comments and keys stay;
// the names join the enable line, the parameters go to new sections.
func TestAdoptConfigKeepsTheAdminsFile(t *testing.T) {
	cfg := "; my mcupdate\n[general]\nbranch = master\n\n[patches]\n; what I use\nenable = greylist-off\n"
	in := newInstall(t, map[string]string{
		"data/conf/rspamd/local.d/greylist.conf": "enabled = true;\n",
		"data/conf/sogo/sogo.conf":               "{\n    WOWorkersCount = \"20\";\n    SxVMemLimit = 384;\n}\n",
	}, map[string]string{
		"data/conf/rspamd/local.d/greylist.conf": "enabled = false;\n",
		"data/conf/sogo/sogo.conf":               "{\n    WOWorkersCount = \"40\";\n    SxVMemLimit = 384;\n}\n",
	}, cfg)
	p := in.make(t)
	in.write(t, p)
	b, err := os.ReadFile(in.cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	want := cfg[:len(cfg)-len("enable = greylist-off\n")] + "enable = greylist-off sogo-workers\n\n; added by mcupdate adopt on 2026-07-19\n\n[patch sogo-workers]\nWORKERS = 40\nVMEM_LIMIT = 384\n"
	if string(b) != want {
		t.Errorf("mcupdate.ini:\n%s\nwant:\n%s", b, want)
	}
	if p2 := in.make(t); len(p2.Items) != 0 {
		t.Errorf("a second adopt proposes %d items", len(p2.Items))
	}
}
