package e2e

import (
	"strings"
	"testing"

	"airlock/internal/fakepypi"
)

// TestPoisonedReleaseWithRealClients: the LiteLLM shape. 1.82.8 adds a
// litellm_init.pth that decodes and executes a payload; pip and uv install
// 1.82.7, and a pinned install of 1.82.8 fails with the reason.
func TestPoisonedReleaseWithRealClients(t *testing.T) {
	cls := clients(t)
	fake := newUpstream(t)
	fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.7"}, uploaded)
	fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.8", Extra: map[string]string{
		"litellm_init.pth": "import os, base64; exec(base64.b64decode('aW1wb3J0IG9zOyBvcy5zeXN0ZW0oImlkIik='))\n",
	}}, uploaded.Add(24*60*60*1e9))
	a := startAirlock(t, t.TempDir(), airlockEnv(fake)...)
	for _, c := range cls {
		t.Run(c.name, func(t *testing.T) {
			target := t.TempDir()
			out, err := run(t, c.install(a.URL+"/simple/", target, "litellm"))
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			assertInstalled(t, target, map[string]string{"litellm": "1.82.7"})
			out, err = run(t, c.install(a.URL+"/simple/", t.TempDir(), "litellm==1.82.8"))
			if err == nil || !strings.Contains(out, "Held by Airlock (content): critical pth-exec in litellm_init.pth") {
				t.Errorf("poisoned pin not refused with its reason (err %v):\n%s", err, out)
			}
		})
	}
}
