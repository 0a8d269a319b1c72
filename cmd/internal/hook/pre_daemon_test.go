package hook

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/config"
	"github.com/mcupdate/mcupdate/cmd/internal/daemonjson"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/gittest"
	"github.com/mcupdate/mcupdate/cmd/internal/state"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
	"github.com/mcupdate/mcupdate/cmd/internal/verify"
)

// TestPreDaemonJSONOnlyWhenUpdateShAsks: on a host where update.sh's
// get_ipv6_support finds no IPv6 (stubbed: a proc root and a fake `ip`
// and `ping6` on PATH), the pre hook leaves daemon.json as it is — absent
// or missing keys — and verify's daemon.json check is ok; where it finds
// IPv6, the pre hook adds the keys as always and verify wants them.
func TestPreDaemonJSONOnlyWhenUpdateShAsks(t *testing.T) {
	for _, tc := range []struct {
		name       string
		route      string // what `ip -6 route show default` prints
		pingOK     bool
		disabled   bool
		wantIPv6   bool
		wantStatus Status
	}{
		{name: "link-local only, no answer", pingOK: false, wantIPv6: false, wantStatus: StatusOK},
		{name: "disable_ipv6", route: "default via fe80::1 dev eth0\n", pingOK: true, disabled: true, wantIPv6: false, wantStatus: StatusOK},
		{name: "default route and an answer", route: "default via fe80::1 dev eth0\n", pingOK: true, wantIPv6: true, wantStatus: StatusChanged},
		{name: "default route, no answer now (unsure)", route: "default via fe80::1 dev eth0\n", pingOK: false, wantIPv6: true, wantStatus: StatusChanged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			inst := filepath.Join(root, "mailcow")
			gittest.Init(t, inst)
			gittest.Commit(t, inst, "release", map[string]string{
				"mailcow.conf":              "MAILCOW_HOSTNAME=mail.example.org\n",
				daemonjson.ControllerScript: "get_ipv6_support() {\n  _probe_ipv6_connectivity() { :; }\n}\n",
			})
			procRoot := filepath.Join(root, "proc")
			disable := "0\n"
			if tc.disabled {
				disable = "1\n"
			}
			files := map[string]string{
				"proc/net/if_inet6":                       "fe800000000000005054fffe12345602 02 40 20 80     eth0\n",
				"proc/sys/net/ipv6/conf/all/disable_ipv6": disable,
				"bin/docker":                              "#!/bin/sh\nif [ \"$1\" = version ]; then echo 27.5.1; fi\nexit 0\n",
				"bin/ip": "#!/bin/sh\ncase \"$*\" in\n\"-6 route show default\") printf '" + tc.route + "' ;;\n" +
					"\"-6 addr show scope link\") echo '    inet6 fe80::5054:ff:fe12:3456/64 scope link' ;;\nesac\nexit 0\n",
				"bin/ping6": "#!/bin/sh\n" + map[bool]string{true: "exit 0", false: "exit 1"}[tc.pingOK] + "\n",
			}
			for name, body := range files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("PATH", filepath.Join(root, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
			dj := filepath.Join(root, "docker", "daemon.json")
			if err := os.MkdirAll(filepath.Dir(dj), 0o755); err != nil {
				t.Fatal(err)
			}
			orig := []byte(`{"log-driver": "local"}`)
			if err := os.WriteFile(dj, orig, 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := config.Default()
			cfg.Restart = false
			var out bytes.Buffer
			env := &Env{
				MailcowDir: inst, Config: cfg, State: state.Dir{Path: filepath.Join(root, "state")}, DaemonJSON: dj,
				Sys: fsx.Real{}, UI: ui.New(&out, &out, os.Getenv), TempDir: root, ProcRoot: procRoot,
				Now: func() time.Time { return time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC) },
			}
			r, _ := Pre(context.Background(), env)
			if r == nil {
				t.Fatalf("no report:\n%s", out.String())
			}
			var step *Step
			for i := range r.Steps {
				if r.Steps[i].Name == "daemon.json" {
					step = &r.Steps[i]
				}
			}
			if step == nil || step.Status != tc.wantStatus {
				t.Fatalf("daemon.json step = %+v, want %s:\n%s", step, tc.wantStatus, out.String())
			}
			got, err := os.ReadFile(dj)
			if err != nil {
				t.Fatal(err)
			}
			backups, _ := filepath.Glob(dj + ".mcupdate-*.bak")
			if tc.wantIPv6 {
				if !strings.Contains(string(got), `"ipv6": true`) || !strings.Contains(string(got), `"fixed-cidr-v6"`) || len(backups) != 1 {
					t.Errorf("daemon.json = %s (backups %v), want the IPv6 keys for Docker 27 and a backup", got, backups)
				}
			} else {
				if !bytes.Equal(got, orig) || len(backups) != 0 {
					t.Errorf("daemon.json = %s (backups %v), want it untouched", got, backups)
				}
				if !strings.Contains(step.Message, "left alone: update.sh detects no IPv6") {
					t.Errorf("message %q", step.Message)
				}
			}

			// verify agrees, and is green on the untouched file.
			check := func() verify.Check {
				rep, _ := verify.Run(context.Background(), verify.Options{MailcowDir: inst, Config: cfg, StateDir: env.State.Path, DaemonJSON: dj, ProcRoot: procRoot})
				return *rep.Check(verify.CheckDaemonJSON)
			}
			if c := check(); c.Status != verify.StatusOK {
				t.Errorf("verify after the pre hook: %+v", c)
			}
			// Back to the original: verify fails exactly where update.sh asks.
			if err := os.WriteFile(dj, orig, 0o644); err != nil {
				t.Fatal(err)
			}
			c := check()
			if tc.wantIPv6 && c.Status != verify.StatusFail || !tc.wantIPv6 && (c.Status != verify.StatusOK || !strings.Contains(c.Detail, "not needed")) {
				t.Errorf("verify on the original daemon.json: %+v", c)
			}
		})
	}
}
