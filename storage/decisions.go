package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// DecisionRecord is the stored gate state of one file, keyed by its sha256.
// Decision and Inputs are opaque here: the quarantine package owns their
// meaning; storage only keeps them together with the state.
type DecisionRecord struct {
	SHA256   string `json:"sha256"`
	Project  string `json:"project"`
	Version  string `json:"version"`
	Filename string `json:"filename"`
	// State is the lifecycle state (allowed, held, released, approved,
	// rejected, blocked).
	State    string          `json:"state"`
	Decision json.RawMessage `json:"decision"`
	Inputs   json.RawMessage `json:"inputs"`
	// Policy is the version of the rules that produced Decision.
	Policy string `json:"policy"`
	// Until is when a time-bound hold ends; zero otherwise.
	Until time.Time `json:"until,omitzero"`
	// Checks are the checks behind the current action, for filtering.
	Checks    []string  `json:"checks,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// DecidedBy and Note record the last person's decision, if any.
	DecidedBy string `json:"decided_by,omitempty"`
	Note      string `json:"note,omitempty"`
	// Approved is the evidence a person approved (the holding reasons of
	// the evidence checks, as they read then); new evidence reopens it.
	Approved []string `json:"approved,omitempty"`
}

// AuditEvent is one entry of the append-only audit log.
type AuditEvent struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	SHA256   string    `json:"sha256"`
	Project  string    `json:"project"`
	Version  string    `json:"version"`
	Filename string    `json:"filename"`
	Actor    string    `json:"actor"`  // "airlock" for automatic transitions
	Remote   string    `json:"remote"` // the actor's address, if a person
	From     string    `json:"from"`
	To       string    `json:"to"`
	Reason   string    `json:"reason"`
}

var (
	bucketDecisions = []byte("decisions")
	bucketAudit     = []byte("audit")
	// bucketStates indexes decisions by state: <state> 0x00 <sha256> -> "".
	bucketStates = []byte("states")
)

func stateKey(state, sha string) []byte { return append(append([]byte(state), 0), sha...) }

// GetDecision returns the record for a sha256, or ErrNotFound.
func (s *Store) GetDecision(ctx context.Context, sha string) (DecisionRecord, error) {
	var rec DecisionRecord
	return rec, s.get(ctx, bucketDecisions, []byte(sha), &rec)
}

// DecisionsOf reads the decisions of many files at once (a page's), by
// sha256; a file without one is not in the map.
func (s *Store) DecisionsOf(ctx context.Context, shas []string) (map[string]DecisionRecord, error) {
	keys := make([][]byte, 0, len(shas))
	for _, sha := range shas {
		keys = append(keys, []byte(sha))
	}
	out := map[string]DecisionRecord{}
	err := s.db.GetMany(ctx, bucketDecisions, keys, func(k, v []byte) error {
		var rec DecisionRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("storage: corrupt decision %s: %w", k, err)
		}
		out[string(k)] = rec
		return nil
	})
	return out, err
}

// UpdateDecision reads the record for sha (exists=false when there is
// none), lets fn change it, and writes the record and the audit event fn
// returns in one transaction, so a state change and its audit entry are
// never apart. fn returning write=false leaves everything as it was.
func (s *Store) UpdateDecision(ctx context.Context, sha string, fn func(rec *DecisionRecord, exists bool) (write bool, ev *AuditEvent, err error)) (DecisionRecord, error) {
	var out DecisionRecord
	err := s.db.Update(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketDecisions)
		var rec DecisionRecord
		raw := b.Get([]byte(sha))
		exists := raw != nil
		if exists {
			if err := json.Unmarshal(raw, &rec); err != nil {
				return fmt.Errorf("storage: corrupt decision %s: %w", sha, err)
			}
		}
		oldState := rec.State
		write, ev, err := fn(&rec, exists)
		if err != nil {
			return err
		}
		out = rec
		if !write {
			return nil
		}
		data, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(sha), data); err != nil {
			return err
		}
		if !exists || oldState != rec.State {
			idx := tx.Bucket(bucketStates)
			if exists {
				if err := idx.Delete(stateKey(oldState, sha)); err != nil {
					return err
				}
			}
			if err := idx.Put(stateKey(rec.State, sha), nil); err != nil {
				return err
			}
		}
		if ev != nil {
			return appendAuditTx(tx, ev)
		}
		return nil
	})
	return out, full(err)
}

func appendAuditTx(tx kvTx, ev *AuditEvent) error {
	b := tx.Bucket(bucketAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	ev.Seq = seq
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return b.Put(binary.BigEndian.AppendUint64(nil, seq), data)
}

// Decisions calls fn for every decision record.
func (s *Store) Decisions(ctx context.Context, fn func(DecisionRecord) error) error {
	return s.db.View(ctx, func(tx kvTx) error {
		return tx.Bucket(bucketDecisions).ForEach(func(_, v []byte) error {
			var rec DecisionRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			return fn(rec)
		})
	})
}

// DecisionsInState calls fn for every decision record in a state, using
// the state index instead of reading every record.
func (s *Store) DecisionsInState(ctx context.Context, state string, fn func(DecisionRecord) error) error {
	return s.db.View(ctx, func(tx kvTx) error {
		decisions := tx.Bucket(bucketDecisions)
		prefix := stateKey(state, "")
		c := tx.Bucket(bucketStates).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			raw := decisions.Get(k[len(prefix):])
			if raw == nil {
				continue
			}
			var rec DecisionRecord
			if err := json.Unmarshal(raw, &rec); err != nil {
				return err
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// CountByState counts decision records per state from the index.
func (s *Store) CountByState(ctx context.Context) (map[string]int, error) {
	counts := map[string]int{}
	err := s.db.View(ctx, func(tx kvTx) error {
		return tx.Bucket(bucketStates).ForEach(func(k, _ []byte) error {
			if i := bytes.IndexByte(k, 0); i >= 0 {
				counts[string(k[:i])]++
			}
			return nil
		})
	})
	return counts, err
}

// Audit returns audit events, newest first, that keep returns true for, at
// most limit of them (0: all).
func (s *Store) Audit(ctx context.Context, limit int, keep func(AuditEvent) bool) ([]AuditEvent, error) {
	var out []AuditEvent
	err := s.db.View(ctx, func(tx kvTx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var ev AuditEvent
			if err := json.Unmarshal(v, &ev); err != nil {
				return err
			}
			if keep == nil || keep(ev) {
				out = append(out, ev)
				if limit > 0 && len(out) >= limit {
					return nil
				}
			}
		}
		return nil
	})
	return out, err
}

// AppendAudit records an event that is not a file's transition (an
// operator releasing a name a private index owned).
func (s *Store) AppendAudit(ctx context.Context, ev AuditEvent) error {
	return full(s.db.Update(ctx, func(tx kvTx) error { return appendAuditTx(tx, &ev) }))
}
