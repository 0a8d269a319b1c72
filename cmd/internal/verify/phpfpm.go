package verify

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/patch"
)

// webPool is the php-fpm pool that serves the admin UI, SOGo's
// autodiscover and the API.
const webPool = "web-worker"

// checkPHPFPM checks the two php-fpm pitfalls:
//
//   - php_admin_value[memory_limit] of the web-worker pool wins over
//     php.ini: a larger memory_limit in php-conf.d/other.ini alone does
//     nothing (warn);
//   - php-fpm refuses to start when a dynamic pool's pm values are out of
//     order, e.g. pm.max_children lowered below pm.max_spare_servers
//     (fail: the web UI and SOGo's autodiscover are down).
func checkPHPFPM(in *mailcowFiles) Check {
	data, ok, err := in.read(PHPFPMPools)
	if err != nil {
		return Check{Status: StatusFail, Detail: err.Error(), Fix: "make " + PHPFPMPools + " readable"}
	}
	if !ok {
		return Check{Status: StatusSkipped, Detail: "no " + PHPFPMPools}
	}
	pools := map[string]map[string]patch.Setting{}
	var order []string
	for _, s := range patch.ReadINI(data) {
		if pools[s.Section] == nil {
			pools[s.Section] = map[string]patch.Setting{}
			order = append(order, s.Section)
		}
		pools[s.Section][s.Key] = s // the last one wins
	}

	c := Check{Status: StatusOK}
	var refused []string
	for _, name := range order {
		if name == "" || name == "global" {
			continue
		}
		for _, p := range pmProblems(name, pools[name]) {
			refused = append(refused, name)
			c.Items = append(c.Items, p)
		}
	}

	memNote, memItems, want := phpMemory(in, pools[webPool])
	memFix := fmt.Sprintf("set the same memory_limit in both files: enable the php-memory-limit patch ([patch php-memory-limit] MEMORY_LIMIT = %s), then 'mcupdate apply'", want)
	c.Items = append(c.Items, memItems...)
	switch {
	case len(refused) > 0:
		c.Status = StatusFail
		c.Detail = fmt.Sprintf("php-fpm refuses to start with pool(s) %s: the admin UI, the API and SOGo's autodiscover are down", strings.Join(uniq(refused), ", "))
		c.Fix = "keep pm.min_spare_servers <= pm.start_servers <= pm.max_spare_servers <= pm.max_children in " + PHPFPMPools + " (the php-fpm-pool-size patch sets pm.max_children), then 'docker compose restart php-fpm-mailcow'"
		if len(memItems) > 0 {
			c.Fix += "; " + memFix
		}
	case len(memItems) > 0:
		c.Status = StatusWarn
		c.Detail = memNote
		c.Fix = memFix
	default:
		c.Detail = fmt.Sprintf("%d php-fpm pool(s) start; %s", countPools(order), memNote)
	}
	return c
}

func countPools(order []string) int {
	n := 0
	for _, p := range order {
		if p != "" && p != "global" {
			n++
		}
	}
	return n
}

func uniq(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// pmProblems returns what php-fpm refuses in a pool (fpm_conf.c's checks
// of a dynamic pool, with its messages): only values the file sets are
// compared.
func pmProblems(pool string, keys map[string]patch.Setting) []string {
	num := func(k string) (int, patch.Setting, bool) {
		s, ok := keys[k]
		if !ok {
			return 0, s, false
		}
		n, err := strconv.Atoi(s.Value)
		return n, s, err == nil
	}
	where := func(s patch.Setting) string { return at(PHPFPMPools, s.Line) }
	var out []string
	maxC, maxCS, hasMax := num("pm.max_children")
	if hasMax && maxC < 1 {
		out = append(out, fmt.Sprintf("[%s] pm.max_children = %d (%s) must be a positive value", pool, maxC, where(maxCS)))
	}
	if pm, ok := keys["pm"]; !ok || pm.Value != "dynamic" {
		return out
	}
	minS, minSS, hasMin := num("pm.min_spare_servers")
	maxS, maxSS, hasMaxS := num("pm.max_spare_servers")
	start, startS, hasStart := num("pm.start_servers")
	for _, v := range []struct {
		key string
		n   int
		s   patch.Setting
		ok  bool
	}{{"pm.min_spare_servers", minS, minSS, hasMin}, {"pm.max_spare_servers", maxS, maxSS, hasMaxS}} {
		if v.ok && v.n < 1 {
			out = append(out, fmt.Sprintf("[%s] %s = %d (%s) must be a positive value", pool, v.key, v.n, where(v.s)))
		}
	}
	if hasMax && maxC >= 1 {
		if hasMin && minS > maxC || hasMaxS && maxS > maxC {
			msg := fmt.Sprintf("[%s] pm.max_children = %d (%s) is below", pool, maxC, where(maxCS))
			if hasMaxS && maxS > maxC {
				msg += fmt.Sprintf(" pm.max_spare_servers = %d (%s)", maxS, where(maxSS))
			} else {
				msg += fmt.Sprintf(" pm.min_spare_servers = %d (%s)", minS, where(minSS))
			}
			out = append(out, msg+": php-fpm: \"pm.min_spare_servers and pm.max_spare_servers cannot be greater than pm.max_children\"")
		}
	}
	if hasMin && hasMaxS && maxS < minS {
		out = append(out, fmt.Sprintf("[%s] pm.max_spare_servers = %d (%s) is below pm.min_spare_servers = %d (%s)", pool, maxS, where(maxSS), minS, where(minSS)))
	}
	if hasStart && start > 0 && hasMin && hasMaxS && (start < minS || start > maxS) {
		out = append(out, fmt.Sprintf("[%s] pm.start_servers = %d (%s) is not between pm.min_spare_servers = %d and pm.max_spare_servers = %d", pool, start, where(startS), minS, maxS))
	}
	return out
}

// phpMemory compares php.ini's memory_limit (other.ini, which mailcow
// mounts as zzz-other.ini: read last) with the web-worker pool's
// php_admin_value[memory_limit], which PHP lets no ini file change.
func phpMemory(in *mailcowFiles, pool map[string]patch.Setting) (note string, items []string, want string) {
	if pool == nil {
		return fmt.Sprintf("no [%s] pool in %s: memory_limit not compared", webPool, PHPFPMPools), nil, ""
	}
	adm, ok := pool["php_admin_value[memory_limit]"]
	if !ok {
		return fmt.Sprintf("the [%s] pool sets no php_admin_value[memory_limit]: memory_limit is php.ini's", webPool), nil, ""
	}
	data, ok, err := in.read(PHPOtherINI)
	if err != nil {
		return err.Error(), nil, ""
	}
	var ini patch.Setting
	found := false
	for _, s := range patch.ReadINI(data) {
		if s.Key == "memory_limit" {
			ini, found = s, true
		}
	}
	if !ok || !found {
		return fmt.Sprintf("memory_limit is %s ([%s] pool, %s)", adm.Value, webPool, at(PHPFPMPools, adm.Line)), nil, ""
	}
	a, aok := phpBytes(adm.Value)
	b, bok := phpBytes(ini.Value)
	if !aok || !bok || b <= a {
		return fmt.Sprintf("memory_limit is %s ([%s] pool, %s)", adm.Value, webPool, at(PHPFPMPools, adm.Line)), nil, ""
	}
	return fmt.Sprintf("memory_limit = %s in %s has no effect: the [%s] pool's php_admin_value[memory_limit] = %s wins", ini.Value, PHPOtherINI, webPool, adm.Value),
		[]string{
			fmt.Sprintf("memory_limit = %s (%s)", ini.Value, at(PHPOtherINI, ini.Line)),
			fmt.Sprintf("php_admin_value[memory_limit] = %s in [%s] (%s) wins", adm.Value, webPool, at(PHPFPMPools, adm.Line)),
		}, ini.Value
}

// phpBytes reads a PHP size: bytes, or a number with K, M or G (either
// case); -1 is no limit.
func phpBytes(v string) (int64, bool) {
	if v == "-1" {
		return math.MaxInt64, true
	}
	n, err := ParseClamdSize(v)
	return n, err == nil
}
