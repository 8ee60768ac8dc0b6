// Package pycode reads Python source as Python. It parses a module with
// tree-sitter's Python grammar (which recovers from syntax errors), works
// out which code runs when the module is imported — or, for setup.py, when
// it is built — resolves the usual obfuscations of names and strings, and
// reports the dangerous calls that run then, each with its line and the
// code around it. It knows nothing of archives, HTTP or policy.
//
// What runs at import: module-level statements, class bodies, decorators,
// default argument values and annotations of functions defined there, and
// the bodies of functions the module calls at its top level (followed a few
// levels deep). Not: function bodies nobody calls at import, and
// `if __name__ == "__main__":` blocks.
package pycode

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Kinds of findings.
const (
	// ObfuscatedExec: exec/eval/compile (or pickle/marshal loads) of
	// decoded data, or exec reached through a computed name.
	ObfuscatedExec = "obfuscated-exec"
	// DownloadExec: fetched data executed, or a process started together
	// with a download.
	DownloadExec = "download-exec"
	// Spawn: a process started.
	Spawn = "spawn"
	// EnvExfiltration: the whole environment or credential files read,
	// and the network used.
	EnvExfiltration = "env-exfiltration"
	// DynamicCode: an interpreter of source or bytecode run at import
	// (exec, eval, runpy, code, timeit, unpickling), whatever its
	// argument: what it runs is not in the file.
	DynamicCode = "dynamic-code"
	// NativeLoad: a native library the distribution ships loaded with
	// ctypes at import: code nobody can read runs then. A project that
	// always did so is known; one that starts to is what to look at.
	NativeLoad = "native-load"
)

// nativeLoaders load a shared library by path.
var nativeLoaders = prefixSet("ctypes.CDLL", "ctypes.PyDLL", "ctypes.WinDLL", "ctypes.OleDLL", "ctypes.cdll.LoadLibrary",
	"ctypes.pydll.LoadLibrary", "ctypes.windll.LoadLibrary", "ctypes.LibraryLoader")

// loadsShippedFile reports whether a loader's argument is a file path, not
// a system library's bare name ("libc.so.6", find_library("c")), which
// every platform has and the distribution does not ship.
func (a *analyzer) loadsShippedFile(args *node) bool {
	if args == nil || args.NamedChildCount() == 0 {
		return false
	}
	arg := args.NamedChild(0)
	if s, ok := a.constString(arg); ok {
		return strings.ContainsAny(s, "/\\")
	}
	if arg.Kind() == "call" && strings.HasSuffix(a.resolve(arg.ChildByFieldName("function")), "find_library") {
		return false
	}
	if arg.Kind() == "none" {
		return false // CDLL(None): the process's own symbols
	}
	return true
}

// Finding is one dangerous thing the code does.
type Finding struct {
	Kind    string
	Line    int // 1-based
	Message string
	// Code is the finding's line with a few lines around it, each
	// prefixed with its number; the finding's line is marked with ">".
	Code string
	// AtImport is set when the code runs at import (or build) time.
	AtImport bool
}

// Analyze parses src and reports what it finds. Source that does not parse
// cleanly is analysed as far as the parser recovered.
func Analyze(src []byte) []Finding {
	if !mayFind(src) {
		return nil
	}
	root := parse(src)
	if root == nil {
		return nil
	}
	a := newAnalyzer(src)
	a.run(root)
	return a.report()
}

// site is a dangerous call, before the per-file rules combine them.
type site struct {
	line     int
	what     string // the resolved callee or a description
	atImport bool
	download bool // for a spawn: its arguments name wget, curl or a URL
}

type analyzer struct {
	src   []byte
	lines [][]byte
	// aliases maps a local name to the dotted name it stands for
	// ("sp" -> "subprocess", "run" -> "subprocess.run", "e" -> "builtins.exec").
	aliases map[string]string
	star    map[string]bool   // modules imported with *
	consts  map[string]string // module-level names bound to constant strings
	tainted map[string]string // names bound to decoded, fetched or environment data
	funcs   map[string]*node
	called  map[string]bool // module functions called at import
	// classes are the module's classes by name, with their methods;
	// instances the module-level names bound to one (v = C()); runs the
	// method bodies found to run at import (queued, walked once).
	classes   map[string]map[string]*node
	instances map[string]string
	runs      []*node
	ran       map[*node]bool
	// computed marks aliases bound through a look-up (getattr, a
	// subscript, __import__), not a plain name.
	computed map[string]bool

	// For following calls between modules (module.go): the module's own
	// name, the qualified names of its functions and methods ("f",
	// "C.m"), and the calls into its own package met while walking.
	root      string // the top-level package ("" for a script)
	qual      map[*node]string
	ext       []string
	execFiles []ExecFile

	execs, spawns, nets, envs []site
}

func newAnalyzer(src []byte) *analyzer {
	return &analyzer{src: src, lines: bytes.Split(src, []byte("\n")), aliases: map[string]string{}, star: map[string]bool{},
		consts: map[string]string{}, tainted: map[string]string{}, funcs: map[string]*node{}, called: map[string]bool{}, computed: map[string]bool{},
		classes: map[string]map[string]*node{}, instances: map[string]string{}, ran: map[*node]bool{}, qual: map[*node]string{}}
}

func (a *analyzer) text(n *node) string {
	s := string(a.src[n.start:n.end])
	if (n.kind == "identifier" || n.kind == "dotted_name") && !isASCII(s) {
		return norm.NFKC.String(s) // Python reads ｅｘｅｃ as exec
	}
	return s
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func line(n *node) int { return n.row + 1 }

func (a *analyzer) run(root *node) {
	// Bindings are collected over the whole file, twice, so that a chain
	// of assignments (a = __import__; b = a('os')) resolves.
	for i := 0; i < 2; i++ {
		a.collect(root)
	}
	a.block(root, true)
	// Functions and methods the module runs at its top level run at import
	// too, and so do the ones they run, to any depth: each body is walked
	// once, so the module's own size bounds the work.
	for {
		for name := range a.called {
			if fn := a.funcs[name]; fn != nil {
				a.runs = append(a.runs, fn)
			}
		}
		clear(a.called)
		if len(a.runs) == 0 {
			return
		}
		fn := a.runs[0]
		a.runs = a.runs[1:]
		if a.ran[fn] {
			continue
		}
		a.ran[fn] = true
		if body := fn.ChildByFieldName("body"); body != nil {
			a.block(body, true)
		}
	}
}

// runMethod queues a method of a module class that runs at import.
func (a *analyzer) runMethod(class, method string) {
	if m := a.classes[class][method]; m != nil {
		a.runs = append(a.runs, m)
	}
}

// runsCallable queues what an expression names when it is run at import:
// a module function, a class (its __init__), a lambda's body.
func (a *analyzer) runsCallable(n *node) {
	if k := n.Kind(); k == "identifier" || k == "attribute" {
		a.noteCall(a.resolve(n)) // an imported function handed on or used as a decorator
	}
	switch n.Kind() {
	case "identifier":
		name := a.text(n)
		if _, ok := a.funcs[name]; ok {
			a.called[name] = true
		}
		if _, ok := a.classes[name]; ok {
			a.runMethod(name, "__new__")
			a.runMethod(name, "__init__")
		}
	case "attribute":
		a.methodCall(n)
	case "lambda":
		if body := n.ChildByFieldName("body"); body != nil {
			a.block(body, true)
		}
	}
}

// methodCall queues the method an attribute names on a module class, on a
// call of one (C().m), or on a module-level instance of one (v.m).
func (a *analyzer) methodCall(fn *node) {
	obj, attr := fn.ChildByFieldName("object"), fn.ChildByFieldName("attribute")
	if obj == nil || attr == nil {
		return
	}
	class := ""
	switch obj.Kind() {
	case "identifier":
		class = a.text(obj)
		if c, ok := a.instances[class]; ok {
			class = c
		}
	case "call":
		if f := obj.ChildByFieldName("function"); f != nil && f.Kind() == "identifier" {
			class = a.text(f)
		}
	}
	if _, ok := a.classes[class]; ok {
		a.runMethod(class, a.text(attr))
	}
}

// cmdclass queues every method of the command classes a setup() call
// names (cmdclass={"install": Install}): setuptools runs them when it
// builds or installs.
func (a *analyzer) cmdclass(args *node) {
	for i := uint(0); i < args.NamedChildCount(); i++ {
		kw := args.NamedChild(i)
		if kw.Kind() != "keyword_argument" {
			continue
		}
		name, value := kw.ChildByFieldName("name"), kw.ChildByFieldName("value")
		if name == nil || value == nil || a.text(name) != "cmdclass" || value.Kind() != "dictionary" {
			continue
		}
		for j := uint(0); j < value.NamedChildCount(); j++ {
			pair := value.NamedChild(j)
			if pair.Kind() != "pair" || pair.NamedChildCount() != 2 || pair.NamedChild(1).Kind() != "identifier" {
				continue
			}
			for _, m := range a.classes[a.text(pair.NamedChild(1))] {
				a.runs = append(a.runs, m)
			}
		}
	}
}

// handoffs run the callables handed to them, now or before the process
// ends: a thread's target, an exit hook, a partial, a tracer, a map.
var handoffs = prefixSet("threading.Thread", "threading.Timer", "atexit.register", "functools.partial", "weakref.finalize",
	"sys.settrace", "sys.setprofile", "threading.settrace", "threading.setprofile", "builtins.map", "builtins.filter",
	"builtins.sorted", "functools.reduce", "operator.methodcaller", "contextlib.contextmanager", "asyncio.run",
	"signal.signal", "sys.excepthook", "concurrent.futures.ThreadPoolExecutor")

// classHooks queues what Python runs when a class statement runs: the
// metaclass's __new__/__init__/__prepare__, the bases' __init_subclass__,
// the __set_name__ of descriptors its body creates, and its decorators.
func (a *analyzer) classHooks(n *node) {
	if supers := n.ChildByFieldName("superclasses"); supers != nil {
		for i := uint(0); i < supers.NamedChildCount(); i++ {
			c := supers.NamedChild(i)
			switch c.Kind() {
			case "identifier":
				a.runMethod(a.text(c), "__init_subclass__")
			case "keyword_argument":
				if name, value := c.ChildByFieldName("name"), c.ChildByFieldName("value"); name != nil && value != nil && a.text(name) == "metaclass" && value.Kind() == "identifier" {
					for _, m := range []string{"__prepare__", "__new__", "__init__"} {
						a.runMethod(a.text(value), m)
					}
				}
			}
		}
	}
	body := n.ChildByFieldName("body")
	if body == nil {
		return
	}
	for i := uint(0); i < body.NamedChildCount(); i++ {
		st := body.NamedChild(i)
		if st.Kind() == "expression_statement" && st.NamedChildCount() == 1 {
			st = st.NamedChild(0)
		}
		if st.Kind() != "assignment" {
			continue
		}
		if right := st.ChildByFieldName("right"); right != nil && right.Kind() == "call" {
			if f := right.ChildByFieldName("function"); f != nil && f.Kind() == "identifier" {
				a.runMethod(a.text(f), "__set_name__")
			}
		}
	}
}

// collect records imports, module-level functions and simple bindings.
func (a *analyzer) collect(n *node) {
	switch n.Kind() {
	case "import_statement":
		for i := uint(0); i < n.NamedChildCount(); i++ {
			c := n.NamedChild(i)
			switch c.Kind() {
			case "dotted_name":
				mod := a.text(c)
				first, _, _ := strings.Cut(mod, ".")
				a.aliases[first] = first
			case "aliased_import":
				if name, alias := c.ChildByFieldName("name"), c.ChildByFieldName("alias"); name != nil && alias != nil {
					a.aliases[a.text(alias)] = a.text(name)
				}
			}
		}
		return
	case "import_from_statement":
		modNode := n.ChildByFieldName("module_name")
		if modNode == nil {
			return
		}
		mod := a.text(modNode)
		join := func(name string) string {
			if strings.HasSuffix(mod, ".") { // from . import x, from .. import y
				return mod + name
			}
			return mod + "." + name
		}
		for i := uint(0); i < n.NamedChildCount(); i++ {
			c := n.NamedChild(i)
			if c == modNode {
				continue
			}
			switch c.Kind() {
			case "dotted_name":
				a.aliases[a.text(c)] = join(a.text(c))
			case "aliased_import":
				if name, alias := c.ChildByFieldName("name"), c.ChildByFieldName("alias"); name != nil && alias != nil {
					a.aliases[a.text(alias)] = join(a.text(name))
				}
			case "wildcard_import":
				a.star[mod] = true
			}
		}
		return
	case "function_definition":
		if name := n.ChildByFieldName("name"); name != nil && isModuleLevel(n) {
			a.funcs[a.text(name)] = n
			a.qual[n] = a.text(name)
		}
	case "class_definition":
		if name := n.ChildByFieldName("name"); name != nil && isModuleLevel(n) {
			methods := map[string]*node{}
			if body := n.ChildByFieldName("body"); body != nil {
				for i := uint(0); i < body.NamedChildCount(); i++ {
					d := body.NamedChild(i)
					if d.Kind() == "decorated_definition" {
						d = d.ChildByFieldName("definition")
					}
					if d != nil && d.Kind() == "function_definition" {
						if mn := d.ChildByFieldName("name"); mn != nil {
							methods[a.text(mn)] = d
							a.qual[d] = a.text(name) + "." + a.text(mn)
						}
					}
				}
			}
			a.classes[a.text(name)] = methods
		}
	case "assignment":
		left, right := n.ChildByFieldName("left"), n.ChildByFieldName("right")
		if left != nil && right != nil && left.Kind() == "identifier" && right.Kind() == "call" {
			if f := right.ChildByFieldName("function"); f != nil && f.Kind() == "identifier" {
				a.instances[a.text(left)] = a.text(f) // a class's instance, if it names one
			}
		}
		if left != nil && right != nil && left.Kind() == "identifier" {
			name := a.text(left)
			if r := a.resolve(right); r != "" {
				a.aliases[name] = r
				if k := right.Kind(); k != "identifier" && k != "attribute" {
					a.computed[name] = true
				}
			}
			if s, ok := a.constString(right); ok {
				a.consts[name] = s
			}
			if t := a.taint(right); t != "" {
				a.tainted[name] = t
			} else if a.readsSecrets(right) {
				a.tainted[name] = "env"
			}
		}
	}
	for i := uint(0); i < n.NamedChildCount(); i++ {
		a.collect(n.NamedChild(i))
	}
}

// isModuleLevel reports whether a definition sits directly in the module
// (possibly under a decorator, an if or a try).
func isModuleLevel(n *node) bool {
	for p := n.Parent(); p != nil; p = p.Parent() {
		switch p.Kind() {
		case "module":
			return true
		case "function_definition", "class_definition", "lambda":
			return false
		}
	}
	return false
}

// block walks statements, knowing whether they run at import.
func (a *analyzer) block(n *node, atImport bool) {
	switch n.Kind() {
	case "function_definition":
		// Defaults, annotations and the return type run when the def does;
		// the body only when called.
		for _, field := range []string{"parameters", "return_type"} {
			if c := n.ChildByFieldName(field); c != nil {
				a.expr(c, atImport)
			}
		}
		if body := n.ChildByFieldName("body"); body != nil {
			a.block(body, false)
		}
		return
	case "if_statement":
		if cond := n.ChildByFieldName("condition"); cond != nil && a.isMainGuard(cond) {
			for i := uint(0); i < n.NamedChildCount(); i++ {
				c := n.NamedChild(i)
				switch {
				case c == cond:
				case c.Kind() == "block": // the guarded body: runs as a script, not on import
					a.block(c, false)
				default: // else / elif branches run on import
					a.block(c, atImport)
				}
			}
			return
		}
	case "call":
		a.call(n, atImport)
	case "lambda":
		return // its body runs only when called
	case "class_definition":
		if atImport {
			a.classHooks(n)
		}
	case "decorator":
		// A decorator is called with what it decorates when the def runs.
		if atImport && n.NamedChildCount() == 1 {
			a.runsCallable(n.NamedChild(0))
		}
	case "subscript":
		if v := n.ChildByFieldName("value"); atImport && v != nil && v.Kind() == "identifier" {
			a.runMethod(a.text(v), "__class_getitem__")
		}
	}
	for i := uint(0); i < n.NamedChildCount(); i++ {
		a.block(n.NamedChild(i), atImport)
	}
}

// expr walks an expression (same rules as statements).
func (a *analyzer) expr(n *node, atImport bool) { a.block(n, atImport) }

// isMainGuard reports `__name__ == "__main__"` (either way round), also as
// one side of an `and` (`if sys.platform != "win32" and __name__ ==
// "__main__":`, rich's): the body runs only when both hold.
func (a *analyzer) isMainGuard(cond *node) bool {
	switch cond.Kind() {
	case "parenthesized_expression":
		if cond.NamedChildCount() == 1 {
			return a.isMainGuard(cond.NamedChild(0))
		}
	case "boolean_operator":
		return cond.op == "and" && cond.NamedChildCount() == 2 && (a.isMainGuard(cond.NamedChild(0)) || a.isMainGuard(cond.NamedChild(1)))
	}
	if cond.Kind() != "comparison_operator" || cond.NamedChildCount() != 2 {
		return false
	}
	l, r := cond.NamedChild(0), cond.NamedChild(1)
	ls, lok := a.constString(l)
	rs, rok := a.constString(r)
	return (a.text(l) == "__name__" && rok && rs == "__main__") || (a.text(r) == "__name__" && lok && ls == "__main__")
}

var (
	execSinks = map[string]bool{"builtins.exec": true, "builtins.eval": true, "builtins.compile": true}
	loadSinks = map[string]bool{"pickle.loads": true, "pickle.load": true, "marshal.loads": true, "dill.loads": true,
		"cloudpickle.loads": true, "_pickle.loads": true,
		// Decoded bytes handed to native code: shellcode loaders.
		"ctypes.memmove": true, "ctypes.create_string_buffer": true, "ctypes.CDLL": true, "ctypes.cdll.LoadLibrary": true,
		"ctypes.windll.kernel32.VirtualAlloc": true, "ctypes.string_at": true}
	// dynamicSinks run source or bytecode handed to them.
	dynamicSinks = prefixSet("runpy.run_path", "runpy.run_module", "timeit.timeit", "timeit.repeat", "timeit.Timer",
		"code.InteractiveInterpreter", "code.InteractiveConsole", "code.interact", "code.compile_command",
		"pip.main", "pip._internal.main", "pip._internal.cli.main.main")
	spawnCalls = prefixSet("subprocess.Popen", "subprocess.run", "subprocess.call", "subprocess.check_call",
		"subprocess.check_output", "subprocess.getoutput", "subprocess.getstatusoutput", "os.system", "os.popen",
		"os.execl", "os.execle", "os.execlp", "os.execlpe", "os.execv", "os.execve", "os.execvp", "os.execvpe",
		"os.spawnl", "os.spawnle", "os.spawnlp", "os.spawnlpe", "os.spawnv", "os.spawnve", "os.spawnvp", "os.spawnvpe",
		"os.posix_spawn", "os.posix_spawnp", "pty.spawn", "commands.getoutput", "asyncio.create_subprocess_exec",
		"asyncio.create_subprocess_shell")
	netCalls = prefixSet("urllib.request.urlopen", "urllib.request.urlretrieve", "urllib.request.Request",
		"urllib.urlopen", "urllib.urlretrieve", "urllib2.urlopen", "requests.get", "requests.post", "requests.put",
		"requests.patch", "requests.request", "requests.Session", "httpx.get", "httpx.post", "httpx.put",
		"httpx.request", "httpx.Client", "httpx.AsyncClient", "http.client.HTTPConnection",
		"http.client.HTTPSConnection", "socket.socket", "socket.create_connection", "urllib3.PoolManager",
		"urllib3.request", "aiohttp.ClientSession", "ftplib.FTP", "smtplib.SMTP",
		// A lookup carries data out too: the name asked is the message.
		"socket.gethostbyname", "socket.gethostbyname_ex", "socket.getaddrinfo", "dns.resolver.resolve",
		"dns.resolver.query", "dns.resolver.Resolver")
	decoders = prefixSet("base64.b64decode", "base64.b32decode", "base64.b16decode", "base64.a85decode",
		"base64.b85decode", "base64.decodebytes", "base64.decodestring", "base64.urlsafe_b64decode",
		"base64.standard_b64decode", "zlib.decompress", "gzip.decompress", "bz2.decompress", "lzma.decompress",
		"marshal.loads", "codecs.decode", "binascii.unhexlify", "binascii.a2b_base64", "binascii.a2b_hex",
		"bytes.fromhex", "bytearray.fromhex", "builtins.bytes.fromhex", "builtins.bytearray.fromhex")
)

func prefixSet(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// call looks at one call expression.
func (a *analyzer) call(n *node, atImport bool) {
	fn := n.ChildByFieldName("function")
	args := n.ChildByFieldName("arguments")
	if fn == nil {
		return
	}
	callee := a.resolve(fn)
	if atImport {
		a.noteCall(callee)
	}
	if atImport && fn.Kind() == "attribute" {
		// A method of an instance of an imported class: Runner().start(),
		// or r.start() with r = Runner() at the top level.
		obj, attr := fn.ChildByFieldName("object"), fn.ChildByFieldName("attribute")
		if obj != nil && attr != nil {
			class := ""
			switch {
			case obj.Kind() == "call":
				class = a.resolve(obj.ChildByFieldName("function"))
			case obj.Kind() == "identifier" && a.instances[a.text(obj)] != "":
				class = a.aliases[a.instances[a.text(obj)]]
			}
			if class != "" {
				a.noteCall(class + "." + a.text(attr))
			}
		}
	}
	if atImport && (callee == "setuptools.setup" || callee == "distutils.core.setup") && args != nil {
		a.cmdclass(args)
	}
	if atImport && args != nil {
		// exec or eval handed on as a value (map(exec, ...), a callback):
		// whoever receives it runs code that is not in the file.
		for i := uint(0); i < args.NamedChildCount(); i++ {
			arg := args.NamedChild(i)
			if arg.Kind() == "keyword_argument" {
				arg = arg.ChildByFieldName("value")
			}
			if arg != nil && (arg.Kind() == "identifier" || arg.Kind() == "attribute" || arg.Kind() == "call" || arg.Kind() == "subscript") {
				if r := a.resolve(arg); r == "builtins.exec" || r == "builtins.eval" {
					a.execs = append(a.execs, site{line: line(n), what: DynamicCode + ": " + strings.TrimPrefix(r, "builtins.") + " handed to " + short(a.text(fn)) + ", which runs code that is not in the file", atImport: true})
				}
			}
		}
	}
	if atImport {
		a.runsCallable(fn) // a module function, a class, a method
		if handoffs[callee] && args != nil {
			for i := uint(0); i < args.NamedChildCount(); i++ {
				arg := args.NamedChild(i)
				if arg.Kind() == "keyword_argument" {
					arg = arg.ChildByFieldName("value")
				}
				if arg != nil {
					a.runsCallable(arg)
				}
			}
		}
	}
	computed := (fn.Kind() != "identifier" && !strings.HasPrefix(a.text(fn), "builtins.")) || a.computed[a.text(fn)]
	switch {
	case execSinks[callee]:
		if atImport {
			a.noteExecFile(args)
		}
		what := strings.TrimPrefix(callee, "builtins.")
		switch taint := a.argsTaint(args); {
		case taint == "fetched":
			a.execs = append(a.execs, site{line: line(n), what: DownloadExec + ": " + what + " of data fetched from the network", atImport: atImport})
		case taint == "decoded":
			a.execs = append(a.execs, site{line: line(n), what: ObfuscatedExec + ": " + what + " of decoded data", atImport: atImport})
		case computed:
			a.execs = append(a.execs, site{line: line(n), what: ObfuscatedExec + ": " + what + " reached through a computed name (" + short(a.text(fn)) + ")", atImport: atImport})
		case atImport && what != "compile": // compile alone runs nothing; its code object is exec'd or eval'd
			a.execs = append(a.execs, site{line: line(n), what: DynamicCode + ": " + what + " of code built at import: what runs is not in the file", atImport: true})
		}
	case dynamicSinks[callee]:
		if atImport {
			a.execs = append(a.execs, site{line: line(n), what: DynamicCode + ": " + callee + " runs code that is not in the file", atImport: true})
		}
	case loadSinks[callee]:
		if t := a.argsTaint(args); t != "" {
			why := "unpickling runs code"
			if strings.HasPrefix(callee, "ctypes.") {
				why = "native code from data"
			}
			a.execs = append(a.execs, site{line: line(n), what: ObfuscatedExec + ": " + callee + " of " + t + " data (" + why + ")", atImport: atImport})
		} else if atImport && !strings.HasPrefix(callee, "ctypes.") {
			a.execs = append(a.execs, site{line: line(n), what: DynamicCode + ": " + callee + " at import (unpickling runs code)", atImport: true})
		} else if atImport && nativeLoaders[callee] && a.loadsShippedFile(args) {
			a.execs = append(a.execs, site{line: line(n), what: NativeLoad + ": " + callee + " loads a native library shipped in the distribution", atImport: true})
		}
	case spawnCalls[callee]:
		a.spawns = append(a.spawns, site{line: line(n), what: callee, atImport: atImport, download: a.mentionsDownload(args)})
	case netCalls[callee] || strings.HasPrefix(callee, "requests.") || strings.HasPrefix(callee, "httpx."):
		a.nets = append(a.nets, site{line: line(n), what: callee, atImport: atImport})
	}
	// Secrets in the arguments, or in what a method is called on:
	// (Path.home() / ".aws" / "credentials").read_text().
	recv := fn.ChildByFieldName("object")
	if (args != nil && a.readsSecrets(args)) || (fn.Kind() == "attribute" && recv != nil && a.readsSecrets(recv)) {
		a.envs = append(a.envs, site{line: line(n), what: "reads the whole environment or credential files", atImport: atImport})
	}
}

// argsTaint reports whether any argument carries decoded or fetched data.
func (a *analyzer) argsTaint(args *node) string {
	if args == nil {
		return ""
	}
	return a.taint(args)
}

// taint finds decoded or fetched data in an expression: a decoder or a
// download call anywhere in it, or a name bound to one.
func (a *analyzer) taint(n *node) string {
	found := ""
	a.walk(n, func(c *node) bool {
		switch c.Kind() {
		case "call":
			callee := a.resolve(c.ChildByFieldName("function"))
			switch {
			case netCalls[callee] || strings.HasPrefix(callee, "requests.") || strings.HasPrefix(callee, "httpx."):
				found = "fetched"
				return false
			case decoders[callee] || a.isCharJoin(c):
				found = "decoded"
			}
		case "identifier":
			if t := a.tainted[a.text(c)]; t == "fetched" || t == "decoded" {
				if found == "" || t == "fetched" {
					found = t
				}
			}
		case "attribute":
			// .decode('rot13'), .decode('hex') on a literal: the codecs trick.
			if attr := c.ChildByFieldName("attribute"); attr != nil && a.text(attr) == "fromhex" && found == "" {
				found = "decoded"
			}
		}
		return true
	})
	return found
}

// isCharJoin spots ”.join(chr(x) for x in ...) and ”.join(map(chr, ...)).
func (a *analyzer) isCharJoin(c *node) bool {
	fn := c.ChildByFieldName("function")
	if fn == nil || fn.Kind() != "attribute" {
		return false
	}
	if attr := fn.ChildByFieldName("attribute"); attr == nil || a.text(attr) != "join" {
		return false
	}
	args := c.ChildByFieldName("arguments")
	return args != nil && strings.Contains(a.text(args), "chr")
}

var downloadWords = []string{"wget", "curl", "http://", "https://", "ftp://", "Invoke-WebRequest", "certutil"}

// mentionsDownload reports whether a spawn's arguments name a downloader
// or a URL (constant strings, after folding).
func (a *analyzer) mentionsDownload(args *node) bool {
	if args == nil {
		return false
	}
	hit := false
	a.walk(args, func(c *node) bool {
		if s, ok := a.constString(c); ok {
			for _, w := range downloadWords {
				if strings.Contains(s, w) {
					hit = true
				}
			}
			return false
		}
		return !hit
	})
	return hit
}

var secretWords = []string{".aws/credentials", ".aws/config", ".ssh/", "id_rsa", "id_ed25519", ".netrc", ".pypirc",
	".docker/config.json", ".kube/config", ".git-credentials", "169.254.169.254", "metadata.google.internal",
	"AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "PYPI_TOKEN", "NPM_TOKEN"}

// pathPieces joins with "/" the constant pieces of a path built with
// pathlib's / or os.path.join / joinpath ("" when it is not one).
func (a *analyzer) pathPieces(n *node) string {
	var parts []string
	var collect func(n *node) bool
	collect = func(n *node) bool {
		switch {
		case n.Kind() == "binary_operator" && n.op == "/" && n.NamedChildCount() == 2:
			return collect(n.NamedChild(0)) && collect(n.NamedChild(1))
		case n.Kind() == "parenthesized_expression" && n.NamedChildCount() == 1:
			return collect(n.NamedChild(0))
		}
		if s, ok := a.constString(n); ok {
			parts = append(parts, strings.Trim(s, "/"))
		}
		return true
	}
	switch {
	case n.Kind() == "binary_operator" && n.op == "/":
		collect(n)
	case n.Kind() == "call":
		switch fn := a.resolve(n.ChildByFieldName("function")); {
		case fn == "os.path.join", fn == "posixpath.join", fn == "pathlib.Path", fn == "pathlib.PurePath", strings.HasSuffix(fn, ".joinpath"):
			for _, arg := range argList(n) {
				collect(arg)
			}
		default:
			if f := n.ChildByFieldName("function"); f != nil && f.Kind() == "attribute" && strings.HasSuffix(a.text(f), ".joinpath") {
				for _, arg := range argList(n) {
					collect(arg)
				}
			}
		}
	}
	if len(parts) < 2 {
		return ""
	}
	return "/" + strings.Join(parts, "/")
}

// readsSecrets reports the whole environment (os.environ as a value, not
// one key of it) or a credential file or endpoint among a call's
// arguments.
func (a *analyzer) readsSecrets(args *node) bool {
	hit := false
	a.walk(args, func(c *node) bool {
		if hit {
			return false
		}
		switch c.Kind() {
		case "attribute", "identifier":
			if a.resolve(c) == "os.environ" && !isSubscripted(c) && !a.isMethodCalled(c, "get") {
				hit = true
			}
			if a.tainted[a.text(c)] == "env" {
				hit = true
			}
		case "string", "concatenated_string", "binary_operator", "call":
			// A path built in pieces: Path.home() / ".aws" / "credentials",
			// os.path.join(home, ".ssh", "id_rsa").
			if joined := a.pathPieces(c); joined != "" {
				for _, w := range secretWords {
					if strings.Contains(joined, w) {
						hit = true
						return false
					}
				}
			}
			if c.Kind() == "call" {
				return true
			}
			if s, ok := a.constString(c); ok {
				for _, w := range secretWords {
					if strings.Contains(s, w) {
						hit = true
					}
				}
				return false
			}
		}
		return true
	})
	return hit
}

func isSubscripted(n *node) bool {
	p := n.Parent()
	return p != nil && p.Kind() == "subscript" && p.ChildByFieldName("value") != nil && p.ChildByFieldName("value") == n
}

func (a *analyzer) isMethodCalled(n *node, method string) bool {
	p := n.Parent()
	if p == nil || p.Kind() != "attribute" {
		return false
	}
	attr := p.ChildByFieldName("attribute")
	return attr != nil && attr.Kind() == "identifier" && a.text(attr) == method
}

// walk visits n and its named descendants while fn says to go deeper.
func (a *analyzer) walk(n *node, fn func(*node) bool) {
	if n == nil || !fn(n) {
		return
	}
	for i := uint(0); i < n.NamedChildCount(); i++ {
		a.walk(n.NamedChild(i), fn)
	}
}

// report combines the sites into findings.
func (a *analyzer) report() []Finding {
	var out []Finding
	seen := map[string]bool{}
	add := func(kind string, s site, msg string) {
		key := fmt.Sprintf("%s|%d", kind, s.line)
		if seen[key] {
			return
		}
		seen[key] = true
		out = append(out, Finding{Kind: kind, Line: s.line, Message: msg, Code: a.context(s.line), AtImport: s.atImport})
	}
	for _, s := range a.execs {
		kind, msg, _ := strings.Cut(s.what, ": ")
		add(kind, s, msg+when(s.atImport))
	}
	netAtImport := firstAt(a.nets, true)
	for _, s := range a.spawns {
		switch {
		case s.atImport && (s.download || netAtImport != nil):
			how := "downloads and starts a process"
			if !s.download {
				how += fmt.Sprintf(" (%s at line %d)", netAtImport.what, netAtImport.line)
			}
			add(DownloadExec, s, how+" ("+s.what+")"+when(true))
		case s.atImport:
			add(Spawn, s, "starts a process ("+s.what+")"+when(true))
		}
	}
	if len(a.nets) > 0 && len(a.envs) > 0 {
		// One finding per file: where the secrets are read (at import, if
		// anywhere).
		s := firstAt(a.envs, true)
		if s == nil {
			s = &a.envs[0]
		}
		net := firstAt(a.nets, s.atImport)
		if net == nil {
			net = &a.nets[0]
		}
		add(EnvExfiltration, *s, fmt.Sprintf("%s and uses the network (%s at line %d)%s", s.what, net.what, net.line, when(s.atImport)))
	}
	return out
}

func firstAt(sites []site, atImport bool) *site {
	for i := range sites {
		if sites[i].atImport == atImport {
			return &sites[i]
		}
	}
	return nil
}

func when(atImport bool) string {
	if atImport {
		return " when the module is imported"
	}
	return " inside a function not called at import"
}

// contextLines is how many lines are shown before and after a finding.
const contextLines = 2

// context returns the lines around line n, numbered, the finding's marked.
func (a *analyzer) context(n int) string {
	var b strings.Builder
	for i := max(1, n-contextLines); i <= min(len(a.lines), n+contextLines); i++ {
		mark := " "
		if i == n {
			mark = ">"
		}
		l := a.lines[i-1]
		if len(l) > 200 {
			l = append(l[:200:200], "…"...)
		}
		fmt.Fprintf(&b, "%s%5d| %s\n", mark, i, bytes.TrimRight(l, "\r"))
	}
	return strings.TrimRight(b.String(), "\n")
}

func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
