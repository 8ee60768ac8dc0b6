package pycode

import (
	"maps"
	"slices"
	"strings"
)

// Following calls between modules: `from ._boot import init; init()` in a
// package's __init__.py runs _boot.init at import, though _boot alone
// only defines it. A module is analysed alone (archives are read as
// streams), so each analysis says what the module offers and what it
// calls, and the caller (inspect) joins them across the package:
//   - Entries: the module's functions, classes and methods that reach a
//     dangerous call when something runs them (through the module's own
//     functions too), with the findings they then make;
//   - Calls: what the module calls in its own package at import, and
//     what each entry calls there when it runs (relative names as written);
//   - Aliases and Stars: names it imports from its own package, so that
//     a name re-exported by a package's __init__ leads to its definition.

// Module is what one module does, for following calls between modules.
type Module struct {
	// Parsed is unset when the source was not parsed (see AnalyzeModule).
	Parsed   bool
	Findings []Finding
	// Entries are keyed by "f", "C" (running C() runs __new__ and
	// __init__) or "C.m".
	Entries map[string]*Entry
	// Calls are the calls into the module's own package made at import
	// (relative names stay relative).
	Calls []string
	// Aliases are module-level names bound by importing from the same
	// package, to the names they stand for (relative ones relative).
	Aliases map[string]string
	// Stars are the same-package modules imported with *.
	Stars []string
	// ExecFiles are the files the module reads and executes at import
	// (exec(open("pkg/version.py").read()), setup.py's habit).
	ExecFiles []ExecFile
}

// ExecFile is a file a module executes: the constant parts of its path
// joined with "/", and the line of the exec.
type ExecFile struct {
	Path string
	Line int
}

// Entry is what running one of a module's functions does.
type Entry struct {
	// Findings are those the function makes when it runs (as at import).
	Findings []Finding
	// Calls are the calls into the package it makes when it runs.
	Calls []string
}

// AnalyzeModule analyses a module of the top-level package root; root is
// "" for a script (setup.py), whose calls into any module are noted: it
// belongs to no package, and builds those beside it. Names imported
// relatively stay relative (".x.f", "..y"): the analysis depends only on
// the source and the package, so identical files share it, and the caller
// resolves them from the module's place. Unless whole is set, source
// without the words a finding needs is not parsed and its Module is empty:
// the caller parses it whole only when a dangerous function elsewhere
// makes its calls matter.
func AnalyzeModule(src []byte, root string, whole bool) *Module {
	if !whole && !mayFind(src) {
		return &Module{}
	}
	top := parse(src)
	if top == nil {
		return &Module{}
	}
	a := newAnalyzer(src)
	a.root = root
	a.run(top)
	m := &Module{Parsed: true, Findings: a.report(), Calls: dedupe(a.ext), Aliases: map[string]string{}}
	for name, target := range a.aliases {
		if a.local(target) && !a.computed[name] {
			m.Aliases[name] = target
		}
	}
	for star := range a.star {
		if a.local(star) {
			m.Stars = append(m.Stars, star)
		}
	}
	slices.Sort(m.Stars)
	m.ExecFiles = a.execFiles
	m.Entries = a.entries()
	return m
}

// facts are what one function body does when it runs, before the
// module's own calls are followed.
type facts struct {
	execs, spawns, nets, envs []site
	ext                       []string
	local                     []string // qualified names of the module's functions it runs
}

// entries walks each function and method body as if it ran, then closes
// over the module's own calls: an entry is a function that reaches a
// dangerous call or a call into the package.
func (a *analyzer) entries() map[string]*Entry {
	// A name defined twice (sympy's `@dispatch def _(…)` overloads, a
	// def under if/else) stands for all its definitions: their facts join,
	// in source order.
	nodes := slices.SortedFunc(maps.Keys(a.qual), func(x, y *node) int { return int(x.start) - int(y.start) })
	byName := map[string]*facts{}
	for _, n := range nodes {
		q := a.qual[n]
		f := a.bodyFacts(n)
		if old := byName[q]; old != nil {
			f.execs, f.spawns = append(old.execs, f.execs...), append(old.spawns, f.spawns...)
			f.nets, f.envs = append(old.nets, f.nets...), append(old.envs, f.envs...)
			f.ext, f.local = append(old.ext, f.ext...), append(old.local, f.local...)
		}
		byName[q] = f
	}
	out := map[string]*Entry{}
	for q := range byName {
		seen := map[string]bool{}
		var all facts
		var visit func(string)
		visit = func(q string) {
			f := byName[q]
			if f == nil || seen[q] {
				return
			}
			seen[q] = true
			all.execs = append(all.execs, f.execs...)
			all.spawns = append(all.spawns, f.spawns...)
			all.nets = append(all.nets, f.nets...)
			all.envs = append(all.envs, f.envs...)
			all.ext = append(all.ext, f.ext...)
			for _, l := range f.local {
				visit(l)
			}
		}
		visit(q)
		a.execs, a.spawns, a.nets, a.envs = all.execs, all.spawns, all.nets, all.envs
		e := &Entry{Findings: a.report(), Calls: dedupe(all.ext)}
		if len(e.Findings) > 0 || len(e.Calls) > 0 {
			out[q] = e
		}
	}
	// A class runs __new__ and __init__ when called: its entry is theirs.
	for class := range a.classes {
		var e Entry
		for _, m := range []string{"__new__", "__init__"} {
			if me := out[class+"."+m]; me != nil {
				e.Findings = append(e.Findings, me.Findings...)
				e.Calls = append(e.Calls, me.Calls...)
			}
		}
		if len(e.Findings) > 0 || len(e.Calls) > 0 {
			out[class] = &e
		}
	}
	return out
}

// bodyFacts walks the body of fn as if it ran at import, into lists of
// its own, and returns what it found.
func (a *analyzer) bodyFacts(fn *node) *facts {
	body := fn.ChildByFieldName("body")
	if body == nil {
		return &facts{}
	}
	a.execs, a.spawns, a.nets, a.envs, a.ext = nil, nil, nil, nil, nil
	a.called, a.runs = map[string]bool{}, nil
	a.block(body, true)
	f := &facts{execs: a.execs, spawns: a.spawns, nets: a.nets, envs: a.envs, ext: a.ext}
	for name := range a.called {
		if n := a.funcs[name]; n != nil {
			f.local = append(f.local, a.qual[n])
		}
	}
	for _, n := range a.runs {
		if q := a.qual[n]; q != "" {
			f.local = append(f.local, q)
		}
	}
	a.called, a.runs = map[string]bool{}, nil
	return f
}

// noteCall records a call into the module's own package.
func (a *analyzer) noteCall(callee string) {
	if callee == "" || strings.HasPrefix(callee, "builtins.") {
		return
	}
	if a.local(callee) {
		a.ext = append(a.ext, callee)
	}
}

// local reports whether a dotted name is in the module's own package: a
// relative one, or an absolute one under root (any, for a script).
func (a *analyzer) local(dotted string) bool {
	if dotted == "" {
		return false
	}
	if a.root == "" || strings.HasPrefix(dotted, ".") {
		return true
	}
	return dotted == a.root || strings.HasPrefix(dotted, a.root+".")
}

func dedupe(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// noteExecFile records the file an exec'd argument reads: open(P).read(),
// io/codecs.open(P).read(), Path(P).read_text(), where P is a constant or
// os.path.join / Path / "/" of pieces whose constant ones are kept (here =
// os.path.dirname(__file__) is the script's own folder).
func (a *analyzer) noteExecFile(args *node) {
	if args == nil || args.NamedChildCount() == 0 {
		return
	}
	call := args.NamedChild(0)
	if call.Kind() == "call" && a.resolve(call.ChildByFieldName("function")) == "builtins.compile" {
		if ca := argList(call); len(ca) > 0 {
			call = ca[0] // exec(compile(open(P).read(), P, "exec"))
		}
	}
	if call.Kind() != "call" {
		return
	}
	fn := call.ChildByFieldName("function")
	if fn == nil || fn.Kind() != "attribute" {
		return
	}
	attr, obj := fn.ChildByFieldName("attribute"), fn.ChildByFieldName("object")
	if attr == nil || obj == nil || obj.Kind() != "call" {
		return
	}
	switch a.text(attr) {
	case "read", "read_text", "read_bytes":
	default:
		return
	}
	opener := a.resolve(obj.ChildByFieldName("function"))
	switch opener {
	case "builtins.open", "io.open", "codecs.open", "pathlib.Path", "pathlib.PurePath":
	default:
		if t := a.text(obj.ChildByFieldName("function")); t != "open" && t != "Path" {
			return
		}
	}
	if pa := argList(obj); len(pa) > 0 {
		if p := a.pathOf(pa[0], 0); p != "" {
			a.execFiles = append(a.execFiles, ExecFile{Path: p, Line: line(args)})
		}
	}
}

// pathOf joins the constant pieces of a path expression.
func (a *analyzer) pathOf(n *node, depth int) string {
	if n == nil || depth > 8 {
		return ""
	}
	if s, ok := a.constString(n); ok {
		return s
	}
	var parts []string
	switch n.Kind() {
	case "call":
		for _, arg := range argList(n) {
			if p := a.pathOf(arg, depth+1); p != "" {
				parts = append(parts, p)
			}
		}
	case "binary_operator":
		for i := uint(0); i < n.NamedChildCount(); i++ {
			if p := a.pathOf(n.NamedChild(i), depth+1); p != "" {
				parts = append(parts, p)
			}
		}
	}
	return strings.Join(parts, "/")
}
