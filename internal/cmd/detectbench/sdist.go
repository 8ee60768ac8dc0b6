package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"airlock/inspect"
)

// sdistComparison measures the stand-in source comparison on the releases
// in the cache that have a wheel and an sdist: how many wheels the check
// would flag against their own sdist, and why. The held ones are what the
// check costs where no repository can be read (known to the baseline
// from the next release on, as every finding is).
func sdistComparison(cache string) {
	sdists, _ := filepath.Glob(filepath.Join(cache, "*.tar.gz"))
	sort.Strings(sdists)
	releases, held, warned := 0, 0, 0
	var lines []string
	for _, sd := range sdists {
		base := strings.TrimSuffix(filepath.Base(sd), ".tar.gz")
		wheels, _ := filepath.Glob(filepath.Join(cache, base+"-*.whl"))
		if len(wheels) == 0 {
			continue
		}
		sort.Strings(wheels)
		w := wheels[0] // a pure wheel if there is one, else the first
		for _, x := range wheels {
			if strings.HasSuffix(x, "-none-any.whl") {
				w = x
			}
		}
		sr, wr := report(sd), report(w)
		if sr == nil || wr == nil || len(sr.Sources) == 0 {
			continue
		}
		releases++
		var differs, missing []string
		for _, d := range inspect.CompareSources(wr.Sources, sr.Sources) {
			if d.Missing {
				missing = append(missing, d.Path)
			} else {
				differs = append(differs, d.Path)
			}
		}
		switch {
		case len(differs) > 0:
			held++
			lines = append(lines, fmt.Sprintf("  held: %s differs from the sdist: %s", filepath.Base(w), short(differs)))
		case len(missing) > 0:
			warned++
			lines = append(lines, fmt.Sprintf("  warned: %s has files the sdist does not: %s", filepath.Base(w), short(missing)))
		}
	}
	fmt.Printf("## the sdist as the source (where no repository can be read)\n  %d releases with a wheel and an sdist: %d wheels would be held (a module differs), %d warned (a file the build generated)\n",
		releases, held, warned)
	for _, l := range lines {
		fmt.Println(l)
	}
	fmt.Println()
}

func report(path string) *inspect.Report {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	r, err := inspect.File(f, st.Size(), st.Name(), inspect.DefaultLimits())
	if err != nil {
		return nil
	}
	return r
}

func short(paths []string) string {
	sort.Strings(paths)
	if len(paths) > 3 {
		return strings.Join(paths[:3], ", ") + fmt.Sprintf(" and %d more", len(paths)-3)
	}
	return strings.Join(paths, ", ")
}
