package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"
)

// bucketThrottle holds failed sign-ins by address: remote 0x00 time ->
// "", so that every replica throttles a guesser alike.
var bucketThrottle = []byte("throttle")

// keepFailures is how long failures are kept (longer than any window).
const keepFailures = time.Hour

func throttleKey(remote string, at time.Time) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(remote), 0), uint64(at.UnixNano()))
}

// Failures counts remote's failures since a time.
func (s *Store) Failures(ctx context.Context, remote string, since time.Time) (int, error) {
	n := 0
	prefix := append([]byte(remote), 0)
	err := s.db.View(ctx, func(tx kvTx) error {
		c := tx.Bucket(bucketThrottle).Cursor()
		for k, _ := c.Seek(throttleKey(remote, since)); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// AddFailure records a failure and forgets remote's old ones.
func (s *Store) AddFailure(ctx context.Context, remote string, at time.Time) error {
	prefix := append([]byte(remote), 0)
	return full(s.db.Update(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketThrottle)
		c := b.Cursor()
		cut := throttleKey(remote, at.Add(-keepFailures))
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, cut) < 0; k, _ = c.Next() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return b.Put(throttleKey(remote, at), nil)
	}))
}
