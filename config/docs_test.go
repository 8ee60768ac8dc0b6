package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every YAML example in the README and docs/ that is a configuration (its
// first key is one of the configuration's) loads as it is written, with
// the strict reader: a documented key that does not exist, or a value of
// the wrong shape, fails here.
func TestDocumentedConfigExamplesLoad(t *testing.T) {
	files, _ := filepath.Glob("../docs/*.md")
	files = append(files, "../README.md")
	block := regexp.MustCompile("(?s)```yaml\n(.*?)```")
	top := map[string]bool{}
	for _, k := range []string{"listen", "tls", "data_dir", "upstream", "index", "policy", "sigstore", "admin", "server", "memory_limit",
		"store", "trusted_proxies", "notify", "signals", "inspect", "background", "feeds", "downloads", "indexes", "auth", "database", "blobs", "log"} {
		top[k] = true
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range block.FindAllSubmatch(b, -1) {
			text := string(m[1])
			first := ""
			for _, line := range strings.Split(text, "\n") {
				if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, " ") {
					first, _, _ = strings.Cut(line, ":")
					break
				}
			}
			if !top[first] {
				continue
			}
			n++
			path := filepath.Join(t.TempDir(), "config.yaml")
			os.WriteFile(path, []byte(text), 0o644)
			if _, err := Load(path, func(string) string { return "" }); err != nil {
				t.Errorf("%s: the example starting %q does not load: %v", filepath.Base(f), firstLine(text), err)
			}
		}
	}
	if n < 3 {
		t.Errorf("found %d configuration examples; the reader of the docs is broken", n)
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }
