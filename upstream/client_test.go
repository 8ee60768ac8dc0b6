package upstream

import (
	"airlock/index"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func newClient(t *testing.T, base string, fileHosts ...string) *Client {
	u, _ := url.Parse(base)
	return New(Options{BaseURL: u, FileHosts: fileHosts, Timeout: time.Second, MaxPageBytes: 1 << 16, Retries: 2})
}

func TestRetriesOnlyTransientFailures(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch {
		case strings.Contains(r.URL.Path, "flaky") && n < 3:
			w.WriteHeader(http.StatusServiceUnavailable)
		case strings.Contains(r.URL.Path, "gone"):
			w.WriteHeader(http.StatusNotFound)
		default:
			w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
			w.Header().Set("ETag", `"v1"`)
			w.Write([]byte(`{"meta":{"api-version":"1.1"},"name":"flaky","files":[]}`))
		}
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)

	res, err := c.FetchProject(context.Background(), "flaky", Validators{})
	if err != nil || calls.Load() != 3 || res.Validators.ETag != `"v1"` {
		t.Fatalf("flaky: %v after %d calls", err, calls.Load())
	}
	calls.Store(0)
	if _, err := c.FetchProject(context.Background(), "gone", Validators{}); !errors.Is(err, ErrNotFound) || calls.Load() != 1 {
		t.Errorf("404: %v after %d calls, want ErrNotFound after 1", err, calls.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls.Store(0)
	if _, err := c.FetchProject(ctx, "flaky", Validators{}); err == nil || calls.Load() > 1 {
		t.Errorf("cancelled context retried: %v, %d calls", err, calls.Load())
	}
}

func TestPageSizeCapAndContentType(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "big") {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(strings.Repeat("x", 1<<17)))
			return
		}
		w.Header().Set("Content-Type", "application/x-surprise")
		w.Write([]byte("{}"))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	if _, err := c.FetchProject(context.Background(), "big", Validators{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized page: %v", err)
	}
	if _, err := c.FetchProject(context.Background(), "odd", Validators{}); err == nil || !strings.Contains(err.Error(), "unexpected content type") {
		t.Errorf("unknown content type: %v", err)
	}
}

func TestDownloadRefusesOtherHostsAndRedirects(t *testing.T) {
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a request reached a host that is not allowed")
	}))
	defer evil.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, evil.URL+"/x.whl", http.StatusFound)
	}))
	defer redirector.Close()
	c := newClient(t, redirector.URL)
	var buf strings.Builder
	w := readerFromFunc(func(r interface{ Read([]byte) (int, error) }) error {
		b := make([]byte, 10)
		n, _ := r.Read(b)
		buf.Write(b[:n])
		return nil
	})
	if err := c.Download(context.Background(), evil.URL+"/x.whl", w); !errors.Is(err, ErrHostNotAllowed) {
		t.Errorf("direct: %v", err)
	}
	if err := c.Download(context.Background(), redirector.URL+"/x.whl", w); !errors.Is(err, ErrHostNotAllowed) {
		t.Errorf("redirect: %v", err)
	}
}

func TestRedactDropsSecrets(t *testing.T) {
	c := newClient(t, "http://127.0.0.1:1")
	err := c.Download(context.Background(), "http://user:secret@127.0.0.1:1/f.whl?token=abc", readerFromFunc(func(interface{ Read([]byte) (int, error) }) error { return nil }))
	if err == nil || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "token=abc") {
		t.Errorf("error leaks credentials: %v", err)
	}
}

// TestFileHostsMatchSchemeHostAndPort: with file_hosts [localhost], a page
// cannot make Airlock fetch http://localhost:<any port>/internal-admin.
func TestFileHostsMatchSchemeHostAndPort(t *testing.T) {
	c := newClient(t, "https://pypi.example", "localhost", "files.example:8443", "http://127.0.0.1:9000")
	for raw, ok := range map[string]bool{
		"https://localhost/x.whl":              true,
		"https://localhost:443/x.whl":          true,
		"http://localhost/x.whl":               false, // wrong scheme
		"https://localhost:8080/x.whl":         false, // wrong port
		"http://localhost:6379/internal-admin": false,
		"https://files.example:8443/x.whl":     true,
		"https://files.example/x.whl":          false,
		"http://127.0.0.1:9000/x.whl":          true,
		"http://127.0.0.1:9001/x.whl":          false,
		"https://pypi.example/x.whl":           true, // the upstream's own origin
		"http://pypi.example/x.whl":            false,
		"https://LOCALHOST/x.whl":              true,
	} {
		u, _ := url.Parse(raw)
		if err := c.CheckHost(u); (err == nil) != ok {
			t.Errorf("%s: allowed=%v, want %v", raw, err == nil, ok)
		}
	}
	for _, bad := range []string{"", "ftp://x", "https://x/path", "https://user@x", "x y"} {
		if _, err := ParseOrigin(bad); err == nil {
			t.Errorf("ParseOrigin(%q) accepted", bad)
		}
	}
}

// A page is parsed as it streams in; a connection cut mid-page is an
// upstream failure (retried), never a malformed page or a partial one.
func TestPageCutShortIsRetriedNotMalformed(t *testing.T) {
	var calls atomic.Int32
	full := `{"meta":{"api-version":"1.1"},"name":"cut","files":[{"filename":"cut-1.0.tar.gz","url":"/f/cut-1.0.tar.gz","hashes":{"sha256":"` + strings.Repeat("a", 64) + `"}}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
		if calls.Add(1) < 3 {
			w.Header().Set("Content-Length", "10000")
			w.Write([]byte(full[:60])) // then the handler returns: the connection is cut
			return
		}
		w.Write([]byte(full))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	res, err := c.FetchProject(context.Background(), "cut", Validators{})
	if err != nil || calls.Load() != 3 || len(res.Page.Files) != 1 {
		t.Fatalf("after two cut answers: %v, %d calls", err, calls.Load())
	}
	calls.Store(-10) // every answer is cut from now on
	_, err = c.FetchProject(context.Background(), "cut", Validators{})
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, index.ErrMalformed) {
		t.Errorf("always cut: %v, want ErrUnavailable and not ErrMalformed", err)
	}
}

// Credentials go to the index's own origin only: a file host (a CDN, or a
// host an upstream page names) never sees them.
func TestCredentialsOnlyToTheIndex(t *testing.T) {
	var fileAuth atomic.Value
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fileAuth.Store(r.Header.Get("Authorization"))
		w.Write([]byte("bytes"))
	}))
	defer files.Close()
	idx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "ci" || p != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<a href="` + files.URL + `/f/x-1.0.tar.gz#sha256=` + strings.Repeat("a", 64) + `">x-1.0.tar.gz</a>`))
	}))
	defer idx.Close()
	u, _ := url.Parse(idx.URL)
	c := New(Options{BaseURL: u, FileHosts: []string{files.URL}, Timeout: time.Second, MaxPageBytes: 1 << 16, Username: "ci", Password: "s3cret"})
	res, err := c.FetchProject(context.Background(), "x", Validators{})
	if err != nil || len(res.Page.Files) != 1 {
		t.Fatalf("authenticated page: %v", err)
	}
	var sink bytesSink
	if err := c.Download(context.Background(), res.Page.Files[0].URL, &sink); err != nil {
		t.Fatal(err)
	}
	if a, _ := fileAuth.Load().(string); a != "" {
		t.Errorf("the file host got the index's credentials: %q", a)
	}
	anon := New(Options{BaseURL: u, Timeout: time.Second, MaxPageBytes: 1 << 16})
	if _, err := anon.FetchProject(context.Background(), "x", Validators{}); err == nil {
		t.Error("no credentials, yet the page was read")
	}
}

type bytesSink struct{ b []byte }

func (s *bytesSink) ReadFrom(r io.Reader) (int64, error) {
	b, err := io.ReadAll(r)
	s.b = b
	return int64(len(b)), err
}
