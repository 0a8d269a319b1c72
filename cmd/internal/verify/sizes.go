package verify

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/settings"
)

// Files the message size check reads, relative to the mailcow dir.
const (
	PostfixMainCf  = "data/conf/postfix/main.cf"
	PostfixExtraCf = "data/conf/postfix/extra.cf"
	RspamdLocalAV  = "data/conf/rspamd/local.d/antivirus.conf"
	RspamdOverAV   = "data/conf/rspamd/override.d/antivirus.conf"
	ClamdConf      = "data/conf/clamav/clamd.conf"
)

// Files the pitfall checks read, relative to the mailcow dir.
const (
	MailcowConf         = "mailcow.conf"
	RspamdLocalOptions  = "data/conf/rspamd/local.d/options.inc"
	RspamdOverOptions   = "data/conf/rspamd/override.d/options.inc"
	RspamdIPWhitelist   = "data/conf/rspamd/custom/ip_wl.map"
	DovecotConf         = "data/conf/dovecot/dovecot.conf"
	DovecotExtraConf    = "data/conf/dovecot/extra.conf"
	DovecotFTSConf      = "data/conf/dovecot/conf.d/fts.conf"
	PHPFPMPools         = "data/conf/phpfpm/php-fpm.d/pools.conf"
	PHPOtherINI         = "data/conf/phpfpm/php-conf.d/other.ini"
	TLSCert             = "data/assets/ssl/cert.pem"
	ComposeFile         = "docker-compose.yml"
	ComposeOverrideFile = "docker-compose.override.yml"
)

// Unlimited is the Bytes of a setting that sets no limit.
const Unlimited int64 = math.MaxInt64

// Defaults of the programs when a file does not set the key.
const (
	postfixDefault = 10240000  // postconf(5) message_size_limit
	clamdStream    = 100 << 20 // clamd.conf(5) StreamMaxLength
	clamdFile      = 100 << 20 // MaxFileSize
	clamdScan      = 400 << 20 // MaxScanSize
)

// SizeSetting is one message size limit as a program sees it.
type SizeSetting struct {
	// Key is the setting, such as "message_size_limit" or "StreamMaxLength".
	Key string `json:"key"`
	// File is where it is set, relative to the mailcow dir; Line is
	// 1-based, 0 when the program's default applies.
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	// Raw is the value as written ("25M"), or the default's.
	Raw string `json:"raw"`
	// Bytes is the limit in bytes; Unlimited when there is none.
	Bytes int64 `json:"bytes"`
	// Default is true when the file does not set the key.
	Default bool `json:"default,omitempty"`
}

func (s SizeSetting) String() string {
	where := s.File
	if s.Line > 0 {
		where += ":" + strconv.Itoa(s.Line)
	}
	if s.Default {
		where += " (not set: default)"
	}
	return fmt.Sprintf("%s = %s (%s) in %s", s.Key, s.Raw, humanBytes(s.Bytes), where)
}

// MessageSizes are the limits the size check compares.
type MessageSizes struct {
	// Postfix is message_size_limit: extra.cf's when it sets one, else
	// main.cf's, else postfix's default. Nil when main.cf is missing.
	Postfix *SizeSetting
	// Scanners are rspamd's antivirus max_size (per rule) and clamd's
	// StreamMaxLength, MaxFileSize and MaxScanSize, each of which must be
	// at least Postfix.
	Scanners []SizeSetting
	// Notes say which parts were not found (no clamd.conf, ...).
	Notes []string
}

// Small returns the scanner limits below postfix's: mail between the two
// sizes is passed unscanned or fails the scan.
func (m *MessageSizes) Small() []SizeSetting {
	if m.Postfix == nil {
		return nil
	}
	var out []SizeSetting
	for _, s := range m.Scanners {
		if s.Bytes < m.Postfix.Bytes {
			out = append(out, s)
		}
	}
	return out
}

// ReadMessageSizes reads the message size limits of postfix, rspamd's
// antivirus module and clamd from the mailcow dir. A missing file leaves its
// part out (with a note); a value that is not a size is an error naming the
// file, line and key.
func ReadMessageSizes(dir string) (*MessageSizes, error) {
	m := &MessageSizes{}
	read := func(rel string) ([]byte, bool, error) {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", rel, err)
		}
		return data, true, nil
	}

	main, ok, err := read(PostfixMainCf)
	if err != nil {
		return nil, err
	}
	if !ok {
		m.Notes = append(m.Notes, "no "+PostfixMainCf)
		return m, nil
	}
	pf, err := postfixLimit(PostfixMainCf, main)
	if err != nil {
		return nil, err
	}
	extra, ok, err := read(PostfixExtraCf)
	if err != nil {
		return nil, err
	}
	if ok {
		x, err := postfixLimit(PostfixExtraCf, extra)
		if err != nil {
			return nil, err
		}
		if !x.Default {
			pf = x
		}
	}
	m.Postfix = &pf

	av, src := []byte(nil), ""
	for _, rel := range []string{RspamdOverAV, RspamdLocalAV} {
		data, ok, err := read(rel)
		if err != nil {
			return nil, err
		}
		if ok && (rel == RspamdLocalAV || bytes.Contains(data, []byte("max_size"))) {
			av, src = data, rel
			break
		}
	}
	if src == "" {
		m.Notes = append(m.Notes, "no "+RspamdLocalAV)
	} else {
		ss, err := rspamdLimits(src, av)
		if err != nil {
			return nil, err
		}
		m.Scanners = append(m.Scanners, ss...)
	}

	clamd, ok, err := read(ClamdConf)
	if err != nil {
		return nil, err
	}
	if !ok {
		m.Notes = append(m.Notes, "no "+ClamdConf)
	} else {
		ss, err := clamdLimits(ClamdConf, clamd)
		if err != nil {
			return nil, err
		}
		m.Scanners = append(m.Scanners, ss...)
	}
	return m, nil
}

// postfixLimit reads message_size_limit from a main.cf-style file: the
// last setting wins, a line starting with white space continues the one
// before, 0 means no limit.
func postfixLimit(rel string, data []byte) (SizeSetting, error) {
	s := SizeSetting{Key: "message_size_limit", File: rel, Raw: strconv.Itoa(postfixDefault), Bytes: postfixDefault, Default: true}
	p, ok := settings.LastPostfix(settings.Postfix(data), "message_size_limit")
	if !ok {
		return s, nil
	}
	b, err := strconv.ParseInt(p.Value, 10, 64)
	if err != nil || b < 0 {
		return s, fmt.Errorf("%s:%d: message_size_limit: %q is not a number of bytes", rel, p.Line, p.Value)
	}
	if b == 0 {
		b = Unlimited
	}
	return SizeSetting{Key: "message_size_limit", File: rel, Line: p.Line, Raw: p.Value, Bytes: b}, nil
}

// rspamdLimits reads every max_size of an antivirus.conf (one per rule,
// such as clamav { ... }). A rule without max_size scans mail of any size,
// so only the set ones are returned.
func rspamdLimits(rel string, data []byte) ([]SizeSetting, error) {
	var out []SizeSetting
	for _, p := range settings.UCL(data) {
		if p.Key != "max_size" || p.List || len(p.Values) != 1 {
			continue
		}
		v := p.Values[0]
		b, err := ParseUCLSize(v)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: max_size: %w", rel, p.Line, err)
		}
		out = append(out, SizeSetting{Key: "rspamd antivirus max_size", File: rel, Line: p.Line, Raw: v, Bytes: b})
	}
	return out, nil
}

// clamdLimits reads StreamMaxLength, MaxFileSize and MaxScanSize from
// clamd.conf ("Key Value" lines; the last wins; missing keys get clamd's
// defaults; 0 means no limit).
func clamdLimits(rel string, data []byte) ([]SizeSetting, error) {
	keys := []struct {
		key string
		def int64
	}{{"StreamMaxLength", clamdStream}, {"MaxFileSize", clamdFile}, {"MaxScanSize", clamdScan}}
	found := map[string]SizeSetting{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		for _, k := range keys {
			if f[0] != k.key {
				continue
			}
			b, err := ParseClamdSize(f[1])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %s: %w", rel, n, k.key, err)
			}
			if b == 0 {
				b = Unlimited
			}
			found[k.key] = SizeSetting{Key: "clamd " + k.key, File: rel, Line: n, Raw: f[1], Bytes: b}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	var out []SizeSetting
	for _, k := range keys {
		s, ok := found[k.key]
		if !ok {
			s = SizeSetting{Key: "clamd " + k.key, File: rel, Raw: strconv.FormatInt(k.def>>20, 10) + "M", Bytes: k.def, Default: true}
		}
		out = append(out, s)
	}
	return out, nil
}

// ParseClamdSize reads a clamd.conf size: bytes, or a number with K, M or
// G (either case; powers of 1024).
func ParseClamdSize(s string) (int64, error) { return patch.ParseSize(patch.SizesClamd, s) }

// ParseUCLSize reads an rspamd (UCL) number: bytes, or with a multiplier:
// k, m, g are powers of 1000 and kb, mb, gb powers of 1024, in any case.
func ParseUCLSize(s string) (int64, error) { return patch.ParseSize(patch.SizesRspamd, s) }

// humanBytes writes n for a person: "150 MiB", "20971520 B", "no limit".
func humanBytes(n int64) string {
	switch {
	case n == Unlimited:
		return "no limit"
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
