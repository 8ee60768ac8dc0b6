// Package advisories reads OSV records for PyPI (OpenSSF's
// malicious-packages layout, osv.dev exports) and answers, for a file,
// which advisories name it: by project and version (explicit versions, and
// ranges evaluated with PEP 440) or by the file's sha256. A record whose ID
// (or an alias) starts with MAL- is malicious; any other is a
// vulnerability.
package advisories

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"airlock/index"
	"airlock/pep440"
)

// Advisory is one OSV record, reduced to what matching and evidence need.
type Advisory struct {
	ID        string    `json:"id"`
	Summary   string    `json:"summary"`
	Link      string    `json:"link"`
	Published time.Time `json:"published"`
	Malicious bool      `json:"malicious"`
	// Severity is critical, high, medium, low or unknown (vulnerabilities).
	Severity string `json:"severity,omitempty"`

	affected []affected
}

type affected struct {
	project  string // normalized
	versions map[string]bool
	ranges   []versionRange
	sha256s  map[string]bool
}

// versionRange is one OSV ECOSYSTEM range: introduced (inclusive) up to
// fixed (exclusive) or last_affected (inclusive).
type versionRange struct {
	introduced, fixed, lastAffected *pep440.Version
	introducedZero                  bool
}

// osvRecord is the part of the OSV schema Airlock reads.
type osvRecord struct {
	ID        string   `json:"id"`
	Aliases   []string `json:"aliases"`
	Summary   string   `json:"summary"`
	Details   string   `json:"details"`
	Published string   `json:"published"`
	Withdrawn string   `json:"withdrawn"`
	Affected  []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
		Versions []string `json:"versions"`
		Ranges   []struct {
			Type   string              `json:"type"`
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
		DatabaseSpecific struct {
			Indicators struct {
				PackageIntegrity []struct {
					Filename string            `json:"filename"`
					Hashes   map[string]string `json:"hashes"`
				} `json:"package_integrity"`
			} `json:"indicators"`
		} `json:"database_specific"`
	} `json:"affected"`
	References []struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	} `json:"references"`
	Severity []struct {
		Type  string `json:"type"`
		Score string `json:"score"`
	} `json:"severity"`
	DatabaseSpecific struct {
		Severity string `json:"severity"`
	} `json:"database_specific"`
}

// Parse reads one OSV record. It returns nil (and no error) for a record
// that names no PyPI package or was withdrawn.
func Parse(data []byte) (*Advisory, error) {
	var r osvRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("not an OSV record: %v", err)
	}
	if r.ID == "" {
		return nil, fmt.Errorf("OSV record without an id")
	}
	if r.Withdrawn != "" {
		return nil, nil
	}
	a := &Advisory{ID: r.ID, Summary: firstLine(r.Summary, r.Details), Malicious: strings.HasPrefix(r.ID, "MAL-")}
	for _, al := range r.Aliases {
		a.Malicious = a.Malicious || strings.HasPrefix(al, "MAL-")
	}
	a.Published, _ = time.Parse(time.RFC3339Nano, r.Published)
	a.Link = "https://osv.dev/vulnerability/" + r.ID
	for _, ref := range r.References {
		if ref.Type == "ADVISORY" && ref.URL != "" {
			a.Link = ref.URL
			break
		}
	}
	if !a.Malicious {
		a.Severity = severityOf(r.DatabaseSpecific.Severity)
	}
	for _, af := range r.Affected {
		if !strings.EqualFold(af.Package.Ecosystem, "PyPI") {
			continue
		}
		name, err := index.Normalize(af.Package.Name)
		if err != nil {
			continue
		}
		x := affected{project: name, versions: map[string]bool{}, sha256s: map[string]bool{}}
		for _, v := range af.Versions {
			x.versions[canonical(v)] = true
		}
		for _, rg := range af.Ranges {
			if rg.Type != "ECOSYSTEM" {
				continue // SEMVER and GIT ranges do not describe PyPI versions
			}
			x.ranges = append(x.ranges, parseRanges(rg.Events)...)
		}
		for _, pi := range af.DatabaseSpecific.Indicators.PackageIntegrity {
			if h := strings.ToLower(pi.Hashes["sha256"]); len(h) == 64 {
				x.sha256s[h] = true
			}
		}
		a.affected = append(a.affected, x)
	}
	if len(a.affected) == 0 {
		return nil, nil
	}
	return a, nil
}

// parseRanges turns a range's events into intervals: each "introduced"
// opens one, the next "fixed" or "last_affected" closes it.
func parseRanges(events []map[string]string) []versionRange {
	var out []versionRange
	var cur *versionRange
	for _, ev := range events {
		if v, ok := ev["introduced"]; ok {
			cur = &versionRange{}
			if v == "0" {
				cur.introducedZero = true
			} else if pv, err := pep440.Parse(v); err == nil {
				cur.introduced = &pv
			} else {
				cur = nil
				continue
			}
			out = append(out, *cur)
			continue
		}
		if cur == nil || len(out) == 0 {
			continue
		}
		last := &out[len(out)-1]
		if v, ok := ev["fixed"]; ok {
			if pv, err := pep440.Parse(v); err == nil {
				last.fixed = &pv
			}
			cur = nil
		} else if v, ok := ev["last_affected"]; ok {
			if pv, err := pep440.Parse(v); err == nil {
				last.lastAffected = &pv
			}
			cur = nil
		}
	}
	return out
}

func (r versionRange) contains(v pep440.Version) bool {
	if r.introduced != nil && pep440.Compare(v, *r.introduced) < 0 {
		return false
	}
	if r.fixed != nil && pep440.Compare(v, *r.fixed) >= 0 {
		return false
	}
	if r.lastAffected != nil && pep440.Compare(v, *r.lastAffected) > 0 {
		return false
	}
	return r.introducedZero || r.introduced != nil
}

// matches reports whether the advisory names this file.
func (x affected) matches(version string, v *pep440.Version, sha string) bool {
	if sha != "" && x.sha256s[sha] {
		return true
	}
	if version == "" {
		return false
	}
	if x.versions[canonical(version)] {
		return true
	}
	if v == nil {
		return false
	}
	for _, r := range x.ranges {
		if r.contains(*v) {
			return true
		}
	}
	return false
}

// canonical is a version in PEP 440's normal spelling (1.0-rc1 is
// 1.0rc1), so a record and a filename spelling one release differently
// still match.
func canonical(v string) string {
	if pv, err := pep440.Parse(v); err == nil {
		return pv.String()
	}
	return strings.ToLower(strings.TrimSpace(v))
}

func severityOf(s string) string {
	switch strings.ToLower(s) {
	case "critical":
		return "critical"
	case "high":
		return "high"
	case "moderate", "medium":
		return "medium"
	case "low":
		return "low"
	}
	return "unknown"
}

func firstLine(summary, details string) string {
	s := strings.TrimSpace(summary)
	if s == "" {
		s = strings.TrimSpace(details)
	}
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
