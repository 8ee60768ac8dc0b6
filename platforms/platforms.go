// Package platforms knows which platforms and Pythons a deployment's
// clients install for, learned from the installers' User-Agent (pip and uv
// send their interpreter, operating system, CPU and C library as JSON), and
// whether a distribution file could be installed by any of them: the
// background checks a cooling release's files for those platforms only,
// never every platform by default.
package platforms

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client is one kind of installing machine.
type Client struct {
	OS     string // linux, macos, windows
	Arch   string // x86_64, aarch64, arm64, i686, …
	Libc   string // glibc or musl (linux)
	Impl   string // cp, pp
	Python [2]int // major, minor
}

// String is a stable name, e.g. "linux-x86_64-glibc-cp3.11".
func (c Client) String() string {
	s := c.OS + "-" + c.Arch
	if c.Libc != "" {
		s += "-" + c.Libc
	}
	return fmt.Sprintf("%s-%s%d.%d", s, c.Impl, c.Python[0], c.Python[1])
}

// normArch spells a CPU as wheel tags do on that operating system.
func normArch(os, cpu string) string {
	cpu = strings.ToLower(cpu)
	switch cpu {
	case "amd64", "x64":
		cpu = "x86_64"
	case "arm64":
		if os != "macos" {
			cpu = "aarch64"
		}
	case "aarch64":
		if os == "macos" {
			cpu = "arm64"
		}
	case "i386", "i586", "i686", "x86":
		cpu = "i686"
	}
	return cpu
}

// userAgent is the JSON pip and uv send after "name/version ".
type userAgent struct {
	Implementation struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"implementation"`
	Python string `json:"python"`
	System struct {
		Name string `json:"name"`
	} `json:"system"`
	CPU    string `json:"cpu"`
	Distro struct {
		Libc struct {
			Lib string `json:"lib"`
		} `json:"libc"`
	} `json:"distro"`
}

// FromUserAgent reads the client a User-Agent names; false when it says
// no platform (curl, a browser, an installer that sends none).
func FromUserAgent(ua string) (Client, bool) {
	i := strings.IndexByte(ua, '{')
	if i < 0 || len(ua) > 4096 {
		return Client{}, false
	}
	var u userAgent
	if json.Unmarshal([]byte(ua[i:]), &u) != nil {
		return Client{}, false
	}
	var c Client
	switch strings.ToLower(u.System.Name) {
	case "linux":
		c.OS = "linux"
		c.Libc = "glibc"
		if strings.Contains(strings.ToLower(u.Distro.Libc.Lib), "musl") {
			c.Libc = "musl"
		}
	case "darwin":
		c.OS = "macos"
	case "windows":
		c.OS = "windows"
	default:
		return Client{}, false
	}
	c.Arch = normArch(c.OS, u.CPU)
	switch strings.ToLower(u.Implementation.Name) {
	case "cpython":
		c.Impl = "cp"
	case "pypy":
		c.Impl = "pp"
	default:
		return Client{}, false
	}
	v := u.Python
	if v == "" {
		v = u.Implementation.Version
	}
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return Client{}, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || c.Arch == "" {
		return Client{}, false
	}
	c.Python = [2]int{major, minor}
	return c, true
}

// Fits reports whether some client could install the file: an sdist or a
// file that is not a wheel always fits, and so does a pure wheel (any
// platform: one file for every client, known or not, such as poetry's,
// which names no platform); a platform wheel fits when one of its tag
// triples names a Python, ABI and platform one client has. A wheel name
// that cannot be read fits (checking it costs bytes; skipping it could
// leave an installable file unchecked).
func Fits(filename string, clients []Client) bool {
	tags, ok := wheelTags(filename)
	if !ok {
		return true
	}
	for _, t := range tags {
		if t.platform == "any" {
			return true
		}
	}
	for _, c := range clients {
		for _, t := range tags {
			if c.fits(t) {
				return true
			}
		}
	}
	return false
}

type tag struct{ python, abi, platform string }

// wheelTags expands a wheel's compressed tag set (PEP 425).
func wheelTags(filename string) ([]tag, bool) {
	base, ok := strings.CutSuffix(filename, ".whl")
	if !ok {
		return nil, false
	}
	parts := strings.Split(base, "-")
	if len(parts) < 5 {
		return nil, false
	}
	n := len(parts)
	var out []tag
	for _, py := range strings.Split(parts[n-3], ".") {
		for _, abi := range strings.Split(parts[n-2], ".") {
			for _, plat := range strings.Split(parts[n-1], ".") {
				out = append(out, tag{strings.ToLower(py), strings.ToLower(abi), strings.ToLower(plat)})
			}
		}
	}
	return out, true
}

func (c Client) fits(t tag) bool {
	return c.pythonFits(t.python, t.abi) && c.platformFits(t.platform)
}

func (c Client) pythonFits(py, abi string) bool {
	switch {
	case py == "py3" || py == "py2.py3":
		return c.Python[0] == 3
	case strings.HasPrefix(py, "py"):
		return pyVersionAtMost(py[2:], c.Python)
	case len(py) > 2 && py[:2] == c.Impl:
		v := py[2:]
		if abi == "abi3" {
			return pyVersionAtMost(v, c.Python) // a stable-ABI wheel runs on later Pythons
		}
		if abi == "none" {
			return pyVersionAtMost(v, c.Python)
		}
		maj, min, ok := splitVersion(v)
		return ok && maj == c.Python[0] && min == c.Python[1]
	}
	return false
}

// pyVersionAtMost: a tag's "311" or "3" is at most the client's Python.
func pyVersionAtMost(v string, have [2]int) bool {
	maj, min, ok := splitVersion(v)
	if !ok {
		return false
	}
	return maj == have[0] && (min < 0 || min <= have[1])
}

func splitVersion(v string) (int, int, bool) {
	if v == "" {
		return 0, 0, false
	}
	maj, err := strconv.Atoi(v[:1])
	if err != nil {
		return 0, 0, false
	}
	if len(v) == 1 {
		return maj, -1, true
	}
	min, err := strconv.Atoi(v[1:])
	if err != nil {
		return 0, 0, false
	}
	return maj, min, true
}

func (c Client) platformFits(p string) bool {
	if p == "any" {
		return true
	}
	switch c.OS {
	case "linux":
		arch, ok := strings.CutPrefix(p, "linux_")
		if ok {
			return arch == c.Arch
		}
		for _, prefix := range []string{"manylinux1_", "manylinux2010_", "manylinux2014_"} {
			if arch, ok := strings.CutPrefix(p, prefix); ok {
				return c.Libc == "glibc" && arch == c.Arch
			}
		}
		for _, family := range []string{"manylinux_", "musllinux_"} {
			if rest, ok := strings.CutPrefix(p, family); ok {
				// manylinux_2_17_x86_64: the arch follows the second number.
				f := strings.SplitN(rest, "_", 3)
				if len(f) != 3 {
					return false
				}
				libc := "glibc"
				if family == "musllinux_" {
					libc = "musl"
				}
				return c.Libc == libc && f[2] == c.Arch
			}
		}
	case "macos":
		rest, ok := strings.CutPrefix(p, "macosx_")
		if !ok {
			return false
		}
		f := strings.SplitN(rest, "_", 3)
		if len(f) != 3 {
			return false
		}
		switch f[2] {
		case c.Arch, "universal2":
			return true
		case "universal", "intel", "fat64", "fat3":
			return c.Arch == "x86_64"
		}
	case "windows":
		switch p {
		case "win_amd64":
			return c.Arch == "x86_64"
		case "win32":
			return c.Arch == "i686" || c.Arch == "x86_64"
		case "win_arm64":
			return c.Arch == "aarch64"
		}
	}
	return false
}

// Seen keeps the clients that asked lately; safe for concurrent use.
type Seen struct {
	mu      sync.Mutex
	clients map[Client]time.Time
	// keep is how long a client is remembered after its last request.
	keep time.Duration
	now  func() time.Time

	snapshot   []Client // Active, as of snapshotAt; nil: to be made
	snapshotAt time.Time
}

// NewSeen remembers each client for keep after its last request, and
// starts with fixed (configured platforms, never forgotten).
func NewSeen(keep time.Duration, now func() time.Time, fixed ...Client) *Seen {
	if now == nil {
		now = time.Now
	}
	s := &Seen{clients: map[Client]time.Time{}, keep: keep, now: now}
	for _, c := range fixed {
		s.clients[c] = time.Time{} // zero: forever
	}
	return s
}

// Saw records a request's User-Agent; it reports whether that client was
// new (a page rendered before it came may have skipped its files).
func (s *Seen) Saw(ua string) bool {
	c, ok := FromUserAgent(ua)
	if !ok {
		return false
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	last, known := s.clients[c]
	if known && last.IsZero() {
		return false
	}
	s.clients[c] = now
	isNew := !known || now.Sub(last) > s.keep
	if isNew {
		s.snapshot = nil
	}
	return isNew
}

// Active lists the clients that asked within keep, and the fixed ones.
func (s *Seen) Active() []Client {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Client
	for c, last := range s.clients {
		if last.IsZero() || now.Sub(last) <= s.keep {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Client) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// Parse reads a configured platform, "linux-x86_64-glibc-cp3.11" (as
// Client.String writes it; libc only on linux).
func Parse(s string) (Client, error) {
	f := strings.Split(strings.TrimSpace(s), "-")
	bad := fmt.Errorf("platform %q: want os-arch[-libc]-implX.Y, e.g. linux-x86_64-glibc-cp3.12, macos-arm64-cp3.13, windows-x86_64-cp3.12", s)
	if len(f) < 3 {
		return Client{}, bad
	}
	c := Client{OS: f[0], Arch: normArch(f[0], f[1])}
	rest := f[2:]
	if c.OS == "linux" {
		if len(rest) != 2 || (rest[0] != "glibc" && rest[0] != "musl") {
			return Client{}, bad
		}
		c.Libc, rest = rest[0], rest[1:]
	}
	if len(rest) != 1 || (c.OS != "linux" && c.OS != "macos" && c.OS != "windows") || len(rest[0]) < 5 {
		return Client{}, bad
	}
	c.Impl = rest[0][:2]
	var major, minor int
	if _, err := fmt.Sscanf(rest[0][2:], "%d.%d", &major, &minor); err != nil || (c.Impl != "cp" && c.Impl != "pp") {
		return Client{}, bad
	}
	c.Python = [2]int{major, minor}
	return c, nil
}

// Fits reports whether a client seen lately (or a fixed one) could
// install the file.
func (s *Seen) Fits(filename string) bool {
	if _, ok := wheelTags(filename); !ok {
		return true
	}
	return Fits(filename, s.active())
}

// active is Active, worked out at most once a minute or after a new
// client: a page render asks once per file.
func (s *Seen) active() []Client {
	now := s.now()
	s.mu.Lock()
	snap, at := s.snapshot, s.snapshotAt
	s.mu.Unlock()
	if snap != nil && now.Sub(at) < time.Minute {
		return snap
	}
	snap = s.Active()
	if snap == nil {
		snap = []Client{}
	}
	s.mu.Lock()
	s.snapshot, s.snapshotAt = snap, now
	s.mu.Unlock()
	return snap
}

// Choose is the file of a release the client a User-Agent names would
// install, as installers prefer: a wheel built for its platform, then a
// pure wheel, then an sdist; -1 when none, or the User-Agent names no
// platform.
func Choose(userAgent string, filenames []string) int {
	c, ok := FromUserAgent(userAgent)
	if !ok {
		return -1
	}
	best, rank := -1, 0
	for i, name := range filenames {
		r := 0
		switch tags, isWheel := wheelTags(name); {
		case !isWheel:
			if strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".zip") {
				r = 1
			}
		default:
			for _, t := range tags {
				if c.fits(t) {
					r = max(r, 2)
					if t.platform != "any" {
						r = 3
					}
				}
			}
		}
		if r > rank {
			best, rank = i, r
		}
	}
	return best
}

// Choose is the package's Choose, for a Seen handed around as the gate's
// Platforms.
func (s *Seen) Choose(userAgent string, filenames []string) int { return Choose(userAgent, filenames) }
