package e2e

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

var poisonPth = map[string]string{
	"litellm_init.pth": "import os, base64; exec(base64.b64decode('aW1wb3J0IG9zOyBvcy5zeXN0ZW0oImlkIik='))\n",
}

// TestPoisonedReleaseWithRealClients: the LiteLLM shape as it happened.
// 1.82.8, uploaded an hour ago, adds a litellm_init.pth that decodes and
// executes a payload. The first page view queues it for the background
// checks, which inspect it while its cooldown runs; pip and uv install
// 1.82.7, and a pinned install of 1.82.8 fails with the content reason,
// not only the cooldown.
func TestPoisonedReleaseWithRealClients(t *testing.T) {
	cls := clients(t)
	fake := newUpstream(t)
	fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.7"}, uploaded)
	fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.8", Extra: poisonPth}, time.Now().Add(-time.Hour))
	// Checked as soon as it is seen (a lead as long as the cooldown), as a
	// deployment that wants its reviewers to see a release early runs.
	a := startAirlock(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_BACKGROUND_LEAD=14d")...)
	for i, c := range cls {
		t.Run(c.name, func(t *testing.T) {
			target := t.TempDir()
			out, err := run(t, c.install(a.URL+"/simple/", target, "litellm"))
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			assertInstalled(t, target, map[string]string{"litellm": "1.82.7"})
			if i == 0 {
				waitForBackground(t, a.URL)
			}
			out, err = run(t, c.install(a.URL+"/simple/", t.TempDir(), "litellm==1.82.8"))
			if err == nil || !strings.Contains(out, "critical pth-exec in litellm_init.pth") {
				t.Errorf("poisoned pin not refused with its content reason (err %v):\n%s", err, out)
			}
		})
	}
}

// TestDownloadEvidenceHoldsNextListing: nothing on a page can tell that an
// old release carries a payload nobody looked at yet (it left its cooldown
// before this Airlock saw it). The page lists it; its download brings the
// evidence and is refused; the next page holds it, so a retry of the same
// unpinned install resolves to the release before.
func TestDownloadEvidenceHoldsNextListing(t *testing.T) {
	cls := clients(t)
	for _, c := range cls {
		t.Run(c.name, func(t *testing.T) {
			fake := newUpstream(t)
			fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.7"}, uploaded)
			fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.8", Extra: poisonPth}, uploaded.Add(24*time.Hour))
			a := startAirlock(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_BACKGROUND_WORKERS=0")...)
			out, err := run(t, c.install(a.URL+"/simple/", t.TempDir(), "litellm"))
			if err == nil || !strings.Contains(out, "critical pth-exec in litellm_init.pth") {
				t.Fatalf("first install should fail on the download that brought the evidence (err %v):\n%s", err, out)
			}
			target := t.TempDir()
			out, err = run(t, c.install(a.URL+"/simple/", target, "litellm"))
			if err != nil {
				t.Fatalf("retry: %v\n%s", err, out)
			}
			assertInstalled(t, target, map[string]string{"litellm": "1.82.7"})
		})
	}
}

var doneItems = regexp.MustCompile(`airlock_queue_items_total\{outcome="done"\} (\d+)`)

// waitForBackground waits until the work queue has finished an item and is
// empty.
func waitForBackground(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/metrics")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			m := doneItems.FindStringSubmatch(string(body))
			if m != nil && strings.Contains(string(body), "airlock_queue_depth 0\n") {
				if n, _ := strconv.Atoi(m[1]); n > 0 {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("background checks did not finish in 30 s")
}
