package daemonjson

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// IPv6Env is a stubbed host: a proc root, a mailcow dir with a
// get_ipv6_support, and fake `ip`, `ping6` and `ping` on PATH that log
// their arguments.
type ipv6Env struct {
	host Host
	bin  string
	log  string
}

// controllerStub stands for update.sh's ipv6_controller.sh: only the
// function names matter to DetectIPv6.
const controllerStub = "get_ipv6_support() {\n  _probe_ipv6_connectivity() { :; }\n}\n"

func newIPv6Env(t *testing.T) *ipv6Env {
	t.Helper()
	root := t.TempDir()
	e := &ipv6Env{
		host: Host{MailcowDir: filepath.Join(root, "mailcow"), ProcRoot: filepath.Join(root, "proc"), Timeout: 2 * time.Second},
		bin:  filepath.Join(root, "bin"),
		log:  filepath.Join(root, "cmd.log"),
	}
	for _, d := range []string{filepath.Dir(filepath.Join(e.host.MailcowDir, ControllerScript)), filepath.Join(e.host.ProcRoot, "net"), filepath.Join(e.host.ProcRoot, "sys/net/ipv6/conf/all"), e.bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeMode(t, filepath.Join(e.host.MailcowDir, ControllerScript), controllerStub, 0o644)
	writeMode(t, filepath.Join(e.host.ProcRoot, "net/if_inet6"), "00000000000000000000000000000001 01 80 10 80       lo\n", 0o444)
	writeMode(t, filepath.Join(e.host.ProcRoot, "sys/net/ipv6/conf/all/disable_ipv6"), "0\n", 0o644)
	t.Setenv("PATH", e.bin)
	return e
}

func writeMode(t *testing.T, p, s string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), mode); err != nil {
		t.Fatal(err)
	}
}

// ip installs a fake `ip` printing route for `ip -6 route show default`,
// global and link for the two `ip -6 addr show scope` calls.
func (e *ipv6Env) ip(t *testing.T, route, global, link string) {
	t.Helper()
	writeMode(t, filepath.Join(e.bin, "ip"), `#!/bin/sh
echo "ip $*" >> `+e.log+`
case "$*" in
"-6 route show default") printf '%s' '`+route+`' ;;
"-6 addr show scope global") printf '%s' '`+global+`' ;;
"-6 addr show scope link") printf '%s' '`+link+`' ;;
*) echo "unexpected: $*" >&2; exit 1 ;;
esac
`, 0o755)
}

// ping installs a fake ping command (ping6, or ping) that answers for
// the addresses in ok only.
func (e *ipv6Env) ping(t *testing.T, name string, ok ...string) {
	t.Helper()
	writeMode(t, filepath.Join(e.bin, name), `#!/bin/sh
echo "`+name+` $*" >> `+e.log+`
for a in `+strings.Join(ok, " ")+`; do
  for x in "$@"; do [ "$x" = "$a" ] && exit 0; done
done
exit 1
`, 0o755)
}

func (e *ipv6Env) calls(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(e.log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

const (
	defaultRoute = "default via fe80::1 dev eth0 proto ra metric 1024 expires 1790sec hoplimit 64 pref medium\n"
	globalAddr   = "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP qlen 1000\n    inet6 2001:db8::5/64 scope global\n"
	linkAddr     = "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP qlen 1000\n    inet6 fe80::5054:ff:fe12:3456/64 scope link\n"
)

func TestDetectIPv6(t *testing.T) {
	for _, tc := range []struct {
		name          string
		setup         func(t *testing.T, e *ipv6Env)
		want          IPv6
		reason, calls string
		notCalled     string
	}{
		{name: "no if_inet6", want: IPv6No, reason: "IPv6 is disabled in the kernel", setup: func(t *testing.T, e *ipv6Env) {
			e.ip(t, defaultRoute, globalAddr, linkAddr)
			e.ping(t, "ping6", probeAddrs...)
			if err := os.Remove(filepath.Join(e.host.ProcRoot, "net/if_inet6")); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "disable_ipv6", want: IPv6No, reason: "disable_ipv6 = 1", setup: func(t *testing.T, e *ipv6Env) {
			e.ip(t, defaultRoute, globalAddr, linkAddr)
			e.ping(t, "ping6", probeAddrs...)
			writeMode(t, filepath.Join(e.host.ProcRoot, "sys/net/ipv6/conf/all/disable_ipv6"), "1\n", 0o644)
		}},
		{name: "route and ping6 answers", want: IPv6Yes, reason: "2001:4860:4860::8888 answers", setup: func(t *testing.T, e *ipv6Env) {
			e.ip(t, defaultRoute, globalAddr, linkAddr)
			e.ping(t, "ping6", probeAddrs...)
		}, calls: "ip -6 route show default\nping6 -c1 -W2 2001:4860:4860::8888"},
		{name: "route, only the second address answers to ping -6 -w2", want: IPv6Yes, reason: "2606:4700:4700::1111 answers", setup: func(t *testing.T, e *ipv6Env) {
			e.ip(t, defaultRoute, "", linkAddr)
			writeMode(t, filepath.Join(e.bin, "ping"), "#!/bin/sh\necho \"ping $*\" >> "+e.log+"\n[ \"$*\" = \"-6 -c1 -w2 2606:4700:4700::1111\" ]\n", 0o755)
		}, calls: "ip -6 route show default\nping -6 -c1 -W2 2001:4860:4860::8888\nping -6 -c1 -w2 2001:4860:4860::8888\nping -6 -c1 -W2 2606:4700:4700::1111\nping -6 -c1 -w2 2606:4700:4700::1111"},
		{name: "route but no answer is unsure", want: IPv6Unsure, reason: "answers a ping now", setup: func(t *testing.T, e *ipv6Env) {
			e.ip(t, defaultRoute, globalAddr, linkAddr)
			e.ping(t, "ping6")
		}},
		{name: "global address without a route", want: IPv6No, reason: "no default IPv6 route", setup: func(t *testing.T, e *ipv6Env) {
			e.ip(t, "", globalAddr, linkAddr)
			e.ping(t, "ping6", probeAddrs...)
		}, notCalled: "ping"},
		{name: "link-local only, no answer", want: IPv6No, reason: "only link-local", setup: func(t *testing.T, e *ipv6Env) {
			e.ip(t, "", "", linkAddr)
			e.ping(t, "ping6")
		}, calls: "ip -6 route show default\nip -6 addr show scope global\nip -6 addr show scope link\nping6 -c1 -W2 2001:4860:4860::8888\nping6 -c1 -w2 2001:4860:4860::8888\nping6 -c1 -W2 2606:4700:4700::1111\nping6 -c1 -w2 2606:4700:4700::1111"},
		{name: "link-local only, no ping command", want: IPv6No, reason: "only link-local", setup: func(t *testing.T, e *ipv6Env) {
			e.ip(t, "", "", linkAddr)
		}},
		{name: "link-local only, ping answers", want: IPv6Yes, reason: "only link-local IPv6 addresses, and", setup: func(t *testing.T, e *ipv6Env) {
			e.ip(t, "", "", linkAddr)
			e.ping(t, "ping6", "2606:4700:4700::1111")
		}},
		{name: "no address at all", want: IPv6No, reason: "no IPv6 address", setup: func(t *testing.T, e *ipv6Env) {
			e.ip(t, "", "", "")
		}},
		{name: "no ip command", want: IPv6Unsure, reason: "ip not found on PATH", setup: func(*testing.T, *ipv6Env) {}},
		{name: "ip fails", want: IPv6Unsure, reason: "exit status 2: RTNETLINK answers", setup: func(t *testing.T, e *ipv6Env) {
			writeMode(t, filepath.Join(e.bin, "ip"), "#!/bin/sh\necho 'RTNETLINK answers: Permission denied' >&2\nexit 2\n", 0o755)
		}},
		{name: "ip hangs", want: IPv6Unsure, reason: "no answer within", setup: func(t *testing.T, e *ipv6Env) {
			e.host.Timeout = 200 * time.Millisecond
			writeMode(t, filepath.Join(e.bin, "ip"), "#!/bin/sh\nexec /bin/sleep 30\n", 0o755)
		}},
		{name: "a release without get_ipv6_support", want: IPv6Unsure, reason: "does not hold the get_ipv6_support", setup: func(t *testing.T, e *ipv6Env) {
			e.ip(t, "", "", "")
			writeMode(t, filepath.Join(e.host.MailcowDir, ControllerScript), "configure_ipv6() { :; }\n", 0o644)
		}, notCalled: "ip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newIPv6Env(t)
			tc.setup(t, e)
			t0 := time.Now()
			d := DetectIPv6(context.Background(), e.host)
			if d.IPv6 != tc.want || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("DetectIPv6 = %+v, want %s with %q", d, tc.want, tc.reason)
			}
			if d.Asks() != (tc.want != IPv6No) {
				t.Errorf("Asks() = %v for %s", d.Asks(), d.IPv6)
			}
			if el := time.Since(t0); el > 5*time.Second {
				t.Errorf("took %v", el)
			}
			calls := e.calls(t)
			if tc.calls != "" && calls != tc.calls {
				t.Errorf("commands run:\n%s\nwant:\n%s", calls, tc.calls)
			}
			if tc.notCalled != "" && strings.Contains(calls, tc.notCalled) {
				t.Errorf("%s ran:\n%s", tc.notCalled, calls)
			}
		})
	}
}
