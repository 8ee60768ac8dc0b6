package inspect

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"unicode"

	"airlock/pycode"
)

// scanner hashes every member and looks at what it contains.
type scanner struct {
	rep *Report
	lim Limits
	buf []byte
	// deferred are findings in code an installation does not run unless
	// something imports it; imports and roots are what finish needs to
	// know that (see imports.go).
	deferred []deferred
	imports  map[string][]string // module -> modules it imports
	roots    []string            // modules an installation runs
	// mods are the archive's Python modules, for following calls between
	// them (follow.go); reread reads the members again, in order.
	mods   map[string]*modInfo
	reread func(fn func(name string, r io.Reader) error) error
	// pyproject is an sdist's pyproject.toml (at pyprojectName); forced
	// are the files it, or a build script, makes build scripts (build.go).
	pyproject     []byte
	pyprojectName string
	forced        map[string]bool
	// retained keeps a streamed archive's source files (up to
	// maxRetainedBytes, then nil) so that reread need not decompress the
	// stream again.
	retained      map[string][]byte
	retainedOrder []string
	retainedBytes int64
	// pending are source files whose analysis runs on another core, in
	// member order; parsers bounds them (and the sources they hold).
	pending []*pendingText
	parsers chan struct{}
}

// pendingText is a source file being analysed, and what scanText needs to
// report it once done (settle).
type pendingText struct {
	name, mod, base string
	pkg             bool
	role            role
	done            chan struct{}
	m               *pycode.Module
}

// maxRetainedBytes bounds the source kept of a streamed archive; past it,
// reread streams the archive again.
const maxRetainedBytes = 64 << 20

// retain keeps a source file of a streamed archive for reread.
func (s *scanner) retain(name string, src []byte) {
	if s.retained == nil {
		return
	}
	if _, dup := s.retained[name]; dup {
		return
	}
	if s.retainedBytes += int64(len(src)); s.retainedBytes > maxRetainedBytes {
		s.retained, s.retainedOrder = nil, nil
		return
	}
	s.retained[name] = src
	s.retainedOrder = append(s.retainedOrder, name)
}

func newScanner(rep *Report, lim Limits) *scanner {
	n := lim.Parsers
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return &scanner{rep: rep, lim: lim, buf: make([]byte, 32<<10), parsers: make(chan struct{}, n)}
}

// member streams one member: it returns its RECORD-style sha256, and its
// content when keep is set (metadata files, at most 1 MiB).
func (s *scanner) member(name string, r io.Reader, keep bool) (string, []byte, error) {
	h := sha256.New()
	base := path.Base(name)
	text := strings.HasSuffix(base, ".py") || strings.HasSuffix(base, ".pth")
	nested := s.lim.depth < maxNesting && nestedArchive(base) && s.roleOf(name) != notInstalled
	// An sdist's pyproject.toml says what else its build runs (build.go).
	pyproject := s.rep.Kind == "sdist" && s.lim.depth == 0 && base == "pyproject.toml" && strings.Count(name, "/") == 1
	var head bytes.Buffer // first bytes, for magic numbers
	var kept bytes.Buffer // text to scan, metadata or a nested archive to keep
	maxKeep := int64(0)
	switch {
	case text:
		maxKeep = s.lim.MaxScanBytes
	case nested:
		maxKeep = maxNestedBytes
	case keep && strings.HasSuffix(name, "/RECORD"):
		maxKeep = maxRecordBytes // a big wheel's RECORD runs to megabytes (ziglang: 1.2 MB)
	case keep:
		maxKeep = 1 << 20
	case pyproject:
		maxKeep = 1 << 20
	}
	truncated := false
	for {
		n, err := r.Read(s.buf)
		if n > 0 {
			chunk := s.buf[:n]
			h.Write(chunk)
			if head.Len() < 4096 {
				head.Write(chunk[:min(n, 4096-head.Len())])
			}
			if room := maxKeep - int64(kept.Len()); room > 0 {
				kept.Write(chunk[:min(int64(n), room)])
				truncated = truncated || int64(n) > room // the end of this chunk is not kept
			} else if maxKeep > 0 {
				truncated = true
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", nil, err
		}
	}
	sum := b64sum(h.Sum(nil))
	if pyproject && !truncated {
		s.pyproject, s.pyprojectName = kept.Bytes(), name
	}
	if strings.HasSuffix(base, ".pyc") && s.roleOf(name) != notInstalled {
		s.bytecode(name, head.Bytes())
	}
	if kind := nativeKind(head.Bytes()); kind != "" {
		s.rep.add(Finding{Severity: Info, Kind: "native-executable", Path: name, Message: kind + " executable"})
	}
	if text {
		if truncated {
			// What could not be read whole is not vouched for: a payload
			// past the limit would run unseen.
			sev := High
			if r := s.roleOf(name); r == notInstalled || r == testCode {
				sev = Medium
			}
			s.rep.add(Finding{Severity: sev, Kind: "unscanned", Path: name, Message: fmt.Sprintf("source file larger than the scan limit (%d MiB): only its start was read, so what it runs is not known", s.lim.MaxScanBytes>>20)})
		}
		s.scanText(name, kept.Bytes(), sum)
	}
	if nested {
		if truncated {
			s.rep.add(Finding{Severity: Medium, Kind: "unscanned", Path: name, Message: fmt.Sprintf("nested archive larger than %d MiB; not looked into", maxNestedBytes>>20)})
		} else if err := s.nested(name, kept.Bytes()); err != nil {
			return "", nil, err
		}
	}
	if keep && truncated {
		return sum, nil, fmt.Errorf("%w: %s is larger than %d MiB", ErrLimit, name, maxKeep>>20)
	}
	if keep {
		return sum, kept.Bytes(), nil
	}
	return sum, nil, nil
}

// maxRecordBytes bounds a wheel's RECORD kept whole (one read only in part
// would list every later member as "not in RECORD").
const maxRecordBytes = 64 << 20

// Nested archives (a zip put on sys.path, a vendored wheel) are inspected
// like the distribution, to a depth and a size.
const (
	maxNesting     = 2
	maxNestedBytes = 64 << 20
)

func nestedArchive(base string) bool {
	for _, ext := range []string{".zip", ".whl", ".egg", ".pyz", ".tar.gz", ".tgz", ".tar", ".tar.bz2"} {
		if strings.HasSuffix(strings.ToLower(base), ext) {
			return true
		}
	}
	return false
}

// nested inspects an archive inside the distribution and adds its findings
// under "outer!/inner". A limit it hits holds the distribution; an archive
// that cannot be read is reported, not held (test data is often broken on
// purpose).
func (s *scanner) nested(name string, data []byte) error {
	lim := s.lim
	lim.depth++
	lim.MaxTotalBytes = max(s.lim.MaxTotalBytes/4, 1)
	inner := name
	if strings.HasSuffix(strings.ToLower(name), ".pyz") || strings.HasSuffix(strings.ToLower(name), ".egg") {
		inner += ".zip" // both are zips
	}
	rep, err := File(bytes.NewReader(data), int64(len(data)), inner, lim)
	switch {
	case errors.Is(err, ErrCorrupt):
		s.rep.add(Finding{Severity: Low, Kind: "nested-archive", Path: name, Message: "nested archive could not be read: " + err.Error()})
		return nil
	case err != nil:
		return fmt.Errorf("%w (in %s)", err, name)
	}
	for _, f := range rep.Findings {
		if f.Kind == "record-mismatch" || f.Kind == "record-missing" {
			continue // a nested wheel's RECORD is its own business
		}
		if f.Kind == "link" || f.Kind == "special-file" {
			// Installing never unpacks an archive inside the
			// distribution: its links are not written anywhere.
			f.Severity = Low
		}
		f.Path = name + "!/" + f.Path
		s.rep.add(f)
	}
	return nil
}

// nativeKind recognises ELF, Mach-O and PE executables by their magic.
func nativeKind(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x7fELF")):
		return "ELF"
	case len(b) >= 4 && (binary.BigEndian.Uint32(b) == 0xfeedface || binary.BigEndian.Uint32(b) == 0xfeedfacf ||
		binary.BigEndian.Uint32(b) == 0xcefaedfe || binary.BigEndian.Uint32(b) == 0xcffaedfe || binary.BigEndian.Uint32(b) == 0xcafebabe):
		return "Mach-O"
	case bytes.HasPrefix(b, []byte("MZ")) && len(b) >= 0x40:
		off := int(binary.LittleEndian.Uint32(b[0x3c:]))
		if off > 0 && off+4 <= len(b) && bytes.Equal(b[off:off+4], []byte("PE\x00\x00")) {
			return "PE"
		}
	}
	return ""
}

var reBlob = regexp.MustCompile(`["']([A-Za-z0-9+/=_-]{1000,})["']`)

// scanText looks at a .py or .pth file; sum is its content hash.
func (s *scanner) scanText(name string, src []byte, sum string) {
	s.retain(name, src)
	base := path.Base(name)
	if strings.HasSuffix(base, ".pth") {
		for i, line := range pthLines(src) {
			t := strings.TrimSpace(line)
			if strings.HasPrefix(t, "import ") || strings.HasPrefix(t, "import\t") {
				f := Finding{Kind: "pth-exec", Path: name, Line: i + 1, Evidence: excerpt(t)}
				if s.pthRuns(name) {
					f.Severity, f.Message = Critical, ".pth file with an executable line: Python runs it at every interpreter start"
				} else {
					f.Severity, f.Message = Medium, ".pth file with an executable line (not at the top level, so not run unless installed there)"
				}
				s.rep.add(f)
				break
			}
		}
		return
	}
	role := s.roleOf(name)
	if (base == "sitecustomize.py" || base == "usercustomize.py") && topLevel(name) && role != notInstalled {
		s.rep.add(Finding{Severity: Critical, Kind: "startup-hook", Path: name, Message: base + " at the top level runs at every interpreter start"})
	}
	mod, pkg := moduleOf(name, s.rep.Kind == "wheel")
	if role == installed && !importable(base) {
		// pip's __pip-runner__.py: no import statement can name it, so
		// its top level runs only when someone executes it as a script.
		role = notInstalled
	}
	// Read what Python runs, or refuse to vouch for it.
	text, problem := asPythonReads(src)
	if problem != "" {
		s.lower(mod, Finding{Severity: High, Kind: "unreadable-source", Path: name, Message: problem}, role)
		return
	}
	src = text
	s.imported(mod, pkg, src, role)
	for i, line := range strings.Split(string(src), "\n") {
		if len(line) >= 1000 && reBlob.MatchString(line) {
			s.lower(mod, Finding{Severity: Medium, Kind: "encoded-blob", Path: name, Line: i + 1,
				Message: "very long encoded string literal", Evidence: excerpt(strings.TrimSpace(line))}, role)
			break
		}
	}
	p := &pendingText{name: name, mod: mod, base: base, pkg: pkg, role: role, done: make(chan struct{})}
	s.pending = append(s.pending, p)
	root := analysisRoot(mod, role)
	s.parsers <- struct{}{} // at most Parsers at once: the next member waits
	go func() {
		defer func() { <-s.parsers }()
		p.m = s.analyzed(sum, src, root, false)
		close(p.done)
	}()
}

// settle reports the analysed source files, in member order, once their
// analyses are done (before anything reads the modules: finish).
func (s *scanner) settle() {
	for _, p := range s.pending {
		<-p.done
		s.reportText(p.name, p.mod, p.base, p.pkg, p.role, p.m)
	}
	s.pending = nil
}

// reportText records a source file's module and reports its findings.
func (s *scanner) reportText(name, mod, base string, pkg bool, role role, m *pycode.Module) {
	s.module(name, mod, pkg, role, m)
	for _, f := range m.Findings {
		sev := Medium // not at import: worth a look, not a hold
		if f.AtImport {
			sev = High
			if f.Kind == pycode.EnvExfiltration {
				sev = Critical
			}
		}
		if f.Kind == pycode.Spawn && !f.AtImport {
			continue
		}
		msg := f.Message
		if role == buildScript {
			msg = strings.Replace(msg, "when the module is imported", "when the package is built or installed ("+base+")", 1)
		}
		s.lower(mod, Finding{Severity: sev, Kind: f.Kind, Path: name, Line: f.Line, Message: msg, Evidence: f.Code}, role)
	}
}

// role is what a source file in a distribution is to an installation.
type role int

const (
	installed    role = iota // a module that is installed and may be imported
	buildScript              // setup.py: runs when the sdist is built
	notInstalled             // tests, docs, examples, scripts of an sdist
	testCode                 // a wheel's tests: installed, but run only by a test runner
)

func (r role) note() string {
	switch r {
	case notInstalled:
		return " (in a part of the sdist that is not installed or run by installing)"
	case testCode:
		return " (test code: run by a test runner, not when the package is imported)"
	}
	return ""
}

// notInstalledDirs are the sdist folders whose code installing never runs.
var notInstalledDirs = map[string]bool{"tests": true, "test": true, "testing": true, "docs": true, "doc": true,
	"examples": true, "example": true, "scripts": true, "benchmarks": true, "bench": true, "downstream": true,
	"tools": true, "ci": true, ".github": true,
	// Vendored trees of other languages' sources (opencv-python's
	// 3rdparty/ carries maintainer scripts no build installs).
	"3rdparty": true, "third_party": true, "thirdparty": true}

// roleOf classifies a source file. Wheels install everything they carry;
// an sdist runs its setup.py (at its root) and installs its packages, but
// not its tests, docs, examples or scripts.
func (s *scanner) roleOf(name string) role {
	if s.rep.Kind == "wheel" {
		if isTestPath(name) {
			return testCode
		}
		return installed
	}
	parts := strings.Split(name, "/")
	if len(parts) > 0 && !strings.HasSuffix(name, ".py") {
		return installed
	}
	// parts[0] is the sdist's root folder (name-version).
	rest := parts
	if len(parts) > 1 {
		rest = parts[1:]
	}
	if s.forced[name] || len(rest) == 1 && conventionalBuildFiles[rest[0]] {
		return buildScript
	}
	for _, dir := range rest[:len(rest)-1] {
		if notInstalledDirs[strings.ToLower(dir)] {
			return notInstalled
		}
	}
	if isTestPath(name) {
		return notInstalled
	}
	return installed
}

// isTestPath reports test code: a file under a tests/test/testing folder,
// or named test_*.py, *_test.py or conftest.py. Importing a package does
// not import its tests (a test runner does).
func isTestPath(name string) bool {
	parts := strings.Split(name, "/")
	for _, dir := range parts[:len(parts)-1] {
		switch strings.ToLower(dir) {
		case "tests", "test", "testing":
			return true
		}
	}
	b := parts[len(parts)-1]
	return strings.HasPrefix(b, "test_") || b == "conftest.py" || strings.HasSuffix(b, "_test.py")
}

var reDataSitePackages = regexp.MustCompile(`\.data/data/(?:lib/python3\.\d+|Lib|lib/pypy3\.\d+)/site-packages$`)

// pthRuns reports whether a .pth file lands directly in site-packages,
// where the interpreter executes its import lines (never one inside a
// nested archive).
func (s *scanner) pthRuns(name string) bool { return s.lim.depth == 0 && topLevel(name) }

// topLevel reports whether a member sits where Python puts it on sys.path:
// the archive root, or a wheel's .data/purelib or platlib.
func topLevel(name string) bool {
	if !strings.Contains(name, "/") {
		return true
	}
	dir := path.Dir(name)
	// A wheel's data files go under sys.prefix: .data/data/lib/python3.X/
	// site-packages/ is site-packages itself.
	return strings.HasSuffix(dir, ".data/purelib") || strings.HasSuffix(dir, ".data/platlib") || reDataSitePackages.MatchString(dir)
}

func excerpt(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}

// analysed remembers the analysis of Python sources by content hash: the
// platform wheels of one release carry the same modules, and parsing is
// the cost of the analysis. Bounded; cleared when full.
var analysedCache = struct {
	sync.Mutex
	m map[string]*pycode.Module
}{m: map[string]*pycode.Module{}}

const analysedMax = 50_000

// analyzed is pycode.AnalyzeModule, remembered by the member's content
// and its package: in this process, and in lim.Memo (the store) across
// releases and restarts.
func (s *scanner) analyzed(sum string, src []byte, root string, whole bool) *pycode.Module {
	// src may be a truncated prefix of the member: its length is part of
	// the key. The analysis depends on the package, not the module's place
	// in it (relative names stay relative), so identical files share it.
	key := fmt.Sprintf("%s:%s:%d:%s:%t", RulesVersion, sum, len(src), root, whole)
	analysedCache.Lock()
	fs, ok := analysedCache.m[key]
	analysedCache.Unlock()
	if ok {
		return fs
	}
	if fs = s.remembered(key); fs == nil {
		fs = pycode.AnalyzeModule(src, root, whole)
		if fs.Parsed && s.lim.Memo != nil {
			s.remember(key, fs)
		}
	}
	analysedCache.Lock()
	if len(analysedCache.m) >= analysedMax {
		analysedCache.m = map[string]*pycode.Module{}
	}
	analysedCache.m[key] = fs
	analysedCache.Unlock()
	return fs
}

// Memo keeps analyses of source files beyond this process (the store), by
// key. A value that cannot be read is a miss: the file is parsed again.
// An archive's files are analysed concurrently: Get and Put must be safe
// to call from several goroutines.
type Memo interface {
	Get(key string) ([]byte, bool)
	Put(key string, value []byte)
}

func (s *scanner) remembered(key string) *pycode.Module {
	if s.lim.Memo == nil {
		return nil
	}
	raw, ok := s.lim.Memo.Get(key)
	if !ok {
		return nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil
	}
	var m pycode.Module
	if err := json.NewDecoder(zr).Decode(&m); err != nil || !m.Parsed {
		return nil
	}
	return &m
}

func (s *scanner) remember(key string, m *pycode.Module) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if json.NewEncoder(zw).Encode(m) != nil || zw.Close() != nil {
		return
	}
	s.lim.Memo.Put(key, buf.Bytes())
}

// bytecode reports a compiled module: code Python may run that Airlock
// cannot read. A .pyc outside __pycache__ is imported with no source at
// all; one inside whose header says "hash-based, unchecked" is used
// whatever the .py beside it says; a timestamp one is used when it matches
// the installed source's, which an installer that does not byte-compile
// (uv, by default) leaves to chance.
func (s *scanner) bytecode(name string, head []byte) {
	f := Finding{Kind: "bytecode", Path: name}
	const hashBased, checkSource = 1, 2
	switch {
	case !strings.Contains(name, "__pycache__/"):
		f.Severity, f.Message = High, "compiled bytecode without its source: Python imports it, and nobody can read what it runs"
	case len(head) >= 8 && binary.LittleEndian.Uint32(head[4:8])&(hashBased|checkSource) == hashBased:
		f.Severity, f.Message = High, "unchecked hash-based bytecode: Python runs it instead of the source beside it, whatever that says"
	default:
		f.Severity, f.Message = Medium, "compiled bytecode shipped beside its source: Python may run it instead of the source"
	}
	if s.roleOf(name) == testCode {
		f.Severity = Low
	}
	s.rep.add(f)
}

// importable reports whether an import statement can name a module file:
// its name must be an identifier (setup.py aside, which its role covers).
func importable(base string) bool {
	name := strings.TrimSuffix(base, ".py")
	if name == "" {
		return false
	}
	for i, r := range name {
		if !(r == '_' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}

// source records a Python file for the source comparison: a wheel's
// installed ones by their path, every one of an sdist by its path under
// the root folder, as the repository has it.
func (s *scanner) source(name, sum string) {
	if s.lim.depth > 0 || !isSource(name) {
		return
	}
	key := name
	switch {
	case s.rep.Kind == "wheel" && s.roleOf(name) == installed:
	case s.rep.Kind == "sdist":
		// Every Python file of an sdist: a wheel's file is looked for
		// among all of them (a wheel may install what the sdist keeps in
		// tools/ or scripts/).
		_, key, _ = strings.Cut(name, "/")
		if key == "" {
			return
		}
	default:
		return
	}
	if s.rep.Sources == nil {
		s.rep.Sources = map[string]string{}
	}
	s.rep.Sources[key] = sum
}

// ForgetAnalyses drops what this process remembers of analyses (a
// restart, for benchmarks that measure the memo).
func ForgetAnalyses() {
	analysedCache.Lock()
	analysedCache.m = map[string]*pycode.Module{}
	analysedCache.Unlock()
}

// analysisRoot is the package a module's calls are followed within: its
// top-level package, or every module for a build script.
func analysisRoot(mod string, r role) string {
	if r == buildScript {
		return "" // a script: its calls into any module of the sdist count
	}
	root, _, _ := strings.Cut(mod, ".")
	return root
}
