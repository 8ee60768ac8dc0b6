package e2e

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestEveryCommandStopsOnCtrlC: each command that waits on a server or the
// network stops when interrupted, as `airlock --help` says, rather than
// waiting out its own time-out (two minutes for the admin API). The server
// here accepts the request and never answers; the command is interrupted
// once its request arrived.
func TestEveryCommandStopsOnCtrlC(t *testing.T) {
	arrived := make(chan struct{}, 16)
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, []byte("upstream:\n  url: "+hang.URL+"\nsignals:\n  pypistats_url: "+hang.URL+"\n  github_api_url: "+hang.URL+"\n"), 0o644)
	for _, args := range [][]string{
		{"quarantine", "list", "--server", hang.URL},
		{"downloads", "--server", hang.URL, "somefile.whl"},
		{"names", "list", "--server", hang.URL},
		{"health", "--url", hang.URL + "/readyz"},
		{"score", "--config", cfg, "somepkg"},
		{"check", "--config", cfg, "somepkg==1.0"},
	} {
		t.Run(args[0], func(t *testing.T) {
			cmd := exec.Command(airlockBin, args...)
			cmd.Env = append(os.Environ(), "AIRLOCK_ADMIN_TOKEN="+strings.Repeat("t", 32), "AIRLOCK_DATA_DIR="+t.TempDir())
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-arrived:
			case err := <-done:
				t.Fatalf("ended before its request arrived: %v\n%s", err, out.String())
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("its request never arrived\n%s", out.String())
			}
			cmd.Process.Signal(syscall.SIGINT)
			select {
			case err := <-done:
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() == 0 {
					t.Errorf("interrupted, it exited with %v\n%s", err, out.String())
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Errorf("still running 30 s after Ctrl-C\n%s", out.String())
			}
		})
	}
}
