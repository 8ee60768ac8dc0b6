package index

import "airlock/pep440"

// NewestRelease is the version of the newest release among files that are
// not yanked, as PyPI picks it: a final release wins over a newer
// pre-release. Empty when no filename says a version.
func NewestRelease(project string, files map[string]File) string {
	var best pep440.Version
	bestVersion := ""
	for _, f := range files {
		if f.Yanked {
			continue
		}
		v, ok := VersionFromFilename(project, f.Filename)
		if !ok {
			continue
		}
		pv, err := pep440.Parse(v)
		if err != nil {
			continue
		}
		if bestVersion == "" || (best.IsPrerelease() && !pv.IsPrerelease()) ||
			(best.IsPrerelease() == pv.IsPrerelease() && pep440.Compare(pv, best) > 0) {
			best, bestVersion = pv, v
		}
	}
	return bestVersion
}

// SameVersion reports whether two version strings name one PEP 440
// version ("1.0" and "1.0.0"); strings that do not parse never do.
func SameVersion(a, b string) bool {
	pa, err := pep440.Parse(a)
	if err != nil {
		return false
	}
	pb, err := pep440.Parse(b)
	return err == nil && pep440.Compare(pa, pb) == 0
}
