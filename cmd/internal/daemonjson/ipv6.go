package daemonjson

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/proc"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// IPv6 is what update.sh's get_ipv6_support would conclude on this host.
type IPv6 string

// The answers of [DetectIPv6].
const (
	// IPv6Yes: update.sh detects IPv6 and checks daemon.json.
	IPv6Yes IPv6 = "yes"
	// IPv6No: update.sh detects no IPv6, sets ENABLE_IPV6=false and
	// leaves daemon.json alone, whatever is in it.
	IPv6No IPv6 = "no"
	// IPv6Unsure: mcupdate cannot tell, or update.sh's answer may change
	// between now and its own run. Treat it as IPv6Yes: an extra key
	// costs nothing, a missing one leaves mailcow down.
	IPv6Unsure IPv6 = "unsure"
)

// Detection is the answer of [DetectIPv6] and why.
type Detection struct {
	IPv6   IPv6   `json:"ipv6"`
	Reason string `json:"reason"`
}

// Asks reports whether update.sh may check daemon.json on this host, so
// that it must pass its checks.
func (d Detection) Asks() bool { return d.IPv6 != IPv6No }

// Host is what [DetectIPv6] looks at.
type Host struct {
	// MailcowDir holds the _modules/scripts/ipv6_controller.sh update.sh
	// will source.
	MailcowDir string
	// ProcRoot is /proc; "" means /proc. Tests point it elsewhere.
	ProcRoot string
	// Timeout bounds each `ip` and ping command; 0 means 5s.
	Timeout time.Duration
}

// ControllerScript is where update.sh's IPv6 detection lives.
const ControllerScript = "_modules/scripts/ipv6_controller.sh"

// probeAddrs are the literal addresses update.sh pings (no DNS needed).
var probeAddrs = []string{"2001:4860:4860::8888", "2606:4700:4700::1111"}

// DetectIPv6 runs update.sh's get_ipv6_support (in
// _modules/scripts/ipv6_controller.sh, since 2025-09) with the same
// files and commands, found on PATH as update.sh finds them:
//
//   - no <proc>/net/if_inet6, or <proc>/sys/net/ipv6/conf/all/disable_ipv6
//     starting with 1: no IPv6;
//   - a default route (`ip -6 route show default`): IPv6 when a ping6 (or
//     ping -6) to one of two literal addresses answers;
//   - else a global address (`ip -6 addr show scope global`): no IPv6;
//   - else a link-local address (`ip -6 addr show scope link`): IPv6 when
//     the ping answers;
//   - else no IPv6.
//
// The answer is IPv6Unsure where mcupdate cannot be sure update.sh
// concludes the same minutes later: the install's ipv6_controller.sh does
// not define get_ipv6_support (an older or a changed release), `ip` is
// missing, fails or hangs, or a default route exists but the ping fails
// now (a lost packet would otherwise leave mailcow down).
func DetectIPv6(ctx context.Context, h Host) Detection {
	root := h.ProcRoot
	if root == "" {
		root = "/proc"
	}
	if h.Timeout <= 0 {
		h.Timeout = 5 * time.Second
	}
	script := filepath.Join(h.MailcowDir, ControllerScript)
	src, err := os.ReadFile(script)
	if err != nil || !bytes.Contains(src, []byte("get_ipv6_support()")) || !bytes.Contains(src, []byte("_probe_ipv6_connectivity")) {
		return Detection{IPv6Unsure, fmt.Sprintf("%s does not hold the get_ipv6_support mcupdate knows", script)}
	}

	inet6 := filepath.Join(root, "net", "if_inet6")
	fi, err := os.Stat(inet6)
	switch {
	case errors.Is(err, fs.ErrNotExist) || err == nil && !fi.Mode().IsRegular():
		return Detection{IPv6No, "no " + inet6 + ": IPv6 is disabled in the kernel"}
	case err != nil:
		return Detection{IPv6Unsure, err.Error()}
	}
	if disabled(filepath.Join(root, "sys", "net", "ipv6", "conf", "all", "disable_ipv6")) {
		return Detection{IPv6No, "net.ipv6.conf.all.disable_ipv6 = 1"}
	}

	out, err := h.run(ctx, "ip", "-6", "route", "show", "default")
	if err != nil {
		return Detection{IPv6Unsure, err.Error()}
	}
	if hasLinePrefix(out, "default") {
		if addr, ok := h.probe(ctx); ok {
			return Detection{IPv6Yes, "a default IPv6 route, and " + addr + " answers a ping"}
		}
		return Detection{IPv6Unsure, "a default IPv6 route, but neither " + strings.Join(probeAddrs, " nor ") + " answers a ping now: update.sh asks if one answers during the update"}
	}
	out, err = h.run(ctx, "ip", "-6", "addr", "show", "scope", "global")
	if err != nil {
		return Detection{IPv6Unsure, err.Error()}
	}
	if strings.Contains(out, "inet6") {
		return Detection{IPv6No, "a global IPv6 address but no default IPv6 route"}
	}
	out, err = h.run(ctx, "ip", "-6", "addr", "show", "scope", "link")
	if err != nil {
		return Detection{IPv6Unsure, err.Error()}
	}
	if strings.Contains(out, "inet6") {
		if addr, ok := h.probe(ctx); ok {
			return Detection{IPv6Yes, "only link-local IPv6 addresses, and " + addr + " answers a ping"}
		}
		return Detection{IPv6No, "only link-local IPv6 addresses, no default route, and no answer to a ping"}
	}
	return Detection{IPv6No, "no IPv6 address and no default IPv6 route"}
}

// disabled is `grep -qs '^1' FILE`.
func disabled(file string) bool {
	data, err := os.ReadFile(file)
	return err == nil && hasLinePrefix(string(data), "1")
}

func hasLinePrefix(s, prefix string) bool {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			return true
		}
	}
	return false
}

// run runs an `ip` command; update.sh reads only its stdout, but a
// command that cannot run or fails leaves mcupdate unsure.
func (h Host) run(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	cmd := proc.Command(ctx, name, args...)
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	what := name + " " + strings.Join(args, " ")
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return "", fmt.Errorf("%s: no answer within %v", what, h.Timeout)
	case errors.Is(err, exec.ErrNotFound):
		return "", fmt.Errorf("%s: %s not found on PATH", what, name)
	case err != nil:
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = "no output on stderr"
		}
		return "", fmt.Errorf("%s: %w: %s", what, err, ui.FirstLine(msg))
	}
	return stdout.String(), nil
}

// probe is update.sh's _probe_ipv6_connectivity: for each address, ping6
// (or, without it, ping -6) with -W2, then with -w2. It returns the
// address that answered.
func (h Host) probe(ctx context.Context) (string, bool) {
	var pre []string
	if _, err := exec.LookPath("ping6"); err == nil {
		pre = []string{"ping6"}
	} else if _, err := exec.LookPath("ping"); err == nil {
		pre = []string{"ping", "-6"}
	} else {
		return "", false
	}
	for _, addr := range probeAddrs {
		for _, w := range []string{"-W2", "-w2"} {
			args := append(append([]string{}, pre[1:]...), "-c1", w, addr)
			if _, err := h.run(ctx, pre[0], args...); err == nil {
				return addr, true
			}
		}
	}
	return "", false
}
