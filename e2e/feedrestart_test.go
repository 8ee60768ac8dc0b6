package e2e

import (
	"archive/zip"
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

// feedServer serves a zip of OSV records at /all.zip; its mode says how
// it answers: "ok", "500", or "hang" (never answers until the test ends).
type feedServer struct {
	*httptest.Server
	mu      sync.Mutex
	mode    string
	records map[string]string
	asked   chan struct{} // a request arrived while hanging
	stop    chan struct{}
}

func newFeedServer(t *testing.T) *feedServer {
	fs := &feedServer{mode: "ok", records: map[string]string{}, asked: make(chan struct{}, 16), stop: make(chan struct{})}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		mode := fs.mode
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for name, body := range fs.records {
			f, _ := zw.Create(name)
			f.Write([]byte(body))
		}
		zw.Close()
		fs.mu.Unlock()
		switch mode {
		case "500":
			http.Error(w, "feed storage is down", http.StatusInternalServerError)
		case "hang":
			select {
			case fs.asked <- struct{}{}:
			default:
			}
			<-fs.stop
		default:
			w.Write(buf.Bytes())
		}
	}))
	t.Cleanup(func() { close(fs.stop); fs.Close() })
	return fs
}

func (fs *feedServer) set(mode string, records map[string]string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.mode = mode
	if records != nil {
		fs.records = records
	}
}

// TestRestartWithFeedDownKeepsBlocks: omega 1.0 is served, then blocked by
// a MAL record from an http zip feed. The feed starts answering 500 and
// Airlock restarts: pinned, hash-pinned and uv installs are refused with
// the advisory's ID, the unpinned install takes 0.9, the file stays
// blocked, and /readyz names the stale source. The feed then hangs: the
// server listens at once and the block holds. A source whose URL changed
// (nothing kept for it, never read) does not lift the block either.
func TestRestartWithFeedDownKeepsBlocks(t *testing.T) {
	requireVenv(t)
	pip := pipClient("pinned-pip", filepath.Join(venv, "bin", "python"))
	uv := uvClient()
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	omega := fake.AddWheel(fakepypi.WheelSpec{Name: "omega", Version: "1.0"}, uploaded)
	fake.AddWheel(fakepypi.WheelSpec{Name: "omega", Version: "0.9"}, uploaded.Add(-time.Hour))
	feed := newFeedServer(t)
	feed.set("ok", map[string]string{"osv/malicious/pypi/unrelated/MAL-2026-1.json": malRecord("MAL-2026-1", "unrelated", "1.0", "")})

	dataDir := t.TempDir()
	const token = "feed-restart-token-0123456789abcdef"
	env := func(feedURL string) []string {
		return airlockEnv(fake, "AIRLOCK_FEEDS_OSV="+feedURL, "AIRLOCK_ADMIN_TOKEN="+token, "AIRLOCK_SIGNALS_ENABLED=false", "AIRLOCK_INDEX_TTL=1ms")
	}
	admin := func(base, method, path string) map[string]any { return adminJSON(t, base, token, method, path) }
	a := startAirlock(t, dataDir, env(feed.URL+"/all.zip")...)
	if out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), "omega==1.0")); err != nil {
		t.Fatalf("omega before the advisory: %v\n%s", err, out)
	}
	feed.set("ok", map[string]string{"osv/malicious/pypi/omega/MAL-2026-77.json": malRecord("MAL-2026-77", "omega", "1.0", "")})
	if got := admin(a.URL, http.MethodPost, "/feeds/refresh"); got["records"] != 1.0 {
		t.Fatalf("refresh: %v", got)
	}
	req := filepath.Join(t.TempDir(), "requirements.txt")
	os.WriteFile(req, []byte("omega==1.0 --hash=sha256:"+omega.SHA256()+"\n"), 0o644)
	refused := func(stage, base string) {
		t.Helper()
		if out, err := run(t, pip.install(base+"/simple/", t.TempDir(), "omega==1.0")); err == nil || !strings.Contains(out, "MAL-2026-77") {
			t.Errorf("%s: pinned pip: %v\n%s", stage, err, out)
		}
		if out, err := run(t, pip.install(base+"/simple/", t.TempDir(), "--require-hashes", "--no-deps", "-r", req)); err == nil {
			t.Errorf("%s: hash-pinned pip installed the malicious file:\n%s", stage, out)
		}
		if out, err := run(t, uv.install(base+"/simple/", t.TempDir(), "omega==1.0")); err == nil {
			t.Errorf("%s: pinned uv installed the malicious file:\n%s", stage, out)
		}
		target := t.TempDir()
		if out, err := run(t, pip.install(base+"/simple/", target, "omega")); err != nil {
			t.Errorf("%s: unpinned pip: %v\n%s", stage, err, out)
		}
		assertInstalled(t, target, map[string]string{"omega": "0.9"})
		if got := admin(base, http.MethodGet, "/quarantine/"+omega.SHA256()[:12]); got["state"] != "blocked" {
			t.Errorf("%s: omega 1.0 is %v, want blocked", stage, got["state"])
		}
	}
	refused("blocked, feed up", a.URL)

	// The feed answers 500; a restart.
	feed.set("500", nil)
	a.stop()
	a = startAirlock(t, dataDir, env(feed.URL+"/all.zip")...)
	refused("restarted with the feed answering 500", a.URL)
	status, body, _ := fetch(t, http.MethodGet, a.URL+"/readyz", nil)
	if status != http.StatusOK || !strings.Contains(string(body), "advisory source "+feed.URL+"/all.zip is stale since") {
		t.Errorf("/readyz with a stale source: %d\n%s", status, body)
	}
	// The metric says so from the first scrape, as /readyz does.
	if _, metrics, _ := fetch(t, http.MethodGet, a.URL+"/metrics", nil); !strings.Contains(string(metrics), `airlock_check_inert{check="advisories",reason="source_stale"} 1`) {
		t.Errorf("the first scrape after start does not show the stale source:\n%s", metrics)
	}
	if !strings.Contains(a.Logs(), `"kept_records":1`) {
		t.Errorf("the log must say the kept records are in force:\n%s", a.Logs())
	}

	// The feed never answers: Airlock listens at once (the feed is still
	// being asked), and the block holds.
	feed.set("hang", nil)
	a.stop()
	a = startAirlock(t, dataDir, env(feed.URL+"/all.zip")...)
	select {
	case <-feed.asked:
	case <-time.After(30 * time.Second):
		t.Fatal("the hanging feed was never asked")
	}
	refused("restarted with the feed hanging", a.URL)

	// A source never read, with nothing kept (its URL changed while it is
	// down): the advisories are partial, and what they blocked stays.
	feed.set("500", nil)
	a.stop()
	a = startAirlock(t, dataDir, env(feed.URL+"/all.zip?moved=1")...)
	refused("a source never read", a.URL)
}
