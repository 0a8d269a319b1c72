package verify

import (
	"fmt"
	"strings"
)

// proxyService is the one mailcow service meant to join an outside
// network: a reverse proxy reaches mailcow through it.
const proxyService = "nginx-mailcow"

// checkExtraNetworks: a mailcow service other than nginx-mailcow that the
// override attaches to an external network shares DNS with every other
// container there. mailcow's services find each other by short names
// (redis, mysql, php-fpm, dovecot …): another stack's "redis" on that
// network then answers too, and the whole stack breaks.
func checkExtraNetworks(in *mailcowFiles) Check {
	base, over, c := in.composeFiles()
	if c != nil {
		return *c
	}
	if over == nil {
		return Check{Status: StatusSkipped, Detail: "no " + ComposeOverrideFile}
	}
	external := func(n string) bool {
		if nw := over.Networks[n]; nw != nil {
			return nw.External
		}
		nw := base.Networks[n]
		return nw != nil && nw.External
	}
	var items, svcs []string
	for _, name := range over.Names() {
		s := over.Services[name]
		if name == proxyService || base.Services[name] == nil {
			continue // nginx, or a service of the admin's own
		}
		bad := false
		for _, a := range s.Networks {
			if external(a.Network) {
				items = append(items, fmt.Sprintf("service %s joins external network %s (%s)", name, a.Network, at(over.Name, a.Line)))
				bad = true
			}
		}
		if bad {
			svcs = append(svcs, name)
		}
	}
	if len(items) == 0 {
		return Check{Status: StatusOK, Detail: "no mailcow service but " + proxyService + " joins an external network"}
	}
	return Check{Status: StatusWarn, Items: items,
		Detail: fmt.Sprintf("%d mailcow service(s) other than %s on an external network: mailcow's internal names (redis, mysql, php-fpm …) can resolve to other containers there", len(svcs), proxyService),
		Fix:    fmt.Sprintf("in %s, attach only %s to outside networks (a reverse proxy reaches mailcow through it); remove %s from them", ComposeOverrideFile, proxyService, strings.Join(svcs, ", "))}
}
