package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Options locate an S3-compatible bucket.
type S3Options struct {
	// URL is s3://BUCKET/PREFIX.
	URL string
	// Endpoint is the server (http://127.0.0.1:7070); empty is AWS.
	Endpoint string
	Region   string
	// PathStyle addresses the bucket in the path (most self-hosted
	// servers) rather than in the host name.
	PathStyle bool
	// Tmp is where downloads are staged and hashed before they are
	// uploaded: nothing reaches the bucket before its sha256 matched.
	Tmp string
}

// S3 keeps blobs in an S3-compatible bucket as PREFIX/sha256/ab/abcdef….
// Credentials come from the standard AWS environment variables
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) or the
// shared credentials file.
type S3 struct {
	client *minio.Client
	bucket string
	prefix string
	tmp    string
}

// ParseS3URL splits s3://BUCKET/PREFIX.
func ParseS3URL(raw string) (bucket, prefix string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return "", "", fmt.Errorf("%q is not s3://BUCKET/PREFIX", raw)
	}
	return u.Host, strings.Trim(u.Path, "/"), nil
}

// NewS3 connects to the bucket and checks that it exists.
func NewS3(ctx context.Context, opt S3Options) (*S3, error) {
	bucket, prefix, err := ParseS3URL(opt.URL)
	if err != nil {
		return nil, fmt.Errorf("blobs.url: %w", err)
	}
	endpoint, secure := "s3.amazonaws.com", true
	if opt.Endpoint != "" {
		u, err := url.Parse(opt.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("blobs.endpoint: %q is not an http(s) URL", opt.Endpoint)
		}
		endpoint, secure = u.Host, u.Scheme == "https"
	}
	lookup := minio.BucketLookupAuto
	if opt.PathStyle {
		lookup = minio.BucketLookupPath
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{}, &credentials.FileAWSCredentials{}, &credentials.IAM{},
	})
	// Three tries (about a second of backoff) ride out a blip; minio's
	// default of ten kept a request waiting 9.5 s for a bucket that was
	// down before it could say so.
	client, err := minio.New(endpoint, &minio.Options{Creds: creds, Secure: secure, Region: opt.Region, BucketLookup: lookup,
		MaxRetries: 3})
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ok, err := client.BucketExists(cctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("blobs: bucket %s at %s: %w", bucket, endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("blobs: bucket %s does not exist at %s", bucket, endpoint)
	}
	if err := os.MkdirAll(opt.Tmp, 0o755); err != nil {
		return nil, err
	}
	return &S3{client: client, bucket: bucket, prefix: prefix, tmp: opt.Tmp}, nil
}

func (b *S3) key(sha string) string { return path.Join(b.prefix, "sha256", sha[:2], sha) }

// stat asks the bucket for the object: ErrNotFound when it has none,
// ErrUnavailable when it cannot tell.
func (b *S3) stat(ctx context.Context, sha string) (minio.ObjectInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	info, err := b.client.StatObject(ctx, b.bucket, b.key(sha), minio.StatObjectOptions{})
	switch {
	case isNoSuchKey(err):
		return info, ErrNotFound
	case err != nil:
		return info, bucketErr(err)
	}
	return info, nil
}

// Has asks the bucket for the object.
func (b *S3) Has(ctx context.Context, sha string) (bool, error) {
	_, err := b.stat(ctx, sha)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// bucketErr marks a failure to use the bucket as ErrUnavailable: to a
// client, a bucket that is down, refuses the credentials or answers 5xx
// is a store that cannot be used now (the log has the detail).
func bucketErr(err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("bucket: %w", err)
	}
	return fmt.Errorf("%w: bucket: %w", ErrUnavailable, err)
}

// Open returns the object as a seekable reader (ranges are read on demand).
func (b *S3) Open(ctx context.Context, sha string) (Blob, error) {
	info, err := b.stat(ctx, sha)
	if err != nil {
		return nil, err
	}
	// The reader outlives this call: it is bound to the background, not
	// to a request that may end before the download does.
	obj, err := b.client.GetObject(context.Background(), b.bucket, b.key(sha), minio.GetObjectOptions{})
	if err != nil {
		return nil, bucketErr(err)
	}
	return &s3Blob{Object: obj, info: objectInfo{name: sha, size: info.Size, mod: info.LastModified}}, nil
}

// Stage hashes the download into a local temp file; Commit uploads it
// only after the hash matched. An upload that never completes leaves no
// object: S3 makes an object visible whole or not at all.
func (b *S3) Stage(ctx context.Context, max int64) (Staged, error) {
	return newFileStaged(b.tmp, max, func(ctx context.Context, f *os.File, sha string) error {
		defer func() { f.Close(); os.Remove(f.Name()) }()
		info, err := f.Stat()
		if err != nil {
			return err
		}
		if _, err := f.Seek(0, 0); err != nil {
			return err
		}
		_, err = b.client.PutObject(ctx, b.bucket, b.key(sha), f, info.Size(),
			minio.PutObjectOptions{ContentType: "application/octet-stream", SendContentMd5: false})
		if err != nil {
			return bucketErr(fmt.Errorf("upload: %w", err))
		}
		return nil
	})
}

func isNoSuchKey(err error) bool {
	var resp minio.ErrorResponse
	return errors.As(err, &resp) && (resp.Code == "NoSuchKey" || resp.StatusCode == 404)
}

// s3Blob is an object with a Stat like a file's.
type s3Blob struct {
	*minio.Object
	info objectInfo
}

func (b *s3Blob) Stat() (fs.FileInfo, error) { return b.info, nil }

type objectInfo struct {
	name string
	size int64
	mod  time.Time
}

func (o objectInfo) Name() string       { return o.name }
func (o objectInfo) Size() int64        { return o.size }
func (o objectInfo) Mode() fs.FileMode  { return 0o444 }
func (o objectInfo) ModTime() time.Time { return o.mod }
func (o objectInfo) IsDir() bool        { return false }
func (o objectInfo) Sys() any           { return nil }
