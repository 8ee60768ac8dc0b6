package storage_test

import (
	"context"
	"path/filepath"
	"testing"

	"airlock/internal/s3test"
	"airlock/storage"
	"airlock/storage/blobstest"
)

func TestFolderBlobs(t *testing.T) {
	blobstest.Run(t, func(t *testing.T) storage.Blobs {
		dir := t.TempDir()
		return storage.LocalBlobs(dir).Ensure()
	})
}

// TestS3Blobs runs the same suite against a real S3-compatible server.
func TestS3Blobs(t *testing.T) {
	srv := s3test.Start(t)
	srv.Env(t)
	n := 0
	blobstest.Run(t, func(t *testing.T) storage.Blobs {
		n++
		bucket := srv.Bucket(t, "airlock-blobs-"+string(rune('a'+n)))
		b, err := storage.NewS3(context.Background(), storage.S3Options{URL: "s3://" + bucket + "/mirror", Endpoint: srv.Endpoint,
			Region: "us-east-1", PathStyle: true, Tmp: filepath.Join(t.TempDir(), "tmp")})
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}
