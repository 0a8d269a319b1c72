package fsx

import "io/fs"

// UnixMode returns the permission bits of m as chmod and stat write them
// in octal: 0777, with setuid 04000, setgid 02000 and sticky 01000.
func UnixMode(m fs.FileMode) uint32 {
	p := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}

// FileMode returns the fs.FileMode of octal permissions as [UnixMode]
// writes them; bits above 07777 are dropped.
func FileMode(unix uint32) fs.FileMode {
	m := fs.FileMode(unix & 0o777)
	if unix&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if unix&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if unix&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}
