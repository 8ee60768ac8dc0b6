package e2e

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"airlock/internal/fakepypi"
)

// TestStoreFull runs Airlock on a 6 MiB tmpfs (the test script runs as
// root; mounting is how a full disk is made for real). A 10 MiB wheel gets
// 507 "the store is full" — not an upstream error — nothing partial is
// left, a small file is still served, and /readyz fails below
// store.min_free_bytes.
func TestStoreFull(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mounting a small tmpfs for the full-disk test needs root: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	big := fake.AddWheel(fakepypi.WheelSpec{Name: "big", Version: "1.0", PayloadBytes: 10 << 20}, uploaded)
	small := fake.AddWheel(fakepypi.WheelSpec{Name: "small", Version: "1.0"}, uploaded)
	a := startAirlock(t, filepath.Join(dir, "data"), airlockEnv(fake, "AIRLOCK_STORE_MIN_FREE_BYTES=8MiB", "AIRLOCK_BACKGROUND_WORKERS=0")...)

	resp, err := http.Get(a.URL + "/files/big/" + big.Filename)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInsufficientStorage || !strings.Contains(string(body), "the store is full") {
		t.Errorf("download into a full store: %d %s", resp.StatusCode, body)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "data", "tmp")); len(entries) != 0 {
		t.Errorf("partial download left in tmp: %d files", len(entries))
	}
	resp, err = http.Get(a.URL + "/files/small/" + small.Filename)
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("a small file after the full one: %v %v", resp, err)
	}
	resp, _ = http.Get(a.URL + "/readyz")
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "store nearly full") {
		t.Errorf("readyz below min_free_bytes: %d %s", resp.StatusCode, body)
	}
}
