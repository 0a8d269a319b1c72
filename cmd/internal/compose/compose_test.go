package compose

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcupdate/mcupdate/cmd/internal/upstreamtest"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]Service // Fingerprint and Line not compared
	}{
		{"empty", "", map[string]Service{}},
		{"no services", "volumes:\n  v1:\n", map[string]Service{}},
		{"null services", "services:\n", map[string]Service{}},
		{"null service", "services:\n  a:\n", map[string]Service{"a": {Name: "a"}}},
		{
			"short syntax",
			`services:
  dovecot-mailcow:
    image: ghcr.io/mailcow/dovecot:2.3.21.1-2
    mem_limit: 4g
    ports:
      - "${IMAP_PORT:-143}:143"
    volumes:
      - ./data/conf/dovecot:/etc/dovecot:z
    dns:
      - ${IPV4_NETWORK:-172.22.1}.254
    environment:
      - TZ=${TZ}
      - FLAG
`,
			map[string]Service{"dovecot-mailcow": {
				Name: "dovecot-mailcow", Image: "ghcr.io/mailcow/dovecot:2.3.21.1-2", HasImage: true, MemLimit: "4g",
				Ports: []string{"${IMAP_PORT:-143}:143"}, Volumes: []string{"./data/conf/dovecot:/etc/dovecot:z"},
				HasDNS: true, DNS: []string{"${IPV4_NETWORK:-172.22.1}.254"},
				Environment: map[string]string{"TZ": "${TZ}", "FLAG": ""},
			}},
		},
		{
			"long syntax, env map, dns string",
			`services:
  web:
    build: .
    ports:
      - target: 80
        published: 8080
        host_ip: 127.0.0.1
        protocol: tcp
      - target: 443
    volumes:
      - type: bind
        source: ./conf
        target: /etc/conf
        read_only: true
    dns: 1.1.1.1
    environment:
      A: "1"
      B:
`,
			map[string]Service{"web": {
				Name: "web", HasImage: true,
				Ports:   []string{"127.0.0.1:8080:80/tcp", "443"},
				Volumes: []string{"./conf:/etc/conf:ro"},
				HasDNS:  true, DNS: []string{"1.1.1.1"},
				Environment: map[string]string{"A": "1", "B": ""},
			}},
		},
		{
			"anchors, merge keys and x- fields",
			`x-common: &common
  image: base:1
  dns: []
  environment: &env
    TZ: UTC
x-more: &more
  mem_limit: 1g
  image: ignored:2
services:
  x-not-a-service: {}
  a:
    <<: [*common, *more]
    image: own:3
  b:
    <<: *common
    environment: *env
`,
			map[string]Service{
				"a": {Name: "a", Image: "own:3", HasImage: true, MemLimit: "1g", HasDNS: true, DNS: []string{}, Environment: map[string]string{"TZ": "UTC"}},
				"b": {Name: "b", Image: "base:1", HasImage: true, HasDNS: true, DNS: []string{}, Environment: map[string]string{"TZ": "UTC"}},
			},
		},
		{"override without image", "services:\n  dovecot-mailcow:\n    mem_limit: 2g\n",
			map[string]Service{"dovecot-mailcow": {Name: "dovecot-mailcow", MemLimit: "2g"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("docker-compose.yml", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]Service{}
			for n, s := range f.Services {
				c := *s
				c.Fingerprint, c.Line, c.Keys, c.KeyLines = "", 0, nil, nil
				got[n] = c
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseNetworks(t *testing.T) {
	in := `services:
  dovecot-mailcow:
    image: dovecot
    networks:
      mailcow-network:
        ipv4_address: 172.22.1.250
        aliases:
          - dovecot
          - imap
      proxy:
  postfix-mailcow:
    networks: [mailcow-network, other]
  host-svc:
    network_mode: host
  plain:
    image: x
  reset:
    dns: !reset []
    networks: !override
      mailcow-network:
networks:
  mailcow-network:
    driver: bridge
  proxy:
    external: true
  old:
    external:
      name: legacy
  x-skip: {}
`
	f, err := Parse("c.yml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	show := func(s *Service) string {
		var b strings.Builder
		fmt.Fprintf(&b, "has=%v mode=%q", s.HasNetworks, s.NetworkMode)
		for _, a := range s.Networks {
			fmt.Fprintf(&b, " %s@%d", a.Network, a.Line)
			for _, al := range a.Aliases {
				fmt.Fprintf(&b, " +%s@%d", al.Name, al.Line)
			}
		}
		return b.String()
	}
	want := map[string]string{
		"dovecot-mailcow": "has=true mode=\"\" mailcow-network@5 +dovecot@8 +imap@9 proxy@10",
		"postfix-mailcow": "has=true mode=\"\" mailcow-network@12 other@12",
		"host-svc":        "has=false mode=\"host\"",
		"plain":           "has=false mode=\"\"",
		"reset":           "has=true mode=\"\" mailcow-network@20",
	}
	for name, w := range want {
		if got := show(f.Services[name]); got != w {
			t.Errorf("%s: %s, want %s", name, got, w)
		}
	}
	var nets []string
	for _, n := range []string{"mailcow-network", "proxy", "old"} {
		nw := f.Networks[n]
		if nw == nil {
			t.Fatalf("network %s missing: %v", n, f.Networks)
		}
		nets = append(nets, fmt.Sprintf("%s@%d:%v", nw.Name, nw.Line, nw.External))
	}
	if got := strings.Join(nets, " "); got != "mailcow-network@22:false proxy@24:true old@26:true" || len(f.Networks) != 3 {
		t.Errorf("networks %s (%d)", got, len(f.Networks))
	}
	r := f.Services["reset"]
	if !r.Replaced["dns"] || !r.Replaced["networks"] || r.Replaced["image"] || !r.HasDNS || len(r.DNS) != 0 {
		t.Errorf("reset: replaced %v, dns %v %v", r.Replaced, r.HasDNS, r.DNS)
	}
	if l := f.Services["dovecot-mailcow"].KeyLines["networks"]; l != 4 {
		t.Errorf("KeyLines[networks] = %d, want 4", l)
	}
}

func TestAppendsDNS(t *testing.T) {
	base, err := Parse("b", []byte("services:\n  a:\n    dns: [172.22.1.254]\n  b:\n    image: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		over string
		svc  string
		want bool
	}{
		{"services:\n  a:\n    dns: [1.1.1.1]\n", "a", true},
		{"services:\n  a:\n    dns: 1.1.1.1\n", "a", true},
		{"services:\n  a:\n    dns: !override [1.1.1.1]\n", "a", false},
		{"services:\n  a:\n    dns: !reset []\n", "a", false},
		{"services:\n  a:\n    mem_limit: 1g\n", "a", false},
		{"services:\n  b:\n    dns: [1.1.1.1]\n", "b", false},
	} {
		over, err := Parse("o", []byte(tt.over))
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendsDNS(base.Services[tt.svc], over.Services[tt.svc]); got != tt.want {
			t.Errorf("%q: AppendsDNS = %v, want %v", tt.over, got, tt.want)
		}
	}
	if AppendsDNS(nil, base.Services["a"]) || AppendsDNS(base.Services["a"], nil) {
		t.Error("AppendsDNS with a nil service = true")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		line     int
		msg      string
	}{
		{"bad yaml", "services:\n  a:\n    image: a: b\n", 3, "mapping values are not allowed"},
		{"tab indent", "services:\n\ta: 1\n", 2, "found character that cannot start any token"},
		{"top level list", "- a\n- b\n", 1, "top level is a list"},
		{"services list", "services:\n  - a\n", 2, "services is a list"},
		{"service scalar", "services:\n  a: hello\n", 2, "service a is a string"},
		{"image list", "services:\n  a:\n    image: [x]\n", 3, "service a: image is a list"},
		{"ports map", "services:\n  a:\n    ports: {x: 1}\n", 3, "service a: ports is a mapping"},
		{"env nested", "services:\n  a:\n    environment:\n      - [x]\n", 4, "environment entry is a list"},
		{"merge scalar", "services:\n  a:\n    <<: 3\n", 3, "merge key << needs a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("ovr.yml", []byte(tt.in))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("errors.Is(%v, ErrSyntax) = false", err)
			}
			if e.File != "ovr.yml" || e.Line != tt.line || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got %q (line %d), want line %d containing %q", err, e.Line, tt.line, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "ovr.yml:") {
				t.Errorf("error %q does not start with the file name", err)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	a := "services:\n  s:\n    image: x\n    labels: {a: 1}\n"
	tests := []struct {
		name, b string
		same    bool
	}{
		{"comments and layout", "# hi\nservices:\n\n  s: {image: x, labels: {a: 1}} # c\n", true},
		{"label changed", "services:\n  s:\n    image: x\n    labels: {a: 2}\n", false},
		{"key added", "services:\n  s:\n    image: x\n    labels: {a: 1}\n    tty: true\n", false},
	}
	fa, err := Parse("a", []byte(a))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb, err := Parse("b", []byte(tt.b))
			if err != nil {
				t.Fatal(err)
			}
			if same := fa.Services["s"].Fingerprint == fb.Services["s"].Fingerprint; same != tt.same {
				t.Errorf("same = %v, want %v", same, tt.same)
			}
			if same := fa.Services["s"].Keys["labels"] == fb.Services["s"].Keys["labels"]; same != (tt.name != "label changed") {
				t.Errorf("labels same = %v", same)
			}
		})
	}
}

// upstreamDir locates the shared copies of real upstream files, which a
// user's checkout does not have.
func upstreamDir(t *testing.T) string { t.Helper(); return upstreamtest.Dir(t) }

func TestParseUpstream(t *testing.T) {
	dir := upstreamDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found %d upstream docker-compose.yml files in %s, want 10", len(files), dir)
	}
	for _, p := range files {
		tag := filepath.Base(filepath.Dir(p))
		t.Run(tag, func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Parse(p, data)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"dovecot-mailcow", "postfix-mailcow", "rspamd-mailcow", "mysql-mailcow", "nginx-mailcow"} {
				s := f.Services[name]
				if s == nil {
					t.Errorf("service %s missing; have %v", name, f.Names())
					continue
				}
				if !strings.Contains(s.Image, name[:strings.Index(name, "-")]) && name != "mysql-mailcow" {
					t.Errorf("%s: image %q", name, s.Image)
				}
				if s.Line == 0 || s.Fingerprint == "" {
					t.Errorf("%s: line %d, fingerprint %q", name, s.Line, s.Fingerprint)
				}
			}
			if d := f.Services["dovecot-mailcow"]; d != nil && (!d.HasDNS || len(d.DNS) == 0 || len(d.Volumes) < 5 || len(d.Ports) < 5) {
				t.Errorf("dovecot-mailcow: dns %v, %d volumes, %d ports", d.DNS, len(d.Volumes), len(d.Ports))
			}
			if d := f.Services["dovecot-mailcow"]; d != nil && (len(d.Networks) != 1 || d.Networks[0].Network != "mailcow-network" || len(d.Networks[0].Aliases) != 1 || d.Networks[0].Aliases[0].Name != "dovecot") {
				t.Errorf("dovecot-mailcow networks: %+v", d.Networks)
			}
			if nw := f.Networks["mailcow-network"]; nw == nil || nw.External {
				t.Errorf("network mailcow-network: %+v", nw)
			}
			if m := f.Services["mysql-mailcow"]; m != nil && m.Environment["MYSQL_PASSWORD"] != "${DBPASS}" {
				t.Errorf("mysql-mailcow environment: %v", m.Environment)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("services:\n  a:\n    image: x\n    ports: ['1:2']\n"))
	f.Add([]byte("x-a: &a {image: y, dns: [1.1.1.1]}\nservices:\n  b: {<<: *a, environment: {A: b}}\n"))
	f.Add([]byte("services:\n  a:\n    volumes:\n      - {type: bind, source: ., target: /x}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("services:\n  a:\n    networks:\n      n: {aliases: [x, y]}\n    dns: !override [1.1.1.1]\nnetworks:\n  n: {external: true}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tm := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("SLOW %q", data)) })
		defer tm.Stop()
		file, err := Parse("fuzz.yml", data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), "fuzz.yml") {
				t.Fatalf("error %q is not an *Error naming the file", err)
			}
			return
		}
		for n, s := range file.Services {
			if s.Name != n {
				t.Fatalf("service %q has name %q", n, s.Name)
			}
			if len(s.Networks) > 0 && !s.HasNetworks {
				t.Fatalf("service %q has networks without a networks key", n)
			}
		}
		for n, nw := range file.Networks {
			if nw.Name != n {
				t.Fatalf("network %q has name %q", n, nw.Name)
			}
		}
	})
}

func TestParseAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("x-0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "x-%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	b.WriteString("services:\n  s:\n    labels: *a9\n")
	done := make(chan error, 1)
	go func() { _, err := Parse("bomb.yml", []byte(b.String())); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "too many nodes") {
			t.Fatalf("err = %v, want too many nodes", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Parse did not stop on an alias bomb")
	}
}
