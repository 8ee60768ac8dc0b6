package e2e

import (
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

// TestPagesDownloadNothing (point 2 of the gate issue): with background
// checks off, installing the tree with each client downloads from the
// upstream only the files the clients asked for — no earlier releases, no
// newer release in its cooldown, no other platform.
func TestPagesDownloadNothing(t *testing.T) {
	cls := clients(t)
	fake := newUpstream(t)
	var notWanted []*fakepypi.Dist
	notWanted = append(notWanted, fake.AddWheel(fakepypi.WheelSpec{Name: "alpha", Version: "0.9"}, uploaded.Add(-time.Hour)))
	for _, tag := range []string{"cp311-cp311-win_amd64", "cp312-cp312-macosx_11_0_arm64"} {
		notWanted = append(notWanted, fake.AddWheel(fakepypi.WheelSpec{Name: "alpha", Version: "1.2", Tag: tag}, time.Now().Add(-time.Hour)))
	}
	a := startAirlock(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_BACKGROUND_WORKERS=0")...)
	for _, c := range cls {
		t.Run(c.name, func(t *testing.T) {
			target := t.TempDir()
			if out, err := run(t, c.install(a.URL+"/simple/", target, "app")); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			assertInstalled(t, target, map[string]string{"alpha": "1.1"})
		})
	}
	for _, d := range notWanted {
		if n := fake.Hits("/packages/" + d.SHA256()[:8] + "/" + d.Filename); n != 0 {
			t.Errorf("%s downloaded %d times though no client asked for it", d.Filename, n)
		}
	}
}

// TestRepeatedPayloadIsNew (point 4): 1.1 carries a payload and is held;
// 1.2 repeats it. The baseline is 1.0, the newest release that cleared
// the gate, so 1.2's payload is new, not "always had".
func TestRepeatedPayloadIsNew(t *testing.T) {
	cls := clients(t)
	fake := newUpstream(t)
	fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.0"}, uploaded)
	fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.1", Extra: poisonPth}, uploaded.Add(time.Hour))
	fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.2", Extra: poisonPth}, uploaded.Add(2*time.Hour))
	a := startAirlock(t, t.TempDir(), airlockEnv(fake)...)
	for i, c := range cls {
		t.Run(c.name, func(t *testing.T) {
			if i == 0 {
				if out, err := run(t, c.install(a.URL+"/simple/", t.TempDir(), "litellm==1.1")); err == nil {
					t.Fatalf("1.1 installed:\n%s", out)
				}
			}
			out, err := run(t, c.install(a.URL+"/simple/", t.TempDir(), "litellm==1.2"))
			if err == nil || !strings.Contains(out, "critical pth-exec in litellm_init.pth:1") || !strings.Contains(out, "(not in 1.0)") {
				t.Errorf("repeated payload not held as new against 1.0 (err %v):\n%s", err, out)
			}
		})
	}
}
