package pycode

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"airlock/internal/malcorpus"
)

// dangerous reports whether the whole analysis of src finds anything: a
// finding, or a function that makes one when something runs it.
func dangerous(src string) bool {
	m := AnalyzeModule([]byte(src), "pkg", true)
	if len(m.Findings) > 0 {
		return true
	}
	for _, e := range m.Entries {
		if len(e.Findings) > 0 {
			return true
		}
	}
	return false
}

// TestScreenPassesEveryWayToASink: each sink the analysis knows, reached
// every way a name resolves — spelled, aliased, star-imported, computed
// through getattr, vars, __dict__, sys.modules, __import__ and
// import_module, with the name folded from pieces, and written in
// full-width letters — is parsed whenever the whole analysis finds it.
func TestScreenPassesEveryWayToASink(t *testing.T) {
	var names []string
	for _, table := range []map[string]bool{execSinks, loadSinks, dynamicSinks, spawnCalls, netCalls, nativeLoaders} {
		for n := range table {
			names = append(names, n)
		}
	}
	checked := 0
	for _, name := range names {
		mod, attr := name[:strings.LastIndexByte(name, '.')], name[strings.LastIndexByte(name, '.')+1:]
		root, _, _ := strings.Cut(mod, ".")
		half := len(attr) / 2
		pieces := fmt.Sprintf("'%s' + '%s'", attr[:half], attr[half:])
		modPieces := fmt.Sprintf("'%s' + '%s'", mod[:len(mod)/2], mod[len(mod)/2:])
		call := "('echo synthetic', b'x', 'http://example.invalid')"
		var shapes []string
		if mod == "builtins" {
			shapes = []string{
				attr + "(\"print('synthetic')\")",
				"import builtins\ngetattr(builtins, " + pieces + ")('x = 1')",
				"globals()['__builtins__'][" + pieces + "]('x = 1')",
				fullWidth(attr) + "(\"print('synthetic')\")",
				"import base64\n" + attr + "(base64.b64decode('cHJpbnQoMSk='))",
			}
		} else {
			shapes = []string{
				"import " + mod + "\n" + name + call,
				"import " + mod + " as m_\nm_" + strings.TrimPrefix(name, root) + call,
				"from " + mod + " import " + attr + " as f_\nf_" + call,
				"from " + mod + " import *\n" + attr + call,
				"import " + mod + "\ngetattr(" + mod + ", " + pieces + ")" + call,
				"import " + mod + "\ngetattr(" + mod + ", '" + strings.ToUpper(attr) + "'.lower())" + call,
				"import " + mod + "\nvars(" + mod + ")[" + pieces + "]" + call,
				"import " + mod + "\n" + mod + ".__dict__[" + pieces + "]" + call,
				"import sys, " + mod + "\ngetattr(sys.modules['" + mod + "'], " + pieces + ")" + call,
				"import sys\nsys.modules[" + modPieces + "]." + attr + call,
				"getattr(__import__('" + mod + "'), " + pieces + ")" + call,
				"__import__(" + modPieces + ", fromlist=['x'])." + attr + call,
				"import importlib\ngetattr(importlib.import_module('" + mod + "'), " + pieces + ")" + call,
				"import " + mod + "\n" + mod + "." + fullWidth(attr) + call,
				// In a function something else runs: an entry, not a finding.
				"import " + mod + "\ndef go():\n    getattr(" + mod + ", " + pieces + ")" + call,
			}
		}
		for _, src := range shapes {
			src += "\n"
			if !dangerous(src) {
				continue // the analysis does not follow this one either
			}
			checked++
			if !mayFind([]byte(src)) {
				t.Errorf("screened out, though the analysis finds it:\n%s", src)
			}
		}
	}
	if checked < 300 {
		t.Fatalf("only %d shapes make a finding: the generator no longer reaches the sinks", checked)
	}
}

// fullWidth spells ASCII letters as their full-width forms, which Python
// reads as the same identifier (NFKC).
func fullWidth(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			r += 0xFF21 - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// TestScreenIsSoundOnRealCode: over the standard library of this machine's
// Python and every malicious shape, a module the screen lets go unparsed
// has nothing the whole analysis would find, and the screen does let some
// go (or it would not save a parse).
func TestScreenIsSoundOnRealCode(t *testing.T) {
	var sources []string
	for _, s := range malcorpus.Shapes {
		for p, body := range s.Files {
			if strings.HasSuffix(p, ".py") {
				sources = append(sources, body)
			}
		}
	}
	out, err := exec.Command("python3", "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])").Output()
	if err != nil {
		t.Fatalf("finding the standard library: %v", err)
	}
	lib := strings.TrimSpace(string(out))
	err = filepath.WalkDir(lib, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() && (d.Name() == "site-packages" || d.Name() == "test") {
			return fs.SkipDir
		}
		if strings.HasSuffix(p, ".py") {
			b, err := os.ReadFile(p)
			if err == nil && len(b) < 1<<20 {
				sources = append(sources, string(b))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) < 300 {
		t.Fatalf("only %d sources in %s", len(sources), lib)
	}
	skipped := 0
	for _, src := range sources {
		if mayFind([]byte(src)) {
			continue
		}
		skipped++
		if dangerous(src) {
			t.Errorf("screened out, though the analysis finds something in:\n%.400s", src)
		}
	}
	t.Logf("%d sources, %d not parsed", len(sources), skipped)
	if skipped == 0 {
		t.Error("the screen parses everything")
	}
}
