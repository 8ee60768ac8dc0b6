package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

var uploaded = time.Date(2024, 10, 8, 20, 17, 29, 0, time.UTC)

// tree is the dependency tree every client installs: app needs alpha and
// beta, alpha needs gamma, beta needs delta and gamma, delta needs epsilon.
var tree = []fakepypi.WheelSpec{
	{Name: "app", Version: "1.0", Requires: []string{"alpha>=1.0", "beta"}},
	{Name: "alpha", Version: "1.0", Requires: []string{"gamma"}},
	{Name: "alpha", Version: "1.1", Requires: []string{"gamma>=1.0"}, RequiresPython: ">=3.8"},
	{Name: "beta", Version: "2.0", Requires: []string{"delta", "gamma"}},
	{Name: "gamma", Version: "1.0"},
	{Name: "delta", Version: "0.5", Requires: []string{"epsilon==1.0"}},
	{Name: "epsilon", Version: "1.0"},
	{Name: "epsilon", Version: "2.0"},
}

// installed are the distributions a full install of app and abi3info leaves.
var installed = map[string]string{
	"app": "1.0", "alpha": "1.1", "beta": "2.0", "gamma": "1.0", "delta": "0.5", "epsilon": "1.0", "abi3info": "2024.10.8",
}

// newUpstream builds the fake PyPI with the tree, sdists and the real
// abi3info wheels from the shared fixtures.
func newUpstream(t *testing.T) *fakepypi.Server {
	t.Helper()
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	for i, spec := range tree {
		fake.AddWheel(spec, uploaded.Add(time.Duration(i)*time.Hour))
	}
	fake.AddSdist("gamma", "1.0", uploaded)
	fx := fixturesDir()
	for _, v := range []string{"2024.10.3", "2024.10.8"} {
		wheel := filepath.Join(fx, "abi3info-"+v+"-py3-none-any.whl")
		if _, err := fake.AddFixture("abi3info", v, wheel, wheel+".provenance", uploaded); err != nil {
			t.Fatalf("fixture: %v (set PEP740_FIXTURES_DIR or keep shared/ beside the repo)", err)
		}
	}
	return fake
}

// airlockEnv points Airlock at the fakes. The proxy variables send any
// request to a non-loopback host (a default URL that slipped through) to a
// dead address, so no test reaches the internet.
func airlockEnv(fake *fakepypi.Server, extra ...string) []string {
	return append([]string{
		"AIRLOCK_UPSTREAM_URL=" + fake.Index.URL,
		"AIRLOCK_UPSTREAM_FILE_HOSTS=" + fake.FileHost(),
		"AIRLOCK_UPSTREAM_TIMEOUT=2s",
		"AIRLOCK_SIGNALS_PYPISTATS_URL=" + fake.Stats.URL,
		"AIRLOCK_SIGNALS_GITHUB_API_URL=" + fake.GitHub.URL,
		"HTTP_PROXY=http://127.0.0.1:9",
		"HTTPS_PROXY=http://127.0.0.1:9",
	}, extra...)
}

// assertInstalled checks the dist-info directories a client left in target.
func assertInstalled(t *testing.T, target string, want map[string]string) {
	t.Helper()
	for name, version := range want {
		dir := fmt.Sprintf("%s-%s.dist-info", fakepypi.ModuleName(name), version)
		if _, err := os.Stat(filepath.Join(target, dir)); err != nil {
			entries, _ := os.ReadDir(target)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("%s not installed; target has %v", dir, names)
		}
	}
}

func TestClientsInstallThroughAirlock(t *testing.T) {
	cls := clients(t)
	fake := newUpstream(t)
	// A tiny TTL makes every page request after the first go to the upstream,
	// so the upstream-stopped phase really exercises the stale path.
	a := startAirlock(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_INDEX_TTL=1ms")...)
	index := a.URL + "/simple/"
	for _, c := range cls {
		t.Run(c.name+"/cold", func(t *testing.T) {
			target := t.TempDir()
			out, err := run(t, c.install(index, target, "app", "abi3info"))
			if err != nil {
				t.Fatalf("%s install failed: %v\n%s\nairlock logs:\n%s", c.name, err, out, a.Logs())
			}
			assertInstalled(t, target, installed)
		})
	}
	// Every file came through Airlock and was stored once.
	for _, spec := range tree[:1] {
		fn, data, _ := fakepypi.BuildWheel(spec)
		sum := sha256.Sum256(data)
		path := "/packages/" + hex.EncodeToString(sum[:])[:8] + "/" + fn
		if n := fake.Hits(path); n != 1 {
			t.Errorf("%s fetched from upstream %d times by three clients, want 1", fn, n)
		}
	}
	fake.Close()
	for _, c := range cls {
		t.Run(c.name+"/upstream-stopped", func(t *testing.T) {
			target := t.TempDir()
			out, err := run(t, c.install(index, target, "app", "abi3info"))
			if err != nil {
				t.Fatalf("%s install with upstream stopped failed: %v\n%s", c.name, err, out)
			}
			assertInstalled(t, target, installed)
		})
	}
	if !strings.Contains(a.Logs(), "serving stale page") {
		t.Error("the upstream-stopped installs did not go through the stale path")
	}
}

func TestRequireHashes(t *testing.T) {
	requireVenv(t)
	fake := newUpstream(t)
	a := startAirlock(t, t.TempDir(), airlockEnv(fake)...)
	_, data, _ := fakepypi.BuildWheel(fakepypi.WheelSpec{Name: "epsilon", Version: "1.0"})
	sum := sha256.Sum256(data)
	right := hex.EncodeToString(sum[:])
	wrong := strings.Repeat("0", 64)
	pip := pipClient("pinned-pip", filepath.Join(venv, "bin", "python"))
	for _, tt := range []struct {
		hash string
		ok   bool
	}{{right, true}, {wrong, false}} {
		req := filepath.Join(t.TempDir(), "requirements.txt")
		os.WriteFile(req, []byte("epsilon==1.0 --hash=sha256:"+tt.hash+"\n"), 0o644)
		target := t.TempDir()
		out, err := run(t, pip.install(a.URL+"/simple/", target, "--require-hashes", "--no-deps", "-r", req))
		if tt.ok && err != nil {
			t.Errorf("right hash refused: %v\n%s", err, out)
		}
		if !tt.ok && (err == nil || !strings.Contains(out, "DO NOT MATCH")) {
			t.Errorf("wrong hash accepted (err %v):\n%s", err, out)
		}
	}
}

func TestTamperedUpstreamFileNeverReachesClientOrStore(t *testing.T) {
	cls := clients(t)
	fake := newUpstream(t)
	dataDir := t.TempDir()
	a := startAirlock(t, dataDir, airlockEnv(fake)...)
	fn, data, _ := fakepypi.BuildWheel(fakepypi.WheelSpec{Name: "epsilon", Version: "1.0"})
	sum := sha256.Sum256(data)
	evil := append([]byte(nil), data...)
	copy(evil[len(evil)-64:], strings.Repeat("X", 64))
	evilSum := sha256.Sum256(evil)
	fake.SetFault("/packages/"+hex.EncodeToString(sum[:])[:8]+"/"+fn, fakepypi.Fault{WrongBody: evil})
	for _, c := range cls {
		target := t.TempDir()
		out, err := run(t, c.install(a.URL+"/simple/", target, "epsilon==1.0"))
		if err == nil {
			t.Errorf("%s installed a tampered file:\n%s", c.name, out)
		}
		if !showsStatus(out, 502) {
			t.Errorf("%s output does not show the 502:\n%s", c.name, out)
		}
		if _, err := os.Stat(filepath.Join(target, "epsilon")); err == nil {
			t.Errorf("%s: tampered package present in target", c.name)
		}
	}
	for _, s := range [][32]byte{sum, evilSum} {
		h := hex.EncodeToString(s[:])
		if _, err := os.Stat(filepath.Join(dataDir, "blobs", "sha256", h[:2], h)); err == nil {
			t.Errorf("blob %s stored", h)
		}
	}
	resp, err := http.Get(a.URL + "/files/epsilon/" + fn)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || !strings.Contains(body, "did not match its published sha256") {
		t.Errorf("direct download: %d %q", resp.StatusCode, body)
	}
	if !strings.Contains(a.Logs(), `"event":"security"`) {
		t.Error("no security event in the logs")
	}
}

func TestHTMLOnlyUpstream(t *testing.T) {
	cls := clients(t)
	fake := newUpstream(t)
	fake.SetHTMLOnly(true)
	// HTML pages carry no upload time; the JSON API on the same upstream
	// does, so the default policy (hold files without one) installs.
	a := startAirlock(t, t.TempDir(), airlockEnv(fake)...)
	for _, c := range cls {
		t.Run(c.name, func(t *testing.T) {
			target := t.TempDir()
			out, err := run(t, c.install(a.URL+"/simple/", target, "app"))
			if err != nil {
				t.Fatalf("install from an HTML-only upstream failed: %v\n%s", err, out)
			}
			want := map[string]string{}
			for k, v := range installed {
				if k != "abi3info" {
					want[k] = v
				}
			}
			assertInstalled(t, target, want)
		})
	}
}

func TestSecondProcessOnSameDataDir(t *testing.T) {
	fake := newUpstream(t)
	dir := t.TempDir()
	startAirlock(t, dir, airlockEnv(fake)...)
	p, err := launch(t, dir, airlockEnv(fake)...)
	if err == nil {
		p.stop()
		t.Fatal("a second airlock started on a data directory in use")
	}
	if !strings.Contains(err.Error(), "data directory in use") {
		t.Errorf("error does not say the directory is in use: %v", err)
	}
}

// TestKillDuringDownload: kill -9 mid-download, restart on the same data
// directory: the partial file is gone and never served.
func TestKillDuringDownload(t *testing.T) {
	fake := newUpstream(t)
	spec := fakepypi.WheelSpec{Name: "big", Version: "1.0", PayloadBytes: 8 << 20}
	d := fake.AddWheel(spec, uploaded)
	upstreamPath := "/packages/" + d.SHA256()[:8] + "/" + d.Filename
	fake.SetFault(upstreamPath, fakepypi.Fault{Throttle: 20 * time.Millisecond})
	dir := t.TempDir()
	a := startAirlock(t, dir, airlockEnv(fake)...)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if resp, err := http.Get(a.URL + "/files/big/" + d.Filename); err == nil {
			resp.Body.Close()
		}
	}()
	// Wait until the fill has written part of the file.
	deadline := time.Now().Add(30 * time.Second)
	for {
		entries, _ := os.ReadDir(filepath.Join(dir, "tmp"))
		if len(entries) > 0 {
			if info, err := entries[0].Info(); err == nil && info.Size() > 256<<10 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("download never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.kill9()
	wg.Wait()

	fake.Close() // nothing can be refilled: only the store can answer
	b := startAirlock(t, dir, airlockEnv(fake)...)
	if entries, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(entries) != 0 {
		t.Errorf("%d partial files left after restart", len(entries))
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", d.SHA256()[:2], d.SHA256())); err == nil {
		t.Error("a partial download was committed to the store")
	}
	resp, err := http.Get(b.URL + "/files/big/" + d.Filename)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Errorf("served %d bytes of a file that was never completed", len(body))
	}
}

func TestGracefulShutdownOnSIGTERM(t *testing.T) {
	fake := newUpstream(t)
	a := startAirlock(t, t.TempDir(), airlockEnv(fake)...)
	resp, err := http.Get(a.URL + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	a.stop()
	if a.exitErr != nil {
		t.Errorf("exit after SIGTERM: %v", a.exitErr)
	}
	if !strings.Contains(a.Logs(), `"message":"stopped"`) {
		t.Errorf("no clean stop logged:\n%s", a.Logs())
	}
}
