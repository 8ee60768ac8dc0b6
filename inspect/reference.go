package inspect

import (
	"errors"
	"path"
	"strings"
)

// ErrNoSource: there is no reference source to compare a distribution
// with (the forge has no archive of the tag): not a fault to retry.
var ErrNoSource = errors.New("no source to compare with")

// SourceDifference is a shipped file the reference source does not
// account for.
type SourceDifference struct {
	Path string
	// Missing: no file of that path in the reference; otherwise one is,
	// with other content.
	Missing bool
}

// CompareSources lists the files of shipped (path -> sha256) that the
// reference (a repository at a tag, or the release's sdist; same form) does
// not have with the same content. A wheel's path is found in the reference
// as it is or under a folder (src/ layouts, a monorepo's libs/x/). Files
// builds write (_version.py and the like) are expected to differ.
func CompareSources(shipped, reference map[string]string) []SourceDifference {
	byBase := map[string][]string{}
	for tp := range reference {
		byBase[path.Base(tp)] = append(byBase[path.Base(tp)], tp)
	}
	var out []SourceDifference
	for p, sum := range shipped {
		if generatedByBuild(p) {
			continue
		}
		found, same := false, false
		for _, tp := range byBase[path.Base(p)] {
			if tp == p || strings.HasSuffix(tp, "/"+p) {
				found = true
				same = same || reference[tp] == sum
			}
		}
		if !same {
			out = append(out, SourceDifference{Path: p, Missing: !found})
		}
	}
	return out
}

// generatedByBuild are files a build writes from the repository's metadata.
func generatedByBuild(p string) bool {
	switch path.Base(p) {
	case "_version.py", "version.py", "__version__.py", "_version_info.py", "_build_info.py":
		return true
	}
	return false
}
