package daemonjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ensure")

// shapes are daemon.json files as admins write them.
var shapes = []struct{ name, in string }{
	{"oneline", `{"log-driver": "local", "ipv6":true,"fixed-cidr-v6":"fd00:dead:beef:c0::/80"}`},
	{"oneline-newline", `{"log-driver": "local", "log-opts": {"max-size": "10m"}}` + "\n"},
	{"userns-remap", "{\n  \"userns-remap\": \"default\",\n  \"log-driver\": \"json-file\",\n  \"log-opts\": {\n    \"max-size\": \"10m\",\n    \"max-file\": \"3\"\n  }\n}\n"},
	{"nested-ipv6", "{\n    \"default-address-pools\": [{\"base\": \"10.0.0.0/8\", \"size\": 24}],\n    \"features\": {\"ipv6\": true, \"experimental\": true},\n    \"bip\": \"172.17.0.1/16\"\n}\n"},
	{"tabs", "{\n\t\"ipv6\": false,\n\t\"dns\": [\"1.1.1.1\", \"9.9.9.9\"]\n}\n"},
	{"crlf", "{\r\n  \"storage-driver\": \"overlay2\",\r\n  \"live-restore\": true\r\n}\r\n"},
	{"empty", `{}`},
	{"empty-spaced", "{ }\n"},
	{"empty-multiline", "{\n}\n"},
	{"all-false", `{"ipv6": false, "ip6tables": false, "experimental": false, "fixed-cidr-v6": ""}`},
	{"ipv6-only", "{\n  \"ipv6\": true\n}\n"},
	{"complete", "{\n  \"ipv6\": true,\n  \"fixed-cidr-v6\": \"2001:db8:1::/64\",\n  \"ip6tables\": true,\n  \"experimental\": true\n}\n"},
	{"split-lines", "{\n  \"ipv6\":\n    true,\n  \"fixed-cidr-v6\"\n  : \"2001:db8:1::/64\"\n}\n"},
	{"escaped-key", `{"ipv\u0036": true, "fixed-cidr-v6": null}`},
	{"regex-fooled", "{\n  \"labels\": [\"a\\\"ipv6\\\": true\"],\n  \"x-\\\"ipv6\": true,\n  \"s\": \"}{,\"\n}"},
	{"no-trailing-newline", "{\n  \"debug\": false\n}"},
}

var levels = []struct {
	name  string
	major int
}{{"28", 28}, {"27", 27}, {"26", 26}, {"unknown", 0}}

// TestEnsureGolden runs every shape against every Docker level and
// compares with testdata/ensure; run with -update to rewrite, then review
// the diff.
func TestEnsureGolden(t *testing.T) {
	for _, s := range shapes {
		var log strings.Builder
		for _, l := range levels {
			t.Run(s.name+"/"+l.name, func(t *testing.T) {
				req := RequirementsFor(l.major, "")
				out, changes, err := Ensure([]byte(s.in), req)
				if err != nil {
					t.Fatalf("Ensure: %v", err)
				}
				checkEnsured(t, []byte(s.in), out, changes, req)
				fmt.Fprintf(&log, "%s:\n", l.name)
				for _, c := range changes {
					fmt.Fprintf(&log, "  %s (loud=%v)\n", c, c.Loud)
				}
				golden(t, s.name+"."+l.name+".json", out)
			})
		}
		t.Run(s.name+"/changes", func(t *testing.T) { golden(t, s.name+".changes", []byte(log.String())) })
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "ensure", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", path, got, want)
	}
}

// checkEnsured asserts Ensure's contract for one input.
func checkEnsured(t testing.TB, in, out []byte, changes []Change, req Requirements) {
	t.Helper()
	if len(changes) == 0 && !bytes.Equal(out, in) {
		t.Fatalf("no changes but out != in:\n in %q\nout %q", in, out)
	}
	var after map[string]any
	if err := unmarshal(out, &after); err != nil {
		t.Fatalf("output is not valid JSON: %v\n%q", err, out)
	}
	if miss := Missing(out, req); len(miss) > 0 {
		t.Fatalf("after Ensure update.sh still misses %v:\n%q", miss, out)
	}
	again, changes2, err := Ensure(out, req)
	if err != nil || len(changes2) > 0 || !bytes.Equal(again, out) {
		t.Fatalf("Ensure is not idempotent: %v %v\n%q\n%q", changes2, err, out, again)
	}
	var before map[string]any
	if err := unmarshal(in, &before); err != nil {
		t.Fatalf("input is not valid JSON: %v", err)
	}
	required := map[string]bool{}
	for _, w := range wants(req) {
		required[w.key] = true
	}
	for k, v := range before {
		if !required[k] && !reflect.DeepEqual(after[k], v) {
			t.Fatalf("key %q changed from %v to %v", k, v, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok && !required[k] {
			t.Fatalf("key %q appeared", k)
		}
	}
	bareLF := func(b []byte) int { return bytes.Count(b, []byte("\n")) - bytes.Count(b, []byte("\r\n")) }
	if i := bytes.IndexByte(in, '\n'); i > 0 && in[i-1] == '\r' && bareLF(out) > bareLF(in) {
		t.Fatalf("CRLF file got a bare LF:\n%q", out)
	}
	if !bytes.Contains(in, []byte("\n")) && bytes.Contains(out, []byte("\n")) {
		t.Fatalf("one-line file got a line break:\n%q", out)
	}
}

func TestEnsureChanges(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		major int
		want  []Change
	}{
		{"add to one line", `{"a": 1}`, 28, []Change{{Key: "ipv6", New: "true"}}},
		{"false is loud", `{"ipv6": false}`, 0, []Change{{Key: "ipv6", Old: "false", New: "true", Loud: true}}},
		{"empty cidr is loud", `{"ipv6": true, "fixed-cidr-v6": ""}`, 27,
			[]Change{{Key: "fixed-cidr-v6", Old: `""`, New: `"fd00:dead:beef:c0::/80"`, Loud: true}}},
		{"null cidr is loud", `{"ipv6": true, "fixed-cidr-v6": null}`, 27,
			[]Change{{Key: "fixed-cidr-v6", Old: `null`, New: `"fd00:dead:beef:c0::/80"`, Loud: true}}},
		{"own cidr kept", `{"ipv6": true, "fixed-cidr-v6": "2001:db8::/64"}`, 27, nil},
		{"string true is loud", `{"ipv6": "true"}`, 28, []Change{{Key: "ipv6", Old: `"true"`, New: "true", Loud: true}}},
		{"split line rewritten quietly", "{\n  \"ipv6\":\n  true\n}", 28, []Change{{Key: "ipv6", Old: "true", New: "true"}}},
		{"old docker", `{}`, 26, []Change{
			{Key: "ipv6", New: "true"}, {Key: "fixed-cidr-v6", New: `"fd00:dead:beef:c0::/80"`},
			{Key: "ip6tables", New: "true"}, {Key: "experimental", New: "true"}}},
		{"nothing to do for 28", `{"ipv6": true}`, 28, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := RequirementsFor(tt.major, "")
			out, changes, err := Ensure([]byte(tt.in), req)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(changes, tt.want) {
				t.Errorf("changes = %+v, want %+v", changes, tt.want)
			}
			checkEnsured(t, []byte(tt.in), out, changes, req)
		})
	}
}

func TestEnsureOwnCIDR(t *testing.T) {
	out, _, err := Ensure([]byte(`{}`), RequirementsFor(27, "fd00:1::/64"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"ipv6": true, "fixed-cidr-v6": "fd00:1::/64"}`; string(out) != want {
		t.Fatalf("got %s, want %s", out, want)
	}
}

func TestEnsureErrors(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		is        error
		line, col int
		msg       string
	}{
		{"empty", "", ErrEmpty, 0, 0, "empty"},
		{"blank", " \n\t\r\n", ErrEmpty, 0, 0, "put {} in it"},
		{"array", "[]\n", ErrNotObject, 1, 1, "top level is an array"},
		{"array of object", `[{"ipv6": true}]`, ErrNotObject, 1, 1, "must be one object"},
		{"number", "1", ErrNotObject, 1, 1, "top level is a number"},
		{"truncated", "{\n  \"ipv6\": true,\n", ErrInvalid, 3, 1, "end of input"},
		{"trailing comma", "{\n  \"ipv6\": true,\n}\n", ErrInvalid, 3, 1, "update.sh stops"},
		{"no braces", `"ipv6": true`, ErrNotObject, 1, 1, "a string"},
		{"duplicate top-level", "{\n  \"ipv6\": false,\n  \"log-driver\": \"local\",\n  \"ipv6\": true\n}", ErrDuplicateKey, 4, 3, `duplicate key "ipv6" at the top level (first on line 2)`},
		{"duplicate nested", `{"log-opts": {"a": "1", "a": "2"}}`, ErrDuplicateKey, 1, 25, `duplicate key "a" in log-opts`},
		{"bom", "\xEF\xBB\xBF{}", ErrBOM, 1, 1, "remove the BOM"},
		{"nul", "{\"a\": 1}\n\x00", ErrNUL, 2, 1, "NUL"},
		{"case variant", "{\n  \"IPv6\": true\n}", ErrAmbiguousKey, 2, 3, `"IPv6" differs from "ipv6" only in case`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := Ensure([]byte(tt.in), RequirementsFor(26, ""))
			if err == nil {
				t.Fatalf("Ensure = %q, want an error", out)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not *Error", err, err)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if e.Line != tt.line || e.Col != tt.col {
				t.Errorf("position %d:%d, want %d:%d", e.Line, e.Col, tt.line, tt.col)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if out != nil {
				t.Errorf("out = %q on error", out)
			}
			e.Path = "/etc/docker/daemon.json"
			if !strings.HasPrefix(err.Error(), "/etc/docker/daemon.json") {
				t.Errorf("error %q does not start with the path", err)
			}
		})
	}
}

func TestMissing(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		major int
		want  []string
	}{
		{"empty object 28", `{}`, 28, []string{"ipv6: true"}},
		{"unknown is ipv6 only", `{}`, 0, []string{"ipv6: true"}},
		{"27", `{"ipv6":true}`, 27, []string{`fixed-cidr-v6: "fd00:dead:beef:c0::/80"`}},
		{"26 all", `{}`, 26, []string{"ipv6: true", `fixed-cidr-v6: "fd00:dead:beef:c0::/80"`, "experimental: true"}},
		{"26 ipv6 set", `{"ipv6": true}`, 26, []string{`fixed-cidr-v6: "fd00:dead:beef:c0::/80"`, "ip6tables: true", "experimental: true"}},
		{"value on next line is missing", "{\"ipv6\":\n true}", 28, []string{"ipv6: true"}},
		{"tab and CR count as space", "{\"ipv6\"\t:\r true}", 28, nil},
		{"nested counts for grep", `{"a": {"ipv6": true}}`, 28, nil},
		{"escaped key is missing", `{"ipv\u0036": true}`, 28, []string{"ipv6: true"}},
		{"empty cidr missing", `{"ipv6": true, "fixed-cidr-v6": ""}`, 27, []string{`fixed-cidr-v6: "fd00:dead:beef:c0::/80"`}},
		{"empty cidr fooled by a later string", `{"fixed-cidr-v6": "", "ipv6": true, "x": "y"}`, 27, nil},
		{"false", `{"ipv6": false}`, 28, []string{"ipv6: true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Missing([]byte(tt.in), RequirementsFor(tt.major, ""))
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Missing = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRequirementsFor(t *testing.T) {
	tests := []struct {
		major int
		want  Requirements
	}{
		{0, Requirements{IPv6: true, CIDR: DefaultCIDR}},
		{29, Requirements{IPv6: true, CIDR: DefaultCIDR}},
		{28, Requirements{IPv6: true, CIDR: DefaultCIDR}},
		{27, Requirements{IPv6: true, FixedCIDR: true, CIDR: DefaultCIDR}},
		{26, Requirements{IPv6: true, FixedCIDR: true, IP6Tables: true, Experimental: true, CIDR: DefaultCIDR}},
		{20, Requirements{IPv6: true, FixedCIDR: true, IP6Tables: true, Experimental: true, CIDR: DefaultCIDR}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.major), func(t *testing.T) {
			if got := RequirementsFor(tt.major, ""); got != tt.want {
				t.Fatalf("RequirementsFor(%d) = %+v, want %+v", tt.major, got, tt.want)
			}
		})
	}
}

// FuzzEnsure checks Ensure's contract on arbitrary input.
func FuzzEnsure(f *testing.F) {
	for _, s := range shapes {
		f.Add([]byte(s.in), 26)
		f.Add([]byte(s.in), 28)
	}
	f.Add([]byte(`{"ipv6": false, "a": {"ipv6": false}}`), 27)
	f.Add([]byte("{\"IPv6\": 1}"), 0)
	f.Fuzz(func(t *testing.T, in []byte, major int) {
		req := RequirementsFor(major%40, "")
		out, changes, err := Ensure(in, req)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not *Error", err, err)
			}
			return
		}
		checkEnsured(t, in, out, changes, req)
	})
}

// unmarshal is json.Unmarshal keeping numbers as written, so that numbers
// too large for a float64 compare too.
func unmarshal(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("data after the value")
	}
	return nil
}
