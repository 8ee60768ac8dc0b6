// Package connlimit caps the connections one client address may hold open
// at once, so a few slow clients cannot take every file descriptor and
// goroutine. Connections over the cap are closed as soon as they are
// accepted. Addresses of trusted reverse proxies are not capped (every
// client behind them shares their address).
package connlimit

import (
	"io"
	"net"
	"net/netip"
	"sync"
)

// Listener wraps a net.Listener with a per-address cap.
type Listener struct {
	net.Listener
	max    int
	exempt []netip.Prefix

	mu   sync.Mutex
	open map[netip.Addr]int
}

// New caps each remote address at max open connections (0: no cap).
func New(ln net.Listener, max int, exempt []netip.Prefix) *Listener {
	return &Listener{Listener: ln, max: max, exempt: exempt, open: map[netip.Addr]int{}}
}

// Accept returns the next connection within the cap.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || l.max <= 0 {
			return c, err
		}
		ap, perr := netip.ParseAddrPort(c.RemoteAddr().String())
		if perr != nil || l.isExempt(ap.Addr()) {
			return c, nil
		}
		addr := ap.Addr().Unmap()
		l.mu.Lock()
		if l.open[addr] >= l.max {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.open[addr]++
		l.mu.Unlock()
		return &conn{Conn: c, l: l, addr: addr}, nil
	}
}

func (l *Listener) isExempt(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range l.exempt {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Open reports the connections an address holds (for tests and metrics).
func (l *Listener) Open(a netip.Addr) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[a.Unmap()]
}

type conn struct {
	net.Conn
	l    *Listener
	addr netip.Addr
	once sync.Once
}

// ReadFrom hands a response body to the connection's own ReadFrom, so a
// stored file goes out with sendfile(2) as it would without the wrapper:
// net/http only uses it when the net.Conn it writes to has the method.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

func (c *conn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		if c.l.open[c.addr]--; c.l.open[c.addr] <= 0 {
			delete(c.l.open, c.addr)
		}
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
