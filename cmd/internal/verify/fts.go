package verify

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/settings"
)

const indexerService = "service indexer-worker"

// skipFTS is how dovecot-mailcow's entrypoint reads SKIP_FTS=y.
var skipFTS = regexp.MustCompile(`^([yY][eE][sS]|[yY])+$`)

// checkFTSMemory: since 2025-01 dovecot.conf includes conf.d/fts.conf
// after extra.conf, and dovecot-mailcow writes FTS_HEAP into fts.conf's
// vsz_limit at every start. A vsz_limit for the indexer in extra.conf is
// then overridden: the admin's larger limit does nothing and big
// mailboxes still fail to index.
func checkFTSMemory(in *mailcowFiles) Check {
	data, ok, err := in.read(DovecotExtraConf)
	if err != nil {
		return Check{Status: StatusFail, Detail: err.Error(), Fix: "make " + DovecotExtraConf + " readable"}
	}
	heap := in.confVar("FTS_HEAP", "128")
	if !ok {
		return Check{Status: StatusOK, Detail: fmt.Sprintf("no %s: the indexer's vsz_limit is %s", DovecotExtraConf, heap)}
	}
	var mine []settings.DovecotSetting
	sets, _ := settings.Dovecot(data)
	for _, s := range sets {
		if s.Key == "vsz_limit" && len(s.Section) == 1 && s.Section[0] == indexerService {
			mine = append(mine, s)
		}
	}
	if len(mine) == 0 {
		return Check{Status: StatusOK, Detail: fmt.Sprintf("%s sets no vsz_limit for the indexer: it is %s", DovecotExtraConf, heap)}
	}
	if skip := in.confVar("SKIP_FTS", "n"); skipFTS.MatchString(skip.Value) {
		return Check{Status: StatusOK, Detail: fmt.Sprintf("%s: dovecot-mailcow loads no full-text search, the indexer's vsz_limit does not matter", skip)}
	}
	fts, over := ftsOverride(in)
	if over == "" {
		return Check{Status: StatusOK, Detail: fmt.Sprintf("%s's vsz_limit for the indexer takes effect (%s)", DovecotExtraConf, fts)}
	}
	c := Check{Status: StatusWarn}
	for _, s := range mine {
		c.Items = append(c.Items, fmt.Sprintf("vsz_limit = %s in %s { } (%s) has no effect", s.Value, indexerService, at(DovecotExtraConf, s.Line)))
	}
	c.Items = append(c.Items, over, "dovecot-mailcow writes "+heap.String()+" into it at every start")
	want := "SIZE_IN_MB"
	if mb, ok := dovecotMB(mine[len(mine)-1].Value); ok {
		want = strconv.FormatInt(mb, 10)
	}
	c.Detail = fmt.Sprintf("%s sets the indexer's vsz_limit, but %s, included after it, sets it again from FTS_HEAP (%s MB)", DovecotExtraConf, DovecotFTSConf, heap.Value)
	c.Fix = fmt.Sprintf("set FTS_HEAP=%s in %s (or enable the fts-heap patch: [patch fts-heap] FTS_HEAP = %s), remove vsz_limit from %s, then 'docker compose up -d dovecot-mailcow'", want, MailcowConf, want, DovecotExtraConf)
	return c
}

// ftsOverride says whether fts.conf overrides extra.conf's indexer
// vsz_limit: over describes the setting that wins ("" when none does);
// why says otherwise why extra.conf's takes effect.
func ftsOverride(in *mailcowFiles) (why, over string) {
	data, ok, err := in.read(DovecotFTSConf)
	if err != nil || !ok {
		return "no " + DovecotFTSConf + " (releases before 2025-01)", ""
	}
	line := 0
	sets, _ := settings.Dovecot(data)
	for _, s := range sets {
		if s.Key == "vsz_limit" && len(s.Section) == 1 && s.Section[0] == indexerService {
			line = s.Line
		}
	}
	if line == 0 {
		return DovecotFTSConf + " sets no vsz_limit for the indexer", ""
	}
	over = fmt.Sprintf("%s sets vsz_limit in %s { } again", at(DovecotFTSConf, line), indexerService)
	// dovecot.conf's include order decides; mailcow's since 2025-01 is
	// extra.conf, then conf.d/fts.conf.
	conf, ok, err := in.read(DovecotConf)
	if err != nil || !ok {
		return "", over + ", included after extra.conf"
	}
	extraAt, ftsAt := 0, 0
	_, incs := settings.Dovecot(conf)
	for _, inc := range incs {
		switch {
		case strings.HasSuffix(inc.Path, "/extra.conf"):
			extraAt = inc.Line
		case strings.HasSuffix(inc.Path, "/conf.d/fts.conf"):
			ftsAt = inc.Line
		}
	}
	if ftsAt == 0 || ftsAt < extraAt {
		return DovecotConf + " includes " + DovecotFTSConf + " before extra.conf, or not at all", ""
	}
	return "", fmt.Sprintf("%s, included after extra.conf (%s, %s)", over, at(DovecotConf, extraAt), at(DovecotConf, ftsAt))
}

// dovecotMB converts a dovecot size (2G, 2048 M, 512MB, 1 GB, bytes) to
// whole MB, rounded up.
func dovecotMB(v string) (int64, bool) {
	v = strings.ToUpper(strings.ReplaceAll(v, " ", ""))
	v = strings.TrimSuffix(v, "B")
	mult := int64(1)
	switch {
	case strings.HasSuffix(v, "K"):
		mult = 1 << 10
	case strings.HasSuffix(v, "M"):
		mult = 1 << 20
	case strings.HasSuffix(v, "G"):
		mult = 1 << 30
	case strings.HasSuffix(v, "T"):
		mult = 1 << 40
	}
	if mult != 1 {
		v = v[:len(v)-1]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, false
	}
	b := n * mult
	return (b + (1<<20 - 1)) >> 20, true
}
