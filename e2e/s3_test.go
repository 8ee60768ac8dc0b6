package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
	"airlock/internal/s3test"
)

// TestBlobsInS3: with blobs.url naming a bucket on a real S3-compatible
// server (versitygw), pip and uv install through Airlock, the verified
// files live in the bucket and not in the data directory, and a restarted
// Airlock serves them from the bucket with the upstream gone.
func TestBlobsInS3(t *testing.T) {
	cls := clients(t)
	s3 := s3test.Start(t)
	bucket := s3.Bucket(t, "airlock-e2e")
	fake := newUpstream(t)
	dataDir := t.TempDir()
	env := airlockEnv(fake, "AIRLOCK_BLOBS_URL=s3://"+bucket+"/mirror", "AIRLOCK_BLOBS_ENDPOINT="+s3.Endpoint,
		"AIRLOCK_BLOBS_PATH_STYLE=true", "AIRLOCK_BLOBS_REGION=us-east-1", "AIRLOCK_BLOBS_CACHE_BYTES=0", // every read from the bucket
		"AWS_ACCESS_KEY_ID="+s3.Access, "AWS_SECRET_ACCESS_KEY="+s3.Secret)
	big := fake.AddWheel(fakepypi.WheelSpec{Name: "ranged", Version: "1.0", PayloadBytes: 256 << 10}, uploaded)
	a := startAirlock(t, dataDir, env...)
	for _, c := range cls {
		target := t.TempDir()
		if out, err := run(t, c.install(a.URL+"/simple/", target, "app")); err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, out)
		}
		assertInstalled(t, target, map[string]string{"app": "1.0", "alpha": "1.1", "gamma": "1.0"})
	}
	var local []string
	filepath.WalkDir(filepath.Join(dataDir, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			local = append(local, p)
		}
		return nil
	})
	if len(local) != 0 {
		t.Errorf("blobs written to the data directory: %v", local)
	}

	// Served from the bucket like a local file: whole, a range (uv reads
	// wheels in ranges), HEAD, and a conditional request.
	fileURL := a.URL + "/files/ranged/" + big.Filename
	if code, body, _ := fetch(t, http.MethodGet, fileURL, nil); code != 200 || !bytes.Equal(body, big.Data) {
		t.Fatalf("whole file from the bucket: %d, %d bytes of %d", code, len(body), len(big.Data))
	}
	code, body, h := fetch(t, http.MethodGet, fileURL, map[string]string{"Range": "bytes=100000-100099"})
	if code != http.StatusPartialContent || !bytes.Equal(body, big.Data[100000:100100]) || h.Get("Content-Range") != fmt.Sprintf("bytes 100000-100099/%d", len(big.Data)) {
		t.Errorf("range from the bucket: %d %q, %d bytes", code, h.Get("Content-Range"), len(body))
	}
	if code, body, h := fetch(t, http.MethodHead, fileURL, nil); code != 200 || len(body) != 0 || h.Get("Content-Length") != fmt.Sprint(len(big.Data)) {
		t.Errorf("HEAD from the bucket: %d, length %q", code, h.Get("Content-Length"))
	}
	if code, _, _ := fetch(t, http.MethodGet, fileURL, map[string]string{"If-None-Match": `"` + big.SHA256() + `"`}); code != http.StatusNotModified {
		t.Errorf("conditional request from the bucket: %d, want 304", code)
	}
	a.stop()
	fake.Close()
	b := startAirlock(t, dataDir, env...)
	target := t.TempDir()
	if out, err := run(t, cls[1].install(b.URL+"/simple/", target, "app")); err != nil {
		t.Fatalf("from the bucket, upstream down: %v\n%s", err, out)
	}
	assertInstalled(t, target, map[string]string{"app": "1.0", "alpha": "1.1"})
}

// fetch makes one request and returns its status, body and headers.
func fetch(t *testing.T, method, url string, headers map[string]string) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header
}

// TestS3OutageFailsCleanlyAndRecovers: with the bucket down, the files a
// replica keeps verified copies of still install; a file that would have
// to be stored gets a 503 saying the store is unavailable (not a hold, not
// a bare 500) and nothing is decided about it; once the bucket is back it
// installs, without restarting Airlock.
func TestS3OutageFailsCleanlyAndRecovers(t *testing.T) {
	pip := clients(t)[1]
	s3 := s3test.Start(t)
	bucket := s3.Bucket(t, "airlock-outage")
	fake := newUpstream(t)
	late := fake.AddWheel(fakepypi.WheelSpec{Name: "latecomer", Version: "1.0"}, uploaded)
	const token = "s3-outage-token-0123456789abcdefgh"
	a := startAirlock(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_BLOBS_URL=s3://"+bucket+"/m", "AIRLOCK_BLOBS_ENDPOINT="+s3.Endpoint,
		"AIRLOCK_BLOBS_PATH_STYLE=true", "AIRLOCK_BLOBS_REGION=us-east-1", "AIRLOCK_ADMIN_TOKEN="+token,
		"AWS_ACCESS_KEY_ID="+s3.Access, "AWS_SECRET_ACCESS_KEY="+s3.Secret)...)
	if out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), "app")); err != nil {
		t.Fatalf("bucket up: %v\n%s", err, out)
	}

	s3.Stop(t)
	target := t.TempDir()
	if out, err := run(t, pip.install(a.URL+"/simple/", target, "app")); err != nil {
		t.Fatalf("bucket down, files in the local cache: %v\n%s", err, out)
	}
	assertInstalled(t, target, map[string]string{"app": "1.0", "alpha": "1.1", "gamma": "1.0"})
	began := time.Now()
	resp, err := http.Get(a.URL + "/files/latecomer/" + late.Filename)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("bucket down, uncached file: %d after %v", resp.StatusCode, time.Since(began).Round(time.Millisecond))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "store") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("bucket down, uncached file: %d %q (Retry-After %q), want 503 naming the store\n%s", resp.StatusCode, body, resp.Header.Get("Retry-After"), a.Logs())
	}
	req, _ := http.NewRequest(http.MethodGet, a.URL+"/api/v1/quarantine?state=all&project=latecomer", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		var listed struct{ Files []any }
		err := json.NewDecoder(resp.Body).Decode(&listed)
		resp.Body.Close()
		if resp.StatusCode != 200 || err != nil || len(listed.Files) != 0 {
			t.Errorf("a file the store could not keep was decided on: %d %v %+v", resp.StatusCode, err, listed)
		}
	}

	s3.Restart(t)
	target = t.TempDir()
	if out, err := run(t, pip.install(a.URL+"/simple/", target, "latecomer")); err != nil {
		t.Fatalf("bucket back: %v\n%s", err, out)
	}
	assertInstalled(t, target, map[string]string{"latecomer": "1.0"})
}
