package e2e

import (
	"os"
	"path/filepath"
	"testing"

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
	a.stop()
	fake.Close()
	b := startAirlock(t, dataDir, env...)
	target := t.TempDir()
	if out, err := run(t, cls[1].install(b.URL+"/simple/", target, "app")); err != nil {
		t.Fatalf("from the bucket, upstream down: %v\n%s", err, out)
	}
	assertInstalled(t, target, map[string]string{"app": "1.0", "alpha": "1.1"})
}
