package layout

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// maxImports is how many of the project's packages one package may
// import: a room with more doors than that is doing another room's job.
const maxImports = 8

type pkg struct {
	ImportPath string
	Dir        string
	Doc        string
	Imports    []string
	Name       string
}

func packages(t *testing.T) (string, []pkg) {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "../../...")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	mod, err := exec.Command("go", "list", "-m").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(mod)), pkgs
}

// No package imports more than maxImports of the project's packages, and
// every package says in its doc comment what it owns.
func TestPackagesStaySmall(t *testing.T) {
	mod, pkgs := packages(t)
	if len(pkgs) < 20 {
		t.Fatalf("only %d packages listed", len(pkgs))
	}
	for _, p := range pkgs {
		var own []string
		for _, imp := range p.Imports {
			if imp == mod || strings.HasPrefix(imp, mod+"/") {
				own = append(own, strings.TrimPrefix(imp, mod+"/"))
			}
		}
		if len(own) > maxImports {
			t.Errorf("%s imports %d of the project's packages (at most %d): %s", p.ImportPath, len(own), maxImports, strings.Join(own, " "))
		}
		if p.Doc == "" && !strings.HasSuffix(p.ImportPath, "/e2e") {
			t.Errorf("%s (%s) has no package doc comment saying what it owns", p.ImportPath, filepath.Base(p.Dir))
		}
	}
}

// The architecture map names every top-level package of the house.
func TestArchitectureNamesEveryPackage(t *testing.T) {
	mod, pkgs := packages(t)
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(p.ImportPath, mod+"/")
		if strings.HasPrefix(rel, "internal/") || strings.Contains(rel, "/internal/") || strings.HasSuffix(rel, "test") || rel == "e2e" {
			continue // tools, test helpers and command internals
		}
		name := rel
		if !bytes.Contains(doc, []byte(name)) {
			t.Errorf("docs/architecture.md does not name %s", name)
		}
	}
}
