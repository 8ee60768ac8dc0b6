package gate

import (
	"context"
	"time"

	"airlock/pullthrough"
	"airlock/storage"
	"airlock/work"
)

// Store is what the gate keeps. *storage.Store is one, on bbolt or
// PostgreSQL alike; the gate never sees which.
type Store interface {
	// What the pull-through cache keeps: file records, verified bytes,
	// pages.
	pullthrough.Store

	// What was found about a file.
	GetDecision(ctx context.Context, sha string) (storage.DecisionRecord, error)
	GetInspection(ctx context.Context, sha string) (storage.InspectionRecord, error)
	PutInspection(ctx context.Context, rec storage.InspectionRecord) error
	GetAnalysis(ctx context.Context, key string) ([]byte, error)
	PutAnalyses(ctx context.Context, m map[string][]byte) error
	Confusions(ctx context.Context) ([]storage.Confusion, error)
	PutConfusion(ctx context.Context, c storage.Confusion) (first bool, err error)
	DownloadsOf(ctx context.Context, sha string) ([]storage.DownloadRecord, error)
	DownloadsServed(ctx context.Context, since time.Time) (int, error)

	// The background work queue, and the sweep's leader.
	work.Store
}

var _ Store = (*storage.Store)(nil)
