package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"airlock/config"
	"airlock/connlimit"
	"airlock/internal/fakepypi"
	"airlock/server"
)

// liveServer runs the app as serve does (timeouts, connection cap) on a
// loopback port, with cfg adjusted by tweak.
func liveServer(t *testing.T, w *cliWorld, tweak func(*config.Config)) string {
	ctx := t.Context()
	t.Helper()
	cfg, err := config.Load("", os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	onTestBackend(t, &cfg)
	cfg.Background.Workers = 0
	tweak(&cfg)
	a, err := server.New(ctx, cfg, zerolog.Nop(), version)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.NewHTTPServer(a.Handler(), cfg, zerolog.Nop())
	go srv.Serve(connlimit.New(raw, cfg.Server.MaxConnsPerClient, nil))
	t.Cleanup(func() { srv.Close() })
	return raw.Addr().String()
}

// TestSlowRequestBodyCutOff: a sign-in body sent a byte at a time cannot
// hold the connection past read_timeout; a health check with an unfinished
// body is answered.
func TestSlowRequestBodyCutOff(t *testing.T) {
	w := newCLIWorld(t)
	addr := liveServer(t, w, func(c *config.Config) { c.Server.ReadTimeout = config.Duration(time.Second) })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /ui/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n")
	start := time.Now()
	closed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c) // returns when the server closes
		close(closed)
	}()
	for time.Since(start) < 5*time.Second {
		select {
		case <-closed:
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("closed after %v", d)
			}
			goto health
		case <-time.After(300 * time.Millisecond):
			c.Write([]byte("a"))
		}
	}
	t.Fatal("a byte-at-a-time body held the connection for 5 s")
health:
	h, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	fmt.Fprintf(h, "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial")
	h.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(h), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz with an unfinished body: %v %v", resp, err)
	}
}

// TestDownloadDeadlineFollowsSize: a 32 MiB download to a client reading
// at 8 MiB/s outlives write_timeout (1 s) because its deadline grows with
// its size; a client that stops reading is cut off.
func TestDownloadDeadlineFollowsSize(t *testing.T) {
	w := newCLIWorld(t)
	big := w.fake.AddWheel(fakepypi.WheelSpec{Name: "big", Version: "1.0", PayloadBytes: 32 << 20}, time.Now().Add(-30*24*time.Hour))
	get := func(addr string, readRate int, stopAfter int64) (int64, error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		c.(*net.TCPConn).SetReadBuffer(64 << 10)
		fmt.Fprintf(c, "GET /files/big/%s HTTP/1.1\r\nHost: x\r\n\r\n", big.Filename)
		br := bufio.NewReaderSize(c, 64<<10)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		var n int64
		buf := make([]byte, 64<<10)
		tick := time.Duration(float64(time.Second) * float64(len(buf)) / float64(readRate))
		for {
			if stopAfter > 0 && n >= stopAfter {
				time.Sleep(4 * time.Second) // stop reading
				stopAfter = 0
			}
			k, err := resp.Body.Read(buf)
			n += int64(k)
			if err == io.EOF {
				return n, nil
			}
			if err != nil {
				return n, err
			}
			time.Sleep(tick)
		}
	}
	warm := func(addr string) {
		resp, err := http.Get("http://" + addr + "/files/big/" + big.Filename)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("warm-up: %v %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	slowOK := liveServer(t, w, func(c *config.Config) {
		c.Server.WriteTimeout, c.Server.MinDownloadRate = config.Duration(time.Second), 4<<20
	})
	warm(slowOK)
	if n, err := get(slowOK, 8<<20, 0); err != nil || n != int64(len(big.Data)) {
		t.Errorf("slow but progressing download: %d of %d bytes, %v", n, len(big.Data), err)
	}
	strict := liveServer(t, w, func(c *config.Config) {
		c.Server.WriteTimeout, c.Server.MinDownloadRate = config.Duration(time.Second), 64<<20
	})
	warm(strict)
	if n, err := get(strict, 64<<20, 1<<20); err == nil && n == int64(len(big.Data)) {
		t.Error("a client that stopped reading kept its download past the deadline")
	} else if !strings.Contains(fmt.Sprint(err), "EOF") && !strings.Contains(fmt.Sprint(err), "reset") {
		t.Logf("stalled client ended with: %v", err)
	}
}

// TestConnectionsPerClientCapped: max_conns_per_client holds for the real
// listener.
func TestConnectionsPerClientCapped(t *testing.T) {
	w := newCLIWorld(t)
	addr := liveServer(t, w, func(c *config.Config) { c.Server.MaxConnsPerClient = 2 })
	for i := 0; i < 2; i++ { // two connections held open (closed at the end)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("connection %d: %v %v", i, resp, err)
		}
	}
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	fmt.Fprintf(third, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	third.SetReadDeadline(time.Now().Add(3 * time.Second))
	if resp, err := http.ReadResponse(bufio.NewReader(third), nil); err == nil {
		t.Errorf("third connection from one address served: %d", resp.StatusCode)
	}
}
