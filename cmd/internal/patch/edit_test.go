package patch

import (
	"errors"
	"strings"
	"testing"
)

// oneEdit parses and binds a patch with a single edit whose keys are given
// (one "key = value" a line; file and description are filled in).
func oneEdit(t testing.TB, keys string) *boundEdit {
	t.Helper()
	src := "description = test\nparams = P\n[defaults]\nP = 2048M\n[edit e]\nfile = f.conf\n" + keys
	p, err := Parse("t.ini", []byte(src))
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", src, err)
	}
	b, err := Bind(p, nil)
	if err != nil {
		t.Fatalf("bind: %v", err)
	}
	return b.edits[0]
}

// errAny expects an error without a sentinel to name.
var errAny = errors.New("any error")

type editCase struct {
	name    string
	edit    string // keys of the edit
	in      string
	want    string // "" with err set: error expected
	err     error
	errText string // a part of the error text
}

func runEditCases(t *testing.T, cases []editCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			be := oneEdit(t, c.edit)
			got, err := edit(c.in, be)
			if c.err != nil {
				if err == nil || c.err != errAny && !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				if c.errText != "" && !strings.Contains(err.Error(), c.errText) {
					t.Fatalf("err = %q, want it to name %q", err, c.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("got:\n%q\nwant:\n%q", got, c.want)
			}
			again, err := edit(got, be)
			if err != nil || again != got {
				t.Fatalf("second apply is not a no-op: %q, %v", again, err)
			}
		})
	}
}

func TestEditINI(t *testing.T) {
	pools := "[system-worker]\nphp_admin_value[memory_limit] = 256M\n\n[web-worker]\nuser = www-data\nphp_admin_value[memory_limit] = 512M\nclear_env = no\n"
	web := "kind = ini\nsection = web-worker\nkey = php_admin_value[memory_limit]\nvalue = ${P}\n"
	runEditCases(t, []editCase{
		{name: "section with brackets in keys", edit: web, in: pools,
			want: strings.Replace(pools, "512M", "2048M", 1)},
		{name: "already applied", edit: web, in: strings.Replace(pools, "512M", "2048M", 1),
			want: strings.Replace(pools, "512M", "2048M", 1)},
		{name: "crlf kept", edit: web, in: strings.ReplaceAll(pools, "\n", "\r\n"),
			want: strings.ReplaceAll(strings.Replace(pools, "512M", "2048M", 1), "\n", "\r\n")},
		{name: "no trailing newline", edit: "kind = ini\nkey = a\nvalue = 2\n", in: "a = 1", want: "a = 2"},
		{name: "tight spacing kept", edit: "kind = ini\nkey = memory_limit\nvalue = ${P}\n", in: "x=1\nmemory_limit=512M\n", want: "x=1\nmemory_limit=2048M\n"},
		{name: "tab spacing and trailing blanks kept", edit: "kind = ini\nkey = a\nvalue = 2\n", in: "a\t=\t1  \n", want: "a\t=\t2  \n"},
		{name: "keys before first section", edit: "kind = ini\nkey = a\nvalue = 2\n", in: "; c\na = 1\n[s]\na = 1\n", want: "; c\na = 2\n[s]\na = 1\n"},
		{name: "commented key is not the key", edit: "kind = ini\nkey = a\nvalue = 2\n", in: ";a = 1\na = 1\n", want: ";a = 1\na = 2\n"},
		{name: "duplicate keys all set", edit: "kind = ini\nsection = s\nkey = a\nvalue = 2\n", in: "[s]\na = 1\nb = 0\na = 3\n", want: "[s]\na = 2\nb = 0\na = 2\n"},
		{name: "other section untouched", edit: "kind = ini\nsection = t\nkey = a\nvalue = 2\n", in: "[s]\na = 1\n[t]\na = 1\n", want: "[s]\na = 1\n[t]\na = 2\n"},
		{name: "missing key added at end of section", edit: "kind = ini\nsection = s\nkey = b\nvalue = 2\nmissing = add\n", in: "[s]\na = 1\n\n[t]\nc = 3\n", want: "[s]\na = 1\nb = 2\n\n[t]\nc = 3\n"},
		{name: "missing key added in tight style", edit: "kind = ini\nkey = b\nvalue = 2\nmissing = add\n", in: "a=1", want: "a=1\nb=2"},
		{name: "missing key is an error", edit: "kind = ini\nsection = s\nkey = b\nvalue = 2\n", in: "[s]\na = 1\n", err: ErrAnchorMissing, errText: "key b in section [s]"},
		{name: "missing section is an error", edit: web, in: "[system-worker]\na = 1\n", err: ErrAnchorMissing, errText: "section [web-worker]"},
		{name: "missing section is an error also with missing = add", edit: web + "missing = add\n", in: "[x]\n", err: ErrAnchorMissing},
	})
}

func TestEditEnv(t *testing.T) {
	conf := "# mailcow\nDBPASS=secret\n# Dovecot\nFTS_HEAP=128\nFTS_HEAP_X=1\n"
	heap := "kind = env\nkey = FTS_HEAP\nvalue = 1024\n"
	runEditCases(t, []editCase{
		{name: "set", edit: heap, in: conf, want: strings.Replace(conf, "FTS_HEAP=128", "FTS_HEAP=1024", 1)},
		{name: "prefix of another key untouched", edit: "kind = env\nkey = FTS_HEAP_X\nvalue = 2\n", in: conf, want: strings.Replace(conf, "FTS_HEAP_X=1", "FTS_HEAP_X=2", 1)},
		{name: "double quotes kept", edit: heap, in: "FTS_HEAP=\"128\"\n", want: "FTS_HEAP=\"1024\"\n"},
		{name: "single quotes kept", edit: heap, in: "FTS_HEAP='128'", want: "FTS_HEAP='1024'"},
		{name: "comment after value kept", edit: heap, in: "FTS_HEAP=128 # MB\n", want: "FTS_HEAP=1024 # MB\n"},
		{name: "export kept", edit: heap, in: "export FTS_HEAP=128\r\n", want: "export FTS_HEAP=1024\r\n"},
		{name: "commented assignment is not one", edit: heap, in: "#FTS_HEAP=128\nFTS_HEAP=128\n", want: "#FTS_HEAP=128\nFTS_HEAP=1024\n"},
		{name: "duplicates all set", edit: heap, in: "FTS_HEAP=1\nFTS_HEAP=2\n", want: "FTS_HEAP=1024\nFTS_HEAP=1024\n"},
		{name: "missing added", edit: heap + "missing = add\n", in: "A=1", want: "A=1\nFTS_HEAP=1024"},
		{name: "missing added to empty file", edit: heap + "missing = add\n", in: "", want: "FTS_HEAP=1024\n"},
		{name: "missing is an error", edit: heap, in: conf[:20], err: ErrAnchorMissing, errText: "variable FTS_HEAP"},
		{name: "value needing quotes gets single quotes", edit: "kind = env\nkey = TZ\nvalue = a b\n", in: "TZ=x\n", want: "TZ='a b'\n"},
		{name: "value given quoted is kept", edit: "kind = env\nkey = TZ\nvalue = \"a b\"\n", in: "TZ=x\n", want: "TZ=\"a b\"\n"},
		{name: "quote inside quotes refused", edit: "kind = env\nkey = TZ\nvalue = a\"b\n", in: "TZ=\"x\"\n", err: errEnvQuote, errText: "variable TZ"},
		{name: "dollar inside double quotes refused", edit: "kind = env\nkey = TZ\nvalue = a$b\n", in: "TZ=\"x\"\n", err: errEnvQuote},
	})
}

func TestEditLine(t *testing.T) {
	opts := "map_watch_interval = 30s;\nsoft_reject_on_timeout = true;\nlocal_addrs = /etc/x.map;\n"
	la := "kind = line\nline = local_addrs = [a, b];\nmatch = ^\\s*local_addrs\\s*=\nafter = ^soft_reject_on_timeout\n"
	runEditCases(t, []editCase{
		{name: "replace match", edit: la, in: opts, want: strings.Replace(opts, "/etc/x.map;", "[a, b];", 1)},
		{name: "insert after anchor", edit: la, in: opts[:57], want: opts[:57] + "local_addrs = [a, b];\n"},
		{name: "insert after last line without newline", edit: la, in: opts[:56], want: opts[:56] + "\nlocal_addrs = [a, b];"},
		{name: "crlf insert", edit: la, in: "soft_reject_on_timeout = true;\r\nx\r\n", want: "soft_reject_on_timeout = true;\r\nlocal_addrs = [a, b];\r\nx\r\n"},
		{name: "indentation of replaced line kept", edit: "kind = line\nline = SxVMemLimit = 512;\nmatch = ^\\s*SxVMemLimit\\s*=\n", in: "{\n    SxVMemLimit = 384;\n}\n", want: "{\n    SxVMemLimit = 512;\n}\n"},
		{name: "position end", edit: "kind = line\nline = enabled = false;\nmatch = ^\\s*enabled\\s*=\nposition = end\n", in: "a = 1;\n", want: "a = 1;\nenabled = false;\n"},
		{name: "no match literal line", edit: "kind = line\nline = 192.0.2.1\nposition = end\n", in: "# wl\n", want: "# wl\n192.0.2.1\n"},
		{name: "literal line present", edit: "kind = line\nline = a.b\nposition = end\n", in: "a.b\n", want: "a.b\n"},
		{name: "literal dot is not a wildcard", edit: "kind = line\nline = a.b\nposition = end\n", in: "axb\n", want: "axb\na.b\n"},
		{name: "two matches is an error", edit: la, in: opts + "local_addrs = y;\n", err: ErrAmbiguous, errText: "lines 3, 4"},
		{name: "anchor missing", edit: la, in: "x = 1;\n", err: ErrAnchorMissing, errText: "anchor line matching /^soft_reject_on_timeout/"},
		{name: "anchor twice", edit: la, in: "soft_reject_on_timeout = 1;\nsoft_reject_on_timeout = 2;\n", err: ErrAmbiguous},
		{name: "no match and no anchor", edit: "kind = line\nline = a = 1\nmatch = ^a\\s*=\n", in: "b = 1\n", err: ErrAnchorMissing, errText: "line matching /^a\\s*=/"},
	})
}

func TestEditBlock(t *testing.T) {
	blk := "kind = block\nposition = end\ncontent = \"\"\"\n1.2.3.4\n5.6.7.8\n\"\"\"\n"
	begin, end := "# BEGIN mcupdate t/e", "# END mcupdate t/e"
	block := begin + "\n1.2.3.4\n5.6.7.8\n" + end + "\n"
	runEditCases(t, []editCase{
		{name: "append", edit: blk, in: "# IP whitelist\n# 127.0.0.1\n", want: "# IP whitelist\n# 127.0.0.1\n" + block},
		{name: "append to empty", edit: blk, in: "", want: block},
		{name: "append without final newline", edit: blk, in: "# wl", want: "# wl\n" + block[:len(block)-1]},
		{name: "replace content", edit: blk, in: "a\n" + begin + "\nold\n" + end + "\nz\n", want: "a\n" + block + "z\n"},
		{name: "crlf", edit: blk, in: "a\r\n", want: "a\r\n" + strings.ReplaceAll(block, "\n", "\r\n")},
		{name: "after anchor", edit: "kind = block\nafter = ^\\[x\\]\ncontent = \"\"\"\nk = v\n\"\"\"\n", in: "[x]\na = 1\n", want: "[x]\n" + begin + "\nk = v\n" + end + "\na = 1\n"},
		{name: "comment prefix", edit: "kind = block\nposition = end\ncomment = //\ncontent = x;\n", in: "", want: "// BEGIN mcupdate t/e\nx;\n// END mcupdate t/e\n"},
		{name: "begin without end", edit: blk, in: begin + "\nx\n", err: ErrAnchorMissing, errText: "END"},
		{name: "end without begin", edit: blk, in: "x\n" + end + "\n", err: ErrAnchorMissing, errText: "BEGIN"},
		{name: "two blocks", edit: blk, in: block + block, err: ErrAmbiguous},
		{name: "anchor missing", edit: "kind = block\nafter = ^\\[x\\]\ncontent = k\n", in: "[y]\n", err: ErrAnchorMissing},
	})
}

func TestEditFile(t *testing.T) {
	runEditCases(t, []editCase{
		{name: "content", edit: "kind = file\ncontent = \"\"\"\na\nb\n\"\"\"\n", in: "old\n", want: "a\nb\n"},
		{name: "same", edit: "kind = file\ncontent = x\n", in: "x", want: "x"},
	})
}

func TestEditJSON(t *testing.T) {
	doc := "{\n  \"log-driver\": \"local\",\n  \"ipv6\": false,\n  \"a\": {\"b.c\": 1}\n}\n"
	runEditCases(t, []editCase{
		{name: "set", edit: "kind = json\npath = ipv6\nvalue = true\n", in: doc, want: strings.Replace(doc, "false", "true", 1)},
		{name: "nested key with dot", edit: "kind = json\npath = [\"a\", \"b.c\"]\nvalue = 2\n", in: doc, want: strings.Replace(doc, "1}", "2}", 1)},
		{name: "one line document", edit: "kind = json\npath = ipv6\nvalue = true\n", in: `{"log-driver": "local", "ipv6":false}`, want: `{"log-driver": "local", "ipv6":true}`},
		{name: "param in a string", edit: "kind = json\npath = x\nvalue = \"${P}\"\nmissing = add\n", in: "{}", want: `{"x": "2048M"}`},
		{name: "missing key", edit: "kind = json\npath = fixed-cidr-v6\nvalue = \"fd00::/80\"\n", in: doc, err: ErrAnchorMissing, errText: `["fixed-cidr-v6"]`},
		{name: "missing parent", edit: "kind = json\npath = x.y\nvalue = 1\nmissing = add\n", in: doc, err: ErrAnchorMissing},
		{name: "broken JSON", edit: "kind = json\npath = x\nvalue = 1\n", in: "{", err: errAny, errText: "line 1"},
	})
}
