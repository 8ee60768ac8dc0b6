package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// An advisory source's last good read is kept so that a restart while the
// source is unreadable does not forget what it said (a block lifted by an
// outage is an attacker's gift). Its records are an opaque body (the
// advisories package's gzipped records) stored in pieces of
// pageChunkBytes, for the reason pages are: a head record in
// advisory_sources says how many pieces advisory_chunks holds.
var (
	bucketAdvisorySources = []byte("advisory_sources")
	bucketAdvisoryChunks  = []byte("advisory_chunks")
)

// advisorySnapshot is the head record of one source's kept read.
type advisorySnapshot struct {
	Source  string    `json:"source"`
	Records int       `json:"records"`
	ReadAt  time.Time `json:"read_at"`
	Pieces  int       `json:"pieces"`
}

// PutAdvisorySnapshot replaces the kept read of source with body (read
// whole before the write transaction starts).
func (s *Store) PutAdvisorySnapshot(ctx context.Context, source string, records int, readAt time.Time, body io.Reader) error {
	var w chunkWriter
	if _, err := io.Copy(&w, body); err != nil {
		return err
	}
	head, err := json.Marshal(advisorySnapshot{Source: source, Records: records, ReadAt: readAt.UTC(), Pieces: len(w.chunks)})
	if err != nil {
		return err
	}
	return full(s.db.Update(ctx, func(tx kvTx) error {
		chunks := tx.Bucket(bucketAdvisoryChunks)
		if old := tx.Bucket(bucketAdvisorySources).Get([]byte(source)); old != nil {
			var prev advisorySnapshot
			if json.Unmarshal(old, &prev) == nil {
				for i := range prev.Pieces {
					if err := chunks.Delete(chunkKey(source, i)); err != nil {
						return err
					}
				}
			}
		}
		for i, c := range w.chunks {
			if err := chunks.Put(chunkKey(source, i), c); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketAdvisorySources).Put([]byte(source), head)
	}))
}

// GetAdvisorySnapshot returns the kept read of source (how many records,
// when it was read, its body), or ErrNotFound. A missing piece is an error
// naming it, never a shorter body.
func (s *Store) GetAdvisorySnapshot(ctx context.Context, source string) (records int, readAt time.Time, body []byte, err error) {
	var snap advisorySnapshot
	var buf bytes.Buffer

	err = s.db.View(ctx, func(tx kvTx) error {
		head := tx.Bucket(bucketAdvisorySources).Get([]byte(source))
		if head == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(head, &snap); err != nil {
			return fmt.Errorf("storage: corrupt advisory snapshot %q: %w", source, err)
		}
		chunks := tx.Bucket(bucketAdvisoryChunks)
		for i := range snap.Pieces {
			c := chunks.Get(chunkKey(source, i))
			if c == nil {
				return fmt.Errorf("storage: corrupt advisory snapshot %q: piece %d of %d missing", source, i+1, snap.Pieces)
			}
			buf.Write(c)
		}
		return nil
	})
	if err != nil {
		return 0, time.Time{}, nil, err
	}
	s.releasePages()
	return snap.Records, snap.ReadAt, buf.Bytes(), nil
}
