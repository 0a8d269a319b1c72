package gitx

import "testing"

// FuzzPatchDelta feeds arbitrary deltas: an error, never a panic or a
// result of another size than the delta announces.
func FuzzPatchDelta(f *testing.F) {
	f.Add([]byte("hello world"), []byte{11, 5, 0x90, 5})
	f.Add([]byte("abc"), []byte{3, 4, 0x91, 1, 2, 1, 'x'})
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		out, err := patchDelta(base, delta)
		if err == nil && out == nil && len(delta) > 2 {
			t.Fatal("nil result without error")
		}
	})
}

// FuzzHeader parses arbitrary pack bytes as an object header: an error
// or a header inside the data, never a panic.
func FuzzHeader(f *testing.F) {
	f.Add(append([]byte("PACK\x00\x00\x00\x02\x00\x00\x00\x01"), 0x95, 0x0a, 0x78, 0x9c))
	f.Add(append([]byte("PACK\x00\x00\x00\x02\x00\x00\x00\x01"), 0xe5, 0x80, 0x01))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 13 {
			return
		}
		e, err := header(data, 12)
		if err != nil {
			return
		}
		// The first object cannot be a delta against an earlier one.
		if e.data > int64(len(data)) || e.typ == packOfsDelta {
			t.Fatalf("header %+v outside %d bytes", e, len(data))
		}
		_, _ = inflate(data[e.data:], min(e.size, 1<<16))
	})
}
