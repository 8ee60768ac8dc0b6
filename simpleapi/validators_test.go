package simpleapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"airlock/internal/fakepypi"
)

// TestPageValidatorsAndCompression: pages carry an ETag; If-None-Match
// gets a 304; a client that accepts gzip gets the same page compressed,
// under its own validator.
func TestPageValidatorsAndCompression(t *testing.T) {
	h := newHarness(t)
	do := func(header ...string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, h.http.URL+"/simple/alpha/", nil)
		req.Header.Set("Accept", pipAccept)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		// A transport that leaves Accept-Encoding and the body alone.
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, plain := do()
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("plain page: %d etag %q encoding %q", resp.StatusCode, etag, resp.Header.Get("Content-Encoding"))
	}
	if resp, body := do("If-None-Match", etag); resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("revalidation: %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp, _ := do("If-None-Match", `"other"`); resp.StatusCode != 200 {
		t.Errorf("other validator: %d", resp.StatusCode)
	}
	resp, gz := do("Accept-Encoding", "gzip, deflate")
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("ETag") == etag {
		t.Fatalf("gzip: encoding %q etag %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("ETag"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain) {
		t.Error("the gzip body is not the page")
	}
	if resp, _ := do("Accept-Encoding", "gzip", "If-None-Match", resp.Header.Get("ETag")); resp.StatusCode != http.StatusNotModified {
		t.Errorf("gzip revalidation: %d", resp.StatusCode)
	}
	if resp, _ := do("Accept-Encoding", "gzip;q=0"); resp.Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent to a client that refused it")
	}
	if v := resp.Header.Get("Vary"); v != "Accept, Accept-Encoding" {
		t.Errorf("Vary: %q", v)
	}
}

// TestRefusalBodyEscaped: a 403's body (curl prints it) and reason phrase
// carry archive names as visible escapes.
func TestRefusalBodyEscaped(t *testing.T) {
	h := newHarness(t)
	d := h.fake.AddWheel(fakepypi.WheelSpec{Name: "gamma", Version: "1.0", Extra: map[string]string{
		"x\r\x1b[2K\x1b[32mAPPROVED OK\x1b[0m\u202e.pth": "import os\n"}}, uploaded)
	resp, body := h.get(fileURL(d))
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("%s", resp.Status)
	}
	if bytes.ContainsAny(body, "\x1b\r\u202e") || strings.ContainsAny(resp.Status, "\x1b\r") {
		t.Errorf("raw control characters in the refusal:\n%q\n%q", resp.Status, body)
	}
	if !bytes.Contains(body, []byte(`\x1b[32mAPPROVED OK`)) {
		t.Errorf("body: %s", body)
	}
}

// TestTrustedProxies: X-Forwarded-For names the client only when the peer
// is a trusted proxy; the nearest untrusted hop is the client.
func TestTrustedProxies(t *testing.T) {
	h := newHarness(t)
	srv := New(Options{Gate: h.gate, Store: h.store, UpstreamURL: h.config.Upstream.BaseURL(), Metrics: h.config.Metrics,
		Log: zerolog.New(h.logs), TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	handler := srv.Handler()
	remote := func(peer, xff string) string {
		req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		req.RemoteAddr = peer
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		before := len(h.logs.String())
		handler.ServeHTTP(httptest.NewRecorder(), req)
		line := h.logs.String()[before:]
		return between(line, `"remote":"`, `"`)
	}
	for _, tt := range []struct{ peer, xff, want string }{
		{"10.1.2.3:5000", "203.0.113.7", "203.0.113.7:0"},
		{"10.1.2.3:5000", "198.51.100.1, 203.0.113.7, 10.9.9.9", "203.0.113.7:0"}, // two proxies; the client claimed a spoofed first hop
		{"192.0.2.50:5000", "203.0.113.7", "192.0.2.50:5000"},                     // not a trusted proxy: header ignored
		{"10.1.2.3:5000", "not-an-ip", "10.1.2.3:5000"},
	} {
		if got := remote(tt.peer, tt.xff); got != tt.want {
			t.Errorf("peer %s, X-Forwarded-For %q: remote %q, want %q", tt.peer, tt.xff, got, tt.want)
		}
	}
}

func between(s, start, end string) string {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, end)
	return v
}

// TestReusedFilenameHeld: the upstream lists new bytes under a filename
// Airlock stored; the file is held with a clear reason and a security
// event, and stays held after the new bytes are fetched.
func TestReusedFilenameHeld(t *testing.T) {
	h := newHarness(t)
	d := h.fake.AddWheel(fakepypi.WheelSpec{Name: "gamma", Version: "1.0"}, uploaded)
	if resp, _ := h.get(fileURL(d)); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	swapped := append([]byte(nil), d.Data...)
	swapped[len(swapped)-100] ^= 1
	h.fake.Replace(d.Filename, swapped)
	h.advance(2 * time.Minute) // past index.ttl
	resp, _ := h.get(fileURL(d))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Status, "(filename_reused)") || !strings.Contains(resp.Status, "PyPI never reuses a filename") {
		t.Fatalf("reused filename: %s", resp.Status)
	}
	if !strings.Contains(h.logs.String(), `"event":"security"`) {
		t.Error("no security event")
	}
	h.gate.RunPending(context.Background()) // the background fetches the new bytes
	if resp, _ := h.get(fileURL(d)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("after the new bytes were stored: %s", resp.Status)
	}
	_, page := h.jsonPage("gamma")
	if f := fileByName(page, d.Filename); f == nil || !strings.Contains(fmt.Sprint(f["yanked"]), "PyPI never reuses a filename") {
		t.Errorf("page: %v", f)
	}
}
