package forwarded

import (
	"crypto/tls"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestApply: X-Forwarded-For names the client and X-Forwarded-Proto the
// scheme only when the peer is a trusted proxy.
func TestApply(t *testing.T) {
	proxies := Proxies{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tt := range []struct {
		peer, xff, proto string
		remote           string
		https            bool
	}{
		{"10.1.2.3:5000", "203.0.113.7", "", "203.0.113.7:0", false},
		{"10.1.2.3:5000", "198.51.100.1, 203.0.113.7, 10.9.9.9", "https", "203.0.113.7:0", true}, // two proxies; a spoofed first hop
		{"10.1.2.3:5000", "203.0.113.7", "HTTPS", "203.0.113.7:0", true},
		{"10.1.2.3:5000", "203.0.113.7", "https, http", "203.0.113.7:0", false}, // one hop was plain
		{"10.1.2.3:5000", "203.0.113.7", "http", "203.0.113.7:0", false},
		{"10.1.2.3:5000", "", "https", "10.1.2.3:5000", true},                 // the proxy itself, over HTTPS
		{"192.0.2.50:5000", "203.0.113.7", "https", "192.0.2.50:5000", false}, // not a trusted proxy: both ignored
		{"10.1.2.3:5000", "not-an-ip", "", "10.1.2.3:5000", false},
		{"[::ffff:10.1.2.3]:5000", "203.0.113.7", "https", "203.0.113.7:0", true},
	} {
		r := httptest.NewRequest("GET", "/ui/login", nil)
		r.RemoteAddr = tt.peer
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if tt.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tt.proto)
		}
		got := proxies.Apply(r)
		if got.RemoteAddr != tt.remote || HTTPS(got) != tt.https {
			t.Errorf("peer %s, X-Forwarded-For %q, -Proto %q: remote %q https %v, want %q %v",
				tt.peer, tt.xff, tt.proto, got.RemoteAddr, HTTPS(got), tt.remote, tt.https)
		}
		if r.RemoteAddr != tt.peer || HTTPS(r) {
			t.Errorf("Apply changed the request it was given")
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Forwarded-Proto", "https")
	if HTTPS(Proxies(nil).Apply(r)) {
		t.Error("no trusted proxies, yet the header was believed")
	}
	r.TLS = &tls.ConnectionState{}
	if !HTTPS(r) {
		t.Error("Airlock's own TLS is HTTPS")
	}
}
