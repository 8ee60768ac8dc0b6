package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"airlock/internal/fakepypi"
	"airlock/internal/pgtest"
	"airlock/internal/s3test"
	"airlock/storage"
)

// TestReplicasShareState: two Airlock replicas on PostgreSQL and S3 behind
// nginx. A held file is held on both; approved through one, it is served
// by the other at once; twenty concurrent requests for one uncached file
// over both replicas download it from the upstream once; an install
// through the balancer survives kill -9 of a replica, leaving nothing
// partial; while PostgreSQL is down requests fail cleanly, and afterwards
// they succeed without restarting Airlock.
func TestReplicasShareState(t *testing.T) {
	requireVenv(t)
	pip := pipClient("pinned-pip", filepath.Join(venv, "bin", "python"))
	pg := pgtest.Start(t)
	dsn := pg.Database(t)
	if _, _, err := storage.Migrate(context.Background(), dsn); err != nil {
		t.Fatal(err)
	}
	s3 := s3test.Start(t)
	bucket := s3.Bucket(t, "airlock-replicas")
	fake := newUpstream(t)
	held := fake.AddWheel(fakepypi.WheelSpec{Name: "fresh", Version: "1.0"}, time.Now().Add(-time.Hour))
	shared := fake.AddWheel(fakepypi.WheelSpec{Name: "shared", Version: "1.0", PayloadBytes: 2 << 20}, uploaded)
	const token = "replica-token-0123456789abcdefghijk"
	env := airlockEnv(fake, "AIRLOCK_DATABASE_URL="+dsn, "AIRLOCK_BLOBS_URL=s3://"+bucket+"/airlock",
		"AIRLOCK_BLOBS_ENDPOINT="+s3.Endpoint, "AIRLOCK_BLOBS_PATH_STYLE=true", "AIRLOCK_BLOBS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID="+s3.Access, "AWS_SECRET_ACCESS_KEY="+s3.Secret, "AIRLOCK_ADMIN_TOKEN="+token,
		"AIRLOCK_SIGNALS_ENABLED=false", "AIRLOCK_BACKGROUND_WORKERS=0", "AIRLOCK_TRUSTED_PROXIES=127.0.0.1")
	a := startAirlock(t, t.TempDir(), env...)
	b := startAirlock(t, t.TempDir(), env...)
	lb := balancer(t, a.URL, b.URL)

	status := func(base, path string) int {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	heldPath := "/files/fresh/" + held.Filename
	if sa, sb := status(a.URL, heldPath), status(b.URL, heldPath); sa != 403 || sb != 403 {
		t.Fatalf("a held file: %d on A, %d on B", sa, sb)
	}
	// Approved through A: B serves it, and B's page offers it, within a second.
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/api/v1/quarantine/"+held.SHA256()[:12]+"/approve", strings.NewReader(`{"reason":"reviewed"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("approve on A: %v %v", resp, err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(time.Second)
	for status(b.URL, heldPath) != 200 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if s := status(b.URL, heldPath); s != 200 {
		t.Errorf("approved on A, B answers %d", s)
	}
	for _, c := range []client{pip, uvClient()} {
		if out, err := run(t, c.install(b.URL+"/simple/", t.TempDir(), "fresh==1.0")); err != nil {
			t.Errorf("%s through B after the approval on A: %v\n%s", c.name, err, out)
		}
	}

	// Signed in on A, the review page knows the person on B.
	_, session := signIn(t, a.URL, token)
	jar := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	qreq, _ := http.NewRequest(http.MethodGet, b.URL+"/ui/queue", nil)
	qreq.AddCookie(session)
	if qresp, err := jar.Do(qreq); err != nil || qresp.StatusCode != 200 {
		t.Errorf("the session from A on B: %v %v", qresp.Status, err)
	} else {
		qresp.Body.Close()
	}

	// Twenty concurrent requests for one uncached file, over both replicas.
	fileHits := "/packages/" + shared.SHA256()[:8] + "/" + shared.Filename
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		base := a.URL
		if i%2 == 1 {
			base = b.URL
		}
		wg.Add(1)
		go func() { defer wg.Done(); codes[i] = status(base, "/files/shared/"+shared.Filename) }()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("concurrent request %d: %d", i, c)
		}
	}
	if n := fake.Hits(fileHits); n != 1 {
		t.Errorf("the upstream was asked for the file %d times, want 1", n)
	}

	// kill -9 of replica A while pip installs through the balancer.
	target := t.TempDir()
	cmd := pip.install(lb+"/simple/", target, "app")
	done := make(chan error, 1)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	time.Sleep(300 * time.Millisecond)
	a.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("install through the balancer with A killed: %v\n%s", err, out.String())
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("install hung")
	}
	assertInstalled(t, target, map[string]string{"app": "1.0", "alpha": "1.1", "gamma": "1.0"})
	// The surviving replica's audit log agrees with every decision: each
	// file that a decision moved off "allowed" has its last audit entry
	// saying where it is.
	getJSON := func(path string, out any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, b.URL+"/api/v1"+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(out)
	}
	var list struct {
		Files []struct {
			SHA256 string `json:"sha256"`
			State  string `json:"state"`
		} `json:"files"`
	}
	getJSON("/quarantine?state=all&limit=1000", &list)
	if len(list.Files) == 0 {
		t.Fatal("no decisions on B")
	}
	checked := 0
	for _, f := range list.Files {
		if f.State == "allowed" {
			continue
		}
		checked++
		var audit struct {
			Events []struct {
				To string `json:"to"`
			} `json:"events"`
		}
		getJSON("/audit?sha256="+f.SHA256+"&limit=1", &audit)
		if len(audit.Events) == 0 || audit.Events[0].To != f.State {
			t.Errorf("file %s is %s; its last audit entry: %v", f.SHA256[:12], f.State, audit.Events)
		}
	}
	if checked == 0 {
		t.Error("no decision to check the audit log against (the approved file should be one)")
	}

	// Nothing partial in the bucket: every object hashes to its name.
	mc, err := minio.New(strings.TrimPrefix(s3.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(s3.Access, s3.Secret, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	objects := 0
	for obj := range mc.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		o, err := mc.GetObject(context.Background(), bucket, obj.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		io.Copy(h, o)
		o.Close()
		if got := hex.EncodeToString(h.Sum(nil)); !strings.HasSuffix(obj.Key, "/"+got) {
			t.Errorf("object %s holds bytes hashing to %s", obj.Key, got)
		}
		objects++
	}
	if objects < 7 {
		t.Errorf("%d objects in the bucket after the installs", objects)
	}

	// PostgreSQL goes away under load: B answers every request, 200 or a
	// clean 5xx, never hangs; once it is back, everything is 200 again.
	stop := make(chan struct{})
	var loadMu sync.Mutex
	seen := map[int]int{}
	var load sync.WaitGroup
	for i := 0; i < 4; i++ {
		load.Add(1)
		go func() {
			defer load.Done()
			client := &http.Client{Timeout: 60 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				code := 0
				if resp, err := client.Get(b.URL + "/files/shared/" + shared.Filename); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				loadMu.Lock()
				seen[code]++
				loadMu.Unlock()
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	pg.Stop(t)
	if s := status(b.URL, "/files/shared/"+shared.Filename); s != http.StatusServiceUnavailable {
		t.Errorf("with the database down: %d, want 503 (the store is unavailable)", s)
	}
	pg.Restart(t)
	deadline = time.Now().Add(10 * time.Second)
	for status(b.URL, "/files/shared/"+shared.Filename) != 200 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if s := status(b.URL, "/files/shared/"+shared.Filename); s != 200 {
		t.Errorf("after the database came back: %d", s)
	}
	close(stop)
	load.Wait()
	for code, n := range seen {
		if code != 200 && code != http.StatusServiceUnavailable {
			t.Errorf("under load with the database restarting: %d answers of %d (want only 200 and 503)", n, code)
		}
	}
	if seen[200] == 0 {
		t.Errorf("no request succeeded under load: %v", seen)
	}
	if strings.Contains(b.Logs(), "panic") {
		t.Errorf("B panicked:\n%s", b.Logs())
	}
}
