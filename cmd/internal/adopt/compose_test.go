package adopt

import (
	"strings"
	"testing"
)

const baseCompose = `services:
    dovecot-mailcow:
      image: ghcr.io/mailcow/dovecot:2.3
      environment:
        - LOG_LINES=9999
        - TZ=${TZ}
      ports:
        - "143:143"
      command: ["/start.sh", "-v"]
    postfix-mailcow:
      image: ghcr.io/mailcow/postfix:1.80
      dns:
        - 172.22.1.254
networks:
  mailcow-network:
    driver: bridge
`

func TestMoveCompose(t *testing.T) {
	edit := func(old, new string) string {
		if !strings.Contains(baseCompose, old) {
			t.Fatalf("%q not in the base", old)
		}
		return strings.Replace(baseCompose, old, new, 1)
	}
	override := "# my override\nservices:\n\n  dovecot-mailcow:\n    # replica\n    environment:\n      - MAILCOW_REPLICA_IP=10.0.0.2\n"
	tests := []struct {
		name, cur, override string
		want                string // the override after the move
		err                 string
	}{
		{
			name:     "a setting under an overridden service",
			cur:      edit("      image: ghcr.io/mailcow/dovecot:2.3\n", "      image: ghcr.io/mailcow/dovecot:2.3\n      mem_limit: 4g # more\n"),
			override: override,
			want:     "# my override\nservices:\n\n  dovecot-mailcow:\n    mem_limit: 4g # more\n    # replica\n    environment:\n      - MAILCOW_REPLICA_IP=10.0.0.2\n",
		},
		{
			name:     "an environment variable: added to the override's list",
			cur:      edit("        - TZ=${TZ}\n", "        - TZ=${TZ}\n        - SKIP_FTS=y\n"),
			override: override,
			want:     "# my override\nservices:\n\n  dovecot-mailcow:\n    # replica\n    environment:\n      - SKIP_FTS=y\n      - MAILCOW_REPLICA_IP=10.0.0.2\n",
		},
		{
			name:     "a changed environment value wins by name",
			cur:      edit("LOG_LINES=9999", "LOG_LINES=100"),
			override: "",
			want:     "services:\n  dovecot-mailcow:\n    environment:\n      - LOG_LINES=100\n",
		},
		{
			name:     "a service the override does not have",
			cur:      edit("      dns:\n", "      mem_limit: 1g\n      dns:\n"),
			override: override,
			want:     "# my override\nservices:\n  postfix-mailcow:\n    mem_limit: 1g\n\n  dovecot-mailcow:\n    # replica\n    environment:\n      - MAILCOW_REPLICA_IP=10.0.0.2\n",
		},
		{
			name:     "no override yet",
			cur:      edit("      dns:\n", "      mem_limit: 1g\n      dns:\n"),
			override: "",
			want:     "services:\n  postfix-mailcow:\n    mem_limit: 1g\n",
		},
		{
			name:     "an override with comments only",
			cur:      edit("      dns:\n", "      mem_limit: 1g\n      dns:\n"),
			override: "# nothing yet",
			want:     "# nothing yet\nservices:\n  postfix-mailcow:\n    mem_limit: 1g\n",
		},
		{
			name:     "an override without services",
			cur:      edit("      dns:\n", "      mem_limit: 1g\n      dns:\n"),
			override: "volumes:\n  x: {}\n",
			want:     "volumes:\n  x: {}\nservices:\n  postfix-mailcow:\n    mem_limit: 1g\n",
		},
		{
			name:     "a service of the admin's own",
			cur:      strings.Replace(baseCompose, "networks:\n", "    my-mailcow:\n      image: alpine\nnetworks:\n", 1),
			override: "",
			want:     "services:\n  my-mailcow:\n    image: alpine\n",
		},
		{
			name:     "a list compose replaces is moved whole",
			cur:      edit(`command: ["/start.sh", "-v"]`, `command: ["/start.sh", "-v", "-x"]`),
			override: "",
			want:     "services:\n  dovecot-mailcow:\n    command:\n      - \"/start.sh\"\n      - \"-v\"\n      - \"-x\"\n",
		},
		{
			name:     "a port added",
			cur:      edit("        - \"143:143\"\n", "        - \"143:143\"\n        - \"993:993\"\n"),
			override: "",
			want:     "services:\n  dovecot-mailcow:\n    ports:\n      - \"993:993\"\n",
		},
		{name: "a port changed: an override cannot remove one", cur: edit(`"143:143"`, `"1143:143"`), err: `item "143:143" is removed`},
		{name: "a dns server replaced: compose adds dns lists", cur: edit("172.22.1.254", "1.1.1.1"), err: "dns: item 172.22.1.254 is removed"},
		{name: "a setting removed", cur: edit("      image: ghcr.io/mailcow/postfix:1.80\n", ""), err: "services.postfix-mailcow.image is removed"},
		{name: "a service removed", cur: strings.Replace(baseCompose, "    postfix-mailcow:\n      image: ghcr.io/mailcow/postfix:1.80\n      dns:\n        - 172.22.1.254\n", "", 1), err: "service postfix-mailcow is removed"},
		{name: "outside services", cur: edit("driver: bridge", "driver: macvlan"), err: "top-level networks is edited"},
		{
			name: "the override decides it already", cur: edit("      image: ghcr.io/mailcow/dovecot:2.3\n", "      image: ghcr.io/mailcow/dovecot:2.3\n      mem_limit: 4g\n"),
			override: "services:\n  dovecot-mailcow:\n    mem_limit: 8g\n", err: "sets services.dovecot-mailcow.mem_limit already",
		},
		{
			name: "the override says the same already", cur: edit("      image: ghcr.io/mailcow/dovecot:2.3\n", "      image: ghcr.io/mailcow/dovecot:2.3\n      mem_limit: 4g\n"),
			override: "services:\n  dovecot-mailcow:\n    mem_limit: 4g\n", want: "services:\n  dovecot-mailcow:\n    mem_limit: 4g\n",
		},
		{
			name: "a flow mapping in the override", cur: edit("      image: ghcr.io/mailcow/dovecot:2.3\n", "      image: ghcr.io/mailcow/dovecot:2.3\n      mem_limit: 4g\n"),
			override: "services:\n  dovecot-mailcow: {environment: [A=1]}\n", err: "not a block mapping",
		},
		{
			name: "a service key with nothing under it yet", cur: edit("      image: ghcr.io/mailcow/dovecot:2.3\n", "      image: ghcr.io/mailcow/dovecot:2.3\n      mem_limit: 4g\n"),
			override: "services:\n  dovecot-mailcow:\n", want: "services:\n  dovecot-mailcow:\n    mem_limit: 4g\n",
		},
		{
			name: "four-space indentation is kept", cur: edit("      image: ghcr.io/mailcow/dovecot:2.3\n", "      image: ghcr.io/mailcow/dovecot:2.3\n      mem_limit: 4g\n"),
			override: "services:\n    postfix-mailcow:\n        dns: [1.1.1.1]\n", want: "services:\n    dovecot-mailcow:\n      mem_limit: 4g\n    postfix-mailcow:\n        dns: [1.1.1.1]\n",
		},
		{name: "nothing changed", cur: baseCompose, err: "no setting to move"},
		{name: "not YAML", cur: "services: [", err: "docker-compose.yml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := moveCompose([]byte(baseCompose), []byte(tt.cur), []byte(tt.override))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q; got:\n%s", err, tt.err, got)
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

// FuzzMoveCompose: the admin's compose file and override are hostile
// input: no panic, and a result always reads back as compose.
func FuzzMoveCompose(f *testing.F) {
	f.Add(baseCompose, strings.Replace(baseCompose, "      dns:\n", "      mem_limit: 1g\n      dns:\n", 1), "services:\n  x:\n    image: y\n")
	f.Add(baseCompose, "services: {a: &x {b: *x}}", "")
	f.Add("services:\n  a: {}\n", "services:\n  a:\n    environment: [A=1]\n", "services:\n  a:\n    environment:\n      - B=2\n")
	f.Fuzz(func(t *testing.T, base, cur, override string) {
		out, err := moveCompose([]byte(base), []byte(cur), []byte(override))
		if err != nil {
			return
		}
		if _, err := servicesNode(out); err != nil {
			t.Errorf("the override does not read back: %v\n%s", err, out)
		}
	})
}
