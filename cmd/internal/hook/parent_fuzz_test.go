package hook

import (
	"bytes"
	"testing"
)

// FuzzParseCmdline feeds /proc/PID/cmdline contents to parseCmdline: it
// must never panic, and it must report update.sh's options exactly as the
// kernel separated them.
func FuzzParseCmdline(f *testing.F) {
	f.Add([]byte("/bin/bash\x00./update.sh\x00--check\x00"))
	f.Add([]byte("bash\x00/opt/mailcow-dockerized/update.sh\x00-f\x00--skip-start\x00"))
	f.Add([]byte("/usr/bin/sshd\x00-D\x00"))
	f.Add([]byte("bash\x00update.sh\x00"))
	f.Add([]byte("bash\x00update.sh"))
	f.Add([]byte("\x00\x00\x00"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p := parseCmdline(42, raw)
		if p.PID != 42 {
			t.Fatalf("PID = %d", p.PID)
		}
		if !p.UpdateSh {
			if p.Mode != ModeNone || p.Args != nil || p.Option != "" {
				t.Fatalf("not update.sh but %+v", p)
			}
			return
		}
		if !bytes.Contains(raw, []byte("update.sh")) {
			t.Fatalf("update.sh found in %q", raw)
		}
		for _, a := range p.Args {
			if bytes.IndexByte([]byte(a), 0) >= 0 {
				t.Fatalf("argument %q holds a NUL", a)
			}
		}
		switch p.Mode {
		case ModeUpdate:
			if p.Option != "" {
				t.Fatalf("update mode with option %q", p.Option)
			}
		case ModeReadOnly:
			if !readOnlyOptions[p.Option] {
				t.Fatalf("read-only for %q", p.Option)
			}
		default:
			t.Fatalf("mode %q for update.sh", p.Mode)
		}
	})
}
