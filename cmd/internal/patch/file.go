package patch

import (
	"io/fs"

	"github.com/mcupdate/mcupdate/cmd/internal/fsx"
)

// KindFile ensures the whole content of a file, which it creates when
// it is missing.
const KindFile Kind = "file"

func init() { register(KindFile, fileKind{}) }

type fileKind struct{}

func (fileKind) keys() []string { return []string{"content", "source", "mode"} }

func (fileKind) parse(e *Edit, s *editSection) {
	c, hasC := s.get("content")
	src, hasS := s.get("source")
	switch {
	case hasC && hasS:
		s.errorf("source", "content and source exclude each other")
	case !hasC && !hasS:
		s.errorf("", "kind file needs content or source")
	}
	e.Content, e.Source = multiline(c), src
	if hasS {
		if err := fsx.CheckRel(src); err != nil {
			s.errorf("source", "source: %v", err)
		}
	}
	e.Perm = 0o644
	if m, ok := s.perm("mode", "0644"); ok {
		e.Perm = m
	}
}

// check: the file may be missing, and is created with the edit's mode.
func (fileKind) check(be *boundEdit, _ *binding) {
	be.create, be.perm = true, fs.FileMode(be.Perm)
}

// apply ensures the whole content of a file.
func (fileKind) apply(_ string, be *boundEdit) (string, error) { return be.content, nil }

func (fileKind) template(e *Edit) string { return contentTemplate(e) }

func (fileKind) found(_ *Patch, _ *Edit, content string, exists bool, _ func(string) []string) ([]string, error) {
	if exists {
		return []string{content}, nil
	}
	return nil, nil
}

func (fileKind) governed(be *boundEdit, _ []string) []string { return contentLines(be) }
