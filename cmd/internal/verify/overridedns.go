package verify

import (
	"fmt"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/compose"
)

// checkOverrideDNS: compose appends an override's dns list to the base's;
// it does not replace it. mailcow's services list unbound-mailcow first,
// so the admin's resolver is only asked when unbound does not answer at
// all: the change looks applied and does nothing.
func checkOverrideDNS(in *mailcowFiles) Check {
	base, over, c := in.composeFiles()
	if c != nil {
		return *c
	}
	if over == nil {
		return Check{Status: StatusSkipped, Detail: "no " + ComposeOverrideFile}
	}
	var items, svcs []string
	for _, name := range over.Names() {
		o, b := over.Services[name], base.Services[name]
		if !compose.AppendsDNS(b, o) {
			continue
		}
		svcs = append(svcs, name)
		items = append(items, fmt.Sprintf("service %s sets dns %s (%s): appended after %s's %s (%s)",
			name, strings.Join(o.DNS, " "), at(over.Name, o.KeyLines["dns"]), ComposeFile, strings.Join(b.DNS, " "), at(base.Name, b.KeyLines["dns"])))
	}
	if len(items) == 0 {
		return Check{Status: StatusOK, Detail: "no dns list of " + ComposeOverrideFile + " is appended to mailcow's"}
	}
	return Check{Status: StatusWarn, Items: items,
		Detail: fmt.Sprintf("%d service(s) set dns in %s: compose concatenates the lists, so mailcow's resolver stays first and the override's is a fallback only", len(svcs), ComposeOverrideFile),
		Fix:    "remove dns from " + ComposeOverrideFile + " (mailcow's services resolve through unbound-mailcow: change its forwarders instead), or replace the list with `dns: !override [...]` (Docker Compose 2.24.4 or later)"}
}
