// Package s3test starts a real S3-compatible server for tests: versitygw
// over a temporary folder on a free port. scripts/test.sh installs it
// (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0).
package s3test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Server is a running versitygw.
type Server struct {
	Endpoint string // http://127.0.0.1:port
	Access   string
	Secret   string
	dir      string
	bin      string
	cmd      *exec.Cmd
}

// Binary finds versitygw: $VERSITYGW, the PATH, or Go's bin directory.
func Binary() (string, error) {
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	for _, dir := range []string{os.Getenv("GOBIN"), filepath.Join(os.Getenv("HOME"), "go", "bin")} {
		if p := filepath.Join(dir, "versitygw"); dir != "" {
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("versitygw not found: run `bash scripts/test.sh` (it installs it) or set VERSITYGW")
}

// Start runs versitygw until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := &Server{Endpoint: "http://" + addr, Access: "airlock-test", Secret: "airlock-test-secret", dir: t.TempDir(), bin: bin}
	s.start(t)
	t.Cleanup(func() { s.Stop(t) })
	return s
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	addr := s.Endpoint[len("http://"):]
	s.cmd = exec.Command(s.bin, "--access", s.Access, "--secret", s.Secret, "--port", addr, "posix", s.dir)
	s.cmd.Env = append(os.Environ(), "HTTP_PROXY=", "HTTPS_PROXY=")
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if resp, err := http.Get(s.Endpoint + "/"); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("versitygw did not start on %s", addr)
}

// Stop kills the server (an outage); its objects stay in its folder.
func (s *Server) Stop(t testing.TB) {
	if s.cmd != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart starts the server again on the same address and objects.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.start(t)
}

// Bucket creates a bucket and returns its name.
func (s *Server) Bucket(t testing.TB, name string) string {
	t.Helper()
	c, err := minio.New(s.Endpoint[len("http://"):], &minio.Options{Creds: credentials.NewStaticV4(s.Access, s.Secret, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

// Env sets the standard AWS credential variables for the test.
func (s *Server) Env(t testing.TB) {
	t.Setenv("AWS_ACCESS_KEY_ID", s.Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.Secret)
}
