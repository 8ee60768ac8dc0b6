package inspect

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// File inspects a distribution. r reads the whole file (size bytes); name
// is its filename, which says what kind of archive it is.
func File(r io.ReaderAt, size int64, name string, lim Limits) (*Report, error) {
	var rep *Report
	var err error
	switch {
	case strings.HasSuffix(name, ".whl"):
		rep, err = inspectZip(r, size, lim, true, name)
	case strings.HasSuffix(name, ".zip") || strings.HasSuffix(name, ".egg"):
		rep, err = inspectZip(r, size, lim, false, name)
	case strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".tgz"):
		rep, err = inspectTar(r, size, lim, func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) })
	case strings.HasSuffix(name, ".tar.bz2"):
		rep, err = inspectTar(r, size, lim, func(r io.Reader) (io.Reader, error) { return bzip2.NewReader(r), nil })
	case strings.HasSuffix(name, ".tar"):
		rep, err = inspectTar(r, size, lim, func(r io.Reader) (io.Reader, error) { return r, nil })
	default:
		return nil, fmt.Errorf("%w: unsupported archive type %s", ErrLimit, name)
	}
	if err != nil {
		return nil, err
	}
	rep.sort()
	return rep, nil
}

// member is one archive entry as the scanners see it.
type member struct {
	name string
	mode string // "file", "symlink", "hardlink", "dir", "other"
	link string
}

// checkName records path-traversal names and enforces the path limits. It
// returns false when the member must not be read.
func checkName(rep *Report, m member, lim Limits) (bool, error) {
	if len(m.name) > lim.MaxPathLength {
		return false, limitErr("path longer than %d bytes", lim.MaxPathLength)
	}
	if strings.Count(m.name, "/") >= lim.MaxDepth {
		return false, limitErr("path nested deeper than %d directories", lim.MaxDepth)
	}
	clean := path.Clean("/" + m.name)
	if strings.HasPrefix(m.name, "/") || strings.Contains(m.name, "\\") || hasDotDot(m.name) || clean == "/" && m.name != "" && m.mode == "file" {
		rep.add(Finding{Severity: High, Kind: "path-traversal", Path: m.name, Message: "archive member escapes the archive root (absolute path or ..)"})
		return false, nil
	}
	switch m.mode {
	case "symlink", "hardlink":
		f := Finding{Severity: High, Kind: "link", Path: m.name, Message: m.mode + " inside the archive (not followed)", Evidence: "-> " + m.link}
		if linkStaysInside(m) {
			// tenacity's sdist links one of its files to another: an
			// extractor that honours links writes nothing outside.
			f.Severity, f.Message = Low, m.mode+" to another member of the archive (not followed)"
		}
		rep.add(f)
		return false, nil
	case "other":
		rep.add(Finding{Severity: Medium, Kind: "special-file", Path: m.name, Message: "device, fifo or other special file in the archive"})
		return false, nil
	}
	return m.mode == "file", nil
}

// linkStaysInside reports a link whose target is a path inside the
// archive's own root folder (never absolute, never above it).
func linkStaysInside(m member) bool {
	if m.link == "" || strings.HasPrefix(m.link, "/") || strings.Contains(m.link, "\\") || m.link == "(zip symlink)" {
		return false
	}
	target := m.link
	if m.mode == "symlink" { // relative to the link's folder; a hard link names a member
		target = path.Join(path.Dir(m.name), m.link)
	}
	clean := path.Clean(target)
	root, _, _ := strings.Cut(m.name, "/")
	return clean != "." && !strings.HasPrefix(clean, "../") && clean != ".." && strings.HasPrefix(clean, root+"/")
}

func hasDotDot(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

// budget tracks the uncompressed bytes read across members and, for a
// compressed stream (tar.gz), the ratio to the compressed bytes read so far.
type budget struct {
	used, max  int64
	compressed *countingReader
	ratio      int64
	minLen     int64
}

func (b *budget) reader(r io.Reader) io.Reader { return &budgetReader{r: r, b: b} }

type budgetReader struct {
	r io.Reader
	b *budget
}

var errBudget = errors.New("budget")

func (br *budgetReader) Read(p []byte) (int, error) {
	n, err := br.r.Read(p)
	b := br.b
	b.used += int64(n)
	if b.used > b.max {
		return n, errBudget
	}
	if b.compressed != nil && b.used > b.minLen && b.used/max(b.compressed.n, 1) > b.ratio {
		return n, errRatio
	}
	return n, err
}

// inspectZip reads a wheel (checkRecord) or a zip sdist member by member.
func inspectZip(r io.ReaderAt, size int64, lim Limits, wheel bool, filename string) (*Report, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	rep := &Report{Kind: "sdist"}
	if wheel {
		rep.Kind = "wheel"
	}
	if len(zr.File) > lim.MaxMembers {
		return nil, limitErr("more than %d members", lim.MaxMembers)
	}
	b := &budget{max: lim.MaxTotalBytes}
	sc := newScanner(rep, lim)
	sc.reread = func(fn func(string, io.Reader) error) error {
		seen := map[string]bool{}
		for _, f := range zr.File {
			if seen[f.Name] || f.FileInfo().IsDir() || f.Mode()&0o170000 == 0o120000 {
				continue
			}
			seen[f.Name] = true
			rc, err := f.Open()
			if err != nil {
				return err
			}
			err = fn(f.Name, rc)
			rc.Close()
			if err != nil {
				return err
			}
		}
		return nil
	}
	hashes := map[string]string{}
	var record, wheelMeta, entryPoints []byte
	metadataFiles := 0
	seen := make(map[string]bool, len(zr.File))
	for _, f := range zr.File {
		m := member{name: f.Name, mode: "file"}
		if duplicate(rep, seen, f.Name) {
			continue // its first copy is the one read; the finding says there are two
		}
		switch {
		case f.FileInfo().IsDir():
			m.mode = "dir"
		case f.Mode()&0o170000 == 0o120000:
			m.mode, m.link = "symlink", "(zip symlink)"
		}
		read, err := checkName(rep, m, lim)
		if err != nil {
			return nil, err
		}
		if !read {
			continue
		}
		rep.Files = append(rep.Files, f.Name)
		if f.UncompressedSize64 > uint64(min(lim.MaxTotalBytes, lim.memberMax())) {
			return nil, limitErr("member %s declares %d bytes uncompressed, more than %d", f.Name, f.UncompressedSize64, min(lim.MaxTotalBytes, lim.memberMax()))
		}
		if f.CompressedSize64 > 0 && int64(f.UncompressedSize64) > lim.MinRatioSizeLen && int64(f.UncompressedSize64/f.CompressedSize64) > lim.MaxRatio {
			return nil, limitErr("compression ratio of %s is over %d:1", f.Name, lim.MaxRatio)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, f.Name, err)
		}
		// The declared size is not trusted: the ratio is enforced on the
		// bytes actually inflated too.
		limit := lim.MaxRatio*max(int64(f.CompressedSize64), 1) + lim.MinRatioSizeLen
		capped := &ratioReader{r: &memberCap{r: b.reader(rc), left: lim.memberMax()}, max: limit, name: f.Name, ratio: lim.MaxRatio}
		sum, keep, err := sc.member(f.Name, capped, wheelKeep(f.Name))
		rc.Close()
		if err != nil {
			return nil, classify(err, b, lim)
		}
		hashes[f.Name] = sum
		sc.source(f.Name, sum)
		if wheel && strings.HasSuffix(f.Name, ".dist-info/METADATA") && strings.Count(f.Name, "/") == 1 {
			metadataFiles++
		}
		switch {
		case wheel && strings.HasSuffix(f.Name, ".dist-info/RECORD") && strings.Count(f.Name, "/") == 1:
			record = keep
		case wheel && strings.HasSuffix(f.Name, ".dist-info/WHEEL") && strings.Count(f.Name, "/") == 1:
			wheelMeta = keep
		case strings.HasSuffix(f.Name, "entry_points.txt"):
			entryPoints = keep
		}
	}
	sc.finish()
	rep.Bytes = b.used
	rep.EntryPoints = parseEntryPoints(entryPoints)
	if wheel {
		if metadataFiles != 1 {
			// Installers refuse it (pip: "multiple .dist-info directories"
			// or none); nor can its metadata be served.
			rep.add(Finding{Severity: High, Kind: "invalid-wheel", Path: "*.dist-info/METADATA",
				Message: fmt.Sprintf("the wheel has %d .dist-info/METADATA files, not one: installers refuse it", metadataFiles)})
		}
		checkRecord(rep, record, hashes)
		if bytes.Contains(wheelMeta, []byte("Root-Is-Purelib: true")) && pureTags(filename) {
			for i := range rep.Findings {
				if rep.Findings[i].Kind == "native-executable" {
					rep.Findings[i].Severity = High
					rep.Findings[i].Message += " in a pure-Python wheel"
				}
			}
		}
	}
	return rep, nil
}

// wheelKeep says which small metadata files are kept in memory.
func wheelKeep(name string) bool {
	return strings.HasSuffix(name, "/RECORD") || strings.HasSuffix(name, "/WHEEL") || strings.HasSuffix(name, "entry_points.txt")
}

// memberCap stops one member at the absolute size limit, whatever it
// declared.
type memberCap struct {
	r    io.Reader
	left int64
}

var errMember = errors.New("member")

func (m *memberCap) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.left -= int64(n)
	if m.left < 0 {
		return n, errMember
	}
	return n, err
}

// memberMax is the absolute member limit (unset: the total).
func (l Limits) memberMax() int64 {
	if l.MaxMemberBytes > 0 {
		return l.MaxMemberBytes
	}
	return l.MaxTotalBytes
}

type ratioReader struct {
	r     io.Reader
	n     int64
	max   int64
	ratio int64
	name  string
}

var errRatio = errors.New("ratio")

func (rr *ratioReader) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	rr.n += int64(n)
	if rr.n > rr.max {
		return n, errRatio
	}
	return n, err
}

// inspectTar reads a (compressed) tar sdist as a stream; decompress wraps
// the compressed bytes.
func inspectTar(ra io.ReaderAt, size int64, lim Limits, decompress func(io.Reader) (io.Reader, error)) (*Report, error) {
	counted := &countingReader{r: bufio.NewReaderSize(io.NewSectionReader(ra, 0, size), 64<<10)}
	gz, err := decompress(counted)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	rep := &Report{Kind: "sdist"}
	b := &budget{max: lim.MaxTotalBytes, compressed: counted, ratio: lim.MaxRatio, minLen: lim.MinRatioSizeLen}
	tr := tar.NewReader(b.reader(gz))
	sc := newScanner(rep, lim)
	sc.retained = map[string][]byte{}
	sc.reread = func(fn func(string, io.Reader) error) error {
		if sc.retained != nil {
			// Every source file was kept as it went by: no second pass.
			for _, name := range sc.retainedOrder {
				if err := fn(name, bytes.NewReader(sc.retained[name])); err != nil {
					return err
				}
			}
			return nil
		}
		// The first pass read the whole stream under every limit: a
		// second one meets the same bytes.
		gz, err := decompress(bufio.NewReaderSize(io.NewSectionReader(ra, 0, size), 64<<10))
		if err != nil {
			return err
		}
		tr := tar.NewReader(gz)
		seen := map[string]bool{}
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			name := strings.TrimPrefix(h.Name, "./")
			if (h.Typeflag != tar.TypeReg && h.Typeflag != '\x00') || seen[name] {
				continue
			}
			seen[name] = true
			if err := fn(name, tr); err != nil {
				return err
			}
		}
	}
	var entryPoints []byte
	seen := map[string]bool{}
	members := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, classify(err, b, lim)
		}
		members++
		if members > lim.MaxMembers {
			return nil, limitErr("more than %d members", lim.MaxMembers)
		}
		m := member{name: strings.TrimPrefix(h.Name, "./"), mode: "other"}
		if h.Typeflag != tar.TypeDir && duplicate(rep, seen, m.name) {
			continue
		}
		switch h.Typeflag {
		case tar.TypeReg, '\x00': // '\x00' is the old-style regular file flag
			m.mode = "file"
		case tar.TypeDir:
			m.mode = "dir"
		case tar.TypeSymlink:
			m.mode, m.link = "symlink", h.Linkname
		case tar.TypeLink:
			m.mode, m.link = "hardlink", h.Linkname
		case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
			continue
		}
		read, err := checkName(rep, m, lim)
		if err != nil {
			return nil, err
		}
		if !read {
			continue
		}
		rep.Files = append(rep.Files, m.name)
		if h.Size > lim.memberMax() {
			return nil, limitErr("member %s is %d bytes, more than %d", m.name, h.Size, lim.memberMax())
		}
		sum, keep, err := sc.member(m.name, tr, strings.HasSuffix(m.name, "entry_points.txt"))
		if err != nil {
			return nil, classify(err, b, lim)
		}
		sc.source(m.name, sum)
		if keep != nil {
			entryPoints = keep
		}
	}
	sc.finish()
	rep.Bytes = b.used
	rep.EntryPoints = parseEntryPoints(entryPoints)
	return rep, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func classify(err error, b *budget, lim Limits) error {
	switch {
	case errors.Is(err, errBudget):
		return limitErr("more than %d bytes uncompressed", lim.MaxTotalBytes)
	case errors.Is(err, errRatio):
		return limitErr("compression ratio over %d:1", lim.MaxRatio)
	case errors.Is(err, errMember):
		return limitErr("a member inflates to more than %d bytes", lim.memberMax())
	case errors.Is(err, ErrLimit), errors.Is(err, ErrCorrupt):
		return err
	}
	return fmt.Errorf("%w: %v", ErrCorrupt, err)
}

// checkRecord compares every member with the wheel's RECORD.
func checkRecord(rep *Report, record []byte, hashes map[string]string) {
	if record == nil {
		rep.add(Finding{Severity: High, Kind: "record-mismatch", Path: "*.dist-info/RECORD", Message: "wheel has no RECORD"})
		return
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(string(record), "\n") {
		fields := strings.Split(strings.TrimSpace(line), ",")
		if len(fields) < 2 || fields[0] == "" {
			continue
		}
		name := strings.Trim(fields[0], `"`)
		listed[name] = true
		want, ok := strings.CutPrefix(fields[1], "sha256=")
		got, present := hashes[name]
		switch {
		case !present:
			rep.add(Finding{Severity: Medium, Kind: "record-mismatch", Path: name, Message: "listed in RECORD but not in the wheel"})
		case ok && want != got:
			rep.add(Finding{Severity: High, Kind: "record-mismatch", Path: name, Message: "content does not match its RECORD hash"})
		}
	}
	for name := range hashes {
		if !listed[name] && !strings.HasSuffix(name, "/RECORD.jws") && !strings.HasSuffix(name, "/RECORD.p7s") {
			rep.add(Finding{Severity: High, Kind: "record-mismatch", Path: name, Message: "file in the wheel is not listed in RECORD"})
		}
	}
}

func parseEntryPoints(data []byte) []string {
	var out []string
	section := ""
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.Trim(line, "[]")
			continue
		}
		if (section == "console_scripts" || section == "gui_scripts") && strings.Contains(line, "=") {
			name, target, _ := strings.Cut(line, "=")
			out = append(out, strings.TrimSpace(name)+" = "+strings.TrimSpace(target))
		}
	}
	return out
}

// b64sum is the RECORD encoding of a sha256.
func b64sum(h []byte) string { return base64.RawURLEncoding.EncodeToString(h) }

// duplicate reports a member listed twice: the copy a review shows and
// the one an installer writes (the last, for most) need not be the same.
func duplicate(rep *Report, seen map[string]bool, name string) bool {
	key := strings.TrimSuffix(name, "/")
	if !seen[key] {
		seen[key] = true
		return false
	}
	rep.add(Finding{Severity: High, Kind: "duplicate-member", Path: name,
		Message: "listed twice in the archive: what was inspected need not be what an installer writes"})
	return true
}

// pureTags reports whether a wheel's filename says it is for every
// platform (…-none-any.whl): a platform wheel whose WHEEL file says
// Root-Is-Purelib: true (wandb's) carries its native code on purpose.
func pureTags(filename string) bool {
	return strings.HasSuffix(path.Base(filename), "-any.whl")
}

// isSource reports a file whose code Python runs from source: a module or
// a .pth (metadata folders excluded).
func isSource(name string) bool {
	return (strings.HasSuffix(name, ".py") || strings.HasSuffix(name, ".pth")) && !strings.Contains(name, ".dist-info/")
}
