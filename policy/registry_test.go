package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every check of the registry is documented for operators, by name.
func TestEveryCheckIsDocumented(t *testing.T) {
	var docs strings.Builder
	files, _ := filepath.Glob("../docs/*.md")
	for _, f := range append(files, "../README.md") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs.Write(b)
	}
	for _, c := range Registry {
		if !strings.Contains(docs.String(), "`"+c.Name+"`") {
			t.Errorf("check %s is not documented (README.md or docs/)", c.Name)
		}
		if c.Doc == "" || c.Family == "" {
			t.Errorf("check %s has no description or family", c.Name)
		}
	}
}
