package storage

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
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
	backend, err := blobBackendOf(b.URL)
	if err != nil {
		return nil, err
	}
	blobs, err := backend.open(ctx, b, filepath.Join(loc.DataDir, "tmp"))
	if err != nil || b.CacheBytes <= 0 {
		return blobs, err
	}
	return NewCache(blobs, filepath.Join(loc.DataDir, "blob-cache"), b.CacheBytes, log), nil
}

// blobBackend is a kind of blob store, chosen by its URL's scheme. A new
// one (gs://, azblob://) is an entry here and a file implementing Blobs:
// the configuration, serve and `store copy` take it by its URL.
type blobBackend struct {
	form     string // the URL's form, for errors
	validate func(url string) error
	open     func(ctx context.Context, loc BlobLocation, tmp string) (Blobs, error)
}

var blobBackends = map[string]blobBackend{
	"s3": {
		form:     "s3://BUCKET/PREFIX",
		validate: func(u string) error { _, _, err := ParseS3URL(u); return err },
		open: func(ctx context.Context, b BlobLocation, tmp string) (Blobs, error) {
			return NewS3(ctx, S3Options{URL: b.URL, Endpoint: b.Endpoint, Region: b.Region, PathStyle: b.PathStyle, Tmp: tmp})
		},
	},
}

func blobBackendOf(raw string) (blobBackend, error) {
	scheme, _, ok := strings.Cut(raw, "://")
	if b, known := blobBackends[scheme]; ok && known {
		return b, nil
	}
	var forms []string
	for _, b := range blobBackends {
		forms = append(forms, b.form)
	}
	sort.Strings(forms)
	return blobBackend{}, fmt.Errorf("%q names no blob store this airlock knows (%s)", raw, strings.Join(forms, ", "))
}

// ValidateBlobURL checks a blobs.url before anything is opened.
func ValidateBlobURL(raw string) error {
	b, err := blobBackendOf(raw)
	if err != nil {
		return err
	}
	return b.validate(raw)
}

// TrustRootCache is where the sigstore trust root fetched over TUF is
// kept between starts.
func TrustRootCache(dataDir string) string { return filepath.Join(dataDir, "tuf") }
