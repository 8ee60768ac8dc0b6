package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

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

// TestCachedS3Blobs: the local cache in front of a bucket passes the same
// suite, serves hot blobs as local files (sendfile), and stays within its
// budget.
func TestCachedS3Blobs(t *testing.T) {
	srv := s3test.Start(t)
	srv.Env(t)
	n := 0
	newS3 := func(t *testing.T) *storage.S3 {
		n++
		bucket := srv.Bucket(t, "airlock-cache-"+string(rune('a'+n)))
		b, err := storage.NewS3(context.Background(), storage.S3Options{URL: "s3://" + bucket, Endpoint: srv.Endpoint,
			Region: "us-east-1", PathStyle: true, Tmp: filepath.Join(t.TempDir(), "tmp")})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	blobstest.Run(t, func(t *testing.T) storage.Blobs {
		return storage.NewCache(newS3(t), t.TempDir(), 64<<20, zerolog.Nop())
	})

	remote := newS3(t)
	dir := t.TempDir()
	c := storage.NewCache(remote, dir, 3000, zerolog.Nop())
	ctx := context.Background()
	var shas []string
	for i := 0; i < 4; i++ {
		data := bytes.Repeat([]byte{byte('a' + i)}, 1000)
		sum := sha256.Sum256(data)
		sha := hex.EncodeToString(sum[:])
		st, _ := c.Stage(ctx, 2000)
		st.ReadFrom(bytes.NewReader(data))
		if err := st.Commit(ctx, sha); err != nil {
			t.Fatal(err)
		}
		shas = append(shas, sha)
		b, err := c.Open(ctx, sha)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := b.(*os.File); !ok {
			t.Errorf("blob %d not served from the local cache: %T", i, b)
		}
		b.Close()
	}
	var total int64
	filepath.Walk(filepath.Join(dir, "sha256"), func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			total += info.Size()
		}
		return nil
	})
	if total > 3000 {
		t.Errorf("cache holds %d bytes, budget 3000", total)
	}
	// An evicted blob is still there: the bucket is the truth.
	if ok, err := c.Has(ctx, shas[0]); err != nil || !ok {
		t.Errorf("evicted blob lost: %v %v", ok, err)
	}
	if b, err := c.Open(ctx, shas[0]); err != nil {
		t.Errorf("evicted blob: %v", err)
	} else {
		b.Close()
	}
}

// The bucket's credentials may come from the standard AWS credentials file
// instead of the environment; wrong ones are refused at start with the
// bucket named.
func TestS3CredentialsFromFile(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "airlock-file-creds")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	open := func(access, secret string) error {
		file := filepath.Join(t.TempDir(), "credentials")
		os.WriteFile(file, []byte("[default]\naws_access_key_id = "+access+"\naws_secret_access_key = "+secret+"\n"), 0o600)
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
		_, err := storage.NewS3(context.Background(), storage.S3Options{URL: "s3://" + bucket, Endpoint: srv.Endpoint,
			Region: "us-east-1", PathStyle: true, Tmp: filepath.Join(t.TempDir(), "tmp")})
		return err
	}
	if err := open(srv.Access, srv.Secret); err != nil {
		t.Fatalf("credentials from the file: %v", err)
	}
	if err := open(srv.Access, "wrong-secret"); err == nil || !strings.Contains(err.Error(), bucket) {
		t.Errorf("wrong credentials: %v, want an error naming the bucket", err)
	}
}
