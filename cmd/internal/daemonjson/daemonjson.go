// Package daemonjson makes Docker's daemon.json pass the IPv6 checks of
// mailcow's update.sh without restarting Docker.
//
// Since 2025-09, update.sh greps /etc/docker/daemon.json for "ipv6": true
// (and, on older Docker engines, "fixed-cidr-v6", "ip6tables" and
// "experimental"). When one is missing it asks to rewrite the file with jq
// and restart Docker, and stops the update when the admin says no; an
// empty or invalid file stops it too. The pre hook instead adds the
// missing keys itself, keeping every other key, the key order and the
// file's layout, and leaves Docker running: the daemon reads the file at
// its next restart.
//
// [Missing] is update.sh's check, regex for regex. [Ensure] is the pure
// edit, built on package jsonedit. [Fix] is the file-level step: symlinks,
// creation, a timestamped backup, all writes through an fsx.System.
package daemonjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/jsonedit"
)

// DefaultCIDR is the IPv6 range update.sh proposes for "fixed-cidr-v6".
const DefaultCIDR = "fd00:dead:beef:c0::/80"

// Requirements are the keys update.sh checks for one Docker version.
type Requirements struct {
	IPv6         bool   // "ipv6": true
	FixedCIDR    bool   // "fixed-cidr-v6": a non-empty string
	IP6Tables    bool   // "ip6tables": true
	Experimental bool   // "experimental": true
	CIDR         string // the value written when "fixed-cidr-v6" is added
}

// RequirementsFor returns what update.sh requires from a Docker server of
// the given major version; 0 means unknown, for which update.sh checks
// only "ipv6". An empty cidr means [DefaultCIDR].
func RequirementsFor(major int, cidr string) Requirements {
	if cidr == "" {
		cidr = DefaultCIDR
	}
	r := Requirements{IPv6: true, CIDR: cidr}
	if major > 0 && major < 28 {
		r.FixedCIDR = true
	}
	if major > 0 && major < 27 {
		r.IP6Tables, r.Experimental = true, true
	}
	return r
}

// update.sh's patterns, from _modules/scripts/ipv6_controller.sh
// (docker_daemon_edit). grep matches them line by line, which [matchLine]
// reproduces: a key and its value on different lines do not count.
var (
	reIPv6         = regexp.MustCompile(`"ipv6"[[:space:]]*:[[:space:]]*true`)
	reFixedCIDR    = regexp.MustCompile(`"fixed-cidr-v6"[[:space:]]*:[[:space:]]*".+"`)
	reIP6Tables    = regexp.MustCompile(`"ip6tables"[[:space:]]*:[[:space:]]*true`)
	reExperimental = regexp.MustCompile(`"experimental"[[:space:]]*:[[:space:]]*true`)
)

func matchLine(re *regexp.Regexp, data []byte) bool {
	for _, line := range bytes.Split(data, []byte("\n")) {
		if re.Match(line) {
			return true
		}
	}
	return false
}

// Missing returns what update.sh would report missing from data, in its
// words and order (e.g. `ipv6: true`); empty means its key checks pass.
// It looks at the text only, as update.sh does: a file that is empty or
// invalid fails update.sh whatever Missing says, see [Ensure].
func Missing(data []byte, req Requirements) []string {
	var miss []string
	ipv6 := matchLine(reIPv6, data)
	if req.IPv6 && !ipv6 {
		miss = append(miss, "ipv6: true")
	}
	if req.FixedCIDR && !matchLine(reFixedCIDR, data) {
		cidr := req.CIDR
		if cidr == "" {
			cidr = DefaultCIDR
		}
		miss = append(miss, fmt.Sprintf("fixed-cidr-v6: %q", cidr))
	}
	// update.sh asks for ip6tables only once ipv6 is there.
	if req.IP6Tables && ipv6 && !matchLine(reIP6Tables, data) {
		miss = append(miss, "ip6tables: true")
	}
	if req.Experimental && !matchLine(reExperimental, data) {
		miss = append(miss, "experimental: true")
	}
	return miss
}

// Sentinels carried by [*Error], for errors.Is.
var (
	ErrEmpty        = errors.New("empty file")
	ErrInvalid      = errors.New("invalid JSON")
	ErrNotObject    = errors.New("top level is not a JSON object")
	ErrBOM          = jsonedit.ErrBOM // the JSON reader's own
	ErrNUL          = jsonedit.ErrNUL
	ErrDuplicateKey = errors.New("duplicate key")
	ErrAmbiguousKey = errors.New("key differs from a required key only in case")
)

// Error is a daemon.json that mcupdate will not edit. Path is the file
// (empty when [Ensure] is called on bytes); Line and Col are 1-based and 0
// when unknown.
type Error struct {
	Path      string
	Line, Col int
	Reason    string
	Err       error // one of the sentinels above
	cause     error // the jsonedit error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Path == "" {
		b.WriteString("daemon.json")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns the sentinel and, for JSON errors, jsonedit's error.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Err, e.cause}
	}
	return []error{e.Err}
}

// Change is one key Ensure set.
type Change struct {
	Key string
	Old string // the value's JSON text before, "" when the key was added
	New string // the value's JSON text after
	// Loud marks a change that overrides a value the admin wrote, such as
	// "ipv6": false: the hook must say so, not just log it.
	Loud bool
}

func (c Change) String() string {
	switch {
	case c.Old == "":
		return fmt.Sprintf("added %q: %s", c.Key, c.New)
	case c.Old == c.New:
		return fmt.Sprintf("rewrote %q: %s on one line so update.sh's check finds it", c.Key, c.New)
	default:
		return fmt.Sprintf("changed %q from %s to %s", c.Key, c.Old, c.New)
	}
}

// want is one required top-level key.
type want struct {
	key   string
	value string // JSON text written when the key is added or wrong
	re    *regexp.Regexp
	ok    func(raw string) bool
}

func isTrue(raw string) bool { return raw == "true" }

// nonEmptyString accepts what jq's `.["fixed-cidr-v6"] // default` keeps
// and update.sh's `".+"` matches: a string with at least one character.
func nonEmptyString(raw string) bool { return len(raw) > 2 && raw[0] == '"' }

func wants(req Requirements) []want {
	var ws []want
	if req.IPv6 {
		ws = append(ws, want{"ipv6", "true", reIPv6, isTrue})
	}
	if req.FixedCIDR {
		cidr := req.CIDR
		if cidr == "" {
			cidr = DefaultCIDR
		}
		ws = append(ws, want{"fixed-cidr-v6", jsonString(cidr), reFixedCIDR, nonEmptyString})
	}
	if req.IP6Tables {
		ws = append(ws, want{"ip6tables", "true", reIP6Tables, isTrue})
	}
	if req.Experimental {
		ws = append(ws, want{"experimental", "true", reExperimental, isTrue})
	}
	return ws
}

// jsonString quotes s without json.Marshal's HTML escaping.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}
