package storage

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

var (
	// bucketDownloads holds the downloads in batches, as the recorder
	// writes them: key = big-endian unix nanoseconds of the batch's first
	// record + a sequence number, value = the records, gzipped JSON. One
	// write per batch keeps a busy mirror's warm path as fast as without
	// the records.
	bucketDownloads = []byte("downloads")
	// bucketDownloadsBySHA indexes the batches by file: sha256 + batch key.
	bucketDownloadsBySHA = []byte("downloads_by_sha")
	// bucketDownloadHours counts full downloads per hour ("2006010215"),
	// so the overview never reads the records.
	bucketDownloadHours = []byte("download_hours")
)

// DownloadRecord is one file served to a client.
type DownloadRecord struct {
	Time     time.Time `json:"time"`
	SHA256   string    `json:"sha256"`
	Project  string    `json:"project"`
	Filename string    `json:"filename"`
	// Client is the client's address (from a trusted proxy's
	// X-Forwarded-For when there is one).
	Client    string `json:"client"`
	UserAgent string `json:"user_agent,omitempty"`
	// Identity is the authenticated client, when there is one.
	Identity string `json:"identity,omitempty"`
	// Status is 200 for a whole file, 206 for a part of it.
	Status int   `json:"status"`
	Bytes  int64 `json:"bytes"`
}

const hourKey = "2006010215"

// PutDownloads records a batch of downloads in one transaction: one
// value for the batch, one index entry per file in it, one counter update
// per hour.
func (s *Store) PutDownloads(ctx context.Context, recs []DownloadRecord) error {
	if len(recs) == 0 {
		return nil
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err := json.NewEncoder(zw).Encode(recs); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	hours := map[string]uint64{}
	shas := map[string]bool{}
	for _, r := range recs {
		shas[r.SHA256] = true
		if r.Status == 200 {
			hours[r.Time.UTC().Format(hourKey)]++
		}
	}
	return full(s.db.Update(ctx, func(tx kvTx) error {
		all, bySHA, hourB := tx.Bucket(bucketDownloads), tx.Bucket(bucketDownloadsBySHA), tx.Bucket(bucketDownloadHours)
		seq, err := all.NextSequence()
		if err != nil {
			return err
		}
		key := binary.BigEndian.AppendUint64(nil, uint64(recs[0].Time.UnixNano()))
		key = binary.BigEndian.AppendUint64(key, seq)
		if err := all.Put(key, buf.Bytes()); err != nil {
			return err
		}
		for sha := range shas {
			if err := bySHA.Put(append([]byte(sha), key...), nil); err != nil {
				return err
			}
		}
		for h, n := range hours {
			old := uint64(0)
			if v := hourB.Get([]byte(h)); len(v) == 8 {
				old = binary.BigEndian.Uint64(v)
			}
			if err := hourB.Put([]byte(h), binary.BigEndian.AppendUint64(nil, old+n)); err != nil {
				return err
			}
		}
		return nil
	}))
}

func decodeBatch(v []byte) ([]DownloadRecord, error) {
	zr, err := gzip.NewReader(bytes.NewReader(v))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	var recs []DownloadRecord
	err = json.NewDecoder(zr).Decode(&recs)
	return recs, err
}

// DownloadsServed counts whole files served in the hours from since (its
// hour included) until now.
func (s *Store) DownloadsServed(ctx context.Context, since time.Time) (int, error) {
	n := 0
	err := s.db.View(ctx, func(tx kvTx) error {
		c := tx.Bucket(bucketDownloadHours).Cursor()
		for k, v := c.Seek([]byte(since.UTC().Format(hourKey))); k != nil; k, v = c.Next() {
			if len(v) == 8 {
				n += int(binary.BigEndian.Uint64(v))
			}
		}
		return nil
	})
	return n, err
}

// DownloadsOf lists the downloads of a file, oldest first.
func (s *Store) DownloadsOf(ctx context.Context, sha string) ([]DownloadRecord, error) {
	var out []DownloadRecord
	err := s.db.View(ctx, func(tx kvTx) error {
		all := tx.Bucket(bucketDownloads)
		c := tx.Bucket(bucketDownloadsBySHA).Cursor()
		prefix := []byte(sha)
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			v := all.Get(k[len(prefix):])
			if v == nil {
				continue // pruned
			}
			recs, err := decodeBatch(v)
			if err != nil {
				return fmt.Errorf("storage: corrupt download batch: %w", err)
			}
			for _, r := range recs {
				if r.SHA256 == sha {
					out = append(out, r)
				}
			}
		}
		return nil
	})
	return out, err
}

// DownloadCounts counts a file's recorded downloads and the distinct
// client addresses they went to.
func (s *Store) DownloadCounts(ctx context.Context, sha string) (downloads, clients int) {
	recs, err := s.DownloadsOf(ctx, sha)
	if err != nil {
		return 0, 0
	}
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r.Client] = true
	}
	return len(recs), len(seen)
}

// pruneBatch bounds one pruning transaction, so a long backlog does not
// hold the writer.
const pruneBatch = 500

// PruneDownloads deletes the download records (and hour counts) older
// than before: whole batches, whose every record is older. It returns how
// many records it deleted.
func (s *Store) PruneDownloads(ctx context.Context, before time.Time) (int, error) {
	total := 0
	limit := binary.BigEndian.AppendUint64(nil, uint64(before.UnixNano()))
	for {
		batches := 0
		err := s.db.Update(ctx, func(tx kvTx) error {
			all, bySHA := tx.Bucket(bucketDownloads), tx.Bucket(bucketDownloadsBySHA)
			c := all.Cursor()
			for k, v := c.First(); k != nil && bytes.Compare(k[:8], limit) < 0 && batches < pruneBatch; k, v = c.Next() {
				recs, err := decodeBatch(v)
				if err != nil {
					return fmt.Errorf("storage: corrupt download batch: %w", err)
				}
				if len(recs) > 0 && !recs[len(recs)-1].Time.Before(before) {
					break // a batch that reaches past the cut-off stays whole
				}
				seen := map[string]bool{}
				for _, r := range recs {
					if !seen[r.SHA256] {
						seen[r.SHA256] = true
						bySHA.Delete(append([]byte(r.SHA256), k...))
					}
				}
				if err := c.Delete(); err != nil {
					return err
				}
				total += len(recs)
				batches++
			}
			hours := tx.Bucket(bucketDownloadHours).Cursor()
			cut := []byte(before.UTC().Format(hourKey))
			for k, _ := hours.First(); k != nil && bytes.Compare(k, cut) < 0; k, _ = hours.Next() {
				if err := hours.Delete(); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || batches < pruneBatch {
			return total, err
		}
	}
}
