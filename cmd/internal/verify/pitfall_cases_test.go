package verify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
)

// applyPatch applies a shipped patch to the install, as 'mcupdate apply'
// does: the fix the checks propose.
func applyPatch(t *testing.T, dir, name string, params map[string]string) {
	t.Helper()
	lib, err := patch.Library()
	if err != nil {
		t.Fatal(err)
	}
	bound, _, err := patch.Resolve(patch.Settings{Enabled: []string{name}, Params: map[string]map[string]string{name: params}}, lib, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := patch.Apply(fsx.Real{}, dir, bound, patch.ModeApply); err != nil {
		t.Fatal(err)
	}
}

// The internal relay network of a real admin's runbook: postfix relays
// for it, rspamd rejects its mail.
const relayExtraCf = "# internal relays\nmynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128 [fe80::]/10 172.22.1.0/24 [fd4d:6169:6c63:6f77::]/64\n  192.168.10.0/24, 10.20.0.0/16\n"

func TestRelayNetworks(t *testing.T) {
	latest := []string{"2024-06", "2026-07a"}
	runPitfallCases(t, []pitfallCase{
		{
			name: "extra.cf mynetworks", check: CheckRelayNetworks, tags: latest, want: StatusFail,
			edit: func(t *testing.T, o *Options) { appendFile(t, o.MailcowDir, PostfixExtraCf, relayExtraCf) },
			says: []string{
				"192.168.10.0/24 (data/conf/postfix/extra.cf:2 mynetworks) is trusted by postfix, not local to rspamd",
				"10.20.0.0/16 (data/conf/postfix/extra.cf:2 mynetworks)",
				"rspamd's local networks: data/conf/rspamd/local.d/options.inc:", "mailcow_networks.map = 172.22.1.0/24 fd4d:6169:6c63:6f77::/64",
				"SPOOFED_UNAUTH", "LOCAL_ADDRS = 192.168.10.0/24 10.20.0.0/16",
			},
		},
		{
			// Before 2024-06 mailcow set no local_addrs: rspamd's default
			// covers the private ranges, not a public relay.
			name: "rspamd default local_addrs", check: CheckRelayNetworks, tags: []string{"2024-01"}, want: StatusFail,
			edit: func(t *testing.T, o *Options) {
				appendFile(t, o.MailcowDir, PostfixExtraCf, relayExtraCf+"mynetworks = 192.168.10.0/24 203.0.113.0/24\n")
			},
			says: []string{"203.0.113.0/24 (data/conf/postfix/extra.cf:4 mynetworks)", "rspamd's default local_addrs", "1 network(s) postfix relays for"},
		},
		{
			name: "ADDITIONAL_MYNETWORKS", check: CheckRelayNetworks, tags: latest, want: StatusFail,
			edit: func(t *testing.T, o *Options) {
				appendFile(t, o.MailcowDir, MailcowConf, "ADDITIONAL_MYNETWORKS=198.51.100.7,[2001:db8:1::]/48\n")
			},
			says: []string{"198.51.100.7 (mailcow.conf:13 ADDITIONAL_MYNETWORKS)", "[2001:db8:1::]/48 (mailcow.conf:13 ADDITIONAL_MYNETWORKS)"},
		},
		{
			name: "pattern file", check: CheckRelayNetworks, tags: latest, want: StatusFail,
			edit: func(t *testing.T, o *Options) {
				appendFile(t, o.MailcowDir, PostfixExtraCf, "mynetworks = 127.0.0.0/8, /opt/postfix/conf/relays.txt, $other, hash:/x\n")
				writeTree(t, o.MailcowDir, map[string]string{"data/conf/postfix/relays.txt": "# relays\n192.168.10.5\n"})
			},
			says: []string{"192.168.10.5 (data/conf/postfix/relays.txt:2 (from data/conf/postfix/extra.cf:1 mynetworks))", `"$other" is not an address or network: not checked`},
		},
		{
			// The fix: the rspamd-local-addrs patch keeps mailcow's map and
			// adds the admin's networks.
			name: "fixed by rspamd-local-addrs", check: CheckRelayNetworks, tags: latest, want: StatusOK,
			edit: func(t *testing.T, o *Options) {
				appendFile(t, o.MailcowDir, PostfixExtraCf, relayExtraCf)
				applyPatch(t, o.MailcowDir, "rspamd-local-addrs", map[string]string{"LOCAL_ADDRS": "192.168.10.0/24 10.20.0.0/16"})
			},
			says: []string{"rspamd treats all 8 network(s) postfix trusts as local"},
		},
		{
			name: "fixed by two halves in ip_wl.map", check: CheckRelayNetworks, tags: latest, want: StatusOK,
			edit: func(t *testing.T, o *Options) {
				appendFile(t, o.MailcowDir, PostfixExtraCf, "mynetworks = 192.168.10.0/24\n")
				appendFile(t, o.MailcowDir, RspamdIPWhitelist, "192.168.10.0/25\n192.168.10.128/25 # second half\n")
			},
		},
		{
			name: "patch enabled, network missing from it", check: CheckRelayNetworks, tags: latest, want: StatusFail,
			edit: func(t *testing.T, o *Options) {
				appendFile(t, o.MailcowDir, PostfixExtraCf, relayExtraCf)
				applyPatch(t, o.MailcowDir, "rspamd-local-addrs", map[string]string{"LOCAL_ADDRS": "192.168.10.0/24"})
				o.Config.Enabled = []string{"rspamd-local-addrs"}
				o.Config.Path = "/etc/mcupdate/mcupdate.ini"
			},
			says: []string{"data/conf/rspamd/custom/mcupdate_local_addrs.map (1 network(s))", "fix: add 10.20.0.0/16 to [patch rspamd-local-addrs] LOCAL_ADDRS in /etc/mcupdate/mcupdate.ini"},
		},
		{
			name: "override.d wins over local.d", check: CheckRelayNetworks, tags: latest, want: StatusFail,
			edit: func(t *testing.T, o *Options) {
				appendFile(t, o.MailcowDir, PostfixExtraCf, "mynetworks = 192.168.10.0/24\n")
				applyPatch(t, o.MailcowDir, "rspamd-local-addrs", map[string]string{"LOCAL_ADDRS": "192.168.10.0/24"})
				writeTree(t, o.MailcowDir, map[string]string{RspamdOverOptions: "local_addrs = [\"10.0.0.0/8\"];\n"})
			},
			says: []string{"rspamd's local networks: data/conf/rspamd/override.d/options.inc:1: 10.0.0.0/8"},
		},
	})
}

func TestDNSAliases(t *testing.T) {
	runPitfallCases(t, []pitfallCase{
		{
			name: "alias on a second service", check: CheckDNSAliases, tags: []string{"2024-01", "2026-07a"}, want: StatusFail,
			edit: func(t *testing.T, o *Options) {
				writeTree(t, o.MailcowDir, map[string]string{ComposeOverrideFile: "services:\n  postfix-mailcow:\n    networks:\n      mailcow-network:\n        aliases:\n          - dovecot\n"})
			},
			says: []string{"dovecot on network mailcow-network: dovecot-mailcow (alias, docker-compose.yml:", "postfix-mailcow (alias, docker-compose.override.yml:6)", "round-robin"},
		},
		{
			name: "alias names another service", check: CheckDNSAliases, tags: []string{"2026-07a"}, want: StatusFail,
			edit: func(t *testing.T, o *Options) {
				writeTree(t, o.MailcowDir, map[string]string{ComposeOverrideFile: "services:\n  dovecot-mailcow:\n    networks:\n      mailcow-network:\n        aliases: [mail, imap]\n  postfix-mailcow:\n    networks:\n      mailcow-network:\n        aliases: [mail, redis-mailcow]\n"})
			},
			says: []string{
				"mail on network mailcow-network: dovecot-mailcow (alias, docker-compose.override.yml:5) and postfix-mailcow (alias, docker-compose.override.yml:9)",
				"redis-mailcow on network mailcow-network: postfix-mailcow (alias, docker-compose.override.yml:9) and redis-mailcow (its service name, docker-compose.yml:",
				"2 DNS name(s) shared",
			},
		},
		{
			name: "own aliases repeated, a service of the admin's own", check: CheckDNSAliases, tags: []string{"2026-07a"}, want: StatusOK,
			edit: func(t *testing.T, o *Options) {
				writeTree(t, o.MailcowDir, map[string]string{ComposeOverrideFile: "services:\n  dovecot-mailcow:\n    networks:\n      mailcow-network:\n        aliases: [dovecot, imap]\n  backup:\n    image: restic\n    network_mode: host\n"})
			},
		},
	})
}

func TestExtraNetworks(t *testing.T) {
	proxy := "networks:\n  proxy:\n    external: true\n"
	runPitfallCases(t, []pitfallCase{
		{
			name: "postfix on the proxy network", check: CheckExtraNetworks, tags: []string{"2024-01", "2026-07a"}, want: StatusWarn,
			edit: func(t *testing.T, o *Options) {
				writeTree(t, o.MailcowDir, map[string]string{ComposeOverrideFile: "services:\n  nginx-mailcow:\n    networks:\n      - proxy\n  postfix-mailcow:\n    networks:\n      proxy:\n" + proxy})
			},
			says: []string{"service postfix-mailcow joins external network proxy (docker-compose.override.yml:7)", "remove postfix-mailcow from them"},
		},
		{
			name: "only nginx", check: CheckExtraNetworks, tags: []string{"2026-07a"}, want: StatusOK,
			edit: func(t *testing.T, o *Options) {
				writeTree(t, o.MailcowDir, map[string]string{ComposeOverrideFile: "services:\n  nginx-mailcow:\n    networks:\n      proxy:\n  traefik:\n    image: traefik\n    networks: [proxy]\n" + proxy})
			},
		},
	})
}

func TestOverrideDNS(t *testing.T) {
	runPitfallCases(t, []pitfallCase{
		{
			name: "dns appended", check: CheckOverrideDNS, tags: []string{"2024-01", "2026-07a"}, want: StatusWarn,
			edit: func(t *testing.T, o *Options) {
				writeTree(t, o.MailcowDir, map[string]string{ComposeOverrideFile: "services:\n  postfix-mailcow:\n    dns:\n      - 1.1.1.1\n"})
			},
			says: []string{"service postfix-mailcow sets dns 1.1.1.1 (docker-compose.override.yml:3): appended after docker-compose.yml's ${IPV4_NETWORK:-172.22.1}.254 (docker-compose.yml:", "dns: !override"},
		},
		{
			name: "dns replaced", check: CheckOverrideDNS, tags: []string{"2026-07a"}, want: StatusOK,
			edit: func(t *testing.T, o *Options) {
				writeTree(t, o.MailcowDir, map[string]string{ComposeOverrideFile: "services:\n  postfix-mailcow:\n    dns: !override\n      - 1.1.1.1\n"})
			},
		},
	})
}

func TestFTSMemory(t *testing.T) {
	extra := "# more memory for the indexer\nservice indexer-worker {\n  vsz_limit = 2G\n}\n"
	runPitfallCases(t, []pitfallCase{
		{
			name: "vsz_limit in extra.conf", check: CheckFTSMemory, tags: []string{"2025-01", "2026-07a"}, want: StatusWarn,
			edit: func(t *testing.T, o *Options) { writeTree(t, o.MailcowDir, map[string]string{DovecotExtraConf: extra}) },
			says: []string{
				"vsz_limit = 2G in service indexer-worker { } (data/conf/dovecot/extra.conf:3) has no effect",
				"data/conf/dovecot/conf.d/fts.conf:", "FTS_HEAP=128 (mailcow.conf:9)",
				"set FTS_HEAP=2048 in mailcow.conf",
			},
		},
		{
			name: "dovecot.conf includes fts.conf after extra.conf", check: CheckFTSMemory, tags: []string{"2026-07a"}, want: StatusWarn,
			edit: func(t *testing.T, o *Options) {
				writeTree(t, o.MailcowDir, map[string]string{DovecotExtraConf: extra,
					DovecotConf: "protocols = imap\n!include_try /etc/dovecot/extra.conf\n!include_try /etc/dovecot/conf.d/fts.conf\n"})
			},
			says: []string{"included after extra.conf (data/conf/dovecot/dovecot.conf:2, data/conf/dovecot/dovecot.conf:3)"},
		},
		{
			// Before 2025-01 there is no fts.conf: extra.conf's limit works.
			name: "no fts.conf", check: CheckFTSMemory, tags: []string{"2024-11"}, want: StatusOK,
			edit: func(t *testing.T, o *Options) { writeTree(t, o.MailcowDir, map[string]string{DovecotExtraConf: extra}) },
			says: []string{"takes effect"},
		},
		{
			name: "SKIP_FTS=y", check: CheckFTSMemory, tags: []string{"2026-07a"}, want: StatusOK,
			edit: func(t *testing.T, o *Options) {
				writeTree(t, o.MailcowDir, map[string]string{DovecotExtraConf: extra})
				replaceIn(t, o.MailcowDir, MailcowConf, "SKIP_FTS=n", "SKIP_FTS=y")
			},
			says: []string{"SKIP_FTS=y (mailcow.conf:8): dovecot-mailcow loads no full-text search"},
		},
		{
			name: "FTS_HEAP instead", check: CheckFTSMemory, tags: []string{"2026-07a"}, want: StatusOK,
			edit: func(t *testing.T, o *Options) {
				applyPatch(t, o.MailcowDir, "fts-heap", map[string]string{"FTS_HEAP": "2048"})
				writeTree(t, o.MailcowDir, map[string]string{DovecotExtraConf: "mail_max_userip_connections = 50\n"})
			},
			says: []string{"FTS_HEAP=2048 (mailcow.conf:9)"},
		},
	})
}

func TestPHPFPM(t *testing.T) {
	all := []string{"2024-01", "2026-07a"}
	runPitfallCases(t, []pitfallCase{
		{
			name: "memory_limit in other.ini only", check: CheckPHPFPM, tags: all, want: StatusWarn,
			edit: func(t *testing.T, o *Options) {
				replaceIn(t, o.MailcowDir, PHPOtherINI, "memory_limit = 512M", "memory_limit = 2048M")
			},
			says: []string{"memory_limit = 2048M (data/conf/phpfpm/php-conf.d/other.ini:3)", "php_admin_value[memory_limit] = 512M in [web-worker] (data/conf/phpfpm/php-fpm.d/pools.conf:28) wins", "[patch php-memory-limit] MEMORY_LIMIT = 2048M"},
		},
		{
			name: "memory_limit in both", check: CheckPHPFPM, tags: all, want: StatusOK,
			edit: func(t *testing.T, o *Options) {
				applyPatch(t, o.MailcowDir, "php-memory-limit", map[string]string{"MEMORY_LIMIT": "2048M"})
			},
			says: []string{"memory_limit is 2048M"},
		},
		{
			name: "max_children below max_spare_servers", check: CheckPHPFPM, tags: all, want: StatusFail,
			// By hand: the php-fpm-pool-size patch refuses this value.
			edit: func(t *testing.T, o *Options) {
				replaceIn(t, o.MailcowDir, PHPFPMPools, "pm.max_children = 50", "pm.max_children = 10")
			},
			says: []string{"[web-worker] pm.max_children = 10 (data/conf/phpfpm/php-fpm.d/pools.conf:20) is below pm.max_spare_servers = 15 (data/conf/phpfpm/php-fpm.d/pools.conf:23)", "php-fpm refuses to start with pool(s) web-worker"},
		},
		{
			// php-fpm refuses max_spare_servers > max_children only:
			// equal values start (fpm_conf.c).
			name: "max_children equal to max_spare_servers", check: CheckPHPFPM, tags: all, want: StatusOK,
			edit: func(t *testing.T, o *Options) {
				replaceIn(t, o.MailcowDir, PHPFPMPools, "pm.max_children = 50", "pm.max_children = 15")
			},
		},
		{
			name: "web pool renamed", check: CheckPHPFPM, tags: all, want: StatusOK,
			edit: func(t *testing.T, o *Options) {
				replaceIn(t, o.MailcowDir, PHPFPMPools, "[web-worker]", "[mailcow-web]")
			},
			says: []string{"no [web-worker] pool in data/conf/phpfpm/php-fpm.d/pools.conf: memory_limit not compared"},
		},
		{
			name: "start_servers outside the spare range", check: CheckPHPFPM, tags: all, want: StatusFail,
			edit: func(t *testing.T, o *Options) {
				replaceIn(t, o.MailcowDir, PHPFPMPools, "pm.start_servers = 2", "pm.start_servers = 5")
				replaceIn(t, o.MailcowDir, PHPOtherINI, "memory_limit = 512M", "memory_limit = 1G")
			},
			says: []string{"[system-worker] pm.start_servers = 5 (data/conf/phpfpm/php-fpm.d/pools.conf:6) is not between pm.min_spare_servers = 2 and pm.max_spare_servers = 4", "memory_limit = 1G"},
		},
	})
}

func TestUsernsRemap(t *testing.T) {
	remap := func(t *testing.T, o *Options) {
		if err := os.WriteFile(o.DaemonJSON, []byte("{\n  \"log-driver\": \"local\",\n  \"userns-remap\": \"default\"\n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []pitfallCase{
		{
			name: "remapped, files owned by the host's users", check: CheckUsernsRemap, tags: []string{"2024-01", "2026-07a"}, want: StatusWarn,
			edit: remap,
			says: []string{
				`userns-remap "default" (`, "daemon.json:3)",
				"data/conf/postfix: owned by uid", "bind-mounted into postfix-mailcow",
				"remapped root: uids 165536 to 231071", "chown -R 165536:165536", "init container",
			},
		},
		{
			name: "unknown remap user", check: CheckUsernsRemap, tags: []string{"2026-07a"}, want: StatusWarn,
			edit: func(t *testing.T, o *Options) {
				remap(t, o)
				if err := os.WriteFile(o.SubUID, []byte("someone:100000:65536\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			says: []string{"has no range for dockremap"},
		},
	}
	if os.Geteuid() == 0 {
		cases = append(cases, pitfallCase{
			name: "remapped, files owned by the remapped root", check: CheckUsernsRemap, tags: []string{"2026-07a"}, want: StatusOK,
			edit: func(t *testing.T, o *Options) {
				remap(t, o)
				err := filepath.Walk(o.MailcowDir, func(p string, _ os.FileInfo, err error) error {
					if err != nil {
						return err
					}
					return os.Lchown(p, 165536, 165536)
				})
				if err != nil {
					t.Fatal(err)
				}
			},
			says: []string{"belong to the remapped users"},
		})
	}
	if os.Geteuid() != 0 {
		// Without the range, only uid 0 is surely wrong: files of a
		// test user then pass.
		t.Log("not root: the fixed ownership is not tested")
	}
	runPitfallCases(t, cases)
	t.Run("listing is bounded", func(t *testing.T) {
		opt := upstreamInstall(t, "2026-07a")
		remap(t, &opt)
		// Every bind mount's source, as on a server.
		for _, src := range newMailcowFiles(opt).bindSources() {
			if _, err := os.Stat(filepath.Join(opt.MailcowDir, src.path)); err == nil {
				continue
			}
			if err := os.MkdirAll(filepath.Join(opt.MailcowDir, src.path), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		c := runPitfall(t, opt, CheckUsernsRemap)
		if len(c.Items) > maxOwnerItems+2 || !strings.HasPrefix(c.Items[maxOwnerItems], "and ") {
			t.Errorf("items:\n%s", showCheck(c))
		}
	})
}

func TestTLSCert(t *testing.T) {
	cert := func(names []string, days int) func(*testing.T, *Options) {
		return func(t *testing.T, o *Options) {
			writeTree(t, o.MailcowDir, map[string]string{TLSCert: string(makeCert(t, names, testNow.AddDate(0, -2, 0), testNow.AddDate(0, 0, days)))})
		}
	}
	san := func(v string, then func(*testing.T, *Options)) func(*testing.T, *Options) {
		return func(t *testing.T, o *Options) {
			replaceIn(t, o.MailcowDir, MailcowConf, "ADDITIONAL_SAN=\n", "ADDITIONAL_SAN="+v+"\n")
			if then != nil {
				then(t, o)
			}
		}
	}
	tags := []string{"2026-07a"}
	runPitfallCases(t, []pitfallCase{
		{
			name: "ADDITIONAL_SAN name missing", check: CheckTLSCert, tags: tags, want: StatusFail,
			edit: san("imap.example.org, smtp.example.org", cert([]string{"mail.example.org", "smtp.example.org"}, 60)),
			says: []string{"imap.example.org (ADDITIONAL_SAN=imap.example.org, smtp.example.org (mailcow.conf:6)) is not in the certificate", "does not cover imap.example.org", "no SNI"},
		},
		{
			name: "wildcard covers one label", check: CheckTLSCert, tags: tags, want: StatusFail,
			edit: san("imap.example.org,a.b.example.org", cert([]string{"*.example.org"}, 60)),
			says: []string{"does not cover a.b.example.org:"},
		},
		{
			name: "wildcard and per-domain names", check: CheckTLSCert, tags: tags, want: StatusOK,
			edit: san("imap.*,autodiscover.example.org", cert([]string{"*.example.org"}, 60)),
			says: []string{"imap.* (ADDITIONAL_SAN=", "one name per mail domain, not checked", "covers 2 name(s)"},
		},
		{
			// update.sh copies mailcow's example certificate into place;
			// acme-mailcow replaces it at its next run: a warning, not
			// the failure an expired certificate is.
			name: "mailcow's example certificate", check: CheckTLSCert, tags: tags, want: StatusWarn,
			edit: func(t *testing.T, o *Options) {
				old := string(makeCert(t, []string{"localhost"}, testNow.AddDate(-5, 0, 0), testNow.AddDate(-3, 0, 0)))
				writeTree(t, o.MailcowDir, map[string]string{TLSCert: old, "data/assets/ssl-example/cert.pem": old})
			},
			says: []string{"is still mailcow's example certificate", "acme-mailcow has not replaced it yet"},
		},
		{
			name: "expires soon", check: CheckTLSCert, tags: tags, want: StatusWarn,
			edit: cert([]string{"mail.example.org"}, 10),
			says: []string{"expires in 10 day(s), on 2026-07-25 (warning below 14 days: [verify] cert_min_days)", "acme-mailcow"},
		},
		{
			name: "expires soon, cert_min_days lowered", check: CheckTLSCert, tags: tags, want: StatusOK,
			edit: func(t *testing.T, o *Options) {
				cert([]string{"mail.example.org"}, 10)(t, o)
				o.Config.CertMinDays = 7
			},
		},
		{
			name: "expired", check: CheckTLSCert, tags: tags, want: StatusFail,
			edit: cert([]string{"mail.example.org"}, -1),
			says: []string{"expired on 2026-07-14"},
		},
		{
			name: "hostname changed", check: CheckTLSCert, tags: tags, want: StatusFail,
			edit: func(t *testing.T, o *Options) {
				replaceIn(t, o.MailcowDir, MailcowConf, "MAILCOW_HOSTNAME=mail.example.org", "MAILCOW_HOSTNAME=mx.example.net")
			},
			says: []string{"mx.example.net (MAILCOW_HOSTNAME=mx.example.net (mailcow.conf:4)) is not in the certificate"},
		},
		{
			name: "not a certificate", check: CheckTLSCert, tags: tags, want: StatusFail,
			edit: func(t *testing.T, o *Options) {
				writeTree(t, o.MailcowDir, map[string]string{TLSCert: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"})
			},
			says: []string{"data/assets/ssl/cert.pem: no PEM CERTIFICATE block"},
		},
	})
}
