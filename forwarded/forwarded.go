// Package forwarded reads what a trusted reverse proxy says about the
// client behind a request: its address (X-Forwarded-For) and whether it
// reached the proxy over HTTPS (X-Forwarded-Proto). Headers from anyone
// else are ignored, so a client can neither pick the address it is
// throttled and audited under nor pass plain HTTP off as HTTPS.
package forwarded

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the addresses of trusted reverse proxies.
type Proxies []netip.Prefix

type httpsKey struct{}

// Apply returns r as its client made it when its peer is a trusted proxy:
// RemoteAddr is the nearest address in X-Forwarded-For that is not itself
// a trusted proxy, and X-Forwarded-Proto: https marks it as HTTPS (see
// HTTPS). Any other request is returned unchanged.
func (p Proxies) Apply(r *http.Request) *http.Request {
	if len(p) == 0 {
		return r
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !p.trusted(peer.Addr()) {
		return r
	}
	out := r
	if client, ok := p.client(r); ok {
		out = r.Clone(r.Context())
		out.RemoteAddr = netip.AddrPortFrom(client, 0).String()
	}
	if saysHTTPS(r.Header.Values("X-Forwarded-Proto")) {
		out = out.WithContext(context.WithValue(out.Context(), httpsKey{}, true))
	}
	return out
}

// client is the nearest hop of X-Forwarded-For that is not a trusted
// proxy; a malformed chain names none (the proxy's own address is kept).
func (p Proxies) client(r *http.Request) (netip.Addr, bool) {
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return netip.Addr{}, false
		}
		if !p.trusted(a) {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// saysHTTPS: every hop the proxies recorded was HTTPS. Believing it too
// readily costs nothing but a sign-in (a browser on plain HTTP drops a
// Secure cookie); believing it too little is how it was before.
func saysHTTPS(values []string) bool {
	if len(values) == 0 {
		return false
	}
	for _, v := range strings.Split(strings.Join(values, ","), ",") {
		if !strings.EqualFold(strings.TrimSpace(v), "https") {
			return false
		}
	}
	return true
}

func (p Proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, pre := range p {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// HTTPS reports whether the client's connection is HTTPS: Airlock's own
// TLS, or a trusted proxy's by Apply.
func HTTPS(r *http.Request) bool {
	return r.TLS != nil || r.Context().Value(httpsKey{}) != nil
}
