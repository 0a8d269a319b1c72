package adopt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mcupdate/mcupdate/cmd/internal/compose"
	"github.com/mcupdate/mcupdate/cmd/internal/udiff"
)

// mergedLists are the service keys whose lists compose merges from the
// override into the base (the rest: the override's list replaces the
// base's); environment and labels merge by name.
var mergedLists = map[string]bool{
	"ports": true, "expose": true, "external_links": true, "dns": true, "dns_search": true,
	"tmpfs": true, "extra_hosts": true, "devices": true, "cap_add": true, "cap_drop": true,
	"security_opt": true, "volumes": true, "networks": true, "depends_on": true, "env_file": true,
	"environment": true, "labels": true, "sysctls": true, "volumes_from": true, "links": true,
}

// moveCompose returns the override file that makes compose see what the
// admin's docker-compose.yml (cur) says on top of upstream's (base): every
// setting of a service the admin added or changed, written into the
// override (text inserted where it belongs, the rest of the file byte
// for byte). It refuses what an override cannot say: a removed setting,
// list item or service, an edit outside services:, a setting the override
// sets already to something else.
func moveCompose(base, cur, override []byte) ([]byte, error) {
	bs, err := servicesNode(base)
	if err != nil {
		return nil, fmt.Errorf("upstream's docker-compose.yml: %w", err)
	}
	cs, err := servicesNode(cur)
	if err != nil {
		return nil, fmt.Errorf("docker-compose.yml: %w", err)
	}
	if err := sameOutsideServices(base, cur); err != nil {
		return nil, err
	}
	delta := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(cs.Content); i += 2 {
		name, svc := cs.Content[i].Value, cs.Content[i+1]
		bsvc := mapGet(bs, name)
		var d *yaml.Node
		if bsvc == nil {
			d = svc // a service of the admin's own: all of it
		} else if d, err = diffNode("services."+name, bsvc, svc, 1); err != nil {
			return nil, err
		}
		if d != nil {
			delta.Content = append(delta.Content, keyNode(name), d)
		}
	}
	for i := 0; i+1 < len(bs.Content); i += 2 {
		if mapGet(cs, bs.Content[i].Value) == nil {
			return nil, fmt.Errorf("service %s is removed: an override cannot remove a service", bs.Content[i].Value)
		}
	}
	if len(delta.Content) == 0 {
		return nil, errors.New("no setting to move")
	}
	out, err := insertServices(override, delta)
	if err != nil {
		return nil, err
	}
	// The result must be a compose file that says all of it.
	if _, err := compose.Parse("docker-compose.override.yml", out); err != nil {
		return nil, fmt.Errorf("the override would not read back: %w", err)
	}
	got, err := servicesNode(out)
	if err != nil {
		return nil, err
	}
	if err := holds(got, delta, "services"); err != nil {
		return nil, fmt.Errorf("the override would not hold the edit: %w", err)
	}
	return out, nil
}

// servicesNode returns the services mapping of a compose file (an empty
// one when the file has none).
func servicesNode(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode}, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, errors.New("not a mapping at the top")
	}
	s := mapGet(root, "services")
	switch {
	case s == nil || s.Kind == yaml.ScalarNode && s.Tag == "!!null":
		return &yaml.Node{Kind: yaml.MappingNode}, nil
	case s.Kind != yaml.MappingNode:
		return nil, errors.New("services is not a mapping")
	}
	return s, nil
}

// sameOutsideServices refuses edits of the top-level keys besides
// services (networks, volumes, …): they are not moved.
func sameOutsideServices(base, cur []byte) error {
	strip := func(data []byte) (map[string]string, error) {
		var doc map[string]any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, err
		}
		out := map[string]string{}
		for k, v := range doc {
			if k == "services" {
				continue
			}
			b, _ := yaml.Marshal(v)
			out[k] = string(b)
		}
		return out, nil
	}
	a, err := strip(base)
	if err != nil {
		return err
	}
	b, err := strip(cur)
	if err != nil {
		return err
	}
	for k, v := range b {
		if a[k] != v {
			return fmt.Errorf("top-level %s is edited: only services are moved to the override", k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return fmt.Errorf("top-level %s is removed: an override cannot remove it", k)
		}
	}
	return nil
}

func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func keyNode(k string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k} }

// render is a node's canonical text, for comparisons.
func render(n *yaml.Node) string {
	c := *n
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	b, err := yaml.Marshal(&c)
	if err != nil {
		return fmt.Sprint(n.Value)
	}
	return string(b)
}

// diffNode returns what the override must say so that compose sees cur
// where the base says base (nil: nothing), at path; depth 1 is a
// service's own keys.
func diffNode(at string, base, cur *yaml.Node, depth int) (*yaml.Node, error) {
	if base.Kind == yaml.AliasNode || cur.Kind == yaml.AliasNode {
		if render(base) == render(cur) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: an alias is edited", at)
	}
	switch {
	case base.Kind == yaml.MappingNode && cur.Kind == yaml.MappingNode:
		out := &yaml.Node{Kind: yaml.MappingNode}
		for i := 0; i+1 < len(cur.Content); i += 2 {
			k, v := cur.Content[i].Value, cur.Content[i+1]
			if k == "<<" {
				if b := mapGet(base, k); b == nil || render(b) != render(v) {
					return nil, fmt.Errorf("%s: a merge key (<<) is edited", at)
				}
				continue
			}
			b := mapGet(base, k)
			if b == nil {
				out.Content = append(out.Content, keyNode(k), v)
				continue
			}
			var d *yaml.Node
			var err error
			if depth == 1 && mergedLists[k] && b.Kind == yaml.SequenceNode && v.Kind == yaml.SequenceNode {
				d, err = diffList(at+"."+k, k, b, v)
			} else if b.Kind == yaml.SequenceNode || v.Kind == yaml.SequenceNode || b.Kind != v.Kind {
				// Lists compose does not merge are replaced whole.
				if render(b) != render(v) {
					if b.Kind == yaml.MappingNode && v.Kind != yaml.MappingNode {
						return nil, fmt.Errorf("%s.%s: a mapping became a %s", at, k, kindName(v))
					}
					d = v
				}
			} else {
				d, err = diffNode(at+"."+k, b, v, depth+1)
			}
			if err != nil {
				return nil, err
			}
			if d != nil {
				out.Content = append(out.Content, keyNode(k), d)
			}
		}
		for i := 0; i+1 < len(base.Content); i += 2 {
			if mapGet(cur, base.Content[i].Value) == nil {
				return nil, fmt.Errorf("%s.%s is removed: an override cannot remove a setting", at, base.Content[i].Value)
			}
		}
		if len(out.Content) == 0 {
			return nil, nil
		}
		return out, nil
	case base.Kind == yaml.ScalarNode && cur.Kind == yaml.ScalarNode:
		if base.Value == cur.Value && base.Tag == cur.Tag {
			return nil, nil
		}
		return cur, nil
	}
	if render(base) == render(cur) {
		return nil, nil
	}
	return nil, fmt.Errorf("%s: a %s became a %s", at, kindName(base), kindName(cur))
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "value"
	}
	return "node"
}

// diffList returns the items of a merged list cur adds to base; an item
// base has and cur has not cannot be said by an override. environment
// and labels merge by name: a changed value is an added item.
func diffList(at, key string, base, cur *yaml.Node) (*yaml.Node, error) {
	byName := key == "environment" || key == "labels"
	name := func(n *yaml.Node) string {
		if byName && n.Kind == yaml.ScalarNode {
			k, _, _ := strings.Cut(n.Value, "=")
			return k
		}
		return render(n)
	}
	have := map[string]string{}
	for _, n := range base.Content {
		have[name(n)] = render(n)
	}
	keep := map[string]bool{}
	out := &yaml.Node{Kind: yaml.SequenceNode}
	for _, n := range cur.Content {
		keep[name(n)] = true
		if r, ok := have[name(n)]; ok && r == render(n) {
			continue
		}
		out.Content = append(out.Content, n)
	}
	for _, n := range base.Content {
		if !keep[name(n)] {
			return nil, fmt.Errorf("%s: item %s is removed: an override cannot remove a list item", at, strings.TrimSpace(render(n)))
		}
	}
	if len(out.Content) == 0 {
		return nil, nil
	}
	return out, nil
}

// holds checks that got says everything want does, at path.
func holds(got, want *yaml.Node, at string) error {
	switch want.Kind {
	case yaml.MappingNode:
		if got == nil || got.Kind != yaml.MappingNode {
			return fmt.Errorf("%s is not a mapping", at)
		}
		for i := 0; i+1 < len(want.Content); i += 2 {
			k := want.Content[i].Value
			if err := holds(mapGet(got, k), want.Content[i+1], at+"."+k); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		if got == nil || got.Kind != yaml.SequenceNode {
			return fmt.Errorf("%s is not a list", at)
		}
		for _, w := range want.Content {
			found := false
			for _, g := range got.Content {
				found = found || render(g) == render(w)
			}
			if !found {
				return fmt.Errorf("%s lacks %s", at, strings.TrimSpace(render(w)))
			}
		}
	default:
		if got == nil || render(got) != render(want) {
			return fmt.Errorf("%s is not %s", at, strings.TrimSpace(render(want)))
		}
	}
	return nil
}

// insertServices writes delta (service name → settings) into the
// override's text: under services:, each setting where the override's
// own structure ends, the rest of the file as it was.
func insertServices(text []byte, delta *yaml.Node) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, fmt.Errorf("docker-compose.override.yml: %w", err)
	}
	lines := udiff.Lines(string(text))
	if doc.Kind == 0 || len(doc.Content) == 0 || doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null" {
		// No document yet (missing, empty or only comments): append one.
		body, err := renderAt(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{keyNode("services"), delta}}, 0)
		if err != nil {
			return nil, err
		}
		out := string(text)
		if out != "" && !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
		return []byte(out + body), nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode || root.Style&yaml.FlowStyle != 0 {
		return nil, errors.New("docker-compose.override.yml is not a block mapping at the top")
	}
	ins := &inserter{lines: lines}
	svcKey, svcs := mapEntry(root, "services")
	if svcs == nil {
		body, err := renderAt(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{keyNode("services"), delta}}, root.Column-1)
		if err != nil {
			return nil, err
		}
		ins.add(len(lines), body)
	} else if err := ins.into(svcKey, svcs, delta, "services"); err != nil {
		return nil, err
	}
	return []byte(ins.result()), nil
}

// inserter collects text to insert after given line indexes.
type inserter struct {
	lines []string
	at    map[int][]string
}

func (in *inserter) add(after int, text string) {
	if in.at == nil {
		in.at = map[int][]string{}
	}
	in.at[after] = append(in.at[after], text)
}

func (in *inserter) result() string {
	var b strings.Builder
	for i := 0; i <= len(in.lines); i++ {
		if i > 0 {
			l := in.lines[i-1]
			b.WriteString(l)
			if !strings.HasSuffix(l, "\n") && len(in.at[i]) > 0 {
				b.WriteString("\n")
			}
		}
		for _, t := range in.at[i] {
			b.WriteString(t)
		}
	}
	return b.String()
}

// into writes want's entries into the existing mapping node m (its key
// node k), at path.
func (in *inserter) into(k, m, want *yaml.Node, at string) error {
	if m.Kind == yaml.ScalarNode && m.Tag == "!!null" && m.Value == "" {
		// "key:" with nothing under it yet.
		body, err := renderAt(want, k.Column-1+2)
		if err != nil {
			return err
		}
		in.add(k.Line, body)
		return nil
	}
	if m.Kind != yaml.MappingNode || m.Style&yaml.FlowStyle != 0 {
		return fmt.Errorf("%s in docker-compose.override.yml is not a block mapping", at)
	}
	var fresh []*yaml.Node
	for i := 0; i+1 < len(want.Content); i += 2 {
		key, val := want.Content[i].Value, want.Content[i+1]
		ek, ev := mapEntry(m, key)
		switch {
		case ev == nil:
			fresh = append(fresh, want.Content[i], val)
		case val.Kind == yaml.MappingNode && (ev.Kind == yaml.MappingNode || ev.Tag == "!!null" && ev.Value == ""):
			if err := in.into(ek, ev, val, at+"."+key); err != nil {
				return err
			}
		case val.Kind == yaml.SequenceNode && ev.Kind == yaml.SequenceNode && mergedLists[key]:
			if ev.Style&yaml.FlowStyle != 0 || len(ev.Content) == 0 {
				return fmt.Errorf("%s.%s in docker-compose.override.yml is a flow list", at, key)
			}
			var add []*yaml.Node
			for _, w := range val.Content {
				found := false
				for _, g := range ev.Content {
					found = found || render(g) == render(w)
				}
				if !found {
					add = append(add, w)
				}
			}
			if len(add) == 0 {
				continue
			}
			body, err := renderAt(&yaml.Node{Kind: yaml.SequenceNode, Content: add}, dashColumn(in.lines, ev.Content[0]))
			if err != nil {
				return err
			}
			in.add(ek.Line, body)
		default:
			if render(val) == render(ev) {
				continue
			}
			return fmt.Errorf("docker-compose.override.yml sets %s.%s already, to something else, and it wins over docker-compose.yml", at, key)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	col := m.Content[0].Column - 1
	body, err := renderAt(&yaml.Node{Kind: yaml.MappingNode, Content: fresh}, col)
	if err != nil {
		return err
	}
	in.add(k.Line, body)
	return nil
}

func mapEntry(m *yaml.Node, key string) (k, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// dashColumn is the 0-based column of the "-" of a block list item.
func dashColumn(lines []string, item *yaml.Node) int {
	if item.Line-1 < len(lines) {
		l := lines[item.Line-1]
		if i := strings.Index(l, "-"); i >= 0 && i < item.Column {
			return i
		}
	}
	return max(item.Column-3, 0)
}

// renderAt renders n as block YAML indented by indent spaces, comments
// kept, two spaces a level.
func renderAt(n *yaml.Node, indent int) (string, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(unstyle(n)); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	pad := strings.Repeat(" ", indent)
	var out strings.Builder
	for _, l := range strings.SplitAfter(b.String(), "\n") {
		if l == "" {
			continue
		}
		if strings.TrimSpace(l) != "" {
			out.WriteString(pad)
		}
		out.WriteString(l)
	}
	return out.String(), nil
}

// unstyle copies n with flow style dropped from the mappings and lists it
// holds, so they render as blocks at the indentation given.
func unstyle(n *yaml.Node) *yaml.Node {
	c := *n
	if c.Kind == yaml.MappingNode || c.Kind == yaml.SequenceNode {
		c.Style &^= yaml.FlowStyle
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, x := range n.Content {
			c.Content[i] = unstyle(x)
		}
	}
	return &c
}
