package storage

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"time"
)

var (
	// bucketDownloads holds every download, keyed by time (big-endian unix
	// nanoseconds) and a sequence number, so a period is a range scan.
	bucketDownloads = []byte("downloads")
	// bucketDownloadsBySHA indexes them by sha256 (sha256 + time key).
	bucketDownloadsBySHA = []byte("downloads_by_sha")
	// bucketDownloadHours counts full downloads per hour ("2006010215"),
	// so the overview never scans the records.
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

// PutDownloads records downloads in one transaction.
func (s *Store) PutDownloads(recs []DownloadRecord) error {
	return full(s.db.Update(func(tx kvTx) error {
		all, bySHA, hours := tx.Bucket(bucketDownloads), tx.Bucket(bucketDownloadsBySHA), tx.Bucket(bucketDownloadHours)
		for _, r := range recs {
			seq, err := all.NextSequence()
			if err != nil {
				return err
			}
			key := binary.BigEndian.AppendUint64(nil, uint64(r.Time.UnixNano()))
			key = binary.BigEndian.AppendUint64(key, seq)
			v, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := all.Put(key, v); err != nil {
				return err
			}
			if err := bySHA.Put(append([]byte(r.SHA256), key...), nil); err != nil {
				return err
			}
			if r.Status != 200 {
				continue
			}
			h := []byte(r.Time.UTC().Format(hourKey))
			n := uint64(0)
			if old := hours.Get(h); len(old) == 8 {
				n = binary.BigEndian.Uint64(old)
			}
			if err := hours.Put(h, binary.BigEndian.AppendUint64(nil, n+1)); err != nil {
				return err
			}
		}
		return nil
	}))
}

// DownloadsServed counts whole files served in the hours from since (its
// hour included) until now.
func (s *Store) DownloadsServed(since time.Time) (int, error) {
	n := 0
	err := s.db.View(func(tx kvTx) error {
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
func (s *Store) DownloadsOf(sha string) ([]DownloadRecord, error) {
	var out []DownloadRecord
	err := s.db.View(func(tx kvTx) error {
		all := tx.Bucket(bucketDownloads)
		c := tx.Bucket(bucketDownloadsBySHA).Cursor()
		prefix := []byte(sha)
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			v := all.Get(k[len(prefix):])
			if v == nil {
				continue // pruned
			}
			var r DownloadRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// DownloadCounts counts a file's recorded downloads and the distinct
// client addresses they went to.
func (s *Store) DownloadCounts(sha string) (downloads, clients int) {
	recs, err := s.DownloadsOf(sha)
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
const pruneBatch = 10_000

// PruneDownloads deletes the download records (and hour counts) older
// than before. It returns how many records it deleted.
func (s *Store) PruneDownloads(before time.Time) (int, error) {
	total := 0
	limit := binary.BigEndian.AppendUint64(nil, uint64(before.UnixNano()))
	for {
		n := 0
		err := s.db.Update(func(tx kvTx) error {
			all, bySHA := tx.Bucket(bucketDownloads), tx.Bucket(bucketDownloadsBySHA)
			c := all.Cursor()
			for k, v := c.First(); k != nil && bytes.Compare(k[:8], limit) < 0 && n < pruneBatch; k, v = c.Next() {
				var r DownloadRecord
				if json.Unmarshal(v, &r) == nil {
					bySHA.Delete(append([]byte(r.SHA256), k...))
				}
				if err := c.Delete(); err != nil {
					return err
				}
				n++
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
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}

// Downloads lists the download records from since on, oldest first (at
// most limit; 0: all).
func (s *Store) Downloads(since time.Time, limit int) ([]DownloadRecord, error) {
	var out []DownloadRecord
	err := s.db.View(func(tx kvTx) error {
		c := tx.Bucket(bucketDownloads).Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, uint64(since.UnixNano()))); k != nil; k, v = c.Next() {
			var r DownloadRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, r)
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		return nil
	})
	return out, err
}
