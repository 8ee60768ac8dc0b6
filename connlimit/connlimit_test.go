package connlimit

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

func serve(t *testing.T, max int, exempt []netip.Prefix) (*Listener, chan net.Conn) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(raw, max, exempt)
	t.Cleanup(func() { l.Close() })
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	return l, accepted
}

func dial(t *testing.T, l *Listener) net.Conn {
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func closedByServer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestCapPerAddress(t *testing.T) {
	l, accepted := serve(t, 3, nil)
	var served []net.Conn
	for i := 0; i < 3; i++ {
		dial(t, l)
		served = append(served, <-accepted)
	}
	over := dial(t, l)
	if !closedByServer(over) {
		t.Error("a fourth connection from one address was served")
	}
	if n := l.Open(netip.MustParseAddr("127.0.0.1")); n != 3 {
		t.Errorf("open: %d, want 3", n)
	}
	served[0].Close() // room for one more
	dial(t, l)
	select {
	case <-accepted:
	case <-time.After(2 * time.Second):
		t.Error("no room after a connection closed")
	}
}

func TestTrustedProxyNotCapped(t *testing.T) {
	l, accepted := serve(t, 1, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	for i := 0; i < 4; i++ {
		dial(t, l)
		select {
		case <-accepted:
		case <-time.After(2 * time.Second):
			t.Fatalf("connection %d from a trusted proxy refused", i)
		}
	}
}
