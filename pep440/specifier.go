package pep440

import (
	"fmt"
	"regexp"
	"strings"
)

// Specifier is one version clause (PEP 440): "==1.0", ">=2", "~=1.4.2",
// "!=1.5.*", "<3".
type Specifier struct {
	Op       string // ==, !=, <=, >=, <, >, ~=, ===
	Version  Version
	Wildcard bool   // ==1.5.* and !=1.5.*
	raw      string // for ===
}

// Specifiers are clauses that must all hold; none allows every version.
type Specifiers []Specifier

var specRe = regexp.MustCompile(`^\s*(===|==|!=|<=|>=|~=|<|>)\s*([^\s,;]+)\s*$`)

// ParseSpecifiers reads "<3,>=2.1" (empty: every version).
func ParseSpecifiers(s string) (Specifiers, error) {
	var out Specifiers
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, clause := range strings.Split(s, ",") {
		m := specRe.FindStringSubmatch(clause)
		if m == nil {
			return nil, fmt.Errorf("%q is not a version specifier", clause)
		}
		sp := Specifier{Op: m[1], raw: m[2]}
		text := m[2]
		if t, ok := strings.CutSuffix(text, ".*"); ok && (sp.Op == "==" || sp.Op == "!=") {
			sp.Wildcard, text = true, t
		}
		if sp.Op != "===" {
			v, err := Parse(text)
			if err != nil {
				return nil, err
			}
			if sp.Op == "~=" && len(v.Release) < 2 {
				return nil, fmt.Errorf("%q: ~= needs at least two release numbers", clause)
			}
			sp.Version = v
		}
		out = append(out, sp)
	}
	return out, nil
}

// Allows reports whether v meets every clause. Pre-releases are allowed
// only when a clause names one (as installers do by default).
func (ss Specifiers) Allows(v Version) bool {
	if v.IsPrerelease() {
		named := false
		for _, s := range ss {
			named = named || (s.Op != "!=" && s.Version.IsPrerelease())
		}
		if !named {
			return false
		}
	}
	for _, s := range ss {
		if !s.allows(v) {
			return false
		}
	}
	return true
}

func (s Specifier) allows(v Version) bool {
	switch s.Op {
	case "===":
		return strings.EqualFold(v.String(), s.raw)
	case "==", "!=":
		eq := false
		if s.Wildcard {
			eq = v.Epoch == s.Version.Epoch && prefixOf(s.Version.Release, v.Release)
		} else {
			w := v
			if s.Version.Local == "" {
				w.Local = "" // ==1.0 matches 1.0+local
			}
			eq = Compare(w, s.Version) == 0
		}
		return eq == (s.Op == "==")
	case "<=":
		return Compare(withoutLocal(v), s.Version) <= 0
	case ">=":
		return Compare(withoutLocal(v), s.Version) >= 0
	case "<":
		// <3 does not allow 3.0a1, nor 2.9.post1's kin of 3: only what is
		// before 3's release.
		return Compare(withoutLocal(v), s.Version) < 0 && !(v.IsPrerelease() && !s.Version.IsPrerelease() && sameRelease(v, s.Version))
	case ">":
		return Compare(withoutLocal(v), s.Version) > 0 && !(v.Post >= 0 && s.Version.Post < 0 && sameRelease(v, s.Version))
	case "~=":
		prefix := s.Version.Release[:len(s.Version.Release)-1]
		return Compare(withoutLocal(v), s.Version) >= 0 && v.Epoch == s.Version.Epoch && prefixOf(prefix, v.Release)
	}
	return false
}

func withoutLocal(v Version) Version { v.Local = ""; return v }

// prefixOf reports whether p is a prefix of r, zero-padded (1.5 of 1.5.0.3).
func prefixOf(p, r []int) bool {
	for i, n := range p {
		if at(r, i) != n {
			return false
		}
	}
	return true
}

func sameRelease(a, b Version) bool {
	n := max(len(a.Release), len(b.Release))
	for i := 0; i < n; i++ {
		if at(a.Release, i) != at(b.Release, i) {
			return false
		}
	}
	return a.Epoch == b.Epoch
}

// Requirement is a dependency as core metadata's Requires-Dist says it
// (PEP 508): a name, extras, version clauses and an environment marker.
type Requirement struct {
	Name       string // as written
	Extras     []string
	Specifiers Specifiers
	Marker     string // after ";", not evaluated; empty when none
	URL        bool   // "name @ url": not from an index
}

var reqRe = regexp.MustCompile(`^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*(.*)$`)

// ParseRequirement reads one Requires-Dist value.
func ParseRequirement(s string) (Requirement, error) {
	spec, marker, _ := strings.Cut(s, ";")
	m := reqRe.FindStringSubmatch(spec)
	if m == nil {
		return Requirement{}, fmt.Errorf("%q is not a requirement", s)
	}
	r := Requirement{Name: m[1], Marker: strings.TrimSpace(marker)}
	if m[2] != "" {
		for _, e := range strings.Split(strings.Trim(m[2], "[]"), ",") {
			if e = strings.TrimSpace(e); e != "" {
				r.Extras = append(r.Extras, e)
			}
		}
	}
	rest := strings.TrimSpace(m[3])
	if strings.HasPrefix(rest, "@") {
		r.URL = true
		return r, nil
	}
	rest = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(rest, "("), ")"))
	var err error
	if r.Specifiers, err = ParseSpecifiers(rest); err != nil {
		return Requirement{}, fmt.Errorf("%q: %w", s, err)
	}
	return r, nil
}
