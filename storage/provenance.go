package storage

import (
	"context"
	"encoding/json"
	"time"
)

// ProvenanceRecord is a file's PEP 740 provenance with the outcome of its
// verification, keyed by the file's sha256 (bucket "provenance").
type ProvenanceRecord struct {
	SHA256 string `json:"sha256"`
	// Status is verified, missing or invalid.
	Status string `json:"status"`
	// Result is the verifier's account (opaque here).
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
	// Raw is the provenance object as the upstream served it.
	Raw       []byte    `json:"raw,omitempty"`
	SourceURL string    `json:"source_url,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
}

var bucketProvenance = []byte("provenance")

// GetProvenance returns the stored provenance of a file, or ErrNotFound.
func (s *Store) GetProvenance(ctx context.Context, sha string) (ProvenanceRecord, error) {
	var rec ProvenanceRecord
	return rec, s.get(ctx, bucketProvenance, []byte(sha), &rec)
}

// PutProvenance stores a file's provenance and verification outcome.
func (s *Store) PutProvenance(ctx context.Context, rec ProvenanceRecord) error {
	return s.put(ctx, bucketProvenance, []byte(rec.SHA256), rec)
}
