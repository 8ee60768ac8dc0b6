package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"airlock/internal/fakepypi"
)

// fileRequests counts the access log's requests for a file path, by status.
func fileRequests(logs, path string) map[int]int {
	out := map[int]int{}
	for _, line := range strings.Split(logs, "\n") {
		var e struct {
			Message string `json:"message"`
			Path    string `json:"path"`
			Status  int    `json:"status"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Message == "request" && e.Path == path {
			out[e.Status]++
		}
	}
	return out
}

// TestWarmClientCacheAsksAgain: pip and uv with warm caches (as a CI
// runner restores ~/.cache/pip) revalidate every file with Airlock: an
// unchanged file is a 304, and a file rejected after it was cached is
// refused, pinned and hash-pinned, instead of installing from the cache
// with no request reaching Airlock.
func TestWarmClientCacheAsksAgain(t *testing.T) {
	requireVenv(t)
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	kappa := fake.AddWheel(fakepypi.WheelSpec{Name: "kappa", Version: "1.0"}, uploaded)
	const token = "client-cache-token-0123456789abcdef"
	a := startAirlock(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_ADMIN_TOKEN="+token, "AIRLOCK_SIGNALS_ENABLED=false")...)
	filePath := "/files/kappa/" + kappa.Filename

	pipCache, uvCache := t.TempDir(), t.TempDir()
	python := filepath.Join(venv, "bin", "python")
	pipWithCache := func(args ...string) *exec.Cmd {
		// pip caches over HTTPS or from a trusted host (a mirror on http).
		cmd := exec.Command(python, append([]string{"-m", "pip", "install", "--cache-dir", pipCache, "--target", t.TempDir(),
			"--index-url", a.URL + "/simple/", "--trusted-host", strings.TrimPrefix(a.URL, "http://")}, args...)...)
		cmd.Env = cleanEnv()
		return cmd
	}
	uvWithCache := func(args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(venv, "bin", "uv"), append([]string{"pip", "install", "--target", t.TempDir(), "--python", python}, args...)...)
		env := []string{}
		for _, e := range cleanEnv() {
			if e != "UV_NO_CACHE=1" {
				env = append(env, e)
			}
		}
		cmd.Env = append(env, "UV_DEFAULT_INDEX="+a.URL+"/simple/", "UV_CACHE_DIR="+uvCache)
		return cmd
	}
	// What a lock file or a direct reference fetches: the file's URL, no
	// page in between.
	ref := "kappa @ " + a.URL + filePath
	req := filepath.Join(t.TempDir(), "requirements.txt")
	os.WriteFile(req, []byte(ref+" --hash=sha256:"+kappa.SHA256()+"\n"), 0o644)

	for _, cmd := range []*exec.Cmd{pipWithCache(ref), uvWithCache(ref)} {
		if out, err := run(t, cmd); err != nil {
			t.Fatalf("cold install: %v\n%s", err, out)
		}
	}
	for name, cmd := range map[string]*exec.Cmd{"pip": pipWithCache(ref), "pip hash-pinned": pipWithCache("--require-hashes", "--no-deps", "-r", req), "uv": uvWithCache(ref)} {
		before := fileRequests(a.Logs(), filePath)
		if out, err := run(t, cmd); err != nil {
			t.Fatalf("%s warm install: %v\n%s", name, err, out)
		}
		after := fileRequests(a.Logs(), filePath)
		t.Logf("%s: %v -> %v", name, before, after)
		if after[http.StatusNotModified] <= before[http.StatusNotModified] {
			t.Errorf("%s with a warm cache did not revalidate the file: requests before %v, after %v", name, before, after)
		}
	}

	// Rejected after the clients cached it.
	if status, out := adminCall(t, a.URL, token, http.MethodPost, "/quarantine/"+kappa.SHA256()[:12]+"/reject", `{"reason":"payload found"}`); status != http.StatusOK {
		t.Fatalf("reject: %d %s", status, out)
	}
	for name, cmd := range map[string]*exec.Cmd{
		"pip": pipWithCache(ref), "pip hash-pinned": pipWithCache("--require-hashes", "--no-deps", "-r", req), "uv": uvWithCache(ref),
	} {
		before := fileRequests(a.Logs(), filePath)[http.StatusForbidden]
		if out, err := run(t, cmd); err == nil || !showsStatus(out, http.StatusForbidden) {
			t.Errorf("%s installed a rejected file from its cache, or was not refused by Airlock: %v\n%s", name, err, out)
		}
		if fileRequests(a.Logs(), filePath)[http.StatusForbidden] == before {
			t.Errorf("%s: no 403 for the rejected file", name)
		}
	}
}
