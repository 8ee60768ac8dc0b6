package inspect

import (
	"bytes"
	"slices"
	"strings"

	"golang.org/x/text/unicode/norm"
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

// imported records which modules a source file (module mod, a package's
// __init__ when pkg) imports, and whether it is code an installation runs
// (a root of the import graph).
func (s *scanner) imported(mod string, pkg bool, src []byte, r role) {
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
// one of code it does not run (in module mod) for finish.
func (s *scanner) lower(mod string, f Finding, r role) {
	if r != testCode && r != notInstalled {
		s.rep.add(f)
		return
	}
	s.deferred = append(s.deferred, deferred{f: f, role: r, module: mod})
}

// finish settles the deferred findings: informational, or as severe as
// anywhere else when an installed module imports their module (directly,
// through other modules, or as a parent package of what it imports).
func (s *scanner) finish() {
	s.settle()
	s.buildScripts()
	s.follow()
	if len(s.deferred) == 0 {
		return
	}
	runs := s.runsAtImport()
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

// importsOf lists the modules a source file may import, as absolute
// names: every `import` and `from … import` (a name imported from a
// package may be a submodule, so both are listed), wherever it stands
// (`if x: import y`, after a `;`, in a function), and import_module or
// __import__ of constant strings. It reads text, not Python — a word
// "import" in a string counts too — because listing too much only makes
// more code count as run, while missing an import is how a payload in
// test code would hide. Identifiers are NFKC-normalized, as Python does
// (`from .ｔｅｓｔｓ import x` imports .tests).
func importsOf(src []byte, mod string, pkg bool) []string {
	resolve := func(dotted string) string { return absoluteName(dotted, mod, pkg) }
	var out []string
	// A `from` clause lies between the previous import statement and this
	// one: reading back no further keeps a file of "x import x import …"
	// linear (reading back to the line's start made 900 KB take minutes).
	prevStmt := 0
	for off := 0; ; {
		i := bytes.Index(src[off:], []byte("import"))
		if i < 0 {
			break
		}
		i += off
		off = i + len("import")
		if i > 0 && isIdent(src[i-1]) && !bytes.HasSuffix(src[:i], []byte("__")) {
			continue // part of a longer name (but __import__ is handled below)
		}
		after := src[i+len("import"):]
		switch {
		case bytes.HasPrefix(after, []byte("_module")):
			if name := literalArg(after[len("_module"):]); name != "" {
				out = append(out, resolve(name))
			}
			continue
		case bytes.HasPrefix(after, []byte("__")) && bytes.HasSuffix(src[:i], []byte("__")):
			if name := literalArg(after[2:]); name != "" {
				out = append(out, resolve(name))
			}
			continue
		case len(after) > 0 && isIdent(after[0]):
			continue
		}
		names := importedNames(after)
		from, ok := fromBefore(src[prevStmt:i])
		prevStmt = i + len("import")
		if ok {
			m := resolve(from)
			out = append(out, m)
			for _, n := range names {
				if n != "*" {
					out = append(out, strings.TrimPrefix(m+"."+n, "."))
				}
			}
			continue
		}
		out = append(out, names...)
	}
	return slices.DeleteFunc(out, func(n string) bool { return n == "" || n == "*" })
}

// isIdent reports a byte of a Python identifier (any non-ASCII byte may
// be one).
func isIdent(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// skipSpace skips blanks, and newlines escaped with a backslash or inside
// parentheses (within is set).
func skipSpace(b []byte, within bool) []byte {
	for len(b) > 0 {
		switch {
		case b[0] == ' ' || b[0] == '\t' || b[0] == '\f' || b[0] == '\r':
			b = b[1:]
		case b[0] == '\\' && len(b) > 1 && (b[1] == '\n' || b[1] == '\r'):
			b = b[2:]
		case within && b[0] == '\n':
			b = b[1:]
		case within && b[0] == '#':
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				b = b[i:]
			} else {
				b = nil
			}
		default:
			return b
		}
	}
	return b
}

// dottedName reads a (relative) dotted name at the start of b.
func dottedName(b []byte) (string, []byte) {
	i := 0
	for i < len(b) && (isIdent(b[i]) || b[i] == '.') {
		i++
	}
	return normalizeName(b[:i]), b[i:]
}

// normalizeName is a name as Python reads it: NFKC-normalized; "" when
// that is not a dotted name (a cedilla normalizes to a blank and a
// combining mark; a string given to import_module may hold anything).
func normalizeName(b []byte) string {
	n := string(b)
	if slices.ContainsFunc(b, func(c byte) bool { return c >= 0x80 }) {
		n = norm.NFKC.String(n)
	}
	for i := 0; i < len(n); i++ {
		if !isIdent(n[i]) && n[i] != '.' {
			return ""
		}
	}
	return n
}

// importedNames reads what follows `import`: "a.b as c, d" or a
// parenthesized list over lines; aliases are not names.
func importedNames(b []byte) []string {
	b = skipSpace(b, false)
	within := len(b) > 0 && b[0] == '('
	if within {
		b = b[1:]
	}
	var out []string
	for len(out) < 1000 {
		b = skipSpace(b, within)
		name, rest := dottedName(b)
		if name == "" && !bytes.HasPrefix(rest, []byte("*")) {
			break
		}
		if name == "" {
			name, rest = "*", rest[1:]
		}
		out = append(out, name)
		b = skipSpace(rest, within)
		if bytes.HasPrefix(b, []byte("as")) && len(b) > 2 && !isIdent(b[2]) {
			_, b = dottedName(skipSpace(b[2:], within))
			b = skipSpace(b, within)
		}
		if len(b) == 0 || b[0] != ',' {
			break
		}
		b = b[1:]
	}
	return out
}

var escapedNewlines = strings.NewReplacer("\\\r\n", " ", "\\\n", " ", "\\", " ")

// fromBefore reads "from <module>" just before an `import` word, where
// Python allows blanks (`from . tests import x`), escaped newlines and no
// blank at all (`from.tests import x`).
func fromBefore(b []byte) (string, bool) {
	start := len(b)
	for start > 0 {
		c := b[start-1]
		if isIdent(c) || c == '.' || c == ' ' || c == '\t' || c == '\\' || (c == '\n' || c == '\r') && start > 1 && (b[start-2] == '\\' || b[start-2] == '\r') {
			start--
			continue
		}
		break
	}
	span := string(b[start:])
	if strings.IndexByte(span, '\\') >= 0 {
		span = escapedNewlines.Replace(span)
	}
	fields := strings.Fields(span)
	for i := len(fields) - 1; i >= 0; i-- {
		switch {
		case fields[i] == "from" && i < len(fields)-1:
			return normalizeName([]byte(strings.Join(fields[i+1:], ""))), true
		case strings.HasPrefix(fields[i], "from."):
			return normalizeName([]byte(strings.Join(append([]string{fields[i][len("from"):]}, fields[i+1:]...), ""))), true
		}
	}
	return "", false
}

// literalArg reads the constant strings joined with + that open a call's
// arguments: `("pkg.te" + 'sts.x'`; "" when the argument is not one. It
// reads at most maxLiterals strings: "import_module(" written inside
// thousands of adjacent strings must not make each of them read them all.
func literalArg(b []byte) string {
	b = skipSpace(b, false)
	if len(b) == 0 || b[0] != '(' {
		return ""
	}
	b = b[1:]
	var name strings.Builder
	for range maxLiterals {
		b = skipSpace(b, true)
		for len(b) > 0 && strings.IndexByte("rRbBuU", b[0]) >= 0 {
			b = b[1:]
		}
		if len(b) == 0 || b[0] != '"' && b[0] != '\'' {
			break
		}
		end := bytes.IndexByte(b[1:], b[0])
		if end < 0 {
			break
		}
		name.Write(b[1 : 1+end])
		b = skipSpace(b[2+end:], true)
		if len(b) > 0 && b[0] == '+' {
			b = b[1:]
		} // else adjacent literals join too: ("a" ".b")
	}
	return normalizeName([]byte(name.String()))
}

const maxLiterals = 64

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

// absoluteName makes a relative dotted name (".x.f", "..y", ".") absolute
// from the place of module mod (a package's __init__ when pkg); an
// absolute one is returned as it is.
func absoluteName(dotted, mod string, pkg bool) string {
	name := strings.TrimLeft(dotted, ".")
	dots := len(dotted) - len(name)
	if dots == 0 {
		return name
	}
	b := mod // what a relative import is relative to
	if !pkg {
		b = parent(mod)
	}
	for i := 1; i < dots; i++ {
		b = parent(b)
	}
	switch {
	case name == "":
		return b
	case b == "":
		return name
	}
	return b + "." + name
}
