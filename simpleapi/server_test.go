package simpleapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/internal/storetest"
	"airlock/internal/testclock"
	"airlock/pullthrough"

	"github.com/rs/zerolog"

	"airlock/downloads"
	"airlock/gate"
	"airlock/index"
	"airlock/inspect"
	"airlock/internal/fakepypi"
	"airlock/metrics"
	"airlock/policy"
	"airlock/quarantine"
	"airlock/storage"
	"airlock/upstream"
)

const pipAccept = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"

type harness struct {
	t      testing.TB
	fake   *fakepypi.Server
	srv    *Server
	http   *httptest.Server
	store  *storage.Store
	dir    string // the data directory (kept across h.open: a restart)
	logs   *syncBuffer
	time   *testclock.Clock
	config gate.Options
	gate   *gate.Gate
	// hideHeld is index.held_files: hide.
	hideHeld bool
	// publicURL is server.public_url.
	publicURL string
	// trusted are trusted_proxies.
	trusted   []netip.Prefix
	downloads *downloads.Recorder
	rules     policy.Rules
	hooks     *recordingNotifier
}

// recordingNotifier keeps the events the quarantine sends.
type recordingNotifier struct {
	mu     sync.Mutex
	events []quarantine.Event
}

func (n *recordingNotifier) Notify(e quarantine.Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.events = append(n.events, e)
}

func (n *recordingNotifier) kinds() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, e := range n.events {
		out = append(out, e.Kind+":"+e.Record.Filename)
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var uploaded = time.Date(2024, 10, 8, 20, 17, 29, 0, time.UTC)

// newHarness starts a fake upstream with a small project and an Airlock
// server in front of it, on a fresh data directory.
func newHarness(t testing.TB, tweak ...func(*gate.Options, *fakepypi.Server)) *harness {
	t.Helper()
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	fake.AddWheel(fakepypi.WheelSpec{Name: "alpha", Version: "1.0"}, uploaded)
	fake.AddWheel(fakepypi.WheelSpec{Name: "alpha", Version: "1.1", Requires: []string{"gamma"}, RequiresPython: ">=3.8"}, uploaded.Add(time.Hour))
	fake.AddSdist("alpha", "1.1", uploaded.Add(time.Hour))
	h := &harness{t: t, fake: fake, logs: &syncBuffer{}, time: testclock.New(time.Now()), rules: policy.DefaultRules()}
	h.open(tweak...)
	return h
}

func (h *harness) open(tweak ...func(*gate.Options, *fakepypi.Server)) {
	t := h.t
	if h.dir == "" {
		h.dir = filepath.Join(t.TempDir(), "data")
	}
	store, err := storetest.Open(t, h.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	base, _ := url.Parse(h.fake.Index.URL)
	m := metrics.New()
	engine, err := policy.NewEngine(h.rules)
	if err != nil {
		t.Fatal(err)
	}
	h.hooks = &recordingNotifier{}
	q := quarantine.New(store, engine, h.hooks, h.clock, zerolog.New(h.logs))
	opt := gate.Options{
		Store: store,
		Options: pullthrough.Options{
			Upstream: upstream.New(upstream.Options{BaseURL: base, FileHosts: []string{h.fake.FileHost()},
				Timeout: 2 * time.Second, MaxPageBytes: 1 << 20, Metrics: m, Retries: 1}),
			Metrics: m, Log: zerolog.New(h.logs), PageTTL: time.Minute, PageTimeout: 5 * time.Second,
			FillTimeout: 10 * time.Second, MaxFileBytes: 64 << 20, MaxMetaBytes: 1 << 20, Now: h.clock,
		},
		Quarantine: q,
		Inspect:    true, InspectLimits: inspect.DefaultLimits(),
		// The queue is filled but not worked on its own: tests run it
		// with h.gate.RunPending when they want the background done.
		Background: gate.Background{Workers: 1},
	}
	for _, f := range tweak {
		f(&opt, h.fake)
	}
	h.config = opt
	h.store = store
	h.downloads = downloads.New(store, zerolog.New(h.logs))
	t.Cleanup(h.downloads.Close) // before the store closes
	h.rebuild()
	h.http = httptest.NewServer(h.srv.Handler())
	t.Cleanup(h.http.Close)
}

// rebuild makes the gate and the server anew from h.config.
func (h *harness) rebuild() {
	h.gate = gate.New(h.config)
	h.srv = New(Options{Gate: h.gate, Store: h.store, UpstreamURL: h.config.Upstream.BaseURL(), Metrics: h.config.Metrics,
		Log: h.config.Log, PageTTL: h.config.PageTTL, PageTimeout: h.config.PageTimeout, Now: h.config.Now, HideHeld: h.hideHeld, PublicURL: h.publicURL, Downloads: h.downloads,
		TrustedProxies: h.trusted})
	if h.http != nil {
		h.http.Config.Handler = h.srv.Handler()
	}
}

func (h *harness) clock() time.Time { return h.time.Now() }

func (h *harness) advance(d time.Duration) { h.time.Advance(d) }

func (h *harness) get(path string, header ...string) (*http.Response, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.http.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func (h *harness) jsonPage(project string) (*http.Response, map[string]any) {
	h.t.Helper()
	resp, body := h.get("/simple/"+project+"/", "Accept", pipAccept)
	var page map[string]any
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(body, &page); err != nil {
			h.t.Fatalf("page is not JSON: %v\n%s", err, body)
		}
	}
	return resp, page
}

func filesOf(page map[string]any) []map[string]any {
	var out []map[string]any
	for _, f := range page["files"].([]any) {
		out = append(out, f.(map[string]any))
	}
	return out
}

func fileURL(d *fakepypi.Dist) string { return "/files/" + d.Project + "/" + d.Filename }

func upstreamFilePath(d *fakepypi.Dist) string {
	return "/packages/" + d.SHA256()[:8] + "/" + d.Filename
}

func TestProjectPageJSONAndHTML(t *testing.T) {
	h := newHarness(t)
	resp, page := h.jsonPage("alpha")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != index.MediaJSON {
		t.Errorf("Content-Type = %q", ct)
	}
	if v := resp.Header.Get("Vary"); v != "Accept, Accept-Encoding" {
		t.Errorf("Vary = %q", v)
	}
	files := filesOf(page)
	if len(files) != 3 {
		t.Fatalf("got %d files", len(files))
	}
	for _, f := range files {
		u := f["url"].(string)
		if !strings.HasPrefix(u, "/files/alpha/") {
			t.Errorf("file url not rewritten: %q", u)
		}
		for _, key := range []string{"hashes", "size", "upload-time"} {
			if _, ok := f[key]; !ok {
				t.Errorf("%s lost key %s", f["filename"], key)
			}
		}
		if _, ok := f["dist-info-metadata"]; ok {
			t.Error("dist-info-metadata must never be emitted in JSON")
		}
	}
	if files[1]["requires-python"] != ">=3.8" || files[1]["core-metadata"] == nil {
		t.Errorf("requires-python or core-metadata lost: %v", files[1])
	}
	if page["meta"].(map[string]any)["api-version"] != "1.4" || len(page["versions"].([]any)) != 2 {
		t.Errorf("meta or versions wrong: %v %v", page["meta"], page["versions"])
	}

	for accept, want := range map[string]string{"": "text/html; charset=utf-8", "*/*": "text/html; charset=utf-8", "application/vnd.pypi.simple.v1+html": index.MediaHTML} {
		resp, body := h.get("/simple/alpha/", "Accept", accept)
		if resp.Header.Get("Content-Type") != want {
			t.Errorf("Accept %q: Content-Type %q, want %q", accept, resp.Header.Get("Content-Type"), want)
		}
		if bytes.Contains(body, []byte(strings.TrimPrefix(h.fake.FileHost(), "http://"))) || !bytes.Contains(body, []byte(`href="/files/alpha/alpha-1.0-py3-none-any.whl#sha256=`)) {
			t.Errorf("HTML page not rewritten:\n%s", body)
		}
	}
}

func TestRedirects(t *testing.T) {
	h := newHarness(t)
	for path, want := range map[string]string{
		"/simple/Alpha/": "/simple/alpha/",
		"/simple/alpha":  "/simple/alpha/",
		"/simple/A_lpha": "/simple/a-lpha/",
		"/simple":        "/simple/",
	} {
		resp, _ := h.get(path)
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != want {
			t.Errorf("%s: %d to %q, want 301 to %q", path, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	resp, body := h.get("/simple/bad%20name/")
	if resp.StatusCode != 404 || !strings.Contains(string(body), "invalid project name") {
		t.Errorf("bad name: %d %s", resp.StatusCode, body)
	}
	if resp, _ := h.get("/simple/nosuch/"); resp.StatusCode != 404 {
		t.Errorf("unknown project: %d, want 404", resp.StatusCode)
	}
}

func TestProjectList(t *testing.T) {
	h := newHarness(t)
	resp, body := h.get("/simple/", "Accept", pipAccept)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != index.MediaJSON || !strings.Contains(string(body), `{"name":"alpha"}`) {
		t.Fatalf("%d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = h.get("/simple/")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `<a href="/simple/alpha/">alpha</a>`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestFileIsVerifiedStoredAndServed(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t)
	d := h.fake.AddWheel(fakepypi.WheelSpec{Name: "beta", Version: "2.0"}, uploaded)
	resp, body := h.get(fileURL(d))
	if resp.StatusCode != 200 || !bytes.Equal(body, d.Data) {
		t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
	}
	rec, err := h.store.GetFile(ctx, "beta", d.Filename)
	if err != nil {
		t.Fatal(err)
	}
	if rec.SHA256 != d.SHA256() || rec.Size != int64(len(d.Data)) || rec.Version != "2.0" || !rec.UploadTime.Equal(uploaded) || rec.UpstreamURL == "" || rec.FetchedAt.IsZero() {
		t.Errorf("record incomplete: %+v", rec)
	}
	// Served again from the store: no second upstream download.
	h.get(fileURL(d))
	if n := h.fake.Hits(upstreamFilePath(d)); n != 1 {
		t.Errorf("upstream file fetched %d times, want 1", n)
	}
	// Range requests (uv) and HEAD.
	resp, body = h.get(fileURL(d), "Range", "bytes=0-3")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, d.Data[:4]) {
		t.Errorf("range: %d %q", resp.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodHead, h.http.URL+fileURL(d), nil)
	hr, err := http.DefaultClient.Do(req)
	if err != nil || hr.StatusCode != 200 || hr.ContentLength != int64(len(d.Data)) {
		t.Errorf("HEAD: %v %v", hr, err)
	}
	resp, _ = h.get(fileURL(d), "If-None-Match", `"`+d.SHA256()+`"`)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET: %d, want 304", resp.StatusCode)
	}
}

func TestMetadataIsVerified(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t)
	d := h.fake.AddWheel(fakepypi.WheelSpec{Name: "beta", Version: "2.0", Requires: []string{"alpha"}}, uploaded)
	resp, body := h.get(fileURL(d) + ".metadata")
	if resp.StatusCode != 200 || !bytes.Equal(body, d.Metadata) {
		t.Fatalf("metadata: %d %q", resp.StatusCode, body)
	}
	if _, err := h.store.GetFile(ctx, "beta", d.Filename+".metadata"); err != nil {
		t.Errorf("metadata not recorded: %v", err)
	}
	e := h.fake.AddWheel(fakepypi.WheelSpec{Name: "beta", Version: "2.1"}, uploaded)
	h.advance(2 * time.Minute) // let the page refresh so 2.1 is listed
	h.fake.SetFault(upstreamFilePath(e)+".metadata", fakepypi.Fault{WrongBody: []byte("Metadata-Version: 2.1\nName: evil\n")})
	resp, body = h.get(fileURL(e) + ".metadata")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "did not match its published sha256") {
		t.Errorf("tampered metadata: %d %s", resp.StatusCode, body)
	}
	sdist := "/files/alpha/alpha-1.1.tar.gz.metadata"
	if resp, _ := h.get(sdist); resp.StatusCode != 404 {
		t.Errorf("metadata not offered: %d, want 404", resp.StatusCode)
	}
}

func TestTamperedFileIsNeitherServedNorStored(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t)
	d := h.fake.AddWheel(fakepypi.WheelSpec{Name: "beta", Version: "2.0"}, uploaded)
	evil := append([]byte(nil), d.Data...)
	evil[len(evil)/2] ^= 0xff
	h.fake.SetFault(upstreamFilePath(d), fakepypi.Fault{WrongBody: evil})
	resp, body := h.get(fileURL(d))
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "upstream file did not match its published sha256") {
		t.Fatalf("tampered: %d %s", resp.StatusCode, body)
	}
	if _, err := h.store.GetFile(ctx, "beta", d.Filename); err == nil {
		t.Error("tampered file was recorded")
	}
	if h.store.HasBlob(ctx, d.SHA256()) || countFiles(t, filepath.Join(h.dir, "blobs")) != 0 {
		t.Error("tampered bytes were stored")
	}
	if countFiles(t, filepath.Join(h.dir, "tmp")) != 0 {
		t.Error("temp file left behind")
	}
	if !strings.Contains(h.logs.String(), `"event":"security"`) {
		t.Error("no security event logged")
	}
	// Once the upstream is repaired, the real file flows.
	h.fake.SetFault(upstreamFilePath(d), fakepypi.Fault{})
	if resp, body := h.get(fileURL(d)); resp.StatusCode != 200 || !bytes.Equal(body, d.Data) {
		t.Errorf("after repair: %d", resp.StatusCode)
	}
}

func countFiles(t *testing.T, dir string) int {
	n := 0
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n++
		}
		return nil
	})
	return n
}

func TestTruncatedDownload(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t)
	d := h.fake.AddWheel(fakepypi.WheelSpec{Name: "beta", Version: "2.0"}, uploaded)
	h.fake.SetFault(upstreamFilePath(d), fakepypi.Fault{Truncate: true})
	resp, body := h.get(fileURL(d))
	if resp.StatusCode != http.StatusBadGateway || h.store.HasBlob(ctx, d.SHA256()) {
		t.Fatalf("truncated: %d %s", resp.StatusCode, body)
	}
}

func TestFileWithoutSHA256IsRefused(t *testing.T) {
	h := newHarness(t)
	d := h.fake.AddWheel(fakepypi.WheelSpec{Name: "beta", Version: "2.0"}, uploaded)
	d.NoHash = true
	resp, body := h.get(fileURL(d))
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "lists no sha256") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if h.fake.Hits(upstreamFilePath(d)) != 0 {
		t.Error("an unverifiable file was downloaded")
	}
}

func TestFileHostNotAllowed(t *testing.T) {
	h := newHarness(t, func(o *gate.Options, fake *fakepypi.Server) {
		base, _ := url.Parse(fake.Index.URL)
		o.Upstream = upstream.New(upstream.Options{BaseURL: base, Timeout: time.Second, MaxPageBytes: 1 << 20, Metrics: o.Metrics})
	})
	d := h.fake.AddWheel(fakepypi.WheelSpec{Name: "beta", Version: "2.0"}, uploaded)
	resp, body := h.get(fileURL(d))
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "file host not allowed") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if h.fake.Hits(upstreamFilePath(d)) != 0 {
		t.Error("a file was downloaded from a host that is not allowed")
	}
	if !strings.Contains(metricsText(t, h), "airlock_refused_file_hosts_total 1") || !strings.Contains(h.logs.String(), "host that is not allowed") {
		t.Error("refusal not counted or not logged")
	}
}

func TestConcurrentRequestsCauseOneFetch(t *testing.T) {
	h := newHarness(t)
	d := h.fake.AddWheel(fakepypi.WheelSpec{Name: "beta", Version: "2.0", PayloadBytes: 1 << 20}, uploaded)
	h.fake.SetFault(upstreamFilePath(d), fakepypi.Fault{Delay: 200 * time.Millisecond})
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(h.http.URL + fileURL(d))
			if err != nil {
				errs <- err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Equal(body, d.Data) {
				errs <- resp.Status
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := h.fake.Hits(upstreamFilePath(d)); got != 1 {
		t.Errorf("%d concurrent requests caused %d upstream fetches, want 1", n, got)
	}
	if got := h.fake.Hits("/simple/beta/"); got != 1 {
		t.Errorf("project page fetched %d times, want 1", got)
	}
}

func TestClientHangupDoesNotAbortFill(t *testing.T) {
	h := newHarness(t)
	d := h.fake.AddWheel(fakepypi.WheelSpec{Name: "beta", Version: "2.0"}, uploaded)
	// Cache the page first, so only the file fetch is slow.
	if _, err := h.gate.Page(context.Background(), "beta"); err != nil {
		t.Fatal(err)
	}
	h.fake.SetFault(upstreamFilePath(d), fakepypi.Fault{Delay: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.http.URL+fileURL(d), nil)
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("request should have been cut short")
	}
	// The fill goes on without the client; the next request joins or finds it.
	resp, body := h.get(fileURL(d))
	if resp.StatusCode != 200 || !bytes.Equal(body, d.Data) {
		t.Fatalf("%d", resp.StatusCode)
	}
	if got := h.fake.Hits(upstreamFilePath(d)); got != 1 {
		t.Errorf("upstream fetched %d times, want 1 (the fill survived the hang-up)", got)
	}
}

func TestStalePageWhenUpstreamFails(t *testing.T) {
	faults := map[string]fakepypi.Fault{
		"5xx":       {Status: 503},
		"timeout":   {Delay: 5 * time.Second},
		"reset":     {Reset: true},
		"malformed": {Garbage: true},
		"truncated": {Truncate: true},
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(o *gate.Options, _ *fakepypi.Server) { o.PageTimeout = 2 * time.Second })
			resp, _ := h.jsonPage("alpha")
			if resp.StatusCode != 200 {
				t.Fatal(resp.Status)
			}
			h.advance(2 * time.Minute) // past the TTL
			h.fake.SetFault("/simple/alpha/", fault)
			resp, page := h.jsonPage("alpha")
			if resp.StatusCode != 200 || len(filesOf(page)) != 3 || resp.Header.Get("X-Airlock-Stale") == "" {
				t.Fatalf("stale page not served: %d %v", resp.StatusCode, resp.Header)
			}
			if !strings.Contains(h.logs.String(), "serving stale page") {
				t.Error("stale page not logged")
			}
			// A dead upstream is not asked again on every request...
			before := h.fake.Hits("/simple/alpha/")
			if resp, _ := h.jsonPage("alpha"); resp.StatusCode != 200 || h.fake.Hits("/simple/alpha/") != before {
				t.Errorf("failed upstream asked again at once: %d hits, was %d", h.fake.Hits("/simple/alpha/"), before)
			}
			// ...but is after a while, and a recovered one is used again.
			h.fake.SetFault("/simple/alpha/", fakepypi.Fault{})
			h.advance(31 * time.Second)
			if resp, _ := h.jsonPage("alpha"); resp.Header.Get("X-Airlock-Stale") != "" || h.fake.Hits("/simple/alpha/") == before {
				t.Errorf("recovered upstream not used: %v", resp.Header)
			}
			// Nothing cached: a 502 with a one-line reason.
			h.fake.SetFault("/simple/other/", fault)
			h.fake.AddWheel(fakepypi.WheelSpec{Name: "other", Version: "1"}, uploaded)
			resp, body := h.get("/simple/other/", "Accept", pipAccept)
			if resp.StatusCode != http.StatusBadGateway || strings.Count(strings.TrimSpace(string(body)), "\n") != 0 {
				t.Errorf("nothing cached: %d %q", resp.StatusCode, body)
			}
		})
	}
}

func TestRevalidationUsesValidators(t *testing.T) {
	h := newHarness(t)
	h.jsonPage("alpha")
	h.jsonPage("alpha")
	if got := h.fake.Hits("/simple/alpha/"); got != 1 {
		t.Fatalf("fresh page refetched: %d hits", got)
	}
	h.advance(2 * time.Minute)
	h.jsonPage("alpha")
	if got := h.fake.Hits("/simple/alpha/"); got != 2 {
		t.Fatalf("stale page not revalidated: %d hits", got)
	}
	if !strings.Contains(metricsText(t, h), `airlock_cache_requests_total{kind="page",result="hit"} 2`) {
		t.Errorf("304 not counted as a hit:\n%s", metricsText(t, h))
	}
	// A new upload appears after the next TTL.
	h.fake.AddWheel(fakepypi.WheelSpec{Name: "alpha", Version: "1.2"}, uploaded)
	h.advance(2 * time.Minute)
	if _, page := h.jsonPage("alpha"); len(filesOf(page)) != 4 {
		t.Errorf("new upload not seen after revalidation")
	}
}

func TestUpstreamStoppedStillServesWarmFiles(t *testing.T) {
	h := newHarness(t)
	d := h.fake.AddWheel(fakepypi.WheelSpec{Name: "beta", Version: "2.0"}, uploaded)
	h.get(fileURL(d))
	h.fake.Close()
	h.advance(time.Hour)
	if resp, page := h.jsonPage("beta"); resp.StatusCode != 200 || len(filesOf(page)) != 1 {
		t.Errorf("page with upstream down: %d", resp.StatusCode)
	}
	if resp, body := h.get(fileURL(d)); resp.StatusCode != 200 || !bytes.Equal(body, d.Data) {
		t.Errorf("file with upstream down: %d", resp.StatusCode)
	}
}

func TestRestartKeepsCacheAndServesFromStore(t *testing.T) {
	h := newHarness(t)
	d := h.fake.AddWheel(fakepypi.WheelSpec{Name: "beta", Version: "2.0"}, uploaded)
	h.get(fileURL(d))
	h.http.Close()
	h.store.Close()
	h.open()
	h.fake.Close()
	if resp, body := h.get(fileURL(d)); resp.StatusCode != 200 || !bytes.Equal(body, d.Data) {
		t.Errorf("after restart: %d", resp.StatusCode)
	}
}

func TestPageSizeCap(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 4000; i++ { // valid filenames: the page is refused for its size alone
		h.fake.Add(&fakepypi.Dist{Project: "huge", Version: "1", Filename: strings.Repeat("x", 180) + "-" + strings.Repeat("1", i%50+1) + ".tar.gz", Data: []byte{byte(i)}})
	}
	resp, body := h.get("/simple/huge/", "Accept", pipAccept)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "too large") {
		t.Errorf("oversized page: %d %s", resp.StatusCode, body)
	}
}

func TestHTMLOnlyUpstream(t *testing.T) {
	// HTML pages carry no upload time; the JSON API on the same upstream
	// does, and the page takes it from there.
	withAPI := newHarness(t)
	withAPI.fake.SetHTMLOnly(true)
	_, page := withAPI.jsonPage("alpha")
	if f := filesOf(page)[0]; f["yanked"] != nil || f["upload-time"] != uploaded.Format("2006-01-02T15:04:05.000000Z") {
		t.Errorf("upload time not taken from the JSON API: %v", f)
	}
	if resp, _ := withAPI.get(filesOf(page)[0]["url"].(string)); resp.StatusCode != http.StatusOK {
		t.Errorf("file with its upload time from the JSON API: %d", resp.StatusCode)
	}
	if withAPI.fake.Hits("/pypi/alpha/json") != 1 {
		t.Errorf("JSON API asked %d times, want once per page fetch", withAPI.fake.Hits("/pypi/alpha/json"))
	}

	// Without either, such files are held by default.
	held := newHarness(t)
	held.fake.SetHTMLOnly(true)
	held.fake.SetFault("/pypi/alpha/json", fakepypi.Fault{Status: http.StatusNotFound})
	_, page = held.jsonPage("alpha")
	if f := filesOf(page)[0]; f["yanked"] == nil || !strings.Contains(f["yanked"].(string), "no upload time") {
		t.Errorf("file without upload time not marked held: %v", f)
	}
	if resp, _ := held.get(filesOf(page)[0]["url"].(string)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("file without upload time served: %d", resp.StatusCode)
	}

	h := newHarness(t, func(o *gate.Options, _ *fakepypi.Server) {})
	h.rules.Default.OnMissingUploadTime = policy.Allow
	h.http.Close()
	h.store.Close()
	h.open()
	h.fake.SetHTMLOnly(true)
	resp, page := h.jsonPage("alpha")
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	files := filesOf(page)
	if len(files) != 3 || files[1]["core-metadata"] == nil || files[1]["requires-python"] != ">=3.8" {
		t.Fatalf("html-only upstream lost data: %v", files)
	}
	if page["meta"].(map[string]any)["api-version"] != "1.0" {
		t.Errorf("sizes unknown, so api-version must be 1.0, got %v", page["meta"])
	}
	resp, _ = h.get(files[0]["url"].(string))
	if resp.StatusCode != 200 {
		t.Errorf("file via html-only upstream: %d", resp.StatusCode)
	}
}

func TestObservability(t *testing.T) {
	h := newHarness(t)
	resp, _ := h.get("/simple/alpha/", "X-Request-Id", "abc-123")
	if resp.Header.Get("X-Request-Id") != "abc-123" {
		t.Errorf("request id not echoed: %q", resp.Header.Get("X-Request-Id"))
	}
	resp, _ = h.get("/healthz")
	if resp.StatusCode != 200 {
		t.Error("healthz")
	}
	resp, _ = h.get("/readyz")
	if resp.StatusCode != 200 {
		t.Error("readyz")
	}
	h.srv.Drain()
	if resp, _ = h.get("/readyz"); resp.StatusCode != 503 {
		t.Error("readyz while draining")
	}
	text := metricsText(t, h)
	for _, want := range []string{
		`airlock_http_requests_total{code="200",route="project-page"} 1`,
		`airlock_upstream_request_duration_seconds_count{kind="page"} 1`,
		"airlock_served_bytes_total", "airlock_hash_mismatches_total",
		`airlock_cache_requests_total{kind="page",result="miss"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	var lines int
	for _, l := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(l, `"request_id":"abc-123"`) && strings.Contains(l, `"message":"request"`) {
			lines++
		}
	}
	if lines != 1 {
		t.Errorf("want one access line for the request, got %d:\n%s", lines, h.logs.String())
	}
}

func metricsText(t *testing.T, h *harness) string {
	resp, body := h.get("/metrics")
	if resp.StatusCode != 200 {
		t.Fatal("metrics", resp.StatusCode)
	}
	return string(body)
}
