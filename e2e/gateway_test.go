package e2e

import (
	"net/http"
	"strings"
	"testing"

	"airlock/internal/fakepypi"
)

// TestUpstreamFailureSaysWhy: when the upstream cannot give a page Airlock
// never stored, the 502's status line says why in a few words, without
// hosts or ports, and uv prints it. (pip logs a page it cannot fetch only
// with -v, and retries a 502 until it says "too many 502 error
// responses": at its default verbosity it can only say "from versions:
// none".)
func TestUpstreamFailureSaysWhy(t *testing.T) {
	requireVenv(t)
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	fake.AddWheel(fakepypi.WheelSpec{Name: "downpkg", Version: "1.0"}, uploaded)
	fake.SetFault("/simple/downpkg/", fakepypi.Fault{Status: http.StatusServiceUnavailable})
	a := startAirlock(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_SIGNALS_ENABLED=false")...)
	resp, err := http.Get(a.URL + "/simple/downpkg/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Status != "502 Upstream unavailable: it answered 503" {
		t.Errorf("status line: %q", resp.Status)
	}
	upstreamHost := strings.TrimPrefix(fake.Index.URL, "http://")
	for _, c := range []client{uvClient()} {
		out, err := run(t, c.install(a.URL+"/simple/", t.TempDir(), "downpkg"))
		if err == nil || !strings.Contains(out, "Upstream unavailable: it answered 503") {
			t.Errorf("%s does not say why the upstream failed (err %v):\n%s", c.name, err, out)
		}
		if strings.Contains(out, upstreamHost) {
			t.Errorf("%s: the answer names the upstream's host:\n%s", c.name, out)
		}
	}
}
