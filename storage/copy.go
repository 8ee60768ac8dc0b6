package storage

import (
	"bytes"
	"context"
	"fmt"
)

// copyBatch and copyBatchBytes bound one write transaction of a copy, and
// what it holds in memory: a bucket of 1 MiB page pieces must not be read
// 2,000 at a time.
const copyBatch = 2000

var copyBatchBytes = 32 << 20 // a variable for tests

// CopyTo copies every record and every stored file into dst, which may be
// another kind of store (bbolt and a folder to PostgreSQL and S3, and
// back). Each file goes through dst's staging and is committed only if
// its bytes hash to its sha256. It can be run again: what dst already has
// is not copied twice, so an interrupted copy resumes. progress is told
// what was copied.
func (s *Store) CopyTo(ctx context.Context, dst *Store, progress func(format string, args ...any)) error {
	for _, name := range allBuckets {
		n, err := s.copyBucket(ctx, dst, name)
		if err != nil {
			return fmt.Errorf("copying %s: %w", name, err)
		}
		progress("%s: %d records", name, n)
	}
	copied, had := 0, 0
	var failed []string
	err := s.Files(ctx, func(rec FileRecord) error {
		switch ok, err := dst.blobs.Has(ctx, rec.SHA256); {
		case err != nil:
			return err
		case ok:
			had++
			return nil
		}
		if err := copyBlob(ctx, s, dst, rec.SHA256); err != nil {
			failed = append(failed, rec.Filename+": "+err.Error())
			return nil
		}
		copied++
		return nil
	})
	if err != nil {
		return err
	}
	progress("files: %d copied and verified, %d already there", copied, had)
	if len(failed) > 0 {
		return fmt.Errorf("%d files not copied (run the copy again once fixed): %v", len(failed), failed)
	}
	return nil
}

func (s *Store) copyBucket(ctx context.Context, dst *Store, name []byte) (int, error) {
	var after []byte
	total := 0
	var seq uint64
	for {
		var keys, vals [][]byte
		end := true
		err := s.db.View(ctx, func(tx kvTx) error {
			b := tx.Bucket(name)
			if b == nil {
				return nil
			}
			seq = b.Sequence()
			c := b.Cursor()
			k, v := c.First()
			if after != nil {
				k, v = c.Seek(after)
				if k != nil && bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for size := 0; k != nil; k, v = c.Next() {
				if len(keys) == copyBatch || size >= copyBatchBytes {
					end = false
					break
				}
				keys, vals = append(keys, bytes.Clone(k)), append(vals, bytes.Clone(v))
				size += len(k) + len(v)
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		if len(keys) > 0 {
			err = dst.db.Update(ctx, func(tx kvTx) error {
				b := tx.Bucket(name)
				for i := range keys {
					if err := b.Put(keys[i], vals[i]); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return total, err
			}
			total += len(keys)
			after = keys[len(keys)-1]
		}
		if end {
			break
		}
	}
	// The counters go too: new audit entries and downloads must not
	// reuse the keys of copied ones.
	return total, dst.db.Update(ctx, func(tx kvTx) error {
		b := tx.Bucket(name)
		if b.Sequence() < seq {
			return b.SetSequence(seq)
		}
		return nil
	})
}

func copyBlob(ctx context.Context, src, dst *Store, sha string) error {
	in, err := src.blobs.Open(ctx, sha)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := dst.blobs.Stage(ctx, 1<<62)
	if err != nil {
		return err
	}
	defer st.Abort()
	if _, err := st.ReadFrom(in); err != nil {
		return err
	}
	return st.Commit(ctx, sha)
}
