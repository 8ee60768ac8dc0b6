package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"airlock/internal/fakepypi"
)

// TestProjectDeletedUpstreamStopsServing: PyPI removes a malicious project
// whole, so its page answers 404 (or 410). What lock files and direct
// references fetch, /files/<project>/<file>, is then refused as removed by
// the upstream, by pip and uv alike, also after a restart while the
// upstream is down; a project whose upstream is merely unavailable keeps
// being served from the store; a project listed again is served again.
func TestProjectDeletedUpstreamStopsServing(t *testing.T) {
	requireVenv(t)
	pip := pipClient("pinned-pip", filepath.Join(venv, "bin", "python"))
	uv := uvClient()
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	rho := fake.AddWheel(fakepypi.WheelSpec{Name: "rho", Version: "1.0"}, uploaded)
	tau := fake.AddWheel(fakepypi.WheelSpec{Name: "tau", Version: "1.0"}, uploaded)
	dataDir := t.TempDir()
	env := airlockEnv(fake, "AIRLOCK_SIGNALS_ENABLED=false", "AIRLOCK_INDEX_TTL=1ms")
	a := startAirlock(t, dataDir, env...)
	for _, req := range []string{"rho==1.0", "tau==1.0"} {
		if out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), req)); err != nil {
			t.Fatalf("%s: %v\n%s", req, err, out)
		}
	}
	fake.Remove(rho)                                                                     // the whole project: its page answers 404
	fake.SetFault("/simple/tau/", fakepypi.Fault{Status: http.StatusServiceUnavailable}) // only unavailable
	refused := func(stage, base string) {
		t.Helper()
		if status, body, _ := fetch(t, http.MethodGet, base+"/files/rho/"+rho.Filename, nil); status != http.StatusForbidden || !strings.Contains(string(body), "removed by the upstream") {
			t.Errorf("%s: rho's file: %d %.200q", stage, status, body)
		}
		req := filepath.Join(t.TempDir(), "requirements.txt")
		os.WriteFile(req, []byte("rho @ "+base+"/files/rho/"+rho.Filename+" --hash=sha256:"+rho.SHA256()+"\n"), 0o644)
		if out, err := run(t, pip.install(base+"/simple/", t.TempDir(), "--require-hashes", "--no-deps", "-r", req)); err == nil || !showsStatus(out, http.StatusForbidden) {
			t.Errorf("%s: pip installed a file of a deleted project: %v\n%s", stage, err, out)
		}
		if out, err := run(t, uv.install(base+"/simple/", t.TempDir(), "rho @ "+base+"/files/rho/"+rho.Filename)); err == nil || !showsStatus(out, http.StatusForbidden) {
			t.Errorf("%s: uv installed a file of a deleted project: %v\n%s", stage, err, out)
		}
		if status, _, _ := fetch(t, http.MethodGet, base+"/files/tau/"+tau.Filename, nil); status != http.StatusOK {
			t.Errorf("%s: a project whose upstream is only unavailable: %d", stage, status)
		}
	}
	refused("deleted upstream", a.URL)

	// Listed again: served again; then deleted again.
	fake.SetFault("/simple/tau/", fakepypi.Fault{})
	fake.Add(rho)
	if status, body, _ := fetch(t, http.MethodGet, a.URL+"/files/rho/"+rho.Filename, nil); status != http.StatusOK {
		t.Errorf("listed again: %d %.200q", status, body)
	}
	fake.Remove(rho)
	if status, _, _ := fetch(t, http.MethodGet, a.URL+"/files/rho/"+rho.Filename, nil); status != http.StatusForbidden {
		t.Errorf("deleted again: %d", status)
	}

	// A restart while the whole upstream is down: no stale page lists the
	// deleted project's files again.
	a.stop()
	fake.SetFault("*", fakepypi.Fault{Status: http.StatusServiceUnavailable})
	a = startAirlock(t, dataDir, env...)
	if status, body, _ := fetch(t, http.MethodGet, a.URL+"/files/rho/"+rho.Filename, nil); status == http.StatusOK {
		t.Errorf("after a restart with the upstream down: rho's file served (%d bytes)", len(body))
	}
	if status, _, _ := fetch(t, http.MethodGet, a.URL+"/files/tau/"+tau.Filename, nil); status != http.StatusOK {
		t.Errorf("after a restart with the upstream down: tau's file: %d", status)
	}
}
