package verify

import (
	"fmt"
	"sort"
	"strings"

	"airlock/index"
	"airlock/pep440"
)

// distribution is what a distribution filename names: project, version and
// (for wheels) build tag and the set of compatibility tags.
type distribution struct {
	name, version, build string
	tags                 string // sorted, expanded tag triples; "" for sdists
}

// parseDistribution reads a wheel or sdist filename. Compressed tag sets
// ("py2.py3-none-any") are expanded and sorted, so tags in any order compare
// equal.
func parseDistribution(filename string) (distribution, error) {
	if stem, ok := strings.CutSuffix(filename, ".whl"); ok {
		parts := strings.Split(stem, "-")
		if len(parts) != 5 && len(parts) != 6 {
			return distribution{}, fmt.Errorf("%q is not a wheel filename", filename)
		}
		d := distribution{version: pep440.Normalize(parts[1])}
		var err error
		if d.name, err = index.Normalize(parts[0]); err != nil {
			return distribution{}, fmt.Errorf("%q: bad project name", filename)
		}
		if len(parts) == 6 {
			d.build = parts[2]
		}
		n := len(parts)
		var triples []string
		for _, py := range strings.Split(parts[n-3], ".") {
			for _, abi := range strings.Split(parts[n-2], ".") {
				for _, plat := range strings.Split(parts[n-1], ".") {
					triples = append(triples, strings.ToLower(py+"-"+abi+"-"+plat))
				}
			}
		}
		sort.Strings(triples)
		d.tags = strings.Join(triples, ",")
		return d, nil
	}
	for _, suf := range []string{".tar.gz", ".zip"} {
		stem, ok := strings.CutSuffix(filename, suf)
		if !ok {
			continue
		}
		i := strings.LastIndexByte(stem, '-')
		if i <= 0 {
			break
		}
		name, err := index.Normalize(stem[:i])
		if err != nil {
			break
		}
		return distribution{name: name, version: pep440.Normalize(stem[i+1:])}, nil
	}
	return distribution{}, fmt.Errorf("%q is not a wheel or sdist filename", filename)
}

// sameDistribution reports whether two filenames name the same distribution.
func sameDistribution(a, b string) (bool, error) {
	da, err := parseDistribution(a)
	if err != nil {
		return false, err
	}
	db, err := parseDistribution(b)
	if err != nil {
		return false, err
	}
	return da == db, nil
}
