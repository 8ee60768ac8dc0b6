// Package blobstest is the compliance suite every blob store passes: the
// folder in the data directory and S3-compatible buckets alike.
package blobstest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"airlock/storage"
)

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Run checks a blob store made by open (a fresh, empty one each call).
func Run(t *testing.T, open func(t *testing.T) storage.Blobs) {
	ctx := context.Background()
	t.Run("commit makes it visible, whole", func(t *testing.T) {
		b := open(t)
		data := bytes.Repeat([]byte("airlock "), 200_000) // 1.6 MB: multipart-sized for some stores
		sha := sum(data)
		if ok, err := b.Has(ctx, sha); err != nil || ok {
			t.Fatalf("before: has %v, %v", ok, err)
		}
		if _, err := b.Open(ctx, sha); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("open before: %v, want ErrNotFound", err)
		}
		st, err := b.Stage(ctx, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.ReadFrom(bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if ok, _ := b.Has(ctx, sha); ok {
			t.Fatal("visible before commit")
		}
		if st.Size() != int64(len(data)) || st.SHA256() != sha {
			t.Fatalf("staged %d bytes, %s", st.Size(), st.SHA256())
		}
		if err := st.Commit(ctx, sha); err != nil {
			t.Fatal(err)
		}
		st.Abort() // after a commit: nothing happens
		if ok, err := b.Has(ctx, sha); err != nil || !ok {
			t.Fatalf("after commit: has %v, %v", ok, err)
		}
		blob, err := b.Open(ctx, sha)
		if err != nil {
			t.Fatal(err)
		}
		defer blob.Close()
		info, err := blob.Stat()
		if err != nil || info.Size() != int64(len(data)) {
			t.Fatalf("stat: %v %v", info, err)
		}
		// Ranges, as http.ServeContent reads them.
		if _, err := blob.Seek(1000, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		part := make([]byte, 16)
		if _, err := io.ReadFull(blob, part); err != nil || !bytes.Equal(part, data[1000:1016]) {
			t.Fatalf("read after seek: %q %v", part, err)
		}
		if _, err := blob.ReadAt(part, int64(len(data))-16); err != nil && err != io.EOF || !bytes.Equal(part, data[len(data)-16:]) {
			t.Fatalf("read at the end: %q %v", part, err)
		}
		blob.Seek(0, io.SeekStart)
		all, err := io.ReadAll(blob)
		if err != nil || !bytes.Equal(all, data) {
			t.Fatalf("whole read: %d bytes, %v", len(all), err)
		}
	})
	t.Run("a mismatch stores nothing", func(t *testing.T) {
		b := open(t)
		st, _ := b.Stage(ctx, 100)
		st.ReadFrom(strings.NewReader("tampered"))
		want := sum([]byte("original"))
		if err := st.Commit(ctx, want); !errors.Is(err, storage.ErrHashMismatch) {
			t.Fatalf("commit: %v, want ErrHashMismatch", err)
		}
		for _, sha := range []string{want, sum([]byte("tampered"))} {
			if ok, _ := b.Has(ctx, sha); ok {
				t.Errorf("a mismatched download is visible as %s", sha[:12])
			}
		}
	})
	t.Run("a writer that never commits leaves nothing", func(t *testing.T) {
		b := open(t)
		data := []byte("half a download")
		st, _ := b.Stage(ctx, 100)
		st.ReadFrom(bytes.NewReader(data))
		st.Abort()
		st.Abort()
		if ok, _ := b.Has(ctx, sum(data)); ok {
			t.Error("aborted download visible")
		}
		st2, _ := b.Stage(ctx, 100)
		st2.ReadFrom(bytes.NewReader(data)) // crash-shaped: never committed nor aborted
		if ok, _ := b.Has(ctx, sum(data)); ok {
			t.Error("uncommitted download visible")
		}
	})
	t.Run("oversized", func(t *testing.T) {
		b := open(t)
		st, _ := b.Stage(ctx, 4)
		defer st.Abort()
		if _, err := st.ReadFrom(strings.NewReader("too many bytes")); !errors.Is(err, storage.ErrTooLarge) {
			t.Errorf("oversized: %v", err)
		}
	})
	t.Run("concurrent commits of one blob", func(t *testing.T) {
		b := open(t)
		data := []byte("the same bytes from two fills")
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := b.Stage(ctx, 100)
				if err != nil {
					errs[i] = err
					return
				}
				st.ReadFrom(bytes.NewReader(data))
				errs[i] = st.Commit(ctx, sum(data))
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Errorf("commit: %v", err)
			}
		}
		blob, err := b.Open(ctx, sum(data))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(blob)
		blob.Close()
		if !bytes.Equal(got, data) {
			t.Errorf("read %q", got)
		}
	})
}
