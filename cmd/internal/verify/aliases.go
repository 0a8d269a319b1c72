package verify

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/compose"
)

// dnsName is one name a service answers to on a network.
type dnsName struct {
	Service string
	// Alias is false for the service's own name.
	Alias bool
	Where string
}

// networkNames returns, per network and name, who answers to it once
// compose has merged the override onto the base: every service's own
// name and its aliases on each network it joins. Merged as compose
// merges: a service's networks by name, the aliases of both files
// together, unless the override tags networks !override or !reset. A
// service without networks is on "default"; one with network_mode (host,
// service:...) is on none.
func networkNames(base, over *compose.File) map[string]map[string][]dnsName {
	out := map[string]map[string][]dnsName{}
	add := func(network, name string, n dnsName) {
		if out[network] == nil {
			out[network] = map[string][]dnsName{}
		}
		out[network][name] = append(out[network][name], n)
	}
	files := []*compose.File{base}
	if over != nil {
		files = append(files, over)
	}
	names := map[string]bool{}
	for _, f := range files {
		for n := range f.Services {
			names[n] = true
		}
	}
	for name := range names {
		b, o := base.Services[name], (*compose.Service)(nil)
		if over != nil {
			o = over.Services[name]
		}
		if b == nil && (o == nil || !o.HasImage) {
			continue // a partial service: the override-references check
		}
		mode := ""
		for _, s := range []*compose.Service{b, o} {
			if s != nil && s.NetworkMode != "" {
				mode = s.NetworkMode
			}
		}
		if mode != "" {
			continue
		}
		type src struct {
			s    *compose.Service
			file string
		}
		var srcs []src
		if b != nil && !(o != nil && o.Replaced["networks"]) {
			srcs = append(srcs, src{b, base.Name})
		}
		if o != nil {
			srcs = append(srcs, src{o, over.Name})
		}
		// The service's own name is defined where the service is.
		self := dnsName{Service: name}
		if b != nil {
			self.Where = at(base.Name, b.Line)
		} else {
			self.Where = at(over.Name, o.Line)
		}
		joined := map[string]bool{}
		hasKey := false
		for _, sc := range srcs {
			hasKey = hasKey || sc.s.HasNetworks
			for _, a := range sc.s.Networks {
				if !joined[a.Network] {
					joined[a.Network] = true
					add(a.Network, name, self)
				}
				for _, al := range a.Aliases {
					add(a.Network, al.Name, dnsName{Service: name, Alias: true, Where: at(sc.file, al.Line)})
				}
			}
		}
		if !hasKey {
			add("default", name, self)
		}
	}
	return out
}

// checkDNSAliases: a name two services answer to on one network makes
// Docker's DNS answer round-robin, so every other lookup reaches the
// wrong container (IMAP clients on postfix half of the time).
func checkDNSAliases(in *mailcowFiles) Check {
	base, over, c := in.composeFiles()
	if c != nil {
		return *c
	}
	nets := networkNames(base, over)
	var items []string
	var netNames []string
	for n := range nets {
		netNames = append(netNames, n)
	}
	sort.Strings(netNames)
	count := 0
	for _, network := range netNames {
		byName := nets[network]
		var dnsNames []string
		for n := range byName {
			dnsNames = append(dnsNames, n)
		}
		sort.Strings(dnsNames)
		for _, name := range dnsNames {
			who := byName[name]
			services := map[string]bool{}
			for _, w := range who {
				services[w.Service] = true
			}
			if len(services) < 2 {
				continue
			}
			count++
			sort.SliceStable(who, func(i, j int) bool { return who[i].Service < who[j].Service })
			var parts []string
			for _, w := range who {
				kind := "alias"
				if !w.Alias {
					kind = "its service name"
				}
				parts = append(parts, fmt.Sprintf("%s (%s, %s)", w.Service, kind, w.Where))
			}
			items = append(items, fmt.Sprintf("%s on network %s: %s", name, network, strings.Join(parts, " and ")))
		}
	}
	if count == 0 {
		return Check{Status: StatusOK, Detail: fmt.Sprintf("every DNS name on the compose networks belongs to one service (%d network(s))", len(nets))}
	}
	return Check{Status: StatusFail, Items: items,
		Detail: fmt.Sprintf("%d DNS name(s) shared by two or more services of one network: Docker's DNS answers round-robin and every other connection reaches the wrong container", count),
		Fix:    "give each alias to one service only: remove the duplicate from " + ComposeOverrideFile + " (a client that needs another name connects to the one service that has it)"}
}
