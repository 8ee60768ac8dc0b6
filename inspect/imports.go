package inspect

import (
	"bytes"
	"regexp"
	"strings"
)

// Test code and the parts of an sdist an installation does not run are
// informational — unless code that does run imports them: a payload moved
// into pkg/tests/helper.py and imported by pkg/__init__.py runs at
// `import pkg` like any module. Their findings therefore wait for the end
// of the archive (members come in any order), when the modules reachable
// by import from the installed ones are known.

// deferred is a finding in code that is not run unless something imports
// it.
type deferred struct {
	f      Finding // with the severity it has when the code runs
	role   role
	module string
}

// imported records which modules a source file imports, and whether the
// file is code an installation runs (a root of the import graph).
func (s *scanner) imported(name string, src []byte, r role) {
	mod, pkg := moduleOf(name, s.rep.Kind == "wheel")
	if mod == "" {
		return
	}
	if s.imports == nil {
		s.imports = map[string][]string{}
	}
	s.imports[mod] = append(s.imports[mod], importsOf(src, mod, pkg)...)
	if r == installed || r == buildScript {
		s.roots = append(s.roots, mod)
	}
}

// lower adds a finding of code an installation runs as it is, and keeps
// one of code it does not run for finish.
func (s *scanner) lower(name string, f Finding, r role) {
	if r != testCode && r != notInstalled {
		s.rep.add(f)
		return
	}
	mod, _ := moduleOf(name, s.rep.Kind == "wheel")
	s.deferred = append(s.deferred, deferred{f: f, role: r, module: mod})
}

// finish settles the deferred findings: informational, or as severe as
// anywhere else when an installed module imports their module (directly,
// through other modules, or as a parent package of what it imports).
func (s *scanner) finish() {
	if len(s.deferred) == 0 {
		return
	}
	runs := map[string]bool{}
	var visit func(mod string)
	visit = func(mod string) {
		for i := 0; i <= len(mod); i++ { // importing a.b.c runs a, a.b and a.b.c
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
	for _, d := range s.deferred {
		f := d.f
		if d.module != "" && runs[d.module] {
			f.Message += " (" + d.role.where() + ", but imported by the package: it runs when the package is imported)"
		} else {
			f.Severity, f.Message = Info, f.Message+d.role.note()
		}
		s.rep.add(f)
	}
	s.deferred = nil
}

// moduleOf names the module a .py file is once installed: "pkg/sub/m.py"
// is pkg.sub.m, a package's __init__.py the package (pkg is then true). A
// wheel's .data/purelib/ or platlib/ folder, an sdist's root folder and a
// src/ layout folder are not part of the name.
func moduleOf(name string, wheel bool) (mod string, pkg bool) {
	if !strings.HasSuffix(name, ".py") {
		return "", false
	}
	parts := strings.Split(strings.TrimSuffix(name, ".py"), "/")
	switch {
	case wheel && len(parts) > 2 && strings.HasSuffix(parts[0], ".data") && (parts[1] == "purelib" || parts[1] == "platlib"):
		parts = parts[2:]
	case !wheel && len(parts) > 1:
		parts = parts[1:]
		if len(parts) > 1 && parts[0] == "src" {
			parts = parts[1:]
		}
	}
	if parts[len(parts)-1] == "__init__" {
		parts, pkg = parts[:len(parts)-1], true
	}
	if len(parts) == 0 {
		return "", false
	}
	return strings.Join(parts, "."), pkg
}

var (
	// Found anywhere in a line, not only at its start: `if x: import y`
	// and `s = 1; from .t import y` import too, and listing a name too
	// many (one in a string) costs nothing.
	reFrom   = regexp.MustCompile(`(?:^|[^\w.])from\s+(\.*)\s*([\w.]*)\s+import\s+(\([^)]*\)?|[^;#]*)`)
	reImport = regexp.MustCompile(`(?:^|[^\w.])import\s+([\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*)`)
	// import_module("pkg.tests.x"), import_module(".x", __package__),
	// __import__("pkg.te" + "sts.x"): constant strings, joined.
	reDynamic = regexp.MustCompile(`(?:import_module|__import__)\(\s*((?:[rbu]?['"][\w.]*['"]\s*\+?\s*)+)`)
	reLiteral = regexp.MustCompile(`['"]([\w.]*)['"]`)
)

// maxJoin bounds how many lines one parenthesized or continued statement
// is read over.
const maxJoin = 50

// importsOf lists the modules a source file may import, as absolute
// names: every `import`, `from … import` (a name imported from a package
// may be a submodule, so both are listed) and import_module/__import__
// of constant strings, wherever they stand. It reads text, not Python:
// listing too much only makes more code count as run, so every line is
// read on its own as well as joined into the statement it continues.
func importsOf(src []byte, mod string, pkg bool) []string {
	if !bytes.Contains(src, []byte("import")) {
		return nil
	}
	base := mod // what a relative import is relative to
	if !pkg {
		base = parent(mod)
	}
	resolve := func(dots int, name string) string {
		b := base
		for i := 1; i < dots; i++ {
			b = parent(b)
		}
		switch {
		case dots == 0:
			return name
		case name == "":
			return b
		case b == "":
			return name
		}
		return b + "." + name
	}
	var out []string
	lines := strings.Split(string(src), "\n")
	for i, line := range lines {
		if !strings.Contains(line, "import") && !continues(line) {
			continue
		}
		stmt := line
		for j := i + 1; j < len(lines) && j <= i+maxJoin && (continues(stmt) || strings.Count(stmt, "(") > strings.Count(stmt, ")")); j++ {
			stmt = strings.TrimSuffix(strings.TrimRight(stmt, " \t\r"), "\\") + " " + lines[j]
		}
		for _, m := range reFrom.FindAllStringSubmatch(stmt, -1) {
			from := resolve(len(m[1]), m[2])
			out = append(out, from)
			for _, n := range importedNames(m[3]) {
				if n != "*" {
					out = append(out, strings.TrimPrefix(from+"."+n, "."))
				}
			}
		}
		for _, m := range reImport.FindAllStringSubmatch(stmt, -1) {
			out = append(out, importedNames(m[1])...)
		}
		for _, m := range reDynamic.FindAllStringSubmatch(stmt, -1) {
			var name strings.Builder
			for _, lit := range reLiteral.FindAllStringSubmatch(m[1], -1) {
				name.WriteString(lit[1])
			}
			n := name.String()
			dots := len(n) - len(strings.TrimLeft(n, "."))
			out = append(out, resolve(dots, n[dots:]))
		}
	}
	return out
}

func continues(line string) bool { return strings.HasSuffix(strings.TrimRight(line, " \t\r"), "\\") }

var parens = strings.NewReplacer("(", " ", ")", " ")

// importedNames splits "a.b as c, (d, e)  # comment" into a.b, d and e.
func importedNames(list string) []string {
	if strings.HasPrefix(strings.TrimSpace(list), "(") {
		list, _, _ = strings.Cut(list, ")")
	}
	list, _, _ = strings.Cut(list, "#")
	list, _, _ = strings.Cut(list, ";")
	list = parens.Replace(list)
	var out []string
	for _, item := range strings.Split(list, ",") {
		if fields := strings.Fields(item); len(fields) > 0 && fields[0] != "import" && fields[0] != "from" {
			out = append(out, fields[0])
		}
	}
	return out
}

func parent(mod string) string {
	if i := strings.LastIndexByte(mod, '.'); i >= 0 {
		return mod[:i]
	}
	return ""
}

// where says where code of a role sits, for a finding's message.
func (r role) where() string {
	if r == testCode {
		return "test code"
	}
	return "in a part of the sdist that is not installed"
}
