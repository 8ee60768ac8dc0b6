package storage

import (
	"context"

	"go.etcd.io/bbolt"
)

// The records (pages, files, decisions and their audit log, caches, the
// work queue, downloads) are kept in ordered key-value buckets, read and
// written in transactions. bbolt is the embedded default; PostgreSQL keeps
// the same buckets in one table, so that several replicas share them.
// Every record type is written once, against these interfaces.

// kvDB runs transactions: View reads a consistent snapshot; Update writes
// and is serialized with every other Update (across replicas too).
type kvDB interface {
	View(ctx context.Context, fn func(kvTx) error) error
	Update(ctx context.Context, fn func(kvTx) error) error
	// Get reads one value and passes it to fn (nil when absent; valid
	// only during fn) without a transaction of its own on a server: one
	// read is consistent by itself, and the warm path of a file reads
	// this way.
	Get(ctx context.Context, bucket, key []byte, fn func(v []byte) error) error
	// GetMany reads many keys in one snapshot and calls fn for each one
	// found (in no set order; v valid only during fn): a page's files are
	// looked up with a few queries, not one per file.
	GetMany(ctx context.Context, bucket []byte, keys [][]byte, fn func(k, v []byte) error) error
	Close() error
}

// kvTx is one transaction.
type kvTx interface {
	Bucket(name []byte) kvBucket
}

// kvBucket is an ordered map of byte keys. A value returned by Get or a
// cursor is valid until the transaction ends.
type kvBucket interface {
	Get(key []byte) []byte
	Put(key, value []byte) error
	Delete(key []byte) error
	Cursor() kvCursor
	ForEach(fn func(k, v []byte) error) error
	NextSequence() (uint64, error)
	// Sequence and SetSequence read and set the counter (store copy).
	Sequence() uint64
	SetSequence(v uint64) error
	KeyN() int
}

// kvCursor walks a bucket in key order; a nil key is the end.
type kvCursor interface {
	First() (k, v []byte)
	Last() (k, v []byte)
	Next() (k, v []byte)
	Prev() (k, v []byte)
	Seek(seek []byte) (k, v []byte)
	Delete() error
}

// boltDB adapts bbolt.
type boltDB struct{ db *bbolt.DB }

// bbolt transactions are local and short; a context already done stops
// one from starting.
func (b boltDB) View(ctx context.Context, fn func(kvTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.db.View(func(tx *bbolt.Tx) error { return fn(boltTx{tx}) })
}

func (b boltDB) Update(ctx context.Context, fn func(kvTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.db.Update(func(tx *bbolt.Tx) error { return fn(boltTx{tx}) })
}

func (b boltDB) Get(ctx context.Context, bucket, key []byte, fn func(v []byte) error) error {
	return b.View(ctx, func(tx kvTx) error { return fn(tx.Bucket(bucket).Get(key)) })
}

func (b boltDB) GetMany(ctx context.Context, bucket []byte, keys [][]byte, fn func(k, v []byte) error) error {
	return b.View(ctx, func(tx kvTx) error {
		bk := tx.Bucket(bucket)
		for _, k := range keys {
			if v := bk.Get(k); v != nil {
				if err := fn(k, v); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func (b boltDB) Close() error { return b.db.Close() }

type boltTx struct{ tx *bbolt.Tx }

func (t boltTx) Bucket(name []byte) kvBucket {
	if b := t.tx.Bucket(name); b != nil {
		return boltBucket{b}
	}
	return nil
}

type boltBucket struct{ *bbolt.Bucket }

func (b boltBucket) Cursor() kvCursor { return b.Bucket.Cursor() }
func (b boltBucket) KeyN() int        { return b.Bucket.Stats().KeyN }
