package gate

import (
	"context"
	"time"

	"airlock/pullthrough"
	"airlock/storage"
)

// Store is what the gate keeps. *storage.Store is one, on bbolt or
// PostgreSQL alike; the gate never sees which.
type Store interface {
	// What the pull-through cache keeps: file records, verified bytes,
	// pages.
	pullthrough.Store
	OpenBlob(ctx context.Context, sha string) (storage.Blob, error)

	// What was found about a file.
	GetDecision(ctx context.Context, sha string) (storage.DecisionRecord, error)
	GetInspection(ctx context.Context, sha string) (storage.InspectionRecord, error)
	PutInspection(ctx context.Context, rec storage.InspectionRecord) error
	Confusions(ctx context.Context) ([]storage.Confusion, error)
	PutConfusion(ctx context.Context, c storage.Confusion) (first bool, err error)
	DownloadsOf(ctx context.Context, sha string) ([]storage.DownloadRecord, error)
	DownloadsServed(ctx context.Context, since time.Time) (int, error)

	// The background work queue, and the sweep's leader.
	AddWork(ctx context.Context, priority byte, items []storage.WorkItem) (int, error)
	NextWork(ctx context.Context, now time.Time, skip func(sha string) bool) (key []byte, it storage.WorkItem, ok bool, err error)
	FinishWork(ctx context.Context, key []byte, sha string) error
	RetryWork(ctx context.Context, key []byte, it storage.WorkItem) error
	WorkStats(ctx context.Context) (depth int, oldest time.Time, err error)
	Leader(ctx context.Context) bool
}

var _ Store = (*storage.Store)(nil)
