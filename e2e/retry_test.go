package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

// TestTransientErrorIsRetried: one upstream failure on an earlier
// release's provenance holds the newest file with a short reason (no host
// or port) and a retry time; once the upstream answers, the retry replaces
// it with the real finding, with no client asking for the file. With
// attestations not required, the failure holds nothing.
func TestTransientErrorIsRetried(t *testing.T) {
	requireVenv(t)
	pip := pipClient("pinned-pip", filepath.Join(venv, "bin", "python"))
	fake, attested := abi3infoUpstream(t)
	prov := "/integrity/abi3info/2024.10.3/" + attested.Filename + "/provenance"
	fake.SetFault(prov, fakepypi.Fault{Status: 500})
	fast := []string{"AIRLOCK_BACKGROUND_RETRY=1s", "AIRLOCK_BACKGROUND_RETRY_MAX=2s", "AIRLOCK_POLICY_SWEEP_INTERVAL=1s", "AIRLOCK_INDEX_TTL=1s"}

	never := startAirlock(t, t.TempDir(), airlockEnv(fake, append(fast, "AIRLOCK_POLICY_ATTESTATIONS_REQUIRE=never")...)...)
	if out, err := run(t, pip.install(never.URL+"/simple/", t.TempDir(), "abi3info==2024.10.8")); err != nil {
		t.Errorf("require: never, earlier provenance failing: %v\n%s", err, out)
	}

	a := startAirlock(t, t.TempDir(), airlockEnv(fake, fast...)...)
	out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), "abi3info==2024.10.8"))
	if err == nil || !strings.Contains(out, "could not be checked yet: earlier attestations error; retrying at") {
		t.Fatalf("transient error (err %v):\n%s", err, out)
	}
	if host := fake.Index.Listener.Addr().String(); strings.Contains(out, host) {
		t.Errorf("the client was shown the upstream's address %s:\n%s", host, out)
	}
	fake.SetFault(prov, fakepypi.Fault{})
	deadline := time.Now().Add(20 * time.Second)
	reason := ""
	for time.Now().Before(deadline) {
		reason = yankedReason(t, a.URL, "abi3info", "abi3info-2024.10.8-py3-none-any.whl")
		if strings.Contains(reason, "attestation missing") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(reason, "attestation missing; releases up to 2024.10.3") {
		t.Fatalf("the error was not retried into the real finding; page says %q", reason)
	}
	out, err = run(t, pip.install(a.URL+"/simple/", t.TempDir(), "abi3info==2024.10.8"))
	if err == nil || !strings.Contains(out, "Held by Airlock (attestation): attestation missing") {
		t.Errorf("after the retry the file request should give the real finding (err %v):\n%s", err, out)
	}
}

// TestApprovalRunsRemainingChecksWithCLI: a release decided from its
// metadata alone (pip asks for .metadata first) is approved from the
// command line; the approval downloads and inspects it first, finds the
// payload the reviewer has not seen, refuses, and the file stays held.
func TestApprovalRunsRemainingChecksWithCLI(t *testing.T) {
	requireVenv(t)
	pip := pipClient("pinned-pip", filepath.Join(venv, "bin", "python"))
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.7"}, uploaded)
	fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.8", Extra: poisonPth}, time.Now().Add(-time.Hour))
	a := startAirlock(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_BACKGROUND_WORKERS=0", "AIRLOCK_ADMIN_TOKEN=e2e-token-e2e-token-e2e-token-e2")...)
	out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), "litellm==1.82.8"))
	if err == nil || !strings.Contains(out, "Held by Airlock (cooldown)") || strings.Contains(out, "pth-exec") {
		t.Fatalf("pinned install of the cooling release should fail on its cooldown alone (err %v):\n%s", err, out)
	}
	approve := exec.Command(airlockBin, "quarantine", "approve", "--server", a.URL, "--reason", "only a cooldown", "litellm==1.82.8")
	approve.Env = append(cleanEnv(), "AIRLOCK_ADMIN_TOKEN=e2e-token-e2e-token-e2e-token-e2")
	out, err = run(t, approve)
	if err == nil || !strings.Contains(out, "new evidence") || !strings.Contains(out, "critical pth-exec in litellm_init.pth") {
		t.Fatalf("approval without the content check went through or did not say why (err %v):\n%s", err, out)
	}
	out, err = run(t, pip.install(a.URL+"/simple/", t.TempDir(), "litellm==1.82.8"))
	if err == nil || !strings.Contains(out, "critical pth-exec in litellm_init.pth") {
		t.Errorf("after the refused approval the file must stay held with the new evidence (err %v):\n%s", err, out)
	}
}

// yankedReason returns a file's yanked reason on Airlock's JSON page.
func yankedReason(t *testing.T, base, project, filename string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/simple/"+project+"/", nil)
	req.Header.Set("Accept", "application/vnd.pypi.simple.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var page struct {
		Files []struct {
			Filename string `json:"filename"`
			Yanked   any    `json:"yanked"`
		} `json:"files"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("page: %v\n%s", err, body)
	}
	for _, f := range page.Files {
		if f.Filename == filename {
			if s, ok := f.Yanked.(string); ok {
				return s
			}
			return ""
		}
	}
	return ""
}
