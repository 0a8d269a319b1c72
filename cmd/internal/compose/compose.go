// Package compose reads the parts of docker-compose files that mcupdate's
// risk diff and verify's checks look at: services and, per service, image,
// ports, volumes, dns, environment, mem_limit, networks with their aliases
// and network_mode; and the top-level networks (which are external).
//
// It is deliberately not a compose implementation. It works on yaml.v3
// nodes so that every error can name the file and line, tolerates what
// real mailcow files and admins' overrides contain (anchors, aliases,
// merge keys `<<:`, x- extension fields, short and long port and volume
// syntax, environment as a list or a map), and ignores everything else.
package compose

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxDepth bounds how deep aliases and merge keys are followed, so a
// hostile or broken file cannot make Parse recurse without end.
const maxDepth = 32

// maxWork bounds the nodes visited through aliases: a few nested aliases
// can stand for billions of nodes ("billion laughs"), and real compose
// files need a few thousand.
const maxWork = 1 << 20

// ErrSyntax is wrapped by every error Parse returns for a file that is
// not a compose file mcupdate can read.
var ErrSyntax = errors.New("invalid compose file")

// Error is a problem in a compose file, with the line (1-based; 0 when
// unknown) it was found on. For YAML syntax errors it is the line yaml.v3
// reports, which can be where the enclosing block starts rather than the
// offending line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Unwrap makes errors.Is(err, ErrSyntax) true.
func (e *Error) Unwrap() error { return ErrSyntax }

// File is a parsed compose file.
type File struct {
	// Name is the file name given to Parse, used in messages.
	Name string
	// Services maps a service name to its definition.
	Services map[string]*Service
	// Networks maps the keys of the top-level networks to their
	// definitions.
	Networks map[string]*Network
}

// Network is a top-level network definition.
type Network struct {
	Name string
	// Line is where the network's key is in the file.
	Line int
	// External is true for `external: true` (or the older
	// `external: {name: x}`): compose does not create the network, other
	// containers on the host may be on it.
	External bool
}

// Attachment is a service's membership of one network.
type Attachment struct {
	// Network is the key of the network in the top-level networks.
	Network string
	// Line is where the network's key is in the service.
	Line int
	// Aliases are the extra DNS names the service has on the network.
	Aliases []Alias
}

// Alias is one network alias of a service.
type Alias struct {
	Name string
	Line int
}

// Service is the part of a compose service the risk diff looks at.
type Service struct {
	Name string
	// Line is where the service's key is in the file.
	Line  int
	Image string
	// HasImage is true when the service sets image or build, that is,
	// it can run on its own and is not only an override of another
	// file's service.
	HasImage bool
	// Ports and Volumes are in short syntax ("8080:80/tcp",
	// "./data:/data:ro"); long syntax is converted.
	Ports   []string
	Volumes []string
	// HasDNS is true when the service has a dns key at all, even empty:
	// compose concatenates dns lists across files.
	HasDNS bool
	DNS    []string
	// Environment maps a variable to its value; a list entry without
	// "=" maps to "".
	Environment map[string]string
	MemLimit    string
	// HasNetworks is true when the service has a networks key; without
	// one compose attaches it to the project's default network.
	HasNetworks bool
	// Networks are the networks the service joins, in file order.
	Networks []Attachment
	// NetworkMode is network_mode ("host", "service:x"); "" when unset.
	NetworkMode string
	// KeyLines maps each key the service sets to the line of the key.
	KeyLines map[string]int
	// Replaced holds the keys tagged !override or !reset: compose
	// replaces the other files' value with this one instead of merging
	// the two (Docker Compose 2.24.4 and later).
	Replaced map[string]bool
	// Fingerprint identifies the service's whole definition, positions
	// and comments excluded: two services with the same fingerprint are
	// defined the same.
	Fingerprint string
	// Keys maps each key the service sets (after merge keys) to the
	// fingerprint of its value, to tell which keys two versions of a
	// service differ in.
	Keys map[string]string
}

// Names returns the service names, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Services))
	for n := range f.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Parse reads a compose file. An empty file, or one without services,
// gives a File with no services. name is used in errors only.
func Parse(name string, data []byte) (f *File, err error) {
	f = &File{Name: name, Services: map[string]*Service{}, Networks: map[string]*Network{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line, msg := yamlErr(err)
		return nil, &Error{File: name, Line: line, Msg: msg}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return f, nil
	}
	p := parser{name: name}
	root := p.resolve(doc.Content[0], 0)
	if root == nil {
		return nil, p.err
	}
	if isNull(root) {
		return f, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, p.errorf(root, "top level is a %s, want a mapping", kindName(root))
	}
	top, ok := p.pairs(root, 0)
	if !ok {
		return nil, p.err
	}
	for _, kv := range top {
		if kv.key.Value == "networks" {
			if !p.networks(f, kv.val) {
				return nil, p.err
			}
			continue
		}
		if kv.key.Value != "services" {
			continue
		}
		svcs := p.resolve(kv.val, 0)
		if svcs == nil {
			return nil, p.err
		}
		if isNull(svcs) {
			continue
		}
		if svcs.Kind != yaml.MappingNode {
			return nil, p.errorf(svcs, "services is a %s, want a mapping", kindName(svcs))
		}
		list, ok := p.pairs(svcs, 0)
		if !ok {
			return nil, p.err
		}
		for _, s := range list {
			if strings.HasPrefix(s.key.Value, "x-") {
				continue
			}
			svc, err := p.service(s.key, s.val)
			if err != nil {
				return nil, err
			}
			f.Services[svc.Name] = svc
		}
	}
	return f, nil
}

type parser struct {
	name string
	err  error
	work int
}

// spend counts n units of work and fails once the budget is gone.
func (p *parser) spend(n *yaml.Node, units int) bool {
	p.work += units
	if p.work > maxWork {
		if p.err == nil {
			p.errorf(n, "aliases expand to too many nodes")
		}
		return false
	}
	return true
}

type pair struct{ key, val *yaml.Node }

func (p *parser) errorf(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.err = &Error{File: p.name, Line: line, Msg: fmt.Sprintf(format, args...)}
	return p.err
}

// resolve follows aliases. It returns nil, with p.err set, when they nest
// too deep.
func (p *parser) resolve(n *yaml.Node, depth int) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		if depth > maxDepth || n.Alias == nil {
			p.errorf(n, "alias *%s nests too deep or is undefined", n.Value)
			return nil
		}
		n = n.Alias
		depth++
	}
	if n == nil {
		p.errorf(nil, "empty node")
		return nil
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line}
		}
		return p.resolve(n.Content[0], depth+1)
	}
	return n
}

// pairs returns a mapping's key/value pairs with merge keys expanded:
// keys of the mapping itself win over merged ones, and earlier merged
// mappings win over later ones, as YAML's merge key type says.
func (p *parser) pairs(m *yaml.Node, depth int) ([]pair, bool) {
	if depth > maxDepth {
		p.errorf(m, "merge keys nest too deep")
		return nil, false
	}
	if !p.spend(m, len(m.Content)/2+1) {
		return nil, false
	}
	var own, merged []pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == "!!merge" {
			src := p.resolve(v, depth)
			if src == nil {
				return nil, false
			}
			var srcs []*yaml.Node
			switch src.Kind {
			case yaml.MappingNode:
				srcs = []*yaml.Node{src}
			case yaml.SequenceNode:
				for _, e := range src.Content {
					r := p.resolve(e, depth)
					if r == nil {
						return nil, false
					}
					srcs = append(srcs, r)
				}
			default:
				p.errorf(v, "merge key << needs a mapping or a list of mappings, not a %s", kindName(src))
				return nil, false
			}
			for _, s := range srcs {
				if s.Kind != yaml.MappingNode {
					p.errorf(s, "merge key << needs a mapping, not a %s", kindName(s))
					return nil, false
				}
				sub, ok := p.pairs(s, depth+1)
				if !ok {
					return nil, false
				}
				merged = append(merged, sub...)
			}
			continue
		}
		own = append(own, pair{k, v})
		seen[k.Value] = true
	}
	for _, kv := range merged {
		if !seen[kv.key.Value] {
			own = append(own, kv)
			seen[kv.key.Value] = true
		}
	}
	return own, true
}

func (p *parser) service(k, v *yaml.Node) (*Service, error) {
	if k.Kind != yaml.ScalarNode {
		return nil, p.errorf(k, "service name is a %s, want a string", kindName(k))
	}
	s := &Service{Name: k.Value, Line: k.Line, Keys: map[string]string{}, KeyLines: map[string]int{}}
	body := p.resolve(v, 0)
	if body == nil {
		return nil, p.err
	}
	if isNull(body) {
		return s, nil
	}
	if body.Kind != yaml.MappingNode {
		return nil, p.errorf(body, "service %s is a %s, want a mapping", s.Name, kindName(body))
	}
	fields, ok := p.pairs(body, 0)
	if !ok {
		return nil, p.err
	}
	var fp strings.Builder
	for _, kv := range fields {
		val := p.resolve(kv.val, 0)
		if val == nil {
			return nil, p.err
		}
		key := kv.key.Value
		s.KeyLines[key] = kv.key.Line
		if t := kv.val.Tag; t == "!override" || t == "!reset" {
			if s.Replaced == nil {
				s.Replaced = map[string]bool{}
			}
			s.Replaced[key] = true
			if t == "!reset" {
				// The key's value is gone, whatever the tag is on.
				val = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: val.Line}
			}
		}
		var kfp strings.Builder
		if !p.fingerprint(&kfp, val, 0) {
			return nil, p.err
		}
		s.Keys[key] = kfp.String()
		fmt.Fprintf(&fp, "%q:%s\n", key, s.Keys[key])
		var err error
		switch key {
		case "image":
			s.Image, err = p.scalar(s.Name, key, val)
			s.HasImage = true
		case "build":
			s.HasImage = true
		case "mem_limit":
			s.MemLimit, err = p.scalar(s.Name, key, val)
		case "dns":
			s.HasDNS = true
			s.DNS, err = p.stringList(s.Name, key, val, nil)
		case "ports":
			s.Ports, err = p.stringList(s.Name, key, val, longPort)
		case "volumes":
			s.Volumes, err = p.stringList(s.Name, key, val, longVolume)
		case "environment":
			s.Environment, err = p.env(s.Name, val)
		case "network_mode":
			if val.Kind == yaml.ScalarNode && !isNull(val) {
				s.NetworkMode = val.Value
			}
		case "networks":
			s.HasNetworks = true
			if !p.attachments(s, val) {
				return nil, p.err
			}
		}
		if err != nil {
			return nil, err
		}
	}
	s.Fingerprint = fp.String()
	return s, nil
}

// networks reads the top-level networks. Shapes compose would refuse
// are left out rather than reported: the checks that use networks only
// warn, and the risk diff must not stop on them.
func (p *parser) networks(f *File, n *yaml.Node) bool {
	n = p.resolve(n, 0)
	if n == nil {
		return false
	}
	if n.Kind != yaml.MappingNode {
		return true
	}
	kvs, ok := p.pairs(n, 0)
	if !ok {
		return false
	}
	for _, kv := range kvs {
		if kv.key.Kind != yaml.ScalarNode || strings.HasPrefix(kv.key.Value, "x-") {
			continue
		}
		nw := &Network{Name: kv.key.Value, Line: kv.key.Line}
		f.Networks[nw.Name] = nw
		body := p.resolve(kv.val, 0)
		if body == nil {
			return false
		}
		if body.Kind != yaml.MappingNode {
			continue
		}
		fields, ok := p.pairs(body, 0)
		if !ok {
			return false
		}
		for _, fv := range fields {
			if fv.key.Value != "external" {
				continue
			}
			v := p.resolve(fv.val, 0)
			if v == nil {
				return false
			}
			switch v.Kind {
			case yaml.ScalarNode:
				nw.External = strings.EqualFold(v.Value, "true")
			case yaml.MappingNode:
				nw.External = true // the older external: {name: x}
			}
		}
	}
	return true
}

// attachments reads a service's networks: a list of network names, or a
// mapping of names to null or to a mapping with aliases.
func (p *parser) attachments(s *Service, n *yaml.Node) bool {
	switch {
	case isNull(n):
	case n.Kind == yaml.SequenceNode:
		for _, e := range n.Content {
			e = p.resolve(e, 0)
			if e == nil {
				return false
			}
			if e.Kind == yaml.ScalarNode {
				s.Networks = append(s.Networks, Attachment{Network: e.Value, Line: e.Line})
			}
		}
	case n.Kind == yaml.MappingNode:
		kvs, ok := p.pairs(n, 0)
		if !ok {
			return false
		}
		for _, kv := range kvs {
			a := Attachment{Network: kv.key.Value, Line: kv.key.Line}
			body := p.resolve(kv.val, 0)
			if body == nil {
				return false
			}
			if body.Kind == yaml.MappingNode {
				fields, ok := p.pairs(body, 0)
				if !ok {
					return false
				}
				for _, fv := range fields {
					if fv.key.Value != "aliases" {
						continue
					}
					v := p.resolve(fv.val, 0)
					if v == nil {
						return false
					}
					if v.Kind != yaml.SequenceNode {
						continue
					}
					for _, e := range v.Content {
						e = p.resolve(e, 0)
						if e == nil {
							return false
						}
						if e.Kind == yaml.ScalarNode && !isNull(e) {
							a.Aliases = append(a.Aliases, Alias{Name: e.Value, Line: e.Line})
						}
					}
				}
			}
			s.Networks = append(s.Networks, a)
		}
	}
	return true
}

// AppendsDNS reports whether compose, merging over onto base, puts over's
// dns list after base's instead of replacing it: both set dns and over's
// is not tagged !override or !reset. The base's resolver then stays first.
func AppendsDNS(base, over *Service) bool {
	return base != nil && over != nil && base.HasDNS && over.HasDNS && !over.Replaced["dns"]
}

func (p *parser) scalar(svc, key string, n *yaml.Node) (string, error) {
	if isNull(n) {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", p.errorf(n, "service %s: %s is a %s, want a string", svc, key, kindName(n))
	}
	return n.Value, nil
}

// stringList reads a string, or a list of strings or (with long) of
// mappings in long syntax.
func (p *parser) stringList(svc, key string, n *yaml.Node, long func(map[string]string) string) ([]string, error) {
	switch {
	case isNull(n):
		return nil, nil
	case n.Kind == yaml.ScalarNode:
		return []string{n.Value}, nil
	case n.Kind != yaml.SequenceNode:
		return nil, p.errorf(n, "service %s: %s is a %s, want a list", svc, key, kindName(n))
	}
	out := make([]string, 0, len(n.Content))
	for _, e := range n.Content {
		e = p.resolve(e, 0)
		if e == nil {
			return nil, p.err
		}
		switch {
		case e.Kind == yaml.ScalarNode:
			out = append(out, e.Value)
		case e.Kind == yaml.MappingNode && long != nil:
			kvs, ok := p.pairs(e, 0)
			if !ok {
				return nil, p.err
			}
			m := map[string]string{}
			for _, kv := range kvs {
				v := p.resolve(kv.val, 0)
				if v == nil {
					return nil, p.err
				}
				if v.Kind == yaml.ScalarNode {
					m[kv.key.Value] = v.Value
				}
			}
			out = append(out, long(m))
		default:
			return nil, p.errorf(e, "service %s: %s entry is a %s, want a string", svc, key, kindName(e))
		}
	}
	return out, nil
}

func longPort(m map[string]string) string {
	s := m["target"]
	if pub := m["published"]; pub != "" {
		s = pub + ":" + s
		if ip := m["host_ip"]; ip != "" {
			s = ip + ":" + s
		}
	}
	if proto := m["protocol"]; proto != "" {
		s += "/" + proto
	}
	return s
}

func longVolume(m map[string]string) string {
	s := m["target"]
	if src := m["source"]; src != "" {
		s = src + ":" + s
	}
	if m["read_only"] == "true" {
		s += ":ro"
	}
	return s
}

func (p *parser) env(svc string, n *yaml.Node) (map[string]string, error) {
	env := map[string]string{}
	switch {
	case isNull(n):
		return env, nil
	case n.Kind == yaml.SequenceNode:
		for _, e := range n.Content {
			e = p.resolve(e, 0)
			if e == nil {
				return nil, p.err
			}
			if e.Kind != yaml.ScalarNode {
				return nil, p.errorf(e, "service %s: environment entry is a %s, want KEY=VALUE", svc, kindName(e))
			}
			k, v, _ := strings.Cut(e.Value, "=")
			env[k] = v
		}
	case n.Kind == yaml.MappingNode:
		kvs, ok := p.pairs(n, 0)
		if !ok {
			return nil, p.err
		}
		for _, kv := range kvs {
			v := p.resolve(kv.val, 0)
			if v == nil {
				return nil, p.err
			}
			if v.Kind != yaml.ScalarNode {
				return nil, p.errorf(v, "service %s: environment %s is a %s, want a string", svc, kv.key.Value, kindName(v))
			}
			if isNull(v) {
				env[kv.key.Value] = ""
			} else {
				env[kv.key.Value] = v.Value
			}
		}
	default:
		return nil, p.errorf(n, "service %s: environment is a %s, want a list or a mapping", svc, kindName(n))
	}
	return env, nil
}

// fingerprint writes a canonical form of n: values and structure, no
// positions, styles or comments.
func (p *parser) fingerprint(b *strings.Builder, n *yaml.Node, depth int) bool {
	n = p.resolve(n, depth)
	if n == nil {
		return false
	}
	if depth > maxDepth {
		p.errorf(n, "nesting too deep")
		return false
	}
	if !p.spend(n, 1) {
		return false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		fmt.Fprintf(b, "%q", n.Value)
	case yaml.SequenceNode:
		b.WriteByte('[')
		for _, e := range n.Content {
			if !p.fingerprint(b, e, depth+1) {
				return false
			}
			b.WriteByte(',')
		}
		b.WriteByte(']')
	case yaml.MappingNode:
		kvs, ok := p.pairs(n, depth)
		if !ok {
			return false
		}
		b.WriteByte('{')
		for _, kv := range kvs {
			fmt.Fprintf(b, "%q:", kv.key.Value)
			if !p.fingerprint(b, kv.val, depth+1) {
				return false
			}
			b.WriteByte(',')
		}
		b.WriteByte('}')
	}
	return true
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return "string"
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	case yaml.AliasNode:
		return "alias"
	case yaml.DocumentNode:
		return "document"
	}
	return "node"
}

// yamlErr digs the line number out of a yaml.v3 error, whose types do
// not carry it as a field, and returns the message without it.
func yamlErr(err error) (int, string) {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return 0, msg
	}
	n, i := 0, 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' && n < 1<<30 {
		n = n*10 + int(rest[i]-'0')
		i++
	}
	if i == 0 {
		return 0, msg
	}
	return n, strings.TrimPrefix(rest[i:], ": ")
}
