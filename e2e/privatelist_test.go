package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

// TestPrivateIndexEmptyListKeepsNames: a name owned only because the
// private index's list showed it does not pass to the public index when
// that index comes back empty (restarted on an empty volume) or answers a
// 200 "maintenance" page: pip never gets the public 99.0, a security event
// is raised, and only `airlock names release` (audited) hands the name to
// the public index. Globs written acme_* and Acme.* own acme-tools and
// acme-lib.
func TestPrivateIndexEmptyListKeepsNames(t *testing.T) {
	requireVenv(t)
	pip := pipClient("pinned-pip", filepath.Join(venv, "bin", "python"))
	public := fakepypi.New()
	t.Cleanup(public.Close)
	for _, n := range []string{"learnedpkg", "acme-tools", "acme-lib"} {
		public.AddWheel(fakepypi.WheelSpec{Name: n, Version: "99.0"}, uploaded)
	}
	private := fakepypi.New()
	t.Cleanup(private.Close)
	now := time.Now()
	learned := private.AddWheel(fakepypi.WheelSpec{Name: "learnedpkg", Version: "1.0"}, now)
	private.AddWheel(fakepypi.WheelSpec{Name: "acme_tools", Version: "1.0"}, now)
	private.AddWheel(fakepypi.WheelSpec{Name: "Acme.Lib", Version: "1.0"}, now)
	hookURL, hooks := webhookRecorder(t)

	dir := t.TempDir()
	const token = "private-list-token-0123456789abcdef"
	cfg := filepath.Join(dir, "airlock.yaml")
	os.WriteFile(cfg, []byte(`indexes:
  - name: internal
    url: `+private.Index.URL+`
    file_hosts: [`+private.FileHost()+`]
    projects: ["acme_*", "Acme.*"]
    list_refresh: 1s
notify:
  webhooks: [`+hookURL+`]
`), 0o600)
	p, err := launchArgs(t, filepath.Join(dir, "data"), []string{"--config", cfg},
		append(airlockEnv(public, "AIRLOCK_SIGNALS_ENABLED=false", "AIRLOCK_ADMIN_TOKEN="+token, "AIRLOCK_INDEX_TTL=1ms"), backendEnv(t, filepath.Join(dir, "data"))...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	installs := func(stage, req, want string) {
		t.Helper()
		target := t.TempDir()
		out, err := run(t, pip.install(p.URL+"/simple/", target, req))
		if want == "" {
			if err == nil && strings.Contains(out, "99.0") {
				t.Errorf("%s: %s installed the public upload:\n%s", stage, req, out)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s: %s: %v\n%s", stage, req, err, out)
		}
		assertInstalled(t, target, map[string]string{strings.ReplaceAll(req, "-", "_"): want})
	}
	installs("globs", "acme-tools", "1.0")
	installs("globs", "acme-lib", "1.0")
	installs("learned", "learnedpkg", "1.0")
	waitEvent := func(kind string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			for _, h := range hooks() {
				if h["event"] == kind {
					return
				}
			}
		}
		t.Fatalf("no %s webhook; got %v\n%s", kind, hooks(), p.Logs())
	}

	// The private index restarts on an empty volume, then answers a 200
	// maintenance page: the learned name stays private.
	private.Remove(learned)
	waitEvent("private_index_names_dropped")
	installs("the name dropped from the list", "learnedpkg", "")
	private.SetFault("/simple/", fakepypi.Fault{Garbage: true})
	time.Sleep(1500 * time.Millisecond) // at least one list refresh
	installs("a maintenance page", "learnedpkg", "")
	private.SetFault("/simple/", fakepypi.Fault{})

	// The operator releases it: audited, and the public index answers.
	env := append(os.Environ(), "AIRLOCK_ADMIN_TOKEN="+token)
	list := exec.Command(airlockBin, "names", "list", "--server", p.URL, "--json")
	list.Env = env
	out, err := list.CombinedOutput()
	var owned struct {
		Indexes map[string][]string `json:"indexes"`
	}
	if err != nil || json.Unmarshal(out, &owned) != nil || !strings.Contains(strings.Join(owned.Indexes["internal"], ","), "learnedpkg") {
		t.Fatalf("airlock names list: %v\n%s", err, out)
	}
	rel := exec.Command(airlockBin, "names", "release", "--server", p.URL, "--index", "internal", "--reason", "moved to PyPI", "learnedpkg")
	rel.Env = env
	if out, err := rel.CombinedOutput(); err != nil || !strings.Contains(string(out), "released learnedpkg") {
		t.Fatalf("airlock names release: %v\n%s", err, out)
	}
	installs("released", "learnedpkg", "99.0")
	_, raw := adminCall(t, p.URL, token, http.MethodGet, "/audit?limit=20", "")
	var audit struct {
		Events []struct{ Project, To, Reason, Actor string }
	}
	json.Unmarshal(raw, &audit)
	found := false
	for _, e := range audit.Events {
		found = found || (e.Project == "learnedpkg" && e.To == "released" && e.Reason == "moved to PyPI" && strings.HasPrefix(e.Actor, "admin"))
	}
	if !found {
		t.Errorf("the release is not in the audit log: %+v", audit)
	}
	waitEvent("private_name_released")
}
