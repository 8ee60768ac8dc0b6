package inspect

import (
	"bytes"
	"crypto/sha256"
	"io"
	"maps"
	"slices"
	"strings"

	"airlock/pycode"
)

// Following calls between modules. A module is analysed alone, so a
// function that starts a process is "not called at import" in the module
// that defines it, though the package's __init__.py imports it and calls
// it at its top level. At the end of the archive the modules' summaries
// (pycode.Module) are joined: every call made at import by code an
// installation runs is followed into the package's other modules, through
// re-exports and star imports, to any depth, and what the functions it
// reaches do is reported as running at import.
//
// Parsing is what costs, so the first pass parses only files with the
// words a finding needs. When such a file has a dangerous function, the
// archive is read again (it is a file on disk) and the modules that name
// one are parsed too, until no new names turn up: each module is parsed
// at most once.

// modInfo is one Python module of the archive.
type modInfo struct {
	path string
	mod  string
	pkg  bool
	role role
	m    *pycode.Module
}

// abs makes a name the module's summary holds (relative names stay
// relative there) absolute from the module's place.
func (mi *modInfo) abs(dotted string) string { return absoluteName(dotted, mi.mod, mi.pkg) }

// module records a module's summary (the first file of a name wins, as
// the first member of a name is the one read).
func (s *scanner) module(path, mod string, pkg bool, r role, m *pycode.Module) {
	if mod == "" || s.lim.depth > 0 {
		return
	}
	if s.mods == nil {
		s.mods = map[string]*modInfo{}
	}
	if old := s.mods[mod]; old == nil || old.path == path {
		s.mods[mod] = &modInfo{path: path, mod: mod, pkg: pkg, role: r, m: m}
	}
}

// target is one function, class or method of a module of the archive.
type target struct{ mod, name string }

// resolve finds the definition an absolute dotted name stands for: the
// longest module prefix, then the name in it, through its aliases (a
// package's __init__ re-exporting `from ._boot import init`) and star
// imports.
func (s *scanner) resolve(abs string, depth int) (target, bool) {
	if depth > 32 {
		return target{}, false
	}
	for i := len(abs); i > 0; i = strings.LastIndexByte(abs[:i], '.') {
		mi := s.mods[abs[:i]]
		if mi == nil || i == len(abs) {
			continue
		}
		rest := abs[i+1:]
		if mi.m == nil || !mi.m.Parsed {
			return target{abs[:i], rest}, false // not known: parse it to know
		}
		if mi.m.Entries[rest] != nil {
			return target{abs[:i], rest}, true
		}
		first, more, _ := strings.Cut(rest, ".")
		if alias, ok := mi.m.Aliases[first]; ok {
			alias = mi.abs(alias)
			if more != "" {
				alias += "." + more
			}
			return s.resolve(alias, depth+1)
		}
		for _, star := range mi.m.Stars {
			if t, ok := s.resolve(mi.abs(star)+"."+rest, depth+1); ok {
				return t, true
			}
		}
		return target{abs[:i], rest}, true // defined there, and harmless
	}
	return target{}, false
}

// entry is the summary of a target, nil when it does nothing that
// matters.
func (s *scanner) entry(t target) *pycode.Entry {
	if mi := s.mods[t.mod]; mi != nil && mi.m != nil {
		return mi.m.Entries[t.name]
	}
	return nil
}

// dangerous closes over the calls between modules: a target is dangerous
// when it makes a finding or calls a dangerous target.
func (s *scanner) dangerous() map[target]bool {
	out := map[target]bool{}
	for mod, mi := range s.mods {
		if mi.m == nil {
			continue
		}
		for name, e := range mi.m.Entries {
			if len(e.Findings) > 0 {
				out[target{mod, name}] = true
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for mod, mi := range s.mods {
			if mi.m == nil {
				continue
			}
			for name, e := range mi.m.Entries {
				t := target{mod, name}
				if out[t] {
					continue
				}
				for _, c := range e.Calls {
					if ct, ok := s.resolve(mi.abs(c), 0); ok && out[ct] {
						out[t], changed = true, true
						break
					}
				}
			}
		}
	}
	return out
}

// clue is what a module must mention, both as whole words, to reach a
// dangerous target: the name it calls (the function's or class's, or a
// name a module binds to it) and the module that name is imported from.
type clue struct{ module, name string }

// cluesOf are the clues of the dangerous targets and of the names modules
// bind to them (a package's __init__ re-exporting `from ._boot import
// init`): to call one, a module must import it, so it names both.
func (s *scanner) cluesOf(danger map[target]bool) map[clue]bool {
	last := func(mod string) string { return mod[strings.LastIndexByte(mod, '.')+1:] }
	clues := map[clue]bool{}
	for t := range danger {
		first, _, _ := strings.Cut(t.name, ".")
		clues[clue{last(t.mod), first}] = true
	}
	for mod, mi := range s.mods {
		if mi.m == nil {
			continue
		}
		for name, target := range mi.m.Aliases {
			if t, ok := s.resolve(mi.abs(target), 0); ok && danger[t] {
				clues[clue{last(mod), name}] = true
			}
		}
		if len(mi.m.Stars) == 0 {
			continue
		}
		for t := range danger { // re-exported by a star import
			first, _, _ := strings.Cut(t.name, ".")
			if rt, ok := s.resolve(mod+"."+t.name, 0); ok && rt == t {
				clues[clue{last(mod), first}] = true
			}
		}
	}
	return clues
}

// clueWords are the words clues are made of, to look for in one pass.
func clueWords(clues map[clue]bool) map[string]bool {
	words := make(map[string]bool, 2*len(clues))
	for c := range clues {
		words[c.name], words[c.module] = true, true
	}
	return words
}

// mentions reports whether src names both words of a clue. It reads src
// once, keeping only the identifiers some clue is made of.
func mentions(src []byte, clues map[clue]bool, words map[string]bool) bool {
	var found map[string]bool
	for i := 0; i < len(src); {
		if !isIdent(src[i]) || src[i] >= '0' && src[i] <= '9' {
			i++
			continue
		}
		j := i
		for j < len(src) && isIdent(src[j]) {
			j++
		}
		if words[string(src[i:j])] { // no allocation: a lookup by bytes
			if found == nil {
				found = map[string]bool{}
			}
			found[string(src[i:j])] = true
		}
		i = j
	}
	if found == nil {
		return false
	}
	for c := range clues {
		if found[c.name] && found[c.module] {
			return true
		}
	}
	return false
}

// follow joins the modules' summaries and reports what runs at import
// through calls between modules.
func (s *scanner) follow() {
	if s.mods == nil {
		return
	}
	danger := s.dangerous()
	if len(danger) == 0 {
		return
	}
	// Parse the modules that name a dangerous target, until no new names.
	// Test code and the parts of an sdist no installation runs call
	// nothing at import unless installed code imports them.
	runs := s.runsAtImport()
	for clues := s.cluesOf(danger); s.reread != nil; {
		parsed, words := 0, clueWords(clues)
		err := s.reread(func(name string, r io.Reader) error {
			mod, _ := moduleOf(name, s.rep.Kind == "wheel")
			mi := s.mods[mod]
			if mi == nil || mi.path != name || (mi.m != nil && mi.m.Parsed) || ((mi.role == testCode || mi.role == notInstalled) && !runs[mod]) {
				return nil
			}
			src, err := io.ReadAll(io.LimitReader(r, s.lim.MaxScanBytes))
			if err != nil {
				return err
			}
			text, problem := asPythonReads(src)
			// A star import may re-export a dangerous name unnamed.
			if problem != "" || !(mentions(text, clues, words) || bytes.Contains(text, []byte("import *"))) {
				return nil
			}
			sum := sha256.Sum256(text)
			mi.m = s.analyzed(b64sum(sum[:]), text, analysisRoot(mod, mi.role), true)
			parsed++
			return nil
		})
		if err != nil {
			// The archive read whole once; failing now is a fault, and a
			// fault holds.
			s.rep.add(Finding{Severity: High, Kind: "unscanned", Path: "", Message: "could not read the archive again to follow calls between modules: " + err.Error()})
			return
		}
		if parsed == 0 {
			break
		}
		danger = s.dangerous()
		next := s.cluesOf(danger)
		if len(next) == len(clues) {
			break
		}
		clues = next
	}
	s.promote(s.hot())
}

// caller is how a target came to run at import (or build): who calls it.
type caller struct {
	why   string
	build bool
}

// hot follows every call made at import by code an installation runs.
func (s *scanner) hot() map[target]caller {
	runs := s.runsAtImport()
	hot := map[target]caller{}
	type step struct {
		callee string
		from   caller
	}
	var queue []step
	for _, mod := range slices.Sorted(maps.Keys(s.mods)) {
		mi := s.mods[mod]
		if mi.m == nil || !(mi.role == installed || mi.role == buildScript || runs[mod]) {
			continue
		}
		for _, c := range mi.m.Calls {
			c = mi.abs(c)
			queue = append(queue, step{c, caller{why: mi.path + " calls " + c + " at its top level", build: mi.role == buildScript}})
		}
		if mi.role == buildScript {
			// The build backend calls a build script's hooks.
			for _, name := range slices.Sorted(maps.Keys(mi.m.Entries)) {
				if isBuildHook(name) {
					queue = append(queue, step{mod + "." + name, caller{why: name + " in " + mi.path + " is a build hook the backend calls", build: true}})
				}
			}
		}
	}
	for len(queue) > 0 {
		st := queue[0]
		queue = queue[1:]
		t, ok := s.resolve(st.callee, 0)
		if !ok {
			continue
		}
		if _, done := hot[t]; done {
			continue
		}
		hot[t] = st.from
		if e := s.entry(t); e != nil {
			for _, c := range e.Calls {
				queue = append(queue, step{s.mods[t.mod].abs(c), st.from})
			}
		}
	}
	return hot
}

// runsAtImport lists the modules that code an installation runs imports
// (directly or not), as finish does.
func (s *scanner) runsAtImport() map[string]bool {
	runs := map[string]bool{}
	var visit func(mod string)
	visit = func(mod string) {
		for i := 0; i <= len(mod); i++ {
			if i < len(mod) && mod[i] != '.' {
				continue
			}
			if p := mod[:i]; !runs[p] {
				runs[p] = true
				for _, imp := range s.imports[p] {
					visit(imp)
				}
			}
		}
	}
	for _, root := range s.roots {
		for _, imp := range s.imports[root] {
			visit(imp)
		}
	}
	return runs
}

// promote reports the findings of the targets that run at import, in
// place of the same findings reported as "not called at import".
func (s *scanner) promote(hot map[target]caller) {
	type key struct {
		path string
		line int
	}
	done := map[key]bool{}
	ts := slices.SortedFunc(maps.Keys(hot), func(a, b target) int { return strings.Compare(a.mod+":"+a.name, b.mod+":"+b.name) })
	for _, t := range ts {
		e := s.entry(t)
		if e == nil {
			continue
		}
		mi := s.mods[t.mod]
		from := hot[t]
		for _, f := range e.Findings {
			k := key{mi.path, f.Line}
			if done[k] || slices.ContainsFunc(s.rep.Findings, func(g Finding) bool {
				return g.Path == mi.path && g.Line == f.Line && g.Kind == f.Kind && (g.Severity == High || g.Severity == Critical)
			}) {
				continue // reported already: it runs at import in its own module too
			}
			done[k] = true
			sev := High
			if f.Kind == pycode.EnvExfiltration {
				sev = Critical
			}
			how := "when the package is imported"
			if from.build {
				how = "when the package is built or installed"
			}
			msg := strings.Replace(f.Message, "when the module is imported", how, 1)
			msg += " (" + from.why + ")"
			s.rep.Findings = slices.DeleteFunc(s.rep.Findings, func(g Finding) bool { return g.Path == mi.path && g.Line == f.Line && g.Severity == Medium })
			s.deferred = slices.DeleteFunc(s.deferred, func(d deferred) bool { return d.f.Path == mi.path && d.f.Line == f.Line })
			s.rep.add(Finding{Severity: sev, Kind: f.Kind, Path: mi.path, Line: f.Line, Message: msg, Evidence: f.Code})
		}
	}
}
