package daemonjson

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	"github.com/mcupdate/mcupdate/cmd/internal/errlist"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

// PruneBackups keeps the newest keep backups Fix made of target
// (<target>.mcupdate-<UTC time>[-N].bak, regular files) and removes the
// older ones through sys; every other file is left alone. It returns the
// backups removed (or, through a dry run's recorder, that would be).
func PruneBackups(sys fsx.System, target string, keep int) ([]string, error) {
	if keep < 1 {
		keep = 1
	}
	dir, base := filepath.Split(target)
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(base) + `\.mcupdate-([0-9]{8}T[0-9]{6}Z)(?:-([0-9]{1,6}))?\.bak$`)
	ents, err := os.ReadDir(filepath.Clean(dir))
	if err != nil {
		return nil, fmt.Errorf("prune backups of %s: %w", target, err)
	}
	type backup struct {
		name, stamp string
		n           int
	}
	var bs []backup
	for _, e := range ents {
		m := re.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		n := 1
		if m[2] != "" {
			n, _ = strconv.Atoi(m[2])
		}
		bs = append(bs, backup{e.Name(), m[1], n})
	}
	sort.Slice(bs, func(i, j int) bool {
		if bs[i].stamp != bs[j].stamp {
			return bs[i].stamp < bs[j].stamp
		}
		return bs[i].n < bs[j].n
	})
	var removed []string
	var errs []error
	for _, b := range bs[:max(len(bs)-keep, 0)] {
		p := filepath.Join(dir, b.name)
		if err := sys.Remove(p); err != nil {
			errs = append(errs, fmt.Errorf("prune backup: %w", err))
			continue
		}
		removed = append(removed, p)
	}
	return removed, errlist.Join(errs...)
}
