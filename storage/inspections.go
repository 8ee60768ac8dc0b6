package storage

import (
	"context"
	"encoding/json"
	"time"
)

// InspectionRecord is the outcome of inspecting a stored file, keyed by its
// sha256 (bucket "inspections"): the report (opaque here) or the reason it
// could not be inspected.
type InspectionRecord struct {
	SHA256      string          `json:"sha256"`
	Report      json.RawMessage `json:"report,omitempty"`
	Error       string          `json:"error,omitempty"`
	InspectedAt time.Time       `json:"inspected_at"`
	// Rules is the inspection rules' version that made the report
	// (inspect.RulesVersion): a report of older rules is made again, or
	// a baseline read with old rules would make every new rule's finding
	// "new" in the release compared with it.
	Rules string `json:"rules,omitempty"`
}

var bucketInspections = []byte("inspections")

// GetInspection returns a stored inspection, or ErrNotFound.
func (s *Store) GetInspection(ctx context.Context, sha string) (InspectionRecord, error) {
	var rec InspectionRecord
	return rec, s.get(ctx, bucketInspections, []byte(sha), &rec)
}

// PutInspection stores an inspection.
func (s *Store) PutInspection(ctx context.Context, rec InspectionRecord) error {
	return s.put(ctx, bucketInspections, []byte(rec.SHA256), rec)
}
