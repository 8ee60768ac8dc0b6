package simpleapi

import (
	"context"

	"airlock/storage"
)

// Store is what the HTTP layer reads directly: stored file records and
// their bytes (everything else goes through the gate), and the health of
// the store. *storage.Store is one.
type Store interface {
	GetFile(ctx context.Context, project, filename string) (storage.FileRecord, error)
	HasBlob(ctx context.Context, sha string) bool
	OpenBlob(ctx context.Context, sha string) (storage.Blob, error)
	FreeBytes(ctx context.Context) (int64, error)
	Ping(ctx context.Context) error
}

var _ Store = (*storage.Store)(nil)
