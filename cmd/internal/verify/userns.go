package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/mcupdate/mcupdate/cmd/internal/compose"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/jsonedit"
	"github.com/mcupdate/mcupdate/cmd/internal/settings"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// maxOwnerItems bounds the files the userns-remap check lists.
const maxOwnerItems = 10

// checkUsernsRemap: with "userns-remap" in daemon.json, a container's
// root is an unprivileged uid on the host (165536 for dockremap). Files
// mailcow bind-mounts that belong to a uid outside the remapped range
// appear as nobody in the containers, which then cannot write them:
// postfix, rspamd, the admin UI fail at start or at their first write.
func checkUsernsRemap(in *mailcowFiles) Check {
	remap, setting, c, done := readUsernsRemap(in)
	if done {
		return c
	}
	user, _, _ := strings.Cut(remap, ":")
	if user == "default" {
		user = "dockremap"
	}
	start, count, rangeNote := subordinate(in.opt.SubUID, user)
	inRange := func(uid uint32) bool {
		if count == 0 {
			return uid != 0 // range unknown: only root is surely wrong
		}
		return int64(uid) >= start && int64(uid) < start+count
	}

	srcs := in.bindSources()
	bad, owner := in.ownedOutside(srcs, inRange)
	if len(bad) == 0 {
		return Check{Status: StatusOK, Detail: fmt.Sprintf("%s: the %d bind-mounted path(s) of the mailcow dir belong to the remapped users (%s)", setting, len(srcs), rangeNote)}
	}
	top, items := ownerItems(bad, owner, srcs)
	c = Check{Status: StatusWarn, Items: items}
	c.Items = append(c.Items, "remapped root: "+rangeNote)
	root := "the remapped root"
	if count > 0 {
		root = strconv.FormatInt(start, 10)
		root += ":" + root
	}
	c.Detail = fmt.Sprintf("%s, and %d bind-mounted path(s) of the mailcow dir are not owned by the remapped users: the containers see them as nobody and cannot write them", setting, len(bad))
	c.Fix = fmt.Sprintf("own them as the remapped root: chown -R %s %s (an init container in %s can do it at every start, so that files update.sh adds are covered too)", root, strings.Join(top, " "), ComposeOverrideFile)
	return c
}

// readUsernsRemap reads daemon.json's userns-remap, and setting, the
// value and where it is set. done says there is no remap to check, and
// c is the check's result then.
func readUsernsRemap(in *mailcowFiles) (remap, setting string, c Check, done bool) {
	data, err := os.ReadFile(in.opt.DaemonJSON)
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", Check{Status: StatusSkipped, Detail: "no " + in.opt.DaemonJSON}, true
	}
	if err != nil {
		return "", "", Check{Status: StatusSkipped, Detail: ui.FirstLine(err.Error()) + ": see the daemon.json check"}, true
	}
	m, ok, err := jsonedit.Lookup(data, []string{"userns-remap"})
	if err != nil {
		return "", "", Check{Status: StatusSkipped, Detail: in.opt.DaemonJSON + " is not valid JSON: see the daemon.json check"}, true
	}
	if ok {
		if err := json.Unmarshal(data[m.ValueStart:m.ValueEnd], &remap); err != nil {
			return "", "", Check{Status: StatusFail, Detail: fmt.Sprintf("%s: userns-remap is %s, not a string: Docker refuses to start", at(in.opt.DaemonJSON, lineOf(data, m.KeyStart)), data[m.ValueStart:m.ValueEnd]), Fix: `set "userns-remap": "default" or remove it`}, true
		}
	}
	if remap == "" {
		return "", "", Check{Status: StatusOK, Detail: in.opt.DaemonJSON + " sets no userns-remap: containers run as the host's uids"}, true
	}
	setting = fmt.Sprintf("userns-remap %q (%s)", remap, at(in.opt.DaemonJSON, lineOf(data, m.KeyStart)))
	return remap, setting, Check{}, false
}

// ownedOutside returns the bind-mounted paths that exist and belong to
// a uid outside the remapped range, and their owners.
func (in *mailcowFiles) ownedOutside(srcs []bindSource, inRange func(uint32) bool) (bad []string, owner map[string]uint32) {
	owner = map[string]uint32{}
	for _, src := range srcs {
		fi, err := os.Stat(filepath.Join(in.opt.MailcowDir, filepath.FromSlash(src.path)))
		if err != nil {
			continue // a missing source: Docker creates it, as the remapped root
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || inRange(st.Uid) {
			continue
		}
		bad = append(bad, src.path)
		owner[src.path] = st.Uid
	}
	return bad, owner
}

// ownerItems lists the paths of bad, at most maxOwnerItems, with their
// owners and the services that mount them; a path under a listed one is
// the same fix: counted, not listed. top are the paths that are not
// under another one.
func ownerItems(bad []string, owner map[string]uint32, srcs []bindSource) (top, items []string) {
	sort.Strings(bad)
	inside := map[string]int{}
	for _, p := range bad {
		if n := len(top); n > 0 && strings.HasPrefix(p, top[n-1]+"/") {
			inside[top[n-1]]++
			continue
		}
		top = append(top, p)
	}
	for i, p := range top {
		if i == maxOwnerItems {
			items = append(items, fmt.Sprintf("and %d more", len(top)-maxOwnerItems))
			break
		}
		item := fmt.Sprintf("%s: owned by uid %d, bind-mounted into %s", p, owner[p], strings.Join(srcsFor(srcs, p), ", "))
		if n := inside[p]; n > 0 {
			item += fmt.Sprintf(" (and %d bind-mounted path(s) inside it)", n)
		}
		items = append(items, item)
	}
	return top, items
}

// bindSource is a file or directory of the mailcow dir that compose
// bind-mounts, with the services that mount it.
type bindSource struct {
	path     string
	services []string
}

// bindSources returns the sources inside the mailcow dir of every bind
// mount of both compose files, sorted.
func (in *mailcowFiles) bindSources() []bindSource {
	base, over, _, _ := in.compose()
	by := map[string]map[string]bool{}
	for _, f := range []*compose.File{base, over} {
		if f == nil {
			continue
		}
		for name, s := range f.Services {
			for _, v := range s.Volumes {
				src, _, ok := bindMount(v)
				if !ok || path.IsAbs(src) || src == ".." || strings.HasPrefix(src, "../") {
					continue
				}
				if by[src] == nil {
					by[src] = map[string]bool{}
				}
				by[src][name] = true
			}
		}
	}
	out := make([]bindSource, 0, len(by))
	for p, svcs := range by {
		b := bindSource{path: p}
		for s := range svcs {
			b.services = append(b.services, s)
		}
		sort.Strings(b.services)
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

func srcsFor(srcs []bindSource, p string) []string {
	for _, s := range srcs {
		if s.path == p {
			return s.services
		}
	}
	return nil
}

// subordinate reads the subordinate uid range of user from a subuid file
// ("name:start:count" lines). count is 0 when it is not found; note says
// what was found, for the report.
func subordinate(file, user string) (start, count int64, note string) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, 0, fmt.Sprintf("%s: %v (only files owned by uid 0 are reported)", file, fsx.UnwrapPath(err))
	}
	for i, l := range settings.Lines(data) {
		f := strings.Split(strings.TrimSpace(l), ":")
		if len(f) != 3 || f[0] != user {
			continue
		}
		s, err1 := strconv.ParseInt(f[1], 10, 64)
		n, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || s < 0 || n <= 0 {
			continue
		}
		return s, n, fmt.Sprintf("uids %d to %d (%s)", s, s+n-1, at(file, i+1))
	}
	return 0, 0, fmt.Sprintf("%s has no range for %s (only files owned by uid 0 are reported)", file, user)
}

// lineOf is the 1-based line of a byte offset.
func lineOf(data []byte, off int) int {
	return 1 + bytes.Count(data[:off], []byte("\n"))
}
