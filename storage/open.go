package storage

import (
	"context"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
)

// Location says where a store keeps its state. The zero value of each
// part is the embedded default: bbolt and a blob folder in DataDir.
type Location struct {
	// DataDir holds what is local to one process whatever the backends:
	// staged downloads, the blob cache, the sigstore trust root (and the
	// bbolt database and blob folder when they are the backends).
	DataDir string
	// DatabaseURL is "" for bbolt in DataDir, or postgres://… .
	DatabaseURL string
	// Blobs.URL is "" for DataDir/blobs, or s3://BUCKET/PREFIX.
	Blobs BlobLocation
	// LockTimeout bounds the wait for another process's bbolt lock.
	LockTimeout time.Duration
}

// BlobLocation is an S3-compatible bucket and the local cache in front of
// it.
type BlobLocation struct {
	URL        string
	Endpoint   string
	Region     string
	PathStyle  bool
	CacheBytes int64 // 0: no local cache
}

// OpenLocation opens the store a Location names. A PostgreSQL database
// must have the schema `airlock migrate` makes.
func OpenLocation(ctx context.Context, loc Location, log zerolog.Logger) (*Store, error) {
	blobs, err := openBlobs(ctx, loc, log)
	if err != nil {
		return nil, err
	}
	if loc.DatabaseURL == "" {
		return OpenWith(ctx, loc.DataDir, loc.LockTimeout, blobs)
	}
	return OpenPostgres(ctx, loc.DatabaseURL, loc.DataDir, blobs)
}

// openBlobs is the bucket a Location names, checked to exist, or nil for
// the data directory's folder.
func openBlobs(ctx context.Context, loc Location, log zerolog.Logger) (Blobs, error) {
	b := loc.Blobs
	if b.URL == "" {
		return nil, nil
	}
	s3, err := NewS3(ctx, S3Options{URL: b.URL, Endpoint: b.Endpoint, Region: b.Region,
		PathStyle: b.PathStyle, Tmp: filepath.Join(loc.DataDir, "tmp")})
	if err != nil || b.CacheBytes <= 0 {
		return s3, err
	}
	return NewCache(s3, filepath.Join(loc.DataDir, "blob-cache"), b.CacheBytes, log), nil
}

// TrustRootCache is where the sigstore trust root fetched over TUF is
// kept between starts.
func TrustRootCache(dataDir string) string { return filepath.Join(dataDir, "tuf") }
