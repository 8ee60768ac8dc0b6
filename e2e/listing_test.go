package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

// coolingProject is a project with four releases inside its cooldown: 1.1,
// 1.2 and 1.3 are 9-12 days old, past the 7-day cooldown but inside the
// 14-day risk-adaptive one its low score earns (one maintainer, young,
// releasing every few days, few downloads, no repository: every source
// answered, so the score is confident); 1.4 is an hour old. Only 1.0 may be
// installed.
func coolingProject(fake *fakepypi.Server) {
	now := time.Now()
	fake.AddWheel(fakepypi.WheelSpec{Name: "coolpkg", Version: "1.0"}, now.Add(-60*24*time.Hour))
	for i, days := range []int{12, 10, 9} {
		fake.AddWheel(fakepypi.WheelSpec{Name: "coolpkg", Version: "1." + string(rune('1'+i))}, now.Add(-time.Duration(days)*24*time.Hour))
	}
	fake.AddWheel(fakepypi.WheelSpec{Name: "coolpkg", Version: "1.4"}, now.Add(-time.Hour))
	fake.SetMeta("coolpkg", fakepypi.ProjectMeta{Maintainers: []string{"solo"}})
	fake.SetDownloads("coolpkg", 1, 5, 20)
}

// TestUnpinnedInstallsGetNewestAllowedRelease reproduces the boto3 failure:
// pages marked only the newest release held, so every unpinned install
// picked the next one and failed on a 403 for its (risk-adaptive)
// cooldown. Every release a page lists as installable must now be served:
// machine pip, the newest pip, `uv pip install` and `uv lock` all get 1.0,
// `pip index versions` reports 1.0 as the latest, and the lock file records
// no held file.
func TestUnpinnedInstallsGetNewestAllowedRelease(t *testing.T) {
	cls := clients(t)
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	coolingProject(fake)
	a := startAirlock(t, t.TempDir(), airlockEnv(fake)...)
	index := a.URL + "/simple/"

	for _, c := range cls {
		t.Run(c.name, func(t *testing.T) {
			target := t.TempDir()
			out, err := run(t, c.install(index, target, "coolpkg"))
			if err != nil {
				t.Fatalf("unpinned install failed:\n%s", out)
			}
			assertInstalled(t, target, map[string]string{"coolpkg": "1.0"})
			if showsStatus(out, 403) {
				t.Errorf("a listed file was refused:\n%s", out)
			}
		})
	}

	t.Run("pip-index-versions", func(t *testing.T) {
		cmd := exec.Command(filepath.Join(venv, "bin", "python"), "-m", "pip", "index", "versions", "--index-url", index, "coolpkg")
		cmd.Env = cleanEnv()
		out, err := run(t, cmd)
		if err != nil || !strings.Contains(out, "coolpkg (1.0)") {
			t.Errorf("pip index versions should report 1.0 as the latest: %v\n%s", err, out)
		}
	})

	t.Run("uv-lock", func(t *testing.T) {
		dir := t.TempDir()
		pyproject := "[project]\nname = \"app\"\nversion = \"0.1\"\nrequires-python = \">=3.8\"\ndependencies = [\"coolpkg\"]\n"
		if err := os.WriteFile(filepath.Join(dir, "pyproject.toml"), []byte(pyproject), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(filepath.Join(venv, "bin", "uv"), "lock", "--python", filepath.Join(venv, "bin", "python"))
		cmd.Dir = dir
		cmd.Env = append(cleanEnv(), "UV_DEFAULT_INDEX="+index)
		out, err := run(t, cmd)
		if err != nil {
			t.Fatalf("uv lock: %v\n%s", err, out)
		}
		lock, err := os.ReadFile(filepath.Join(dir, "uv.lock"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(lock), "coolpkg-1.0-py3-none-any.whl") {
			t.Errorf("lock file does not pin coolpkg 1.0:\n%s", lock)
		}
		for _, held := range []string{"1.1", "1.2", "1.3", "1.4"} {
			if strings.Contains(string(lock), "coolpkg-"+held+"-") {
				t.Errorf("lock file records held release %s:\n%s", held, lock)
			}
		}
	})
	// Each held release says why on the page: the risk-adaptive cooldown.
	if logs := a.Logs(); strings.Contains(logs, `"status":403`) {
		t.Errorf("Airlock refused a file some client picked from a page:\n%s", logs)
	}
}
