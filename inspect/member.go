package inspect

import (
	"archive/tar"
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNoMember means the archive has no member of that name.
var ErrNoMember = errors.New("no such member")

// ReadMember returns the first max bytes of one member of a distribution:
// for showing a reviewer what changed in a file since the baseline.
func ReadMember(r io.ReaderAt, size int64, archive, member string, max int64) ([]byte, error) {
	switch {
	case strings.HasSuffix(archive, ".whl"), strings.HasSuffix(archive, ".zip"), strings.HasSuffix(archive, ".egg"):
		zr, err := zip.NewReader(r, size)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		for _, f := range zr.File {
			if f.Name == member {
				rc, err := f.Open()
				if err != nil {
					return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
				}
				defer rc.Close()
				return io.ReadAll(io.LimitReader(rc, max))
			}
		}
		return nil, ErrNoMember
	}
	var stream io.Reader = io.NewSectionReader(r, 0, size)
	switch {
	case strings.HasSuffix(archive, ".tar.gz"), strings.HasSuffix(archive, ".tgz"):
		gz, err := gzip.NewReader(stream)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		stream = gz
	case strings.HasSuffix(archive, ".tar.bz2"):
		stream = bzip2.NewReader(stream)
	case !strings.HasSuffix(archive, ".tar"):
		return nil, fmt.Errorf("%w: unsupported archive type %s", ErrLimit, archive)
	}
	tr := tar.NewReader(stream)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, ErrNoMember
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if strings.TrimPrefix(h.Name, "./") == member {
			return io.ReadAll(io.LimitReader(tr, max))
		}
	}
}
