// Package pep440 parses and orders Python package versions (PEP 440): epoch,
// release, pre-, post- and dev-releases, and local labels, with the spec's
// normalizations ("1.0-RC1" is "1.0rc1", "v2" is "2").
package pep440

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Version is a parsed version. The zero value is not a valid version.
type Version struct {
	Epoch   int
	Release []int
	PreKind string // "a", "b", "rc" or ""
	PreNum  int
	Post    int // -1 when absent
	Dev     int // -1 when absent
	Local   string
}

// The regular expression from PEP 440's appendix, case-insensitive.
var re = regexp.MustCompile(`(?i)^\s*v?(?:(?:(\d+)!)?(\d+(?:\.\d+)*)` +
	`(?:[-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?(\d+)?)?` +
	`(?:(?:-(\d+))|(?:[-_.]?(post|rev|r)[-_.]?(\d+)?))?` +
	`(?:[-_.]?(dev)[-_.]?(\d+)?)?)(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$`)

// Parse reads a version.
func Parse(s string) (Version, error) {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("%q is not a PEP 440 version", s)
	}
	v := Version{Post: -1, Dev: -1}
	var err error
	if m[1] != "" {
		if v.Epoch, err = strconv.Atoi(m[1]); err != nil {
			return Version{}, fmt.Errorf("%q: epoch too large", s)
		}
	}
	for _, part := range strings.Split(m[2], ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return Version{}, fmt.Errorf("%q: release number too large", s)
		}
		v.Release = append(v.Release, n)
	}
	if m[3] != "" {
		switch strings.ToLower(m[3]) {
		case "a", "alpha":
			v.PreKind = "a"
		case "b", "beta":
			v.PreKind = "b"
		default:
			v.PreKind = "rc"
		}
		v.PreNum = atoi(m[4])
	}
	switch {
	case m[5] != "":
		v.Post = atoi(m[5])
	case m[6] != "":
		v.Post = atoi(m[7])
	}
	if m[8] != "" {
		v.Dev = atoi(m[9])
	}
	v.Local = strings.ToLower(localSeparators.Replace(m[10]))
	return v, nil
}

// localSeparators normalizes a local version label's separators. Built
// once: a Replacer builds its tables on first use, and a page of 200,000
// files parses as many versions.
var localSeparators = strings.NewReplacer("-", ".", "_", ".")

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// String is the normalized form.
func (v Version) String() string {
	var b strings.Builder
	if v.Epoch != 0 {
		fmt.Fprintf(&b, "%d!", v.Epoch)
	}
	for i, n := range v.Release {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(n))
	}
	if v.PreKind != "" {
		fmt.Fprintf(&b, "%s%d", v.PreKind, v.PreNum)
	}
	if v.Post >= 0 {
		fmt.Fprintf(&b, ".post%d", v.Post)
	}
	if v.Dev >= 0 {
		fmt.Fprintf(&b, ".dev%d", v.Dev)
	}
	if v.Local != "" {
		b.WriteString("+" + v.Local)
	}
	return b.String()
}

// Normalize returns the normalized form of s, or s itself when it does not
// parse.
func Normalize(s string) string {
	v, err := Parse(s)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(s))
	}
	return v.String()
}

// IsPrerelease reports whether v is a pre- or dev-release.
func (v Version) IsPrerelease() bool { return v.PreKind != "" || v.Dev >= 0 }

// Compare orders two versions as PEP 440 does: -1, 0 or 1.
func Compare(a, b Version) int {
	if c := cmpInt(a.Epoch, b.Epoch); c != 0 {
		return c
	}
	n := max(len(a.Release), len(b.Release))
	for i := 0; i < n; i++ {
		if c := cmpInt(at(a.Release, i), at(b.Release, i)); c != 0 {
			return c
		}
	}
	if c := cmpInt(preKey(a), preKey(b)); c != 0 {
		return c
	}
	if a.PreKind != "" && a.PreKind == b.PreKind {
		if c := cmpInt(a.PreNum, b.PreNum); c != 0 {
			return c
		}
	}
	if c := cmpInt(a.Post, b.Post); c != 0 { // -1 (none) sorts first
		return c
	}
	if c := cmpInt(devKey(a.Dev), devKey(b.Dev)); c != 0 {
		return c
	}
	return compareLocal(a.Local, b.Local)
}

// preKey ranks the pre-release phase: a dev-release of the final release
// (1.0.dev0) comes before its alphas; a final release after its rcs.
func preKey(v Version) int {
	switch {
	case v.PreKind == "" && v.Post < 0 && v.Dev >= 0:
		return -1
	case v.PreKind == "a":
		return 0
	case v.PreKind == "b":
		return 1
	case v.PreKind == "rc":
		return 2
	}
	return 3
}

func devKey(dev int) int {
	if dev < 0 {
		return int(^uint(0) >> 1) // no dev part sorts after any dev part
	}
	return dev
}

func compareLocal(a, b string) int {
	if a == b {
		return 0
	}
	if a == "" {
		return -1
	}
	if b == "" {
		return 1
	}
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		if i >= len(pa) {
			return -1
		}
		if i >= len(pb) {
			return 1
		}
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		switch {
		case ea == nil && eb == nil:
			if c := cmpInt(na, nb); c != 0 {
				return c
			}
		case ea == nil: // numeric segments sort after alphanumeric ones
			return 1
		case eb == nil:
			return -1
		default:
			if c := strings.Compare(pa[i], pb[i]); c != 0 {
				return c
			}
		}
	}
	return 0
}

func at(s []int, i int) int {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Equal reports whether two version strings are the same PEP 440 version.
func Equal(a, b string) bool {
	va, errA := Parse(a)
	vb, errB := Parse(b)
	if errA != nil || errB != nil {
		return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
	}
	return Compare(va, vb) == 0
}
