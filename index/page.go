package index

import (
	"path"
	"sort"
	"strings"
	"time"
)

// Page is one project's file list, as Airlock keeps it: upstream URLs
// resolved to absolute form, every optional field either known or marked
// unknown. It is stored as JSON, so its tags are Airlock's own, not PEP 691's.
type Page struct {
	Name     string   `json:"name"` // normalized
	Files    []File   `json:"files"`
	Versions []string `json:"versions,omitempty"`
	// Status is the PEP 792 project status, when the upstream gave one.
	Status *ProjectStatus `json:"status,omitempty"`
	// ProvenanceKnown is set when the upstream speaks API 1.3 or later, so
	// a file without a provenance URL has none (PEP 740).
	ProvenanceKnown bool `json:"provenance_known,omitempty"`
	// Source names the private index the page came from; "" is the
	// public upstream.
	Source string `json:"source,omitempty"`
}

// ProjectStatus is a PEP 792 status marker.
type ProjectStatus struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// File is one distribution file on a page.
type File struct {
	Filename       string `json:"filename"`
	URL            string `json:"url"` // absolute upstream URL
	Hashes         Hashes `json:"hashes,omitempty"`
	RequiresPython string `json:"requires_python,omitempty"`
	// CoreMetadata is nil when the upstream offers no PEP 658 metadata file,
	// and has empty Hashes when it offers one without a hash.
	CoreMetadata *CoreMetadata `json:"core_metadata,omitempty"`
	Yanked       bool          `json:"yanked,omitempty"`
	YankedReason string        `json:"yanked_reason,omitempty"`
	Size         int64         `json:"size"` // -1 when unknown
	UploadTime   time.Time     `json:"upload_time,omitzero"`
	// Provenance is the upstream URL of the PEP 740 provenance, if any.
	Provenance string `json:"provenance,omitempty"`
}

// CoreMetadata describes a PEP 658 metadata file.
type CoreMetadata struct {
	Hashes Hashes `json:"hashes,omitempty"`
}

// SHA256 returns the file's listed sha256 in lower case, or "".
func (f File) SHA256() string { return strings.ToLower(f.Hashes.Get("sha256")) }

// MetadataSHA256 returns the listed sha256 of the file's PEP 658 metadata, or "".
func (f File) MetadataSHA256() string {
	if f.CoreMetadata == nil {
		return ""
	}
	return strings.ToLower(f.CoreMetadata.Hashes.Get("sha256"))
}

// SaysNoProvenance reports whether the page itself says a file has no PEP
// 740 provenance: the upstream speaks API 1.3+ and lists none for it.
func (p *Page) SaysNoProvenance(f File) bool { return p.ProvenanceKnown && f.Provenance == "" }

// Lookup returns the file with the given filename.
func (p *Page) Lookup(filename string) (File, bool) {
	for _, f := range p.Files {
		if f.Filename == filename {
			return f, true
		}
	}
	return File{}, false
}

// fillVersions derives the versions list from the filenames when the upstream
// did not send one (HTML pages never do), so both formats can carry it.
func (p *Page) fillVersions() {
	if len(p.Versions) > 0 {
		return
	}
	seen := map[string]bool{}
	for _, f := range p.Files {
		if v, ok := VersionFromFilename(p.Name, f.Filename); ok && !seen[v] {
			seen[v] = true
			p.Versions = append(p.Versions, v)
		}
	}
	sort.Strings(p.Versions)
}

// ValidFilename reports whether s can be a distribution filename: a single
// path element of printable ASCII with no separators. Anything else on an
// upstream page is dropped rather than trusted.
func ValidFilename(s string) bool {
	if s == "" || len(s) > 255 || s == "." || s == ".." || strings.HasPrefix(s, ".") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '/' || c == '\\' || c == '"' || c == '<' || c == '>' || c == '#' || c == '?' || c == '%' {
			return false
		}
	}
	return path.Base(s) == s
}

var sdistSuffixes = []string{".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar", ".egg"}

// VersionFromFilename extracts the version from a wheel or sdist filename of
// the given (normalized) project.
func VersionFromFilename(project, filename string) (string, bool) {
	if stem, ok := strings.CutSuffix(filename, ".whl"); ok {
		parts := strings.Split(stem, "-")
		if len(parts) < 5 || len(parts) > 6 {
			return "", false
		}
		return parts[1], parts[1] != ""
	}
	for _, suf := range sdistSuffixes {
		stem, ok := strings.CutSuffix(filename, suf)
		if !ok {
			continue
		}
		if suf == ".egg" { // name-version-pyX.Y.egg
			parts := strings.Split(stem, "-")
			if len(parts) < 2 {
				return "", false
			}
			return parts[1], true
		}
		// Legacy sdists may keep dashes in the name, so split where the
		// prefix normalizes to the project name.
		for i := 0; i < len(stem); i++ {
			if stem[i] != '-' {
				continue
			}
			if n, err := Normalize(stem[:i]); err == nil && n == project && i+1 < len(stem) {
				return stem[i+1:], true
			}
		}
		if i := strings.LastIndexByte(stem, '-'); i > 0 && i+1 < len(stem) {
			return stem[i+1:], true
		}
		return "", false
	}
	return "", false
}
