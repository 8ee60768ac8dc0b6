package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// balancer runs nginx in front of the replicas; it tries the next replica
// when one refuses the connection or dies mid-request.
func balancer(t *testing.T, replicas ...string) string {
	return startNginx(t, "", "", replicas...)
}

// tlsBalancer is a balancer that terminates TLS with cert and key, as a
// production one in front of Airlock does; its URL is https://.
func tlsBalancer(t *testing.T, cert, key string, replicas ...string) string {
	return startNginx(t, cert, key, replicas...)
}

// startNginx passes on the client's address and scheme the way the README
// tells a balancer to (X-Forwarded-For, X-Forwarded-Proto).
func startNginx(t *testing.T, cert, key string, replicas ...string) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Fatal("nginx not found: run `bash scripts/test.sh` (it installs Debian's nginx-light)")
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	var servers strings.Builder
	for _, r := range replicas {
		fmt.Fprintf(&servers, "server %s max_fails=1 fail_timeout=2s; ", strings.TrimPrefix(r, "http://"))
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	listen, scheme := addr, "http"
	if cert != "" {
		listen, scheme = fmt.Sprintf("%s ssl; ssl_certificate %s; ssl_certificate_key %s", addr, cert, key), "https"
	}
	conf := fmt.Sprintf(`%s daemon off; worker_processes 1; pid %s/nginx.pid; error_log %s/error.log;
events { worker_connections 256; }
http { access_log off;
  upstream airlock { %s }
  server { listen %s;
    location / { proxy_pass http://airlock; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto $scheme;
      proxy_next_upstream error timeout http_502; proxy_next_upstream_tries 2; proxy_read_timeout 120s; } } }
`, user, dir, dir, servers.String(), listen)
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644)
	cmd := exec.Command(bin, "-c", filepath.Join(dir, "nginx.conf"), "-p", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return scheme + "://" + addr
		}
		time.Sleep(20 * time.Millisecond)
	}
	errs, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	t.Fatalf("nginx did not start:\n%s\n%s", conf, errs)
	return ""
}
