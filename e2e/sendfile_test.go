package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

// TestWarmFileGoesOutWithSendfile: the running binary, behind its real
// listener (connlimit wraps each connection), sends a warm 50 MiB file
// with sendfile(2), as strace attached to it sees; a wrapper that hides
// the connection's ReadFrom made it 1,600 write(2) calls instead.
func TestWarmFileGoesOutWithSendfile(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatal("strace not found: run `bash scripts/test.sh` (it installs Debian's strace)")
	}
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	big := fake.AddWheel(fakepypi.WheelSpec{Name: "bigwheel", Version: "1.0", PayloadBytes: 50 << 20}, uploaded)
	a := startAirlock(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_SIGNALS_ENABLED=false", "AIRLOCK_INSPECT_ENABLED=false")...)
	url := a.URL + "/files/bigwheel/" + big.Filename
	get := func() string {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		h := sha256.New()
		io.Copy(h, resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET: %s", resp.Status)
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	get() // cold: fetched, verified, stored

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, strace, "-f", "-c", "-e", "trace=sendfile,write,writev", "-p", strconv.Itoa(a.cmd.Process.Pid))
	var out strings.Builder
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // strace attaches to every thread
	if got := get(); got != big.SHA256() {
		t.Errorf("warm file: sha256 %s", got)
	}
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	calls := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$`).FindAllStringSubmatch(out.String(), -1) {
		n, _ := strconv.Atoi(m[1])
		calls[m[2]] = n
	}
	if calls["sendfile"] == 0 || calls["write"] > 100 {
		t.Errorf("a warm 50 MiB file: %v system calls (want sendfile, few writes)\n%s", calls, out.String())
	}
}
