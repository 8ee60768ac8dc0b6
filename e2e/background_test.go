package e2e

import (
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

// The background checks ahead only what this deployment's clients could
// install: a cooling release's wheels for the platform pip named in its
// User-Agent (and pure wheels and sdists), never the other platforms'; a
// release past its cooldown, however young, is fetched only when asked
// for; a release whose cooldown ends in more than a day (the default
// background.lead) is not fetched yet; and a release already decided is
// never fetched again, across a restart.
func TestBackgroundChecksOnlyClientPlatforms(t *testing.T) {
	requireVenv(t)
	py := filepath.Join(venv, "bin", "python")
	out, err := exec.Command(py, "-c", "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')").Output()
	if err != nil {
		t.Fatal(err)
	}
	cp := strings.TrimSpace(string(out))
	fake := fakepypi.New()
	defer fake.Close()
	now := time.Now()
	old := fake.AddWheel(fakepypi.WheelSpec{Name: "plat", Version: "1.0"}, now.Add(-30*24*time.Hour))
	// Past the 7-day cooldown (the risk-adaptive one is off): offered, so
	// nothing to check ahead, though younger than cooldown_below's 14 days.
	// pip installs its linux wheel (fetched once, when asked for).
	served := fake.AddWheel(fakepypi.WheelSpec{Name: "plat", Version: "1.1", Tag: cp + "-" + cp + "-manylinux_2_17_x86_64"}, now.Add(-10*24*time.Hour))
	young := []*fakepypi.Dist{old, fake.AddWheel(fakepypi.WheelSpec{Name: "plat", Version: "1.1", Tag: cp + "-" + cp + "-win_amd64"}, now.Add(-10*24*time.Hour))}
	// Cooling, its cooldown ending within the default lead (a day): what a
	// linux x86_64 client of this Python could install is checked ahead,
	// the rest is not.
	cooling := now.Add(-6*24*time.Hour - time.Hour)
	mine := []*fakepypi.Dist{
		fake.AddWheel(fakepypi.WheelSpec{Name: "plat", Version: "1.2"}, cooling),
		fake.AddWheel(fakepypi.WheelSpec{Name: "plat", Version: "1.2", Tag: cp + "-" + cp + "-manylinux_2_17_x86_64.manylinux2014_x86_64"}, cooling),
		fake.AddSdist("plat", "1.2", cooling),
	}
	// Cooling for six more days: not downloaded yet, whatever the platform.
	early := []*fakepypi.Dist{
		fake.AddWheel(fakepypi.WheelSpec{Name: "plat", Version: "1.3"}, now.Add(-24*time.Hour)),
		fake.AddSdist("plat", "1.3", now.Add(-24*time.Hour)),
	}
	var others []*fakepypi.Dist
	for _, tag := range []string{cp + "-" + cp + "-win_amd64", cp + "-" + cp + "-macosx_11_0_arm64", cp + "-" + cp + "-musllinux_1_2_x86_64",
		cp + "-" + cp + "-manylinux_2_17_aarch64", "cp39-cp39-manylinux_2_17_x86_64"} {
		others = append(others, fake.AddWheel(fakepypi.WheelSpec{Name: "plat", Version: "1.2", Tag: tag}, cooling))
	}
	path := func(d *fakepypi.Dist) string {
		u, _ := url.Parse(fake.FileURL(d))
		return u.Path
	}
	dataDir := t.TempDir()
	env := airlockEnv(fake, "AIRLOCK_POLICY_SCORE_COOLDOWN_BELOW_SCORE=0")
	a := startAirlock(t, dataDir, env...)
	target := t.TempDir()
	if out, err := run(t, pipClient("pip", py).install(a.URL+"/simple/", target, "plat")); err != nil {
		t.Fatalf("pip install: %v\n%s", err, out)
	}
	assertInstalled(t, target, map[string]string{"plat": "1.1"})
	waitFor(t, 60*time.Second, "the cooling files this client could install checked", func() bool {
		for _, d := range mine {
			if fake.Hits(path(d)) == 0 {
				return false
			}
		}
		return metric(t, a.URL, "airlock_queue_depth") == 0
	})
	for _, d := range append(others, young...) {
		if n := fake.Hits(path(d)); n != 0 {
			t.Errorf("%s fetched %d times: no client of this deployment installs it, or it is offered already", d.Filename, n)
		}
	}
	for _, d := range early {
		if n := fake.Hits(path(d)); n != 0 {
			t.Errorf("%s fetched %d times six days before its cooldown ends", d.Filename, n)
		}
	}
	if metric(t, a.URL, `airlock_background_skipped_total{reason="not_due"}`) < float64(len(early)) {
		t.Errorf("/metrics does not say what waits for its lead:\n%s", metrics(t, a.URL))
	}
	if n := fake.Hits(path(served)); n != 1 {
		t.Errorf("the installed release fetched %d times, want once (the client's request)", n)
	}
	if metric(t, a.URL, `airlock_background_skipped_total{reason="platform"}`) < float64(len(others)) {
		t.Errorf("/metrics does not say what the background skipped:\n%s", metrics(t, a.URL))
	}
	before := map[string]int{}
	for _, d := range mine {
		before[d.Filename] = fake.Hits(path(d))
	}
	// Restarted, asked again by pip and by uv: what was decided is not
	// fetched again.
	a.stop()
	a = startAirlock(t, dataDir, env...)
	if out, err := run(t, pipClient("pip", py).install(a.URL+"/simple/", t.TempDir(), "plat")); err != nil {
		t.Fatalf("pip install after restart: %v\n%s", err, out)
	}
	if out, err := run(t, uvClient().install(a.URL+"/simple/", t.TempDir(), "plat")); err != nil {
		t.Fatalf("uv install after restart: %v\n%s", err, out)
	}
	time.Sleep(3 * time.Second) // room for any background fetch to start
	waitFor(t, 30*time.Second, "the queue to drain", func() bool { return metric(t, a.URL, "airlock_queue_depth") == 0 })
	for _, d := range mine {
		if n := fake.Hits(path(d)); n != before[d.Filename] {
			t.Errorf("%s fetched again after it was decided (%d -> %d)", d.Filename, before[d.Filename], n)
		}
	}
	for _, d := range append(others, early...) {
		if n := fake.Hits(path(d)); n != 0 {
			t.Errorf("%s fetched %d times after the restart", d.Filename, n)
		}
	}
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func metrics(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metric is the value of one series ("name" or `name{label="v"}`); 0
// when absent.
func metric(t *testing.T, base, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(metrics(t, base), "\n") {
		if name, value, ok := strings.Cut(line, " "); ok && name == series {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	return 0
}
