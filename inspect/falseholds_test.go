package inspect

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"fmt"
	"testing"

	"airlock/internal/fakepypi"
)

// The five false holds the detection issue found on releases outside the
// benchmark list, each at its cause.

// ziglang: a RECORD over 1 MiB was read to 1 MiB, so every later member
// was "not listed in RECORD".
func TestLargeRecordIsReadWhole(t *testing.T) {
	extra := map[string]string{}
	for i := range 12000 {
		extra[fmt.Sprintf("ziglang/lib/std/some/deeply/nested/folder/file_%05d.zig", i)] = "const x = 1;\n"
	}
	fn, data := wheel(t, fakepypi.WheelSpec{Name: "ziglang", Version: "0.17.0", Extra: extra})
	rep, err := inspectBytes(t, fn, data)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := kinds(rep)["record-mismatch"]; ok {
		t.Errorf("a consistent RECORD of %d members: %+v", len(extra), f)
	}
}

// wandb: platform wheels that say Root-Is-Purelib: true carry their
// native code on purpose; only a -any wheel is pure.
func TestPlatformWheelSayingPurelibIsNotPure(t *testing.T) {
	for _, tt := range []struct {
		tag, severity string
	}{{"py3-none-manylinux_2_17_x86_64", Info}, {"py3-none-any", High}} {
		fn, data := wheel(t, fakepypi.WheelSpec{Name: "wandb", Version: "0.31.0", Tag: tt.tag, SaysPurelib: true, Extra: map[string]string{"wandb/bin/core": "\x7fELF\x02\x01\x01\x00rest"}})
		rep, err := inspectBytes(t, fn, data)
		if err != nil {
			t.Fatal(err)
		}
		if f := kinds(rep)["native-executable"]; f.Severity != tt.severity {
			t.Errorf("%s: %+v, want %s", fn, f, tt.severity)
		}
	}
}

// tenacity: a symlink from one file of the sdist to another writes nothing
// outside it; one that leaves the root still holds.
func TestLinkInsideTheSdistIsInformational(t *testing.T) {
	data := tarGz(t, []tar.Header{
		{Name: "tenacity-9.2.1/PKG-INFO", Typeflag: tar.TypeReg},
		{Name: "tenacity-9.2.1/doc/source/changelog.rst", Typeflag: tar.TypeSymlink, Linkname: "../../CHANGELOG.rst"},
		{Name: "tenacity-9.2.1/CHANGELOG.rst", Typeflag: tar.TypeReg},
		{Name: "tenacity-9.2.1/escape", Typeflag: tar.TypeSymlink, Linkname: "../../../etc/passwd"},
	}, map[string]string{"tenacity-9.2.1/PKG-INFO": "Name: tenacity\n", "tenacity-9.2.1/CHANGELOG.rst": "x\n"})
	rep, err := inspectBytes(t, "tenacity-9.2.1.tar.gz", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		want := Low
		if f.Path == "tenacity-9.2.1/escape" {
			want = High
		}
		if f.Kind == "link" && f.Severity != want {
			t.Errorf("%s: %s, want %s", f.Path, f.Severity, want)
		}
	}
}

// cmake: links in test fixtures two archives deep are not written by
// installing, and nested paths carry the version, which made every
// finding in them "new" in the next release.
func TestNestedFixturesAreStableAcrossReleases(t *testing.T) {
	inner := func(v string) string {
		var b bytes.Buffer
		tarb := tarGz(t, []tar.Header{
			{Name: "fixture-" + v + "/data", Typeflag: tar.TypeReg},
			{Name: "fixture-" + v + "/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/hosts"},
		}, map[string]string{"fixture-" + v + "/data": "x"})
		b.Write(tarb)
		return b.String()
	}
	report := func(v string) *Report {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, _ := zw.Create("cmake/data/fixture-" + v + ".tar.gz")
		w.Write([]byte(inner(v)))
		zw.Close()
		rep, err := inspectBytes(t, "cmake-"+v+".zip", buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	prev, cur := report("4.4.3"), report("4.4.4")
	for _, f := range cur.Findings {
		if f.Kind == "link" && f.Severity != Low {
			t.Errorf("a link inside a nested archive: %+v", f)
		}
	}
	if d := Compare("cmake", "4.4.4", cur, "4.4.3", prev); len(d.New) != 0 {
		t.Errorf("findings in versioned nested paths are new again: %+v", d.New)
	}
}

// opencv-python: a maintainer script in the sdist's vendored 3rdparty/
// tree is not an importable module, so it does not hold.
func TestThirdPartyTreeIsNotInstalled(t *testing.T) {
	data := tarGz(t, []tar.Header{
		{Name: "opencv-python-5.0.0.93/PKG-INFO", Typeflag: tar.TypeReg},
		{Name: "opencv-python-5.0.0.93/opencv/3rdparty/ffmpeg/download_ffmpeg.py", Typeflag: tar.TypeReg},
	}, map[string]string{"opencv-python-5.0.0.93/PKG-INFO": "Name: opencv-python\n",
		"opencv-python-5.0.0.93/opencv/3rdparty/ffmpeg/download_ffmpeg.py": "import urllib.request, subprocess\nurllib.request.urlretrieve('http://example.invalid/f', 'f')\nsubprocess.run(['sh', 'f'])\n"})
	rep, err := inspectBytes(t, "opencv-python-5.0.0.93.tar.gz", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Severity == High || f.Severity == Critical {
			t.Errorf("a vendored maintainer script holds: %+v", f)
		}
	}
}

// future 1.0.0's first wheel follows releases that shipped only an sdist:
// compared by installed path, the exec it always had at import is known.
func TestWheelComparedWithAnEarlierSdist(t *testing.T) {
	src := "exec(\"def raise_(tp, value=None, tb=None):\\n    raise tp\\n\")\n"
	fn, data := wheel(t, fakepypi.WheelSpec{Name: "future", Version: "1.0.0", Extra: map[string]string{"future/utils/__init__.py": src}})
	cur, err := inspectBytes(t, fn, data)
	if err != nil {
		t.Fatal(err)
	}
	sdist := tarGz(t, []tar.Header{
		{Name: "future-0.18.3/PKG-INFO", Typeflag: tar.TypeReg},
		{Name: "future-0.18.3/src/future/utils/__init__.py", Typeflag: tar.TypeReg},
	}, map[string]string{"future-0.18.3/PKG-INFO": "Name: future\n", "future-0.18.3/src/future/utils/__init__.py": src})
	prev, err := inspectBytes(t, "future-0.18.3.tar.gz", sdist)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := kinds(cur)["dynamic-code"]; !ok {
		t.Fatalf("the exec at import is not found: %+v", cur.Findings)
	}
	if d := Compare("future", "1.0.0", cur, "0.18.3", prev); len(d.New) != 0 || len(d.Known) == 0 {
		t.Errorf("new %+v, known %+v", d.New, d.Known)
	}
}

// pip's __pip-runner__.py cannot be named by an import statement: what
// its top level runs (runpy.run_module) runs only when it is executed.
func TestUnimportableModuleIsAScript(t *testing.T) {
	fn, data := wheel(t, fakepypi.WheelSpec{Name: "pip", Version: "26.3", Extra: map[string]string{
		"pip/__pip-runner__.py": "import runpy\nrunpy.run_module('pip', run_name='__main__', alter_sys=True)\n",
	}})
	rep, err := inspectBytes(t, fn, data)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Severity == High || f.Severity == Critical {
			t.Errorf("an unimportable script holds: %+v", f)
		}
	}
}
