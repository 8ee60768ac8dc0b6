// Package index is the data model of a PEP 503/691 simple index: project
// names, project pages and their files, parsed from an upstream's JSON or
// HTML and rendered back in either form. It is pure: no HTTP, no storage.
package index

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// ErrBadName is returned for a string that cannot be a project name.
var ErrBadName = errors.New("invalid project name")

// maxNameLen bounds a project name; PyPI's longest are far shorter.
const maxNameLen = 200

// Normalize returns the PEP 503 normalized form of a project name: lower case,
// every run of '-', '_' and '.' replaced by one '-'. It rejects anything that
// is not a valid name per the core metadata spec (ASCII letters and digits,
// with '-', '_', '.' only between them), so that a name can be used safely in
// URLs and storage keys.
func Normalize(name string) (string, error) {
	if name == "" || len(name) > maxNameLen {
		return "", ErrBadName
	}
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			if sep {
				b.WriteByte('-')
				sep = false
			}
			b.WriteByte(c)
		case c >= 'A' && c <= 'Z':
			if sep {
				b.WriteByte('-')
				sep = false
			}
			b.WriteByte(c + ('a' - 'A'))
		case c == '-' || c == '_' || c == '.':
			if b.Len() == 0 {
				return "", ErrBadName // must start with a letter or digit
			}
			sep = true
		default:
			return "", ErrBadName
		}
	}
	if sep {
		return "", ErrBadName // must end with a letter or digit
	}
	return b.String(), nil
}

// NormalizeGlob spells a project glob as Normalize spells names (lower
// case, each run of '-', '_' and '.' one '-'; inside [...] nothing
// changes), so that "acme_*" and "Acme.*" match the normalized names they
// were written for instead of nothing. A pattern path.Match cannot read
// is an error.
func NormalizeGlob(pattern string) (string, error) {
	if pattern == "" || len(pattern) > maxNameLen {
		return "", ErrBadName
	}
	var b strings.Builder
	inClass, sep := false, false
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
		case c == '-' || c == '_' || c == '.':
			sep = true
			continue
		case c == '\\' && i+1 < len(pattern):
			b.WriteByte(c)
			i++
			c = pattern[i]
		}
		if sep {
			b.WriteByte('-')
			sep = false
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	if sep {
		b.WriteByte('-')
	}
	out := b.String()
	if _, err := path.Match(out, ""); err != nil {
		return "", fmt.Errorf("%q is not a name or glob: %w", pattern, err)
	}
	return out, nil
}
