package gitx

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Blob is one object read by [Runner.Blobs].
type Blob struct {
	// Missing is true when the spec names no object.
	Missing bool
	// Size is the object's size; Data is nil when it exceeds the limit.
	Size int64
	Data []byte
}

// Blobs reads the objects named by specs ("REV:PATH" or a hash) with one
// `git cat-file --batch`, which reads objects however the repository
// stores them (alternates, a partial clone's promisor remote, packs of any
// shape). An object larger than max bytes comes back with its size and no
// data.
func (r *Runner) Blobs(ctx context.Context, specs []string, max int64) (map[string]Blob, error) {
	out := make(map[string]Blob, len(specs))
	if len(specs) == 0 {
		return out, nil
	}
	if r.local() {
		if out, err := r.repo.blobs(specs, max); err == nil {
			return out, nil
		}
	}
	var in bytes.Buffer
	for _, s := range specs {
		if strings.ContainsAny(s, "\n\x00") {
			return nil, fmt.Errorf("cat-file: object name %q has a line break", s)
		}
		in.WriteString(s)
		in.WriteByte('\n')
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := r.Do(ctx, Call{Args: []string{"cat-file", "--batch"}, Stdin: &in, Stdout: pw})
		_ = pw.CloseWithError(err)
		done <- err
	}()
	perr := parseBatch(bufio.NewReaderSize(pr, 64<<10), specs, max, out)
	// Drain, so that git is not blocked on a full pipe when the parse
	// stopped early.
	_, _ = io.Copy(io.Discard, pr)
	if err := <-done; err != nil {
		return nil, err
	}
	if perr != nil {
		return nil, perr
	}
	return out, nil
}

func parseBatch(br *bufio.Reader, specs []string, max int64, out map[string]Blob) error {
	for _, spec := range specs {
		header, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("cat-file --batch: answer for %s: %w", spec, err)
		}
		header = strings.TrimSuffix(header, "\n")
		if strings.HasSuffix(header, " missing") || strings.HasSuffix(header, " ambiguous") {
			out[spec] = Blob{Missing: true}
			continue
		}
		f := strings.Fields(header)
		if len(f) != 3 {
			return fmt.Errorf("cat-file --batch: unexpected answer %q for %s", header, spec)
		}
		size, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("cat-file --batch: bad size in %q for %s", header, spec)
		}
		b := Blob{Size: size}
		if size <= max {
			b.Data = make([]byte, size)
			if _, err := io.ReadFull(br, b.Data); err != nil {
				return fmt.Errorf("cat-file --batch: content of %s: %w", spec, err)
			}
		} else if _, err := io.CopyN(io.Discard, br, size); err != nil {
			return fmt.Errorf("cat-file --batch: content of %s: %w", spec, err)
		}
		if _, err := br.Discard(1); err != nil { // the newline after the content
			return fmt.Errorf("cat-file --batch: end of %s: %w", spec, err)
		}
		out[spec] = b
	}
	return nil
}
