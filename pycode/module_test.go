package pycode

import (
	"slices"
	"strings"
	"testing"
)

func TestModuleEntriesAndCalls(t *testing.T) {
	boot := `import subprocess

def _spawn(cmd):
    subprocess.Popen(cmd)

def init():
    _spawn(["/bin/sh", "-c", "id"])

class Runner:
    def __init__(self):
        pass
    def start(self):
        init()

def harmless():
    return 1
`
	m := AnalyzeModule([]byte(boot), "pkg", false)
	if len(m.Findings) != 0 {
		t.Fatalf("nothing runs at import of _boot alone: %v", kinds(m.Findings))
	}
	for _, name := range []string{"init", "_spawn", "Runner.start"} {
		e := m.Entries[name]
		if e == nil || kinds(e.Findings) != "spawn@4" {
			t.Errorf("entry %s: %+v", name, e)
		}
	}
	for _, name := range []string{"harmless", "Runner", "Runner.__init__"} {
		if e := m.Entries[name]; e != nil {
			t.Errorf("%s reaches nothing, got %+v", name, e)
		}
	}

	// The caller: nothing dangerous in its words, so only a whole parse
	// sees its calls; relative names stay relative (the caller resolves them).
	init := `from ._boot import init as _i
from . import _boot
from .impl import *
import pkg.other as other

def setup():
    _i()

setup()
_boot.Runner().start()
other.go()

def later():
    other.later()
`
	if m := AnalyzeModule([]byte(init), "pkg", false); len(m.Calls) != 0 || len(m.Entries) != 0 {
		t.Fatalf("not parsed unless whole: %+v", m)
	}
	m = AnalyzeModule([]byte(init), "pkg", true)
	want := []string{"._boot.Runner", "._boot.Runner.start", "._boot.init", "pkg.other.go"}
	if !slices.Equal(m.Calls, want) {
		t.Errorf("calls at import: %v, want %v", m.Calls, want)
	}
	if e := m.Entries["later"]; e == nil || !slices.Equal(e.Calls, []string{"pkg.other.later"}) {
		t.Errorf("later: %+v", e)
	}
	if m.Aliases["_i"] != "._boot.init" || m.Aliases["_boot"] != "._boot" || m.Aliases["other"] != "pkg.other" {
		t.Errorf("aliases: %v", m.Aliases)
	}
	if !slices.Equal(m.Stars, []string{".impl"}) {
		t.Errorf("stars: %v", m.Stars)
	}
	// Other packages' calls are not the package's own.
	if m := AnalyzeModule([]byte("import os\nos.getcwd()\nimport otherpkg\notherpkg.f()\n"), "pkg", true); len(m.Calls) != 0 {
		t.Errorf("foreign calls: %v", m.Calls)
	}
	if strings.Contains(strings.Join(m.Calls, " "), "later") {
		t.Error("a call inside a function nobody runs is not at import")
	}
}

// A name defined twice stands for both definitions, the same on every run
// (sympy's `@dispatch def _(…)` overloads made the entry depend on map
// order).
func TestEntryOfANameDefinedTwice(t *testing.T) {
	src := []byte("from .a import one\nfrom .b import two\nimport os\n\ndef _(x):\n    one()\n\ndef _(x):\n    two()\n    os.system('id')\n")
	for i := 0; i < 20; i++ {
		m := AnalyzeModule(src, "pkg", true)
		e := m.Entries["_"]
		if e == nil || !slices.Equal(e.Calls, []string{".a.one", ".b.two"}) || kinds(e.Findings) != "spawn@10" {
			t.Fatalf("run %d: %+v", i, e)
		}
	}
}
