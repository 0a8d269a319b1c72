package patch

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

// mustBind parses a patch source and binds it to params.
func mustBind(t testing.TB, name, src string, params map[string]string) *Bound {
	t.Helper()
	p, err := Parse(name+".ini", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Bind(p, params)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dryRecorder is a dry-run writer like fsx.Recorder: it records writes
// and serves them back through ReadFile.
type dryRecorder struct {
	mu    sync.Mutex
	files map[string][]byte
	n     int
}

func (r *dryRecorder) WriteFile(name string, data []byte, _ fs.FileMode) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.files == nil {
		r.files = map[string][]byte{}
	}
	r.files[name] = append([]byte(nil), data...)
	r.n++
	return nil
}
func (r *dryRecorder) Chmod(string, fs.FileMode) error { r.n++; return nil }
func (r *dryRecorder) Lchown(string, int, int) error   { r.n++; return nil }
func (r *dryRecorder) ReadFile(name string) ([]byte, error) {
	r.mu.Lock()
	d, ok := r.files[name]
	r.mu.Unlock()
	if ok {
		return d, nil
	}
	return os.ReadFile(name)
}

const (
	poolsConf = "[web-worker]\npm.max_children = 50\nphp_admin_value[memory_limit] = 512M\n"
	otherINI  = "memory_limit = 512M\n"
)

var (
	memPatch = `description = mem
params = MEMORY_LIMIT
services = php-fpm-mailcow
[edit pools]
file = pools.conf
kind = ini
section = web-worker
key = php_admin_value[memory_limit]
value = ${MEMORY_LIMIT}
[edit php-ini]
file = other.ini
kind = ini
key = memory_limit
value = ${MEMORY_LIMIT}
`
	childPatch = "description = children\nservices = php-fpm-mailcow\n[edit c]\nfile = pools.conf\nkind = ini\nsection = web-worker\nkey = pm.max_children\nvalue = 80\n"
	heapPatch  = "description = heap\nservices = dovecot-mailcow php-fpm-mailcow\nrestart = recreate\n[edit h]\nfile = mailcow.conf\nkind = env\nkey = FTS_HEAP\nvalue = 1024\n"
)

func phpTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"pools.conf": poolsConf, "other.ini": otherINI, "mailcow.conf": "FTS_HEAP=128\n"})
	return dir
}

func states(pr PatchResult) string {
	var s []string
	for _, e := range pr.Edits {
		s = append(s, e.Edit+"="+string(e.State))
	}
	return strings.Join(s, " ")
}

func TestApplyModes(t *testing.T) {
	mem := map[string]string{"MEMORY_LIMIT": "2G"}
	cases := []struct {
		name       string
		mode       Mode
		w          func() Writer
		wantState  State
		wantOnDisk bool
	}{
		{"apply", ModeApply, func() Writer { return &recWriter{next: osWriter{}} }, StateApplied, true},
		{"dry run", ModeDryRun, func() Writer { return &dryRecorder{} }, StateWouldChange, false},
		{"check", ModeCheck, func() Writer { return &refuseWriter{} }, StateWouldChange, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := phpTree(t)
			ps := []*Bound{mustBind(t, "mem", memPatch, mem), mustBind(t, "children", childPatch, nil), mustBind(t, "heap", heapPatch, nil)}
			w := c.w()
			res, err := Apply(w, dir, ps, c.mode)
			if err != nil {
				t.Fatal(err)
			}
			for _, pr := range res.Patches {
				for _, e := range pr.Edits {
					if e.State != c.wantState || e.Diff == "" {
						t.Errorf("%s/%s: state %s, diff %q", pr.Name, e.Edit, e.State, e.Diff)
					}
				}
			}
			if !res.Drift() {
				t.Error("no drift reported")
			}
			restart, recreate := res.Services()
			if strings.Join(restart, ",") != "" || strings.Join(recreate, ",") != "dovecot-mailcow,php-fpm-mailcow" {
				t.Errorf("restart %v recreate %v: a service to recreate must not also restart", restart, recreate)
			}
			// The second patch edits pools.conf after the first: its
			// diff must start from the first one's result in every mode.
			if d := res.Patches[1].Edits[0].Diff; !strings.Contains(d, " php_admin_value[memory_limit] = 2G") {
				t.Errorf("edits of one file do not compose:\n%s", d)
			}
			got := snapshot(t, dir)
			want := "[web-worker]\npm.max_children = 80\nphp_admin_value[memory_limit] = 2G\n"
			if c.wantOnDisk != (got["pools.conf"] == want) {
				t.Errorf("pools.conf on disk:\n%s", got["pools.conf"])
			}
			if rw, ok := w.(*refuseWriter); ok && rw.tried != 0 {
				t.Errorf("check tried %d writes", rw.tried)
			}
			if dr, ok := w.(*dryRecorder); ok && string(dr.files[filepath.Join(dir, "pools.conf")]) != want {
				t.Errorf("dry run recorded %q", dr.files[filepath.Join(dir, "pools.conf")])
			}
		})
	}
}

func TestApplyFailuresAreIsolatedAndAllOrNone(t *testing.T) {
	dir := phpTree(t)
	broken := `description = broken
[edit ok]
file = other.ini
kind = ini
key = memory_limit
value = 1G
[edit gone]
file = pools.conf
kind = ini
section = system-worker
key = pm.max_children
value = 1
[edit nofile]
file = data/conf/postfix/extra.cf
kind = line
line = a = b
position = end
`
	ps := []*Bound{mustBind(t, "broken", broken, nil), mustBind(t, "children", childPatch, nil)}
	before := snapshot(t, dir)
	res, err := Apply(&recWriter{next: osWriter{}}, dir, ps, ModeApply)
	if err == nil {
		t.Fatal("no error")
	}
	if got := states(res.Patches[0]); got != "ok=skipped gone=anchor-missing nofile=file-missing" {
		t.Errorf("states: %s", got)
	}
	if got := states(res.Patches[1]); got != "c=applied" {
		t.Errorf("one broken patch stopped another: %s", got)
	}
	for _, want := range []string{
		"patch broken, edit gone: pools.conf: section [system-worker]: anchor missing",
		"patch broken, edit nofile: data/conf/postfix/extra.cf: file missing (set create = true",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	var ee *EditError
	if !errors.As(err, &ee) || !errors.Is(err, ErrAnchorMissing) || !errors.Is(err, ErrFileMissing) {
		t.Errorf("error does not carry EditError and the sentinels: %v", err)
	}
	after := snapshot(t, dir)
	if after["other.ini"] != before["other.ini"] {
		t.Error("a failing patch wrote one of its files")
	}
}

func TestApplyRollsBackOnWriteFailure(t *testing.T) {
	src := `description = two files
[edit a]
file = other.ini
kind = ini
key = memory_limit
value = 1G
[edit b]
file = new.cf
kind = line
line = x = 1
position = end
create = true
[edit c]
file = pools.conf
kind = ini
section = web-worker
key = pm.max_children
value = 9
`
	for _, failAt := range []int{1, 2, 3} {
		t.Run("fail write "+strconv.Itoa(failAt), func(t *testing.T) {
			dir := phpTree(t)
			before := snapshot(t, dir)
			w := &recWriter{next: osWriter{}, failAt: failAt}
			res, err := Apply(w, dir, []*Bound{mustBind(t, "two", src, nil)}, ModeApply)
			if !errors.Is(err, errInjected) {
				t.Fatalf("err = %v", err)
			}
			after := snapshot(t, dir)
			if strings.Join(keys(after), " ") != strings.Join(keys(before), " ") {
				t.Fatalf("files after rollback: %v", keys(after))
			}
			for f, c := range before {
				if after[f] != c {
					t.Errorf("%s not restored: %q", f, after[f])
				}
			}
			failed := 0
			for _, e := range res.Patches[0].Edits {
				switch e.State {
				case StateFailed:
					failed++
				case StateSkipped:
				default:
					t.Errorf("edit %s: state %s after a rollback", e.Edit, e.State)
				}
			}
			if failed != 1 || len(res.Patches[0].Changed) != 0 {
				t.Errorf("failed edits %d, changed %v", failed, res.Patches[0].Changed)
			}
		})
	}
}

func TestApplyRefusesPathsOutside(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret.conf": "a = 1\n", "mailcow.conf": "FTS_HEAP=128\n"})
	if err := os.Symlink(outside, filepath.Join(dir, "data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "mailcow.conf"), filepath.Join(dir, "mailcow.conf")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, file string
		err        error
	}{
		{"symlinked dir", "data/secret.conf", fsx.ErrUnsafePath},
		{"symlinked dir, new file", "data/new.conf", fsx.ErrUnsafePath},
		// update.sh follows a symlinked mailcow.conf with sed, so does mcupdate.
		{"symlinked mailcow.conf", "mailcow.conf", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kind := "kind = ini\nkey = a\nvalue = 2\ncreate = true\n"
			if c.file == "mailcow.conf" {
				kind = "kind = env\nkey = FTS_HEAP\nvalue = 2\n"
			}
			b := mustBind(t, "p", "description = d\n[edit e]\nfile = "+c.file+"\n"+kind, nil)
			w := &recWriter{}
			_, err := Apply(w, dir, []*Bound{b}, ModeApply)
			if c.err == nil {
				if err != nil || len(w.ops) != 1 {
					t.Fatalf("err = %v, ops %v", err, w.ops)
				}
				return
			}
			if !errors.Is(err, c.err) || len(w.ops) != 0 {
				t.Fatalf("err = %v, ops %v", err, w.ops)
			}
		})
	}
}

func TestApplyMode(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"cache/a/b.php": "x", "cache/c.php": "y"})
	if err := os.Chmod(filepath.Join(dir, "cache/a"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "cache/link")); err != nil {
		t.Fatal(err)
	}
	src := "description = d\n[edit m]\nfile = cache\nkind = mode\nmode = 0775\nowner = " + strconv.Itoa(os.Getuid()) + ":" + strconv.Itoa(os.Getgid()) + "\nrecursive = true\n"
	b := mustBind(t, "perm", src, nil)

	res, err := Apply(&refuseWriter{}, dir, []*Bound{b}, ModeCheck)
	if err != nil || res.Patches[0].Edits[0].State != StateWouldChange || !strings.Contains(res.Patches[0].Edits[0].Diff, "chmod cache/a 0700 -> 0775") {
		t.Fatalf("check: %v %+v", err, res.Patches[0].Edits)
	}
	w := &recWriter{next: osWriter{}}
	if _, err := Apply(w, dir, []*Bound{b}, ModeApply); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fs.FileMode{"cache": 0o775, "cache/a": 0o775, "cache/a/b.php": 0o664, "cache/c.php": 0o664} {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want %v", p, fi.Mode(), err, want)
		}
	}
	for _, op := range w.ops {
		if strings.Contains(op, "link") {
			t.Errorf("touched a symlink: %s", op)
		}
	}
	w2 := &recWriter{next: osWriter{}}
	res, err = Apply(w2, dir, []*Bound{b}, ModeApply)
	if err != nil || len(w2.ops) != 0 || res.Patches[0].Edits[0].State != StateAlreadyApplied {
		t.Fatalf("second apply: %v %v %s", err, w2.ops, res.Patches[0].Edits[0].State)
	}
	missing := mustBind(t, "perm", strings.Replace(src, "file = cache", "file = nope", 1), nil)
	res, _ = Apply(w2, dir, []*Bound{missing}, ModeApply)
	if res.Patches[0].Edits[0].State != StateFileMissing {
		t.Fatalf("missing dir: %s", res.Patches[0].Edits[0].State)
	}
}

func TestApplyMasksSecrets(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"mailcow.conf": "API_KEY=old-value-1\n"})
	b := mustBind(t, "api", "description = d\nparams = API_KEY\n[edit k]\nfile = mailcow.conf\nkind = env\nkey = API_KEY\nvalue = ${API_KEY}\n", map[string]string{"API_KEY": "s3cr3t-v4lue"})
	res, err := Apply(&dryRecorder{}, dir, []*Bound{b}, ModeDryRun)
	if err != nil {
		t.Fatal(err)
	}
	d := res.Patches[0].Edits[0].Diff
	if strings.Contains(d, "s3cr3t") || !strings.Contains(d, "+API_KEY=********") {
		t.Fatalf("diff:\n%s", d)
	}
}

func TestApplyCreatesFile(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"data/conf/postfix/main.cf": "x\n"})
	lib, err := Library()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Bind(lib["postfix-ipv4-outbound"], nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Apply(osWriter{}, dir, []*Bound{b}, ModeApply)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "data/conf/postfix/extra.cf"))
	if string(got) != "smtp_address_preference = ipv4\n" || strings.Join(res.Patches[0].Changed, ",") != "data/conf/postfix/extra.cf" {
		t.Fatalf("extra.cf = %q, changed %v", got, res.Patches[0].Changed)
	}
	if r, _ := res.Services(); strings.Join(r, ",") != "postfix-mailcow" {
		t.Fatalf("restart %v", r)
	}
}

func TestApplyMasksSecretsInErrors(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"x.conf": "a\n"})
	b := mustBind(t, "tok", "description = d\nparams = TOKEN\n[edit k]\nfile = x.conf\nkind = line\nline = token ${TOKEN}\nmatch = ^token \nafter = ^${TOKEN}$\n", map[string]string{"TOKEN": "abcd1234"})
	_, err := Apply(&recWriter{}, dir, []*Bound{b}, ModeApply)
	if !errors.Is(err, ErrAnchorMissing) || strings.Contains(err.Error(), "abcd1234") || !strings.Contains(err.Error(), "/^********$/") {
		t.Fatalf("err = %v", err)
	}
}

// TestDryRunDiffRedacted: every line of a dry-run diff passes the
// redactor, context lines included: mailcow.conf's DBPASS beside FTS_HEAP
// was printed by `apply --dry-run` of fts-heap. So is a secret setting of
// another file, and mailcow.conf's value where another file repeats it.
func TestDryRunDiffRedacted(t *testing.T) {
	const dbpass, relay = "Sx9DryRunDbPass", "Rel4yDryRun"
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"mailcow.conf": "DBNAME=mailcow\nDBPASS=" + dbpass + "\nFTS_HEAP=128\nTZ=UTC\n",
		"extra.cf":     "relayhost = [relay]:587\nsmtp_sasl_password_maps = static:u:" + relay + "\n# db: " + dbpass + "\nmessage_size_limit = 1\n",
	})
	heap := mustBind(t, "fts-heap", heapPatch, nil)
	size := mustBind(t, "size", "description = s\n[edit e]\nfile = extra.cf\nkind = line\nline = message_size_limit = 2\nmatch = ^message_size_limit\n", nil)
	res, err := Apply(&dryRecorder{}, dir, []*Bound{heap, size}, ModeDryRun)
	if err != nil {
		t.Fatal(err)
	}
	var diffs string
	for _, p := range res.Patches {
		for _, e := range p.Edits {
			diffs += e.Diff
		}
	}
	for _, want := range []string{" DBPASS=<redacted>\n-FTS_HEAP=128\n+FTS_HEAP=1024\n", " smtp_sasl_password_maps = <redacted>\n # db: <redacted>\n-message_size_limit = 1\n"} {
		if !strings.Contains(diffs, want) {
			t.Errorf("the diffs have no %q:\n%s", want, diffs)
		}
	}
	for _, v := range []string{dbpass, relay} {
		if strings.Contains(diffs, v) {
			t.Errorf("a dry-run diff shows %q:\n%s", v, diffs)
		}
	}
}
