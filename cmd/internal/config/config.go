// Package config reads mcupdate.ini, the admin's configuration.
//
// A missing file means the defaults. Unknown sections and keys are reported
// as warnings (a typo must not stop an update), wrong types are errors that
// name the file, section and key.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/ini.v1"

	"github.com/mcupdate/mcupdate/cmd/internal/errlist"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
)

// The values of [general] on_predicted_loss.
const (
	// LossWarn: say it before update.sh's prompt; the admin answers it.
	LossWarn = "warn"
	// LossStopForced: stop update.sh when it runs with --force (no
	// prompt, e.g. from cron), else warn.
	LossStopForced = "stop-forced"
	// LossStop: always stop update.sh before it changes anything.
	LossStop = "stop"
)

// DefaultLogFile is the run log, relative to the state dir.
const DefaultLogFile = "mcupdate.log"

// DefaultPath is where install.sh puts the configuration.
const DefaultPath = "/etc/mcupdate/mcupdate.ini"

// MaxEnabled bounds the enabled patches. Each patch sees what the ones
// before it made of a file, so the work grows with the square of the
// patches that edit one file: 10,000 took tens of seconds. Real sets are
// a few dozen.
const MaxEnabled = 1000

// Config is the parsed mcupdate.ini.
type Config struct {
	// Path is the file the configuration was read from.
	Path string
	// Exists is false when Path did not exist and defaults are in use.
	Exists bool

	// StopOnDanger makes the pre hook stop update.sh before it changes
	// anything when going on would leave mailcow down half-way.
	StopOnDanger bool
	// Branch is the branch the install follows; empty means detect it.
	Branch string
	// Predict makes the pre hook predict update.sh's merge.
	Predict bool
	// OnPredictedLoss is what the pre hook does when it predicts that
	// update.sh's merge will drop a customization no patch puts back:
	// LossWarn, LossStopForced or LossStop.
	OnPredictedLoss string

	// IPv6 enables the daemon.json step of the pre hook.
	IPv6 bool
	// FixedCIDRv6 is the "fixed-cidr-v6" value written when Docker needs one.
	FixedCIDRv6 string
	// DockerTimeout bounds `docker version`.
	DockerTimeout time.Duration

	// SnapshotPaths are files (relative to the mailcow dir) always snapshotted.
	SnapshotPaths []string
	// SnapshotDirs are directories whose gitignored files are snapshotted.
	SnapshotDirs []string
	// SnapshotKeep is how many snapshots are kept.
	SnapshotKeep int

	// Restart enables restarting services after patches changed files.
	Restart bool
	// Compose is the compose command, split into words.
	Compose []string

	// Enabled lists the enabled patches, in order.
	Enabled []string
	// PatchDir holds the admin's own patches; empty for none.
	PatchDir string
	// Params holds each patch's parameters, by patch name.
	Params map[string]map[string]string
	// paramLines holds the line of each parameter, by patch name.
	paramLines map[string]map[string]int
	// enableLine is the line of [patches] enable, 0 when not set.
	enableLine int

	// Validate turns on the configuration checks before a restart
	// ([validate] enabled).
	Validate bool
	// ValidateCommands maps a compose service to the admin's own check
	// command, or to "off" ([validate] SERVICE = COMMAND).
	ValidateCommands map[string]string
	// validateLines holds the line of each key of [validate].
	validateLines map[string]int

	// CertMinDays is how many days mailcow's TLS certificate must still
	// be valid for before verify warns.
	CertMinDays int

	// LogFile is the file one logfmt line per run is appended to: an
	// absolute path, or one relative to the state dir; "" for none.
	LogFile string
	// LogMaxSize caps the log file: past it, the file becomes LogFile.1
	// (replacing the older one) and a new one starts.
	LogMaxSize int64
	// Syslog also sends the line to syslog (journald) when /dev/log exists.
	Syslog bool

	// WebhookURL receives a JSON POST after each hook run and verify; "" for none.
	WebhookURL string
	// KumaPushURL is an Uptime Kuma push monitor's URL; "" for none.
	KumaPushURL string
	// NotifyTimeout bounds all notifications of one run together.
	NotifyTimeout time.Duration

	// Warnings are non-fatal problems found while reading, such as unknown keys.
	Warnings []string
}

// Default returns the configuration used when no file exists.
func Default() *Config {
	return &Config{
		StopOnDanger:    true,
		OnPredictedLoss: LossWarn,
		Predict:         true,
		IPv6:            true,
		FixedCIDRv6:     "fd00:dead:beef:c0::/80",
		DockerTimeout:   5 * time.Second,
		SnapshotPaths:   []string{"mailcow.conf", "docker-compose.override.yml"},
		SnapshotDirs:    []string{"data/conf"},
		SnapshotKeep:    10,
		Restart:         true,
		Compose:         []string{"docker", "compose"},
		Validate:        true,
		Params:          map[string]map[string]string{},
		CertMinDays:     14,
		LogFile:         DefaultLogFile,
		LogMaxSize:      1 << 20,
		Syslog:          true,
		NotifyTimeout:   5 * time.Second,
	}
}

// Error is a problem with one key of the configuration.
type Error struct {
	File, Section, Key string
	// Line is the line the problem is on, or 0.
	Line int
	Err  error
}

func (e *Error) Error() string {
	where := e.File
	if e.Line > 0 {
		where += ":" + strconv.Itoa(e.Line)
	}
	if e.Section != "" {
		where += ": [" + e.Section + "]"
	}
	if e.Key != "" {
		where += " " + e.Key
	}
	// ini.v1 ends some messages with the offending line's newline.
	return where + ": " + strings.TrimRight(e.Err.Error(), "\r\n")
}

func (e *Error) Unwrap() error { return e.Err }

// known lists the keys each fixed section accepts.
var known = map[string][]string{
	ini.DefaultSection: {},
	"general":          {"stop_on_danger", "branch", "on_predicted_loss", "predict"},
	"docker":           {"ipv6", "fixed_cidr_v6", "version_timeout"},
	"snapshot":         {"paths", "dirs", "keep"},
	"restart":          {"enabled", "compose"},
	"patches":          {"enable", "dir"},
	"verify":           {"cert_min_days"},
	"log":              {"file", "max_size", "syslog"},
	"notify":           {"webhook", "kuma_push", "timeout"},
}

// Load reads the configuration at path. A missing file yields the
// defaults; a path that is not a readable regular file is an *Error, a
// configuration error like any other (a directory, a FIFO that would
// block, a file root cannot read).
func Load(path string) (*Config, error) {
	c := Default()
	c.Path = path
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, &Error{File: path, Err: fsx.UnwrapPath(err)}
	}
	switch {
	case fi.IsDir():
		return nil, &Error{File: path, Err: errors.New("is a directory, not a configuration file: --config (or MCUPDATE_CONFIG) names the file, such as " + DefaultPath)}
	case !fi.Mode().IsRegular():
		return nil, &Error{File: path, Err: fmt.Errorf("is not a regular file (%v): --config (or MCUPDATE_CONFIG) names the file, such as %s", fi.Mode().Type(), DefaultPath)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Err: fsx.UnwrapPath(err)}
	}
	c.Exists = true
	return c, c.parse(data)
}

// Parse reads a configuration from data; path names it in messages.
func Parse(path string, data []byte) (*Config, error) {
	c := Default()
	c.Path, c.Exists = path, true
	return c, c.parse(data)
}

func (c *Config) parse(data []byte) error {
	lines, err := scanLines(c.Path, data)
	if err != nil {
		return err
	}
	c.paramLines = lines.params
	c.validateLines = lines.validate
	c.enableLine = lines.enable
	f, err := ini.LoadSources(ini.LoadOptions{
		AllowNonUniqueSections:   false,
		SpaceBeforeInlineComment: true,
	}, data)
	if err != nil {
		return &Error{File: c.Path, Err: err}
	}
	r := &reader{c: c, f: f}
	r.sections()
	r.general()
	r.docker()
	r.snapshot()
	r.restartAndPatches()
	r.log()
	r.notify()
	return errlist.Join(r.errs...)
}

// reader reads the sections of one mcupdate.ini into c, collecting an
// error per bad key (in the order of the file's documentation) so that
// the admin sees them all at once.
type reader struct {
	c    *Config
	f    *ini.File
	errs []error
}

func (r *reader) keyErr(sec, key string, err error) {
	r.errs = append(r.errs, &Error{File: r.c.Path, Section: sec, Key: key, Err: err})
}

// value returns a key's value, "" when it is not set.
func (r *reader) value(sec, key string) string { return r.f.Section(sec).Key(key).String() }

func (r *reader) boolKey(sec, key string, dst *bool) {
	if v := r.value(sec, key); v != "" {
		b, err := parseBool(v)
		if err != nil {
			r.keyErr(sec, key, err)
			return
		}
		*dst = b
	}
}

func (r *reader) listKey(sec, key string, dst *[]string) {
	if r.f.Section(sec).HasKey(key) {
		*dst = strings.Fields(strings.ReplaceAll(r.value(sec, key), ",", " "))
	}
}

// sections reads the [patch NAME] sections' parameters and warns of
// unknown sections and keys.
func (r *reader) sections() {
	c := r.c
	for _, s := range r.f.Sections() {
		name := s.Name()
		if name == "patch" || strings.HasPrefix(name, "patch ") {
			p := strings.TrimSpace(strings.TrimPrefix(name, "patch"))
			if p == "" {
				r.keyErr(name, "", errors.New("section needs a patch name: [patch NAME]"))
				continue
			}
			m := map[string]string{}
			for _, k := range s.Keys() {
				m[k.Name()] = k.Value()
			}
			c.Params[p] = m
			continue
		}
		if name == "validate" {
			r.errs = append(r.errs, c.parseValidate(s)...)
			continue
		}
		keys, ok := known[name]
		if !ok {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: unknown section [%s] ignored", c.Path, name))
			continue
		}
		for _, k := range s.Keys() {
			if !contains(keys, k.Name()) {
				c.Warnings = append(c.Warnings, fmt.Sprintf("%s: [%s] unknown key %q ignored (known: %s)", c.Path, name, k.Name(), strings.Join(keys, ", ")))
			}
		}
	}
}

func (r *reader) general() {
	c := r.c
	r.boolKey("general", "stop_on_danger", &c.StopOnDanger)
	r.boolKey("general", "predict", &c.Predict)
	c.Branch = r.value("general", "branch")
	if v := r.value("general", "on_predicted_loss"); v != "" {
		switch v {
		case LossWarn, LossStopForced, LossStop:
			c.OnPredictedLoss = v
		default:
			r.keyErr("general", "on_predicted_loss", fmt.Errorf("%q is not one of %s, %s, %s", v, LossWarn, LossStopForced, LossStop))
		}
	}
}

func (r *reader) docker() {
	c := r.c
	r.boolKey("docker", "ipv6", &c.IPv6)
	if v := r.value("docker", "fixed_cidr_v6"); v != "" {
		if pfx, err := netip.ParsePrefix(v); err != nil || !pfx.Addr().Is6() || pfx.Addr().Is4In6() {
			r.keyErr("docker", "fixed_cidr_v6", fmt.Errorf("%q is not an IPv6 CIDR such as fd00:dead:beef:c0::/80", v))
		}
		c.FixedCIDRv6 = v
	}
	if v := r.value("docker", "version_timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			r.keyErr("docker", "version_timeout", fmt.Errorf("%q is not a duration such as 5s", v))
		} else {
			c.DockerTimeout = d
		}
	}
}

func (r *reader) snapshot() {
	c := r.c
	r.listKey("snapshot", "paths", &c.SnapshotPaths)
	r.listKey("snapshot", "dirs", &c.SnapshotDirs)
	for _, k := range []struct {
		key  string
		list []string
	}{{"paths", c.SnapshotPaths}, {"dirs", c.SnapshotDirs}} {
		for _, p := range k.list {
			if strings.HasPrefix(p, "/") || containsDotDot(p) {
				r.keyErr("snapshot", k.key, fmt.Errorf("%q must be relative to the mailcow dir, with no .. parts", p))
			}
		}
	}
	if v := r.value("snapshot", "keep"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			r.keyErr("snapshot", "keep", fmt.Errorf("%q is not a whole number of at least 1", v))
		} else {
			c.SnapshotKeep = n
		}
	}
}

// restartAndPatches reads [restart], [patches] and [verify].
func (r *reader) restartAndPatches() {
	c := r.c
	r.boolKey("restart", "enabled", &c.Restart)
	if v := r.value("restart", "compose"); v != "" {
		c.Compose = strings.Fields(v)
	}
	r.listKey("patches", "enable", &c.Enabled)
	if len(c.Enabled) > MaxEnabled {
		r.keyErr("patches", "enable", fmt.Errorf("%d patches enabled, more than the %d mcupdate handles", len(c.Enabled), MaxEnabled))
	}
	c.PatchDir = r.value("patches", "dir")
	if v := r.value("verify", "cert_min_days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 3650 {
			r.keyErr("verify", "cert_min_days", fmt.Errorf("%q is not a whole number of days from 0 to 3650", v))
		} else {
			c.CertMinDays = n
		}
	}
}

func (r *reader) log() {
	c := r.c
	if v := r.value("log", "file"); v != "" {
		switch {
		case strings.EqualFold(v, "off") || strings.EqualFold(v, "none"):
			c.LogFile = ""
		case containsDotDot(v) && !strings.HasPrefix(v, "/"):
			r.keyErr("log", "file", fmt.Errorf("%q: a relative path is in the state dir and has no .. parts", v))
		default:
			c.LogFile = v
		}
	}
	if v := r.value("log", "max_size"); v != "" {
		n, err := parseSize(v)
		if err != nil || n < 4096 {
			r.keyErr("log", "max_size", fmt.Errorf("%q is not a size of at least 4K, such as 1M", v))
		} else {
			c.LogMaxSize = n
		}
	}
	r.boolKey("log", "syslog", &c.Syslog)
}

func (r *reader) notify() {
	c := r.c
	for _, k := range []struct {
		key string
		dst *string
	}{{"webhook", &c.WebhookURL}, {"kuma_push", &c.KumaPushURL}} {
		v := r.value("notify", k.key)
		if v == "" {
			continue
		}
		if err := checkURL(v); err != nil {
			r.keyErr("notify", k.key, err)
			continue
		}
		*k.dst = v
	}
	if v := r.value("notify", "timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > time.Minute {
			r.keyErr("notify", "timeout", fmt.Errorf("%q is not a duration between 0 and 1m, such as 5s", v))
		} else {
			c.NotifyTimeout = d
		}
	}
}

// parseValidate reads [validate]: enabled, and SERVICE = COMMAND or off
// for each compose service (a name ending in -mailcow) whose check the
// admin sets.
func (c *Config) parseValidate(s *ini.Section) []error {
	var errs []error
	keyErr := func(key string, err error) {
		errs = append(errs, &Error{File: c.Path, Line: c.validateLines[key], Section: "validate", Key: key, Err: err})
	}
	for _, k := range s.Keys() {
		name, v := k.Name(), strings.TrimSpace(k.Value())
		switch {
		case name == "enabled":
			b, err := parseBool(v)
			if err != nil {
				keyErr(name, err)
				continue
			}
			c.Validate = b
		case !strings.HasSuffix(name, "-mailcow") || strings.ContainsAny(name, " \t/"):
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: [validate] unknown key %q ignored (known: enabled, and a compose service such as postfix-mailcow)", c.where("validate", name), name))
		case v == "":
			keyErr(name, errors.New("empty: set the command that checks the service's configuration inside its container, or off"))
		default:
			if c.ValidateCommands == nil {
				c.ValidateCommands = map[string]string{}
			}
			c.ValidateCommands[name] = v
		}
	}
	return errs
}

// where names a key of a section for a message: FILE:LINE when the line
// is known.
func (c *Config) where(section, key string) string {
	if section == "validate" {
		if n, ok := c.validateLines[key]; ok {
			return c.Path + ":" + strconv.Itoa(n)
		}
	}
	return c.Path
}

// ValidateOrigin says where the check command of service was set, such
// as "/etc/mcupdate/mcupdate.ini:31 [validate] postfix-mailcow".
func (c *Config) ValidateOrigin(service string) string {
	return c.where("validate", service) + " [validate] " + service
}

// parseSize reads a size in bytes, with an optional K, M or G suffix
// (powers of 1024).
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			s = s[:n-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("not a size")
	}
	return n * mult, nil
}

// checkURL accepts an http or https URL with a host. The error never
// repeats the URL: its path or query may hold a token.
func checkURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("not an http:// or https:// URL with a host (the value is not shown: it may hold a token)")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsDotDot(p string) bool {
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (on/off, true/false, yes/no)", s)
}

// ParamOrigin returns where the parameter param of patch was set, such as
// "/etc/mcupdate/mcupdate.ini:14", or "" when it was not set here.
func (c *Config) ParamOrigin(patch, param string) string {
	if n, ok := c.paramLines[patch][param]; ok {
		return c.Path + ":" + strconv.Itoa(n)
	}
	return ""
}

// EnableOrigin says where the enabled patches are listed, such as
// "/etc/mcupdate/mcupdate.ini:12 [patches] enable", or "" when they are
// not set in a file.
func (c *Config) EnableOrigin() string {
	if c.enableLine == 0 {
		return ""
	}
	return c.Path + ":" + strconv.Itoa(c.enableLine) + " [patches] enable"
}

// PatchParams returns the parameters set for patch name, sorted by key, for
// reports.
func (c *Config) PatchParams(name string) []string {
	var out []string
	for k := range c.Params[name] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// PatchSettings is what binding the enabled patches needs of the
// configuration: the enable list and each patch's parameters, with the
// lines that set them for messages.
func (c *Config) PatchSettings() patch.Settings {
	return patch.Settings{Enabled: c.Enabled, Params: c.Params, Origin: c.ParamOrigin, EnableOrigin: c.EnableOrigin()}
}
