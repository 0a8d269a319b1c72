package verify

import (
	"fmt"
	"net/netip"
	"path"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/settings"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// rspamdDefaultLocal is rspamd's own local_addrs (its conf/options.inc),
// in force when mailcow's options.inc sets none (releases before 2024-06).
var rspamdDefaultLocal = []string{"192.168.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "fd00::/8", "169.254.0.0/16", "fe80::/10"}

// rspamdAlwaysLocal are the addresses rspamd treats as local whatever
// local_addrs says (rspamd_inet_address_is_local: loopback, IPv6
// link-local and site-local).
var rspamdAlwaysLocal = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fe80::/10"), netip.MustParsePrefix("fec0::/10"),
}

// netEntry is one network of a trust list, with where it is written.
type netEntry struct {
	Prefix netip.Prefix
	Raw    string
	Where  string
}

// checkRelayNetworks: postfix passes every message to rspamd as a milter,
// whatever mynetworks says. A network postfix trusts (relays for without
// authentication) that rspamd does not count as local gets its mail
// accepted by postfix and then rejected by rspamd (SPOOFED_UNAUTH,
// SPF_FAIL): internal relays, scanners and backup MX fail.
func checkRelayNetworks(in *mailcowFiles) Check {
	trusted, notes, err := postfixTrusted(in)
	if err != nil {
		return Check{Status: StatusFail, Detail: ui.FirstLine(err.Error()), Fix: "make the file readable"}
	}
	if len(trusted) == 0 {
		c := Check{Status: StatusOK, Detail: "postfix trusts only mailcow's own networks (no mynetworks, no ADDITIONAL_MYNETWORKS)", Items: notes}
		return c
	}
	local, where, lnotes, err := rspamdLocal(in)
	if err != nil {
		return Check{Status: StatusFail, Detail: ui.FirstLine(err.Error()), Fix: "make the file readable"}
	}
	notes = append(notes, lnotes...)
	var bad []netEntry
	for _, e := range trusted {
		if !covered(e.Prefix, local) {
			bad = append(bad, e)
		}
	}
	if len(bad) == 0 {
		return Check{Status: StatusOK, Detail: fmt.Sprintf("rspamd treats all %d network(s) postfix trusts as local", len(trusted)), Items: notes}
	}
	c := Check{Status: StatusFail}
	var raws []string
	for _, e := range bad {
		c.Items = append(c.Items, fmt.Sprintf("%s (%s) is trusted by postfix, not local to rspamd", e.Raw, e.Where))
		raws = append(raws, e.Prefix.String())
	}
	c.Items = append(c.Items, "rspamd's local networks: "+where)
	c.Items = append(c.Items, notes...)
	c.Detail = fmt.Sprintf("%d network(s) postfix relays for are not local to rspamd: their mail passes postfix and is then rejected by rspamd (SPOOFED_UNAUTH, SPF_FAIL)", len(bad))
	c.Fix = fmt.Sprintf("make rspamd trust them too: enable the rspamd-local-addrs patch ([patch rspamd-local-addrs] LOCAL_ADDRS = %s; it keeps mailcow's own networks), then 'mcupdate apply'; or list them in %s", strings.Join(raws, " "), RspamdIPWhitelist)
	for _, name := range in.opt.Config.Enabled {
		if name == "rspamd-local-addrs" {
			c.Fix = fmt.Sprintf("add %s to [patch rspamd-local-addrs] LOCAL_ADDRS in %s, then 'mcupdate apply'; or list them in %s", strings.Join(raws, " "), in.opt.Config.Path, RspamdIPWhitelist)
		}
	}
	return c
}

// postfixTrusted returns the networks the admin made postfix trust:
// ADDITIONAL_MYNETWORKS of mailcow.conf and mynetworks (main.cf, then
// extra.cf, which mailcow appends to it: the last setting wins). Entries
// that are not addresses (a $parameter, a lookup table) are notes.
func postfixTrusted(in *mailcowFiles) ([]netEntry, []string, error) {
	var out []netEntry
	var notes []string
	if v := in.confVar("ADDITIONAL_MYNETWORKS", ""); v.Set && strings.TrimSpace(v.Value) != "" {
		es, ns := parseNetList(v.Value, at(MailcowConf, v.Line)+" ADDITIONAL_MYNETWORKS")
		out, notes = append(out, es...), append(notes, ns...)
	}
	var mynet settings.PostfixParam
	var file string
	for _, rel := range []string{PostfixMainCf, PostfixExtraCf} {
		data, ok, err := in.read(rel)
		if err != nil {
			return nil, nil, err
		}
		if p, found := settings.LastPostfix(settings.Postfix(data), "mynetworks"); ok && found {
			mynet, file = p, rel
		}
	}
	if file == "" {
		return out, notes, nil
	}
	where := at(file, mynet.Line) + " mynetworks"
	for _, f := range strings.FieldsFunc(mynet.Value, isListSep) {
		if !strings.HasPrefix(f, "/") {
			es, ns := parseNetList(f, where)
			out, notes = append(out, es...), append(notes, ns...)
			continue
		}
		// A pattern file, as the postfix container sees it.
		host := in.hostPath("postfix-mailcow", f)
		data, ok, err := in.read(host)
		if host == "" || !ok || err != nil {
			notes = append(notes, fmt.Sprintf("%s: %s is not a file of the mailcow dir: not checked", where, f))
			continue
		}
		for i, l := range settings.Lines(data) {
			if j := strings.IndexByte(l, '#'); j >= 0 {
				l = l[:j]
			}
			es, ns := parseNetList(l, at(host, i+1)+" (from "+where+")")
			out, notes = append(out, es...), append(notes, ns...)
		}
	}
	return out, notes, nil
}

func isListSep(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// parseNetList reads addresses and networks separated by commas or white
// space: 10.0.0.0/8, 192.0.2.1, [2001:db8::]/32, [::ffff:127.0.0.0]/104
// (an IPv4-mapped network is its IPv4 network). Anything else is a note.
func parseNetList(s, where string) ([]netEntry, []string) {
	var out []netEntry
	var notes []string
	for _, f := range strings.FieldsFunc(s, isListSep) {
		p, ok := parseNet(f)
		if !ok {
			notes = append(notes, fmt.Sprintf("%s: %q is not an address or network: not checked", where, f))
			continue
		}
		out = append(out, netEntry{Prefix: p, Raw: f, Where: where})
	}
	return out, notes
}

func parseNet(f string) (netip.Prefix, bool) {
	s := strings.Replace(strings.Replace(f, "[", "", 1), "]", "", 1)
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, false
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, false
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), true
}

// rspamdLocal returns the networks rspamd counts as local: the loopback
// and link-local ones, local_addrs (override.d's options.inc, else
// local.d's, else rspamd's default) with the maps it names, and the
// networks of custom/ip_wl.map. where says which local_addrs is in force.
func rspamdLocal(in *mailcowFiles) (local []netip.Prefix, where string, notes []string, err error) {
	local = append(local, rspamdAlwaysLocal...)
	var addrs []string
	for _, rel := range []string{RspamdOverOptions, RspamdLocalOptions} {
		data, ok, err := in.read(rel)
		if err != nil {
			return nil, "", nil, err
		}
		if !ok {
			continue
		}
		for _, p := range settings.UCL(data) {
			if p.Key == "local_addrs" && len(p.Path) == 0 {
				addrs, where = p.Values, at(rel, p.Line)
			}
		}
		if where != "" {
			break
		}
	}
	if where == "" {
		addrs, where = rspamdDefaultLocal, "rspamd's default local_addrs (mailcow's options.inc sets none)"
	}
	var parts []string
	for _, a := range addrs {
		if p, ok := parseNet(a); ok {
			local = append(local, p)
			parts = append(parts, p.String())
			continue
		}
		ps, desc, note := rspamdMap(in, a)
		local = append(local, ps...)
		if note != "" {
			notes = append(notes, fmt.Sprintf("%s: %s", where, note))
		}
		parts = append(parts, desc)
	}
	where += ": " + strings.Join(parts, ", ")
	data, ok, err := in.read(RspamdIPWhitelist)
	if err != nil {
		return nil, "", nil, err
	}
	if ok {
		ps, _ := mapNets(data)
		local = append(local, ps...)
		if len(ps) > 0 {
			where += fmt.Sprintf("; %d network(s) in %s", len(ps), RspamdIPWhitelist)
		}
	}
	return local, where, notes, nil
}

// rspamdMap reads a map local_addrs names by its path in the rspamd
// container. mailcow_networks.map is written by rspamd-mailcow at every
// start from IPV4_NETWORK and IPV6_NETWORK, so it is taken from
// mailcow.conf, not from the copy on disk.
func rspamdMap(in *mailcowFiles, ref string) ([]netip.Prefix, string, string) {
	p := strings.TrimPrefix(strings.TrimPrefix(ref, "file://"), "fallback+file://")
	for _, v := range []string{"$LOCAL_CONFDIR", "${LOCAL_CONFDIR}", "$CONFDIR", "${CONFDIR}"} {
		p = strings.Replace(p, v, "/etc/rspamd", 1)
	}
	if !strings.HasPrefix(p, "/") {
		return nil, ref, fmt.Sprintf("%q is neither a network nor a map file: not checked", ref)
	}
	if path.Base(p) == "mailcow_networks.map" {
		v4 := in.confVar("IPV4_NETWORK", "172.22.1")
		v6 := in.confVar("IPV6_NETWORK", "fd4d:6169:6c63:6f77::/64")
		var out []netip.Prefix
		for _, s := range []string{v4.Value + ".0/24", v6.Value} {
			if n, ok := parseNet(s); ok {
				out = append(out, n)
			}
		}
		return out, fmt.Sprintf("mailcow_networks.map = %s.0/24 %s", v4.Value, v6.Value), ""
	}
	host := in.hostPath("rspamd-mailcow", p)
	if host == "" {
		return nil, ref, fmt.Sprintf("map %s is not bind-mounted from the mailcow dir: not checked", ref)
	}
	data, ok, err := in.read(host)
	if err != nil || !ok {
		return nil, ref, fmt.Sprintf("map %s (%s) is missing or unreadable: rspamd has no networks from it", ref, host)
	}
	ps, n := mapNets(data)
	desc := fmt.Sprintf("%s (%d network(s))", host, len(ps))
	if n > len(ps) {
		return ps, desc, fmt.Sprintf("%s: %d line(s) that are not networks: not checked", host, n-len(ps))
	}
	return ps, desc, ""
}

// mapNets reads an rspamd radix map: one address or network per line,
// # comments; what follows the first field on a line is its value. n
// counts the entries.
func mapNets(data []byte) (out []netip.Prefix, n int) {
	for _, l := range settings.Lines(data) {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		n++
		if p, ok := parseNet(f[0]); ok {
			out = append(out, p)
		}
	}
	return out, n
}

// covered reports whether the union of set contains every address of p.
func covered(p netip.Prefix, set []netip.Prefix) bool {
	inside := false
	for _, q := range set {
		if q.Addr().Is4() != p.Addr().Is4() {
			continue
		}
		if q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
			return true
		}
		if q.Bits() > p.Bits() && p.Contains(q.Addr()) {
			inside = true
		}
	}
	if !inside || p.Bits() >= p.Addr().BitLen() {
		return false
	}
	// Some of set lies inside p: p is covered when both halves are.
	lo := netip.PrefixFrom(p.Addr(), p.Bits()+1)
	hiAddr := p.Addr().AsSlice()
	hiAddr[p.Bits()/8] |= 0x80 >> (p.Bits() % 8)
	a, _ := netip.AddrFromSlice(hiAddr)
	hi := netip.PrefixFrom(a, p.Bits()+1)
	return covered(lo, set) && covered(hi, set)
}
