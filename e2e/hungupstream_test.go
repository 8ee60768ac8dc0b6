package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

// An upstream that hangs does not hold clients past their time-out: a
// stored page is served within seconds while it is asked, so pip installs
// without a retry; a page never stored answers 502 before pip's read
// time-out, and pip's retry joins the fetch that goes on, so the install
// succeeds once the upstream answers.
func TestHungUpstreamFailsFastToTheStore(t *testing.T) {
	requireVenv(t)
	fake := fakepypi.New()
	t.Cleanup(fake.Close) // after Airlock stops: its hung fetch holds a connection
	fake.AddWheel(fakepypi.WheelSpec{Name: "hung", Version: "1.0"}, time.Now().Add(-30*24*time.Hour))
	fake.AddWheel(fakepypi.WheelSpec{Name: "slowpage", Version: "1.0"}, time.Now().Add(-30*24*time.Hour))
	a := startAirlock(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_UPSTREAM_TIMEOUT=60s", "AIRLOCK_INDEX_TTL=1s")...)
	pip := pipClient("pip", filepath.Join(venv, "bin", "python"))
	if out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), "hung")); err != nil {
		t.Fatalf("first install: %v\n%s", err, out)
	}
	fake.SetFault("/simple/hung/", fakepypi.Fault{Delay: 2 * time.Minute})
	time.Sleep(1500 * time.Millisecond) // the stored page is past index.ttl
	target := t.TempDir()
	out, err := run(t, pip.install(a.URL+"/simple/", target, "hung"))
	if err != nil {
		t.Fatalf("install with the upstream hanging: %v\n%s", err, out)
	}
	assertInstalled(t, target, map[string]string{"hung": "1.0"})
	if low := strings.ToLower(out); strings.Contains(low, "retrying") || strings.Contains(low, "timed out") {
		t.Errorf("pip waited past its time-out for a page Airlock had:\n%s", out)
	}
	// Never stored: the upstream answers after 25 s, past pip's 15 s.
	fake.SetFault("/simple/slowpage/", fakepypi.Fault{Delay: 25 * time.Second})
	target = t.TempDir()
	out, err = run(t, pip.install(a.URL+"/simple/", target, "slowpage"))
	if err != nil {
		t.Fatalf("install of a page the upstream is slow to give: %v\n%s", err, out)
	}
	assertInstalled(t, target, map[string]string{"slowpage": "1.0"})
	if strings.Contains(strings.ToLower(out), "read timed out") {
		t.Errorf("pip timed out:\n%s", out)
	}
	answered502 := false
	for _, line := range strings.Split(a.Logs(), "\n") {
		answered502 = answered502 || (strings.Contains(line, `"/simple/slowpage/"`) && strings.Contains(line, `"status":502`))
	}
	if !answered502 {
		t.Errorf("Airlock did not answer the slow page with a 502 before pip's time-out:\n%s", a.Logs())
	}
	if n := fake.Hits("/simple/slowpage/"); n != 1 {
		t.Errorf("the slow page was asked for %d times upstream, want once (retries join the fetch)", n)
	}
}
