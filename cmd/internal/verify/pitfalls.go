package verify

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/mcupdate/mcupdate/cmd/internal/compose"
	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
	"github.com/mcupdate/mcupdate/cmd/internal/patch"
	"github.com/mcupdate/mcupdate/cmd/internal/ui"
)

// The pitfall checks: combinations of settings that every file accepts on
// its own and that fail together, as real mailcow admins met them. Each
// is one function of an install, in a file of its own.
var pitfallChecks = []struct {
	name string
	run  func(*mailcowFiles) Check
}{
	{CheckRelayNetworks, checkRelayNetworks},
	{CheckDNSAliases, checkDNSAliases},
	{CheckExtraNetworks, checkExtraNetworks},
	{CheckOverrideDNS, checkOverrideDNS},
	{CheckFTSMemory, checkFTSMemory},
	{CheckPHPFPM, checkPHPFPM},
	{CheckUsernsRemap, checkUsernsRemap},
	{CheckTLSCert, checkTLSCert},
}

// mailcowFiles is what the pitfall checks read of a mailcow install: each file
// is read and parsed once per run, on first use, whichever check comes
// first.
type mailcowFiles struct {
	opt Options

	confOnce sync.Once
	conf     map[string]patch.Setting
	confErr  error

	composeOnce sync.Once
	base, over  *compose.File
	baseErr     error
	overErr     error
}

func newMailcowFiles(opt Options) *mailcowFiles { return &mailcowFiles{opt: opt} }

// read returns a file of the mailcow dir; ok is false when it does not
// exist. Errors name the file.
func (in *mailcowFiles) read(rel string) (data []byte, ok bool, err error) {
	data, err = os.ReadFile(filepath.Join(in.opt.MailcowDir, filepath.FromSlash(rel)))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", rel, fsx.UnwrapPath(err))
	}
	return data, true, nil
}

// confVar returns a mailcow.conf variable as the containers get it: the
// last assignment, else def (the default docker-compose.yml gives).
func (in *mailcowFiles) confVar(key, def string) confValue {
	in.confOnce.Do(func() {
		data, ok, err := in.read(MailcowConf)
		in.conf, in.confErr = map[string]patch.Setting{}, err
		if !ok {
			return
		}
		for _, s := range patch.ReadEnv(data) {
			in.conf[s.Key] = s
		}
	})
	if s, ok := in.conf[key]; ok {
		return confValue{Key: key, Value: s.Value, Line: s.Line, Set: true}
	}
	return confValue{Key: key, Value: def}
}

// confValue is one mailcow.conf variable.
type confValue struct {
	Key, Value string
	// Line is where mailcow.conf sets it; Set is false when it does not
	// (Value is then the default).
	Line int
	Set  bool
}

// String names the variable, its value and where it comes from:
// "FTS_HEAP=128 (mailcow.conf:40)" or "FTS_HEAP=128 (default)".
func (v confValue) String() string {
	if !v.Set {
		return fmt.Sprintf("%s=%s (not set: default)", v.Key, v.Value)
	}
	return fmt.Sprintf("%s=%s (%s:%d)", v.Key, v.Value, MailcowConf, v.Line)
}

// compose returns docker-compose.yml and docker-compose.override.yml as
// parsed; a file that is missing is nil with no error.
func (in *mailcowFiles) compose() (base, over *compose.File, baseErr, overErr error) {
	in.composeOnce.Do(func() {
		parse := func(rel string) (*compose.File, error) {
			data, ok, err := in.read(rel)
			if !ok || err != nil {
				return nil, err
			}
			return compose.Parse(rel, data)
		}
		in.base, in.baseErr = parse(ComposeFile)
		in.over, in.overErr = parse(ComposeOverrideFile)
	})
	return in.base, in.over, in.baseErr, in.overErr
}

// composeFiles returns both compose files for a check that needs them,
// or the Check to report when one cannot be read (the override
// references check names the same problem).
func (in *mailcowFiles) composeFiles() (base, over *compose.File, c *Check) {
	base, over, berr, oerr := in.compose()
	switch {
	case berr != nil:
		return nil, nil, &Check{Status: StatusSkipped, Detail: ui.FirstLine(berr.Error()) + ": see the override-references check"}
	case oerr != nil:
		return nil, nil, &Check{Status: StatusSkipped, Detail: ui.FirstLine(oerr.Error()) + ": see the override-references check"}
	case base == nil:
		return nil, nil, &Check{Status: StatusSkipped, Detail: "no " + ComposeFile}
	}
	return base, over, nil
}

// hostPath maps a path inside service svc's container to the file it is
// bind-mounted from (relative to the mailcow dir when it is inside it),
// by the longest volume target that contains it; the override's volumes
// win over the base's. "" when no bind mount covers it.
func (in *mailcowFiles) hostPath(svc, inside string) string {
	base, over, _, _ := in.compose()
	best, bestLen := "", -1
	for _, f := range []*compose.File{over, base} {
		if f == nil || f.Services[svc] == nil {
			continue
		}
		for _, v := range f.Services[svc].Volumes {
			src, target, ok := bindMount(v)
			if !ok {
				continue
			}
			target = path.Clean(target)
			rest, found := strings.CutPrefix(path.Clean(inside), target)
			if !found || rest != "" && !strings.HasPrefix(rest, "/") && target != "/" {
				continue
			}
			if len(target) > bestLen {
				best, bestLen = path.Join(src, rest), len(target)
			}
		}
	}
	return best
}

// bindMount splits a short-syntax volume into a bind mount's source
// (cleaned, relative to the mailcow dir when it starts with ./) and
// target; ok is false for a named volume.
func bindMount(v string) (src, target string, ok bool) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 {
		return "", "", false
	}
	src, target = parts[0], parts[1]
	switch {
	case src == "." || strings.HasPrefix(src, "./") || src == "..":
		return path.Clean(src), target, true
	case strings.HasPrefix(src, "/"):
		return path.Clean(src), target, true
	}
	return "", "", false
}

// at is "FILE:LINE", or FILE when the line is unknown.
func at(file string, line int) string {
	if line <= 0 {
		return file
	}
	return file + ":" + strconv.Itoa(line)
}
