package quarantine

import (
	"context"

	"airlock/storage"
)

// Store keeps decisions and their audit log. UpdateDecision writes a
// decision and its audit event in one transaction. *storage.Store is one.
type Store interface {
	GetDecision(ctx context.Context, sha string) (storage.DecisionRecord, error)
	DecisionsOf(ctx context.Context, shas []string) (map[string]storage.DecisionRecord, error)
	UpdateDecision(ctx context.Context, sha string, fn func(rec *storage.DecisionRecord, exists bool) (write bool, ev *storage.AuditEvent, err error)) (storage.DecisionRecord, error)
	Decisions(ctx context.Context, fn func(storage.DecisionRecord) error) error
	DecisionsInState(ctx context.Context, state string, fn func(storage.DecisionRecord) error) error
	CountByState(ctx context.Context) (map[string]int, error)
	Audit(ctx context.Context, limit int, keep func(storage.AuditEvent) bool) ([]storage.AuditEvent, error)
	// NotifyChange tells every replica that decisions changed.
	NotifyChange(ctx context.Context)
	// DownloadCounts says how often, and to how many addresses, a file
	// was served (for the event of a file blocked after it was).
	DownloadCounts(ctx context.Context, sha string) (downloads, clients int)
}

var _ Store = (*storage.Store)(nil)
