package validate_test

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/upstreamtest"
)

// diffParams are, per shipped patch, the parameter sets the differential
// test binds: values an admin would set (those of the patch package's
// conformance test) and the ends of each parameter's declared range,
// where a checker is likeliest to refuse what the patch writes.
var diffParams = map[string][]map[string]string{
	"fts-heap":              {{"FTS_HEAP": "1024"}, {"FTS_HEAP": "32"}, {"FTS_HEAP": "65536"}},
	"greylist-off":          {nil},
	"message-size-limit":    {{"MESSAGE_SIZE": "50M"}, {"MESSAGE_SIZE": "1M"}, {"MESSAGE_SIZE": "1G"}},
	"php-fpm-pool-size":     {{"MAX_CHILDREN": "80"}, {"MAX_CHILDREN": "15"}, {"MAX_CHILDREN": "10000"}},
	"php-memory-limit":      {{"MEMORY_LIMIT": "2048M"}, {"MEMORY_LIMIT": "32M"}, {"MEMORY_LIMIT": "64G"}},
	"postfix-ipv4-outbound": {nil},
	"rspamd-ip-whitelist":   {{"IPS": "192.0.2.10 2001:db8::/48"}},
	"rspamd-local-addrs":    {{"LOCAL_ADDRS": "10.0.0.0/8, 192.168.10.5"}, {"LOCAL_ADDRS": "2001:db8::/32"}},
	"sogo-workers":          {{"WORKERS": "40", "VMEM_LIMIT": "512"}},
	"twig-cache-perms":      {nil},
}

// diffMailcowConf is a trimmed mailcow.conf in the real one's shape.
const diffMailcowConf = `# ------------------------------
# mailcow web ui configuration
# ------------------------------
MAILCOW_HOSTNAME=mail.example.org
MAILCOW_PASS_SCHEME=BLF-CRYPT
DBNAME=mailcow
DBUSER=mailcow
HTTP_PORT=80
TZ=Europe/Berlin
COMPOSE_PROJECT_NAME=mailcowdockerized
# Dovecot: max FTS heap in MB
FTS_HEAP=128
FTS_PROCS=1
SKIP_CLAMD=n
`

// stageRelease copies a release's real files into a fresh mailcow dir,
// with a mailcow.conf and the folders shipped patches expect.
func stageRelease(t testing.TB, src, dir string) {
	t.Helper()
	if !copyTree(t, src, dir, nil) {
		t.Fatalf("%s is gone", src)
	}
	if err := os.Remove(filepath.Join(dir, "dot.gitignore")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "mailcow.conf"), diffMailcowConf)
	for _, d := range []string{"data/conf/rspamd/custom", "data/conf/postfix", "data/web/templates/cache"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// verdicts runs each checker once per content of the files it reads:
// patches and parameter sets that leave those files alike (the unpatched
// release above all) share one run.
type verdicts struct {
	cache string
	mu    sync.Mutex
	runs  map[string]*onceVerdict
}

type onceVerdict struct {
	once sync.Once
	v    verdict
	ran  bool
}

// judge returns c's verdict on the mailcow dir, and whether it had
// anything to judge.
func (vs *verdicts) judge(t testing.TB, c *checker, dir string) (verdict, bool) {
	t.Helper()
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", c.service)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if !c.reads(rel) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00%s", rel, len(b), b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	key := string(h.Sum(nil))
	vs.mu.Lock()
	o := vs.runs[key]
	if o == nil {
		o = &onceVerdict{}
		vs.runs[key] = o
	}
	vs.mu.Unlock()
	o.once.Do(func() { o.v, o.ran = c.run(t, dir, t.TempDir(), vs.cache) })
	return o.v, o.ran
}

// tally counts what the differential test exercised.
type tally struct {
	mu          sync.Mutex
	comparisons map[string]int // checker → patched/unpatched comparisons
	breaks      map[string]int // checker → broken patched files it rejected
	patches     map[string]bool
	releases    map[string]bool
}

func (c *tally) add(m map[string]int, k string) {
	c.mu.Lock()
	m[k]++
	c.mu.Unlock()
}

// TestShippedPatchesDifferential applies every shipped patch, with each
// of its parameter sets, to the real files of every release in
// ../shared/upstream, and runs the packaged checker of every service
// whose files the patch changes on the unpatched and on the patched
// tree: the patched tree must be accepted whenever the unpatched one is,
// with no new warnings. The checkers' versions are Debian's, not
// mailcow's images', so only the comparison counts. Vacuity is ruled
// out twice: every checker accepts the unpatched files of at least one
// release, and for every patch and file a checker reads, the patched
// file broken on purpose is rejected.
func TestShippedPatchesDifferential(t *testing.T) {
	up := upstreamtest.Dir(t)
	tags := upstreamtest.Tags(t, up)
	lib, err := patch.Library()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range patch.Names(lib) {
		if _, ok := diffParams[n]; !ok {
			t.Errorf("shipped patch %s has no parameter values in differential_test.go", n)
		}
	}

	usable := map[*checker]bool{}
	for _, c := range mailcowCheckers {
		if why := c.usable(t); why != "" {
			t.Logf("%s: not checked: %s", c.service, why)
			continue
		}
		usable[c] = true
	}
	if len(usable) == 0 {
		t.Skip("no packaged checker is installed (.ci/run installs them)")
	}
	vs := &verdicts{cache: t.TempDir(), runs: map[string]*onceVerdict{}}
	accepted := map[string]map[string]bool{} // checker → releases it accepts unpatched
	having := map[string]map[string]bool{}   // checker → releases with files of its service
	for _, c := range mailcowCheckers {
		accepted[c.service] = map[string]bool{}
		having[c.service] = map[string]bool{}
	}
	n := &tally{comparisons: map[string]int{}, breaks: map[string]int{},
		patches: map[string]bool{}, releases: map[string]bool{}}
	var unchecked []string

	// exercise applies bs together to a release's files and compares
	// each checker of cs on the tree before and after; prove also breaks
	// every patched file a checker reads.
	exercise := func(t *testing.T, tag, what string, bs []*patch.Bound, cs []*checker, prove bool) {
		t.Parallel()
		dir := t.TempDir()
		stageRelease(t, filepath.Join(up, tag), dir)
		before := map[*checker]verdict{}
		for _, c := range cs {
			if !usable[c] {
				continue
			}
			if v, ran := vs.judge(t, c, dir); ran {
				before[c] = v
				n.mu.Lock()
				having[c.service][tag] = true
				if v.ok {
					accepted[c.service][tag] = true
				}
				n.mu.Unlock()
			}
		}
		res, err := patch.Apply(fsx.Real{}, dir, bs, patch.ModeApply)
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		for _, pr := range res.Patches {
			if pr.Err != nil {
				t.Fatalf("apply: %v", pr.Err)
			}
		}
		n.mu.Lock()
		for _, b := range bs {
			n.patches[b.Name] = true
		}
		n.releases[tag] = true
		n.mu.Unlock()
		for _, c := range cs {
			old, ok := before[c]
			if !ok {
				continue
			}
			v, _ := vs.judge(t, c, dir)
			n.add(n.comparisons, c.service)
			if old.ok && !v.ok {
				t.Errorf("%s: %s accepts %s's unpatched files but rejects the patched ones:\n%s", what, c.service, tag, v.out)
			}
			if nw := newWarnings(old.warnings, v.warnings); old.ok && len(nw) > 0 {
				t.Errorf("%s: %s warns about %s's patched files, not the unpatched ones:\n%s", what, c.service, tag, strings.Join(nw, "\n"))
			}
			if !prove || !old.ok {
				continue
			}
			// The proof that the checker read what the patch wrote:
			// each of those files, broken.
			for _, b := range bs {
				for _, f := range b.Files() {
					if !c.reads(f) {
						continue
					}
					p := filepath.Join(dir, f)
					s, exists := read(t, p)
					if !exists {
						t.Errorf("%s: %s is not there after the patch", what, f)
						continue
					}
					write(t, p, c.breakFile(f, s))
					if bv, _ := vs.judge(t, c, dir); bv.ok {
						t.Errorf("%s: %s accepts %s broken on purpose: its verdicts say nothing about this file", what, c.service, f)
					} else {
						n.add(n.breaks, c.service)
					}
					write(t, p, s)
				}
			}
		}
	}

	t.Run("matrix", func(t *testing.T) {
		var together []*patch.Bound // the first parameter set of each checked patch
		togetherCs := map[*checker]bool{}
		for _, name := range patch.Names(lib) {
			for i, params := range diffParams[name] {
				b, err := patch.Bind(lib[name], params)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				var cs []*checker
				var judged []string // files of the patch some checker reads
				for _, c := range mailcowCheckers {
					reads := false
					for _, f := range b.Files() {
						if c.reads(f) {
							reads = true
							judged = append(judged, f)
						}
					}
					if reads {
						cs = append(cs, c)
						togetherCs[c] = true
					}
				}
				for _, f := range b.Files() {
					if !contains(judged, f) && i == 0 {
						unchecked = append(unchecked, name+": "+f)
					}
				}
				if len(cs) == 0 {
					continue
				}
				if i == 0 {
					together = append(together, b)
				}
				for ti, tag := range tags {
					what := fmt.Sprintf("%s with %v", name, params)
					t.Run(fmt.Sprintf("%s/%s/%d", tag, name, i), func(t *testing.T) {
						exercise(t, tag, what, []*patch.Bound{b}, cs, ti == len(tags)-1)
					})
				}
			}
		}
		// The post hook applies an admin's patches together: so does
		// this, with every checked shipped patch at once.
		var cs []*checker
		for _, c := range mailcowCheckers {
			if togetherCs[c] {
				cs = append(cs, c)
			}
		}
		for _, tag := range tags {
			t.Run(tag+"/all-together", func(t *testing.T) {
				exercise(t, tag, "every shipped patch together", together, cs, false)
			})
		}
	})

	for _, c := range mailcowCheckers {
		if usable[c] && n.comparisons[c.service] > 0 && len(accepted[c.service]) == 0 {
			t.Errorf("%s rejects the unpatched files of every release: the differential test cannot fail for it", c.service)
		}
	}
	total := 0
	var per []string
	for _, c := range mailcowCheckers {
		total += n.comparisons[c.service]
		per = append(per, fmt.Sprintf("%s %d (accepts the unpatched files of %d of the %d releases that have them, rejected %d broken files)",
			c.service, n.comparisons[c.service], len(accepted[c.service]), len(having[c.service]), n.breaks[c.service]))
	}
	sort.Strings(unchecked)
	t.Logf("%d patched/unpatched comparisons over %d patches and %d releases, %d distinct checker runs: %s",
		total, len(n.patches), len(n.releases), len(vs.runs), strings.Join(per, "; "))
	t.Logf("files no packaged checker reads (not compared): %s", strings.Join(unchecked, ", "))
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func newWarnings(old, new []string) []string {
	var out []string
	for _, w := range new {
		if !contains(old, w) {
			out = append(out, w)
		}
	}
	return out
}
