package e2e

import (
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

// A cold file that takes longer to download and check than pip (15 s) and
// uv (30 s) wait for an answer installs with their default time-outs:
// pip is kept waiting with 100 Continue, uv is sent back to ask again,
// and no byte goes out before the file passed. Both ask at once; the
// upstream is asked once.
func TestSlowColdFileInstallsWithDefaultTimeouts(t *testing.T) {
	requireVenv(t)
	fake := fakepypi.New()
	defer fake.Close()
	big := fake.AddWheel(fakepypi.WheelSpec{Name: "slowbig", Version: "1.0", PayloadBytes: 3 << 20}, time.Now().Add(-30*24*time.Hour))
	u, _ := url.Parse(fake.FileURL(big))
	// 48 chunks of 64 KiB a second apart: the download alone takes 48 s.
	fake.SetFault(u.Path, fakepypi.Fault{Throttle: time.Second})
	a := startAirlock(t, t.TempDir(), airlockEnv(fake)...)
	var wg sync.WaitGroup
	outs := map[string]string{}
	var mu sync.Mutex
	for _, c := range []client{pipClient("pip", filepath.Join(venv, "bin", "python")), uvClient()} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			target := t.TempDir()
			start := time.Now()
			out, err := run(t, c.install(a.URL+"/simple/", target, "slowbig"))
			mu.Lock()
			outs[c.name] = out
			mu.Unlock()
			if err != nil {
				t.Errorf("%s: %v after %s\n%s", c.name, err, time.Since(start).Round(time.Second), out)
				return
			}
			if time.Since(start) < 35*time.Second {
				t.Errorf("%s finished in %s: the upstream was not slow, nothing was shown", c.name, time.Since(start))
			}
			assertInstalled(t, target, map[string]string{"slowbig": "1.0"})
		}()
	}
	wg.Wait()
	for name, out := range outs {
		if low := strings.ToLower(out); strings.Contains(low, "timed out") || strings.Contains(low, "retrying") {
			t.Errorf("%s saw a time-out:\n%s", name, out)
		}
	}
	if n := fake.Hits(u.Path); n != 1 {
		t.Errorf("the upstream was asked %d times for the file, want once", n)
	}
}
