// Package inspect looks inside a distribution before a client runs it:
// wheels (zip) and sdists (tar.gz, zip) are read as streams, never
// extracted, under limits on total size, member count, compression ratio,
// path length and depth. It reports findings — executable .pth lines,
// start-up hooks, obfuscated execution, code that spawns processes,
// downloads or ships the environment at import or install time, native
// executables in pure-Python wheels, RECORD mismatches, path traversal and
// links, console scripts — each with a severity and the path inside the
// archive. It knows nothing of HTTP, storage or policy.
package inspect

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// RulesVersion names the rules inspection applies. Stored reports carry
// it, and one made by other rules is made again: findings are compared
// with a baseline's, and a baseline read with older rules lacks every
// newer rule's findings. TestRulesVersion says when to change it.
const RulesVersion = "2026-12-03.3"

// Severities, strongest first.
const (
	Critical = "critical"
	High     = "high"
	Medium   = "medium"
	Low      = "low"
	Info     = "info"
)

// Finding is one thing worth a reviewer's eyes.
type Finding struct {
	Severity string `json:"severity"`
	Kind     string `json:"kind"`
	Path     string `json:"path"`
	Message  string `json:"message"`
	// Line is the line of Path the finding is on (1-based; 0 for none).
	Line int `json:"line,omitempty"`
	// Evidence is the code: the line, with a few lines around it for
	// findings in Python source, each numbered.
	Evidence string `json:"evidence,omitempty"`
}

// Key identifies a finding across releases: its kind and its path with the
// version-bearing directory names normalized.
func (f Finding) Key(project, version string) string {
	return f.Kind + "|" + NormalizePath(f.Path, project, version)
}

// installedKey is Key with the path an installation gives the file: an
// sdist's root folder and src/ dropped, a wheel's .data/purelib|platlib.
func (f Finding) installedKey(project, version string) string {
	p := NormalizePath(f.Path, project, version)
	p = strings.TrimPrefix(p, "ROOT/")
	p = strings.TrimPrefix(p, "src/")
	if i := strings.Index(p, "-VERSION.data/"); i >= 0 {
		rest := p[i+len("-VERSION.data/"):]
		if scheme, after, ok := strings.Cut(rest, "/"); ok && (scheme == "purelib" || scheme == "platlib") {
			p = after
		}
	}
	return f.Kind + "|" + p
}

// Report is what an inspection found.
type Report struct {
	Kind     string    `json:"kind"` // wheel or sdist
	Files    []string  `json:"files"`
	Findings []Finding `json:"findings"`
	// EntryPoints are console and GUI scripts ("name = module:func").
	EntryPoints []string `json:"entry_points,omitempty"`
	Bytes       int64    `json:"bytes"` // uncompressed
	// Sources are the Python files (.py, .pth) by path — a wheel's
	// installed ones as it has them, all of an sdist's under its root
	// folder — with their RECORD-style sha256: what the source
	// comparison checks against the repository at the release's tag, and a
	// wheel against its release's sdist.
	Sources map[string]string `json:"sources,omitempty"`
}

// ErrLimit wraps every reason an archive could not be inspected: a limit it
// exceeded, or (ErrCorrupt) an archive that cannot be read. It holds the
// file.
var (
	ErrLimit   = errors.New("could not inspect")
	ErrCorrupt = fmt.Errorf("%w: corrupt archive", ErrLimit)
)

// Limits bound an inspection.
type Limits struct {
	MaxTotalBytes  int64 // uncompressed, all members
	MaxMemberBytes int64 // uncompressed, one member
	MaxMembers     int
	MaxRatio       int64 // uncompressed/compressed per member (zip)
	MaxPathLength  int
	MaxDepth       int   // path components
	MaxScanBytes   int64 // of one text file scanned for code patterns
	// MinRatioSizeLen: the ratio applies to members larger than this. Real
	// wheels carry shared libraries of a few MiB that compress over 200:1
	// (pillow's 2.1 MB libjpeg at 224:1); a ratio only matters for members
	// large enough to hurt.
	MinRatioSizeLen int64

	// Memo (optional) remembers each source file's analysis by its content
	// beyond this process: not a bound, but it travels with the limits
	// into nested archives.
	Memo Memo
	// Parsers is how many source files of one archive are analysed at
	// once (0: one per core). A client waiting on one cold wheel gets
	// both cores; findings are settled in member order all the same.
	Parsers int

	depth int // of archives inside the distribution being inspected
}

// DefaultLimits are generous for real distributions (the largest wheels
// are a few GiB with a few thousand members) and stop bombs early.
func DefaultLimits() Limits {
	return Limits{MaxTotalBytes: 8 << 30, MaxMemberBytes: 4 << 30, MaxMembers: 100_000, MaxRatio: 200, MaxPathLength: 1024, MaxDepth: 48,
		MaxScanBytes: 4 << 20, MinRatioSizeLen: 64 << 20}
}

func (r *Report) add(f Finding) { r.Findings = append(r.Findings, f) }

func (r *Report) sort() {
	rank := map[string]int{Critical: 0, High: 1, Medium: 2, Low: 3, Info: 4}
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if rank[a.Severity] != rank[b.Severity] {
			return rank[a.Severity] < rank[b.Severity]
		}
		return a.Path < b.Path
	})
	sort.Strings(r.Files)
	sort.Strings(r.EntryPoints)
}

// Diff compares a report with the previous release's.
type Diff struct {
	PreviousVersion string    `json:"previous_version,omitempty"`
	Added           []string  `json:"files_added,omitempty"`
	Removed         []string  `json:"files_removed,omitempty"`
	New             []Finding `json:"new_findings"`
	Known           []Finding `json:"known_findings,omitempty"` // the project always had these
	EntryPointsNew  []string  `json:"entry_points_added,omitempty"`
	// EntryPointsChanged are scripts whose target changed ("name: old -> new").
	EntryPointsChanged []string `json:"entry_points_changed,omitempty"`
}

// Compare splits a report's findings into new ones and ones the previous
// release had too; with no previous report every finding is new.
func Compare(project, version string, cur *Report, prevVersion string, prev *Report) Diff {
	d := Diff{PreviousVersion: prevVersion, New: []Finding{}}
	if prev == nil {
		d.New = append(d.New, cur.Findings...)
		return d
	}
	// A wheel compared with an sdist (a project whose earlier release
	// shipped only an sdist): findings are matched by the path the file is
	// installed at, which the sdist has under its root and perhaps src/.
	key := Finding.Key
	if cur.Kind != "" && prev.Kind != "" && cur.Kind != prev.Kind {
		key = Finding.installedKey
	}
	had := map[string]bool{}
	for _, f := range prev.Findings {
		had[key(f, project, prevVersion)] = true
	}
	for _, f := range cur.Findings {
		if had[key(f, project, version)] {
			d.Known = append(d.Known, f)
		} else {
			d.New = append(d.New, f)
		}
	}
	prevFiles := map[string]bool{}
	for _, p := range prev.Files {
		prevFiles[NormalizePath(p, project, prevVersion)] = true
	}
	curFiles := map[string]bool{}
	for _, p := range cur.Files {
		n := NormalizePath(p, project, version)
		curFiles[n] = true
		if !prevFiles[n] {
			d.Added = append(d.Added, p)
		}
	}
	for _, p := range prev.Files {
		if !curFiles[NormalizePath(p, project, prevVersion)] {
			d.Removed = append(d.Removed, p)
		}
	}
	prevEP := map[string]string{} // script name -> target
	for _, e := range prev.EntryPoints {
		name, target, _ := strings.Cut(e, " = ")
		prevEP[name] = target
	}
	for _, e := range cur.EntryPoints {
		name, target, _ := strings.Cut(e, " = ")
		old, had := prevEP[name]
		switch {
		case !had:
			d.EntryPointsNew = append(d.EntryPointsNew, e)
		case old != target:
			d.EntryPointsChanged = append(d.EntryPointsChanged, name+": "+old+" -> "+target)
		}
	}
	return d
}

// NormalizePath replaces the version in "<name>-<version>.dist-info/..."
// and "<name>-<version>/..." (sdist roots) so paths compare across releases.
func NormalizePath(p, project, version string) string {
	if version == "" {
		return p
	}
	p = strings.ReplaceAll(p, "-"+version+".dist-info", "-VERSION.dist-info")
	p = strings.ReplaceAll(p, "-"+version+".data/", "-VERSION.data/")
	if first, rest, ok := strings.Cut(p, "/"); ok && strings.HasSuffix(first, "-"+version) {
		p = "ROOT/" + rest // an sdist's top directory
	}
	// Nested archives and their folders carry the version too (cmake's
	// test fixtures: …/cmake-4.4.4.tar.gz!/cmake-4.4.4/…): without this,
	// every finding in them is "new" in the next release.
	if strings.Contains(version, ".") {
		p = strings.ReplaceAll(p, "-"+version+"/", "-VERSION/")
		p = strings.ReplaceAll(p, "-"+version+".tar", "-VERSION.tar")
		p = strings.ReplaceAll(p, "-"+version+".zip", "-VERSION.zip")
		p = strings.ReplaceAll(p, "-"+version+".whl", "-VERSION.whl")
		p = strings.ReplaceAll(p, "-"+version+"-", "-VERSION-")
	}
	return p
}

func limitErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrLimit, fmt.Sprintf(format, a...))
}
