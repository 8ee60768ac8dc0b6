package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

// TestHeldReleaseWithRealClients: a release an hour old is held by the
// default 7-day cooldown. Unpinned installs get the previous release; a
// pinned install fails and says why; after an approval with the CLI the
// pinned install succeeds.
func TestHeldReleaseWithRealClients(t *testing.T) {
	cls := clients(t)
	fake := newUpstream(t)
	fake.AddWheel(fakepypi.WheelSpec{Name: "gatepkg", Version: "1.0"}, uploaded)
	fake.AddWheel(fakepypi.WheelSpec{Name: "gatepkg", Version: "1.1"}, time.Now().Add(-time.Hour))
	a := startAirlock(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_ADMIN_TOKEN=e2e-token-e2e-token-e2e-token-e2")...)
	index := a.URL + "/simple/"

	for _, c := range cls {
		t.Run(c.name+"/unpinned-gets-allowed", func(t *testing.T) {
			target := t.TempDir()
			out, err := run(t, c.install(index, target, "gatepkg"))
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			assertInstalled(t, target, map[string]string{"gatepkg": "1.0"})
		})
		t.Run(c.name+"/pinned-held-fails", func(t *testing.T) {
			out, err := run(t, c.install(index, t.TempDir(), "gatepkg==1.1"))
			if err == nil {
				t.Fatalf("installed a held release:\n%s", out)
			}
			// Both pip and uv 0.13 print the reason phrase with the status.
			if !showsStatus(out, 403) || !strings.Contains(out, "Held by Airlock (cooldown): cooldown until") {
				t.Errorf("output lacks the 403 and its reason:\n%s", out)
			}
		})
	}

	cmd := exec.Command(airlockBin, "quarantine", "approve", "--server", a.URL, "--reason", "reviewed in e2e", "gatepkg==1.1")
	cmd.Env = append(cleanEnv(), "AIRLOCK_ADMIN_TOKEN=e2e-token-e2e-token-e2e-token-e2")
	out, err := run(t, cmd)
	if err != nil || !strings.Contains(out, "held -> approved") {
		t.Fatalf("approve with the CLI: %v\n%s", err, out)
	}
	for _, c := range cls {
		t.Run(c.name+"/pinned-after-approval", func(t *testing.T) {
			target := t.TempDir()
			out, err := run(t, c.install(index, target, "gatepkg==1.1"))
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			assertInstalled(t, target, map[string]string{"gatepkg": "1.1"})
		})
	}
}
