package pycode

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The screen: parsing is the cost of the analysis (tree-sitter parses a
// few MB/s), so a module is parsed only when it could make a finding on
// its own. Every finding starts at a call the analysis resolves to one of
// its sinks (exec, a process start, the network, unpickling, ctypes), and
// a name resolves only two ways:
//   - spelled out: the sink's module is imported by name and its last
//     part is written as an identifier (`import subprocess as sp;
//     sp.run`, `from os import system`, `from os import *; system()`),
//     or it is a builtin written as one (`exec`);
//   - computed: through getattr, __import__, import_module, vars,
//     globals, locals, __dict__, __builtins__ or sys.modules, each of
//     which is itself written out.
// So a module none of whose identifiers are those words cannot make a
// finding, and the words are read off the analysis's own tables: a sink
// added there is screened for without another list to keep. Words are
// whole identifiers ("filesystem" is not os.system, "empty" is not pty);
// Python reads identifiers NFKC-normalized (`ｅｘｅｃ` is exec), so a
// module with other than ASCII is screened as it reads too.

// builtinWords reach a sink, or a name the module does not spell, as
// builtins: written after a dot they are some object's attribute
// (`re.compile`, `df.eval`), which reaches builtins only through a word
// below (`builtins.compile`, `__builtins__.exec`).
var builtinWords = []string{"__import__", "globals", "locals"}

// lookupWords compute a member's name, of an object they are handed:
// they reach a sink only from a module that has one, so they count only
// in a module that writes the name of such a module too (or reaches one
// through a word above).
var lookupWords = []string{"getattr", "vars", "__dict__"}

// plainWords let a module through wherever they are written: the other
// computed reaches, and the two network clients every call of which counts.
var plainWords = []string{"__builtins__", "builtins", "import_module", "requests", "httpx"}

// screenWords are what the screen looks for: a builtin or plain word
// alone lets a module through; a pair needs its module and its name.
type screenWords struct {
	builtin, plain map[string]bool
	lookup         map[string]bool
	pairs          map[string][]string // module -> names
	parts          map[string]bool     // either half of a pair
}

var screen = func() screenWords {
	s := screenWords{builtin: map[string]bool{}, plain: map[string]bool{}, lookup: map[string]bool{}, pairs: map[string][]string{}, parts: map[string]bool{}}
	for _, w := range lookupWords {
		s.lookup[w] = true
	}
	for _, w := range builtinWords {
		s.builtin[w] = true
	}
	for _, w := range plainWords {
		s.plain[w] = true
	}
	pair := func(root, name string) {
		s.pairs[root] = append(s.pairs[root], name)
		s.parts[root], s.parts[name] = true, true
	}
	// The computed reaches written as a module's attribute.
	pair("sys", "modules")
	pair("importlib", "__import__")
	for _, table := range []map[string]bool{execSinks, loadSinks, dynamicSinks, spawnCalls, netCalls, nativeLoaders} {
		for name := range table {
			root, _, _ := strings.Cut(name, ".")
			last := name[strings.LastIndexByte(name, '.')+1:]
			if root == "builtins" {
				s.builtin[last] = true
				continue
			}
			pair(root, last)
		}
	}
	return s
}()

// mayFind reports whether src could make a finding: whether any of its
// identifiers are a screen word. It errs towards parsing: words in
// comments and strings count, and a byte outside ASCII ends a word.
func mayFind(src []byte) bool {
	if screenSource(src) {
		return true
	}
	for _, b := range src {
		if b >= utf8.RuneSelf {
			return screenSource(norm.NFKC.Bytes(src))
		}
	}
	return false
}

func screenSource(src []byte) bool {
	var seen map[string]bool // halves of screen.pairs seen
	lookup := false
	for i := 0; i < len(src); {
		if !identByte(src[i]) {
			i++
			continue
		}
		j := i
		for j < len(src) && identByte(src[j]) {
			j++
		}
		attr := i > 0 && src[i-1] == '.'
		w := src[i:j]
		for len(w) > 0 && w[0] >= '0' && w[0] <= '9' {
			w = w[1:] // a number's digits, then perhaps a word: 1or exec(…)
		}
		i = j
		switch {
		case screen.plain[string(w)], screen.builtin[string(w)] && !attr:
			return true
		case screen.lookup[string(w)] && !(attr && w[0] != '_'):
			lookup = true
		case screen.parts[string(w)]:
			if seen == nil {
				seen = map[string]bool{}
			}
			seen[string(w)] = true
		}
	}
	for root, names := range screen.pairs {
		if !seen[root] {
			continue
		}
		if lookup {
			return true
		}
		for _, n := range names {
			if seen[n] {
				return true
			}
		}
	}
	return false
}

func identByte(b byte) bool {
	return b == '_' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
}
