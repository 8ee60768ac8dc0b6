package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// WorkItem is one file the background queue is to check.
type WorkItem struct {
	SHA256     string    `json:"sha256"`
	Project    string    `json:"project"`
	Filename   string    `json:"filename"`
	Size       int64     `json:"size"`
	EnqueuedAt time.Time `json:"enqueued_at"`
	Attempts   int       `json:"attempts,omitempty"`
	// NotBefore delays a retry.
	NotBefore time.Time `json:"not_before,omitzero"`
	// LastError is why the last attempt failed.
	LastError string `json:"last_error,omitempty"`
	// ClaimedUntil: a worker (of any replica) has taken the item until
	// then; after it, a worker that died is presumed gone and another
	// may take it.
	ClaimedUntil time.Time `json:"claimed_until,omitzero"`
}

// claimFor is how long a taken item is left to its worker.
const claimFor = 15 * time.Minute

var (
	// bucketWork orders the queue: priority byte + big-endian seq -> WorkItem.
	bucketWork = []byte("work")
	// bucketWorkKeys finds an item by file: sha256 -> its key in bucketWork.
	bucketWorkKeys = []byte("workkeys")
)

// AddWork queues items at a priority (lower runs first) in one
// transaction. An item already queued at the same or a higher priority is
// left as it is; one queued lower is moved up. It returns how many items
// were added or moved.
func (s *Store) AddWork(ctx context.Context, priority byte, items []WorkItem) (int, error) {
	n := 0
	err := s.db.Update(ctx, func(tx kvTx) error {
		n = 0
		work, keys := tx.Bucket(bucketWork), tx.Bucket(bucketWorkKeys)
		for _, it := range items {
			if old := keys.Get([]byte(it.SHA256)); old != nil {
				if old[0] <= priority {
					continue
				}
				var prev WorkItem
				if err := json.Unmarshal(work.Get(old), &prev); err == nil {
					it.EnqueuedAt, it.Attempts = prev.EnqueuedAt, prev.Attempts
				}
				if err := work.Delete(old); err != nil {
					return err
				}
			}
			seq, err := work.NextSequence()
			if err != nil {
				return err
			}
			key := binary.BigEndian.AppendUint64([]byte{priority}, seq)
			data, err := json.Marshal(it)
			if err != nil {
				return err
			}
			if err := work.Put(key, data); err != nil {
				return err
			}
			if err := keys.Put([]byte(it.SHA256), key); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// NextWork takes the first queued item, by priority then age, that is
// due at now, not taken by another worker (of this replica or another)
// and for which skip says no. Taking it is a write, so two replicas never
// take one item.
func (s *Store) NextWork(ctx context.Context, now time.Time, skip func(sha string) bool) (key []byte, it WorkItem, ok bool, err error) {
	err = s.db.Update(ctx, func(tx kvTx) error {
		work := tx.Bucket(bucketWork)
		c := work.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var cand WorkItem
			if err := json.Unmarshal(v, &cand); err != nil {
				return fmt.Errorf("storage: corrupt work item: %w", err)
			}
			if cand.NotBefore.After(now) || cand.ClaimedUntil.After(now) || skip(cand.SHA256) {
				continue
			}
			key, it, ok = bytes.Clone(k), cand, true
			claimed := cand
			claimed.ClaimedUntil = now.Add(claimFor)
			data, err := json.Marshal(claimed)
			if err != nil {
				return err
			}
			return work.Put(key, data)
		}
		return nil
	})
	return key, it, ok, err
}

// FinishWork removes an item.
func (s *Store) FinishWork(ctx context.Context, key []byte, sha string) error {
	return s.db.Update(ctx, func(tx kvTx) error {
		if cur := tx.Bucket(bucketWorkKeys).Get([]byte(sha)); cur != nil && !bytes.Equal(cur, key) {
			return nil // moved to another priority meanwhile: that one stays
		}
		if err := tx.Bucket(bucketWork).Delete(key); err != nil {
			return err
		}
		return tx.Bucket(bucketWorkKeys).Delete([]byte(sha))
	})
}

// RetryWork stores an item's failed attempt (its NotBefore, Attempts and
// LastError) in place.
func (s *Store) RetryWork(ctx context.Context, key []byte, it WorkItem) error {
	return s.db.Update(ctx, func(tx kvTx) error {
		work := tx.Bucket(bucketWork)
		if work.Get(key) == nil {
			return nil
		}
		it.ClaimedUntil = time.Time{} // free for the retry
		data, err := json.Marshal(it)
		if err != nil {
			return err
		}
		return work.Put(key, data)
	})
}

// WorkStats reports the queue's depth and its oldest item's enqueue time,
// without decoding the whole queue (it is read after every item): items of
// one priority are in enqueue order, except those moved up to a higher
// priority, which keep their first enqueue time — so the oldest is the
// head of the lowest priority or one of the items above it.
func (s *Store) WorkStats(ctx context.Context) (depth int, oldest time.Time, err error) {
	err = s.db.View(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketWork)
		depth = tx.Bucket(bucketWorkKeys).KeyN()
		c := b.Cursor()
		last, _ := c.Last()
		if last == nil {
			return nil
		}
		lowest := last[0]
		note := func(v []byte) {
			var it WorkItem
			if json.Unmarshal(v, &it) == nil && (oldest.IsZero() || it.EnqueuedAt.Before(oldest)) {
				oldest = it.EnqueuedAt
			}
		}
		for k, v := c.First(); k != nil && k[0] < lowest; k, v = c.Next() {
			note(v) // moved-up items: few
		}
		if _, v := c.Seek([]byte{lowest}); v != nil {
			note(v)
		}
		return nil
	})
	return depth, oldest, err
}

// releaseClaims frees every taken item: on bbolt only this process works
// the queue, so claims left by a crash would only delay their items.
func (s *Store) releaseClaims(ctx context.Context) error {
	return s.db.Update(ctx, func(tx kvTx) error {
		work := tx.Bucket(bucketWork)
		c := work.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var it WorkItem
			if json.Unmarshal(v, &it) != nil || it.ClaimedUntil.IsZero() {
				continue
			}
			it.ClaimedUntil = time.Time{}
			data, err := json.Marshal(it)
			if err != nil {
				return err
			}
			if err := work.Put(bytes.Clone(k), data); err != nil {
				return err
			}
		}
		return nil
	})
}
