package storage

import (
	"context"
	"time"
)

// SignalDoc is a cached response of a signal source (PyPI's JSON API,
// pypistats, GitHub), keyed by the source's URL (bucket "signals").
type SignalDoc struct {
	Body       []byte     `json:"body,omitempty"`
	Status     int        `json:"status"` // 200, or 404 remembered as "does not exist"
	Validators Validators `json:"validators"`
	FetchedAt  time.Time  `json:"fetched_at"`
	Link       string     `json:"link,omitempty"` // pagination header
}

var bucketSignals = []byte("signals")

// GetSignalDoc returns a cached source response, or ErrNotFound.
func (s *Store) GetSignalDoc(ctx context.Context, key string) (SignalDoc, error) {
	var d SignalDoc
	return d, s.get(ctx, bucketSignals, []byte(key), &d)
}

// PutSignalDoc caches a source response.
func (s *Store) PutSignalDoc(ctx context.Context, key string, d SignalDoc) error {
	return s.put(ctx, bucketSignals, []byte(key), d)
}
