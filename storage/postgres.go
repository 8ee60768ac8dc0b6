package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgreSQL keeps the buckets in one table, kv(bucket, key, value), so
// that several Airlock replicas share every record. Reads run in
// repeatable-read snapshots; writes take one transaction-scoped advisory
// lock, so they are serialized across replicas exactly as bbolt serializes
// them in one process.

// migrations are the schema's versions, applied in order by Migrate.
var migrations = []string{
	// 1: the buckets and their sequences.
	`CREATE TABLE kv (
		bucket text  NOT NULL,
		key    bytea NOT NULL,
		value  bytea NOT NULL,
		PRIMARY KEY (bucket, key)
	);
	CREATE TABLE kv_sequences (
		bucket text   PRIMARY KEY,
		value  bigint NOT NULL
	);`,
}

// SchemaVersion is the PostgreSQL schema this build reads.
func SchemaVersion() int { return len(migrations) }

// ErrSchema means the database's schema is not the one this build reads.
var ErrSchema = errors.New("database schema")

// writeLock is the advisory lock every write transaction takes.
const writeLock = 0x41524c4b // "ARLK"

// Migrate creates or upgrades the schema, one version per transaction,
// and reports the versions it applied.
func Migrate(ctx context.Context, dsn string) (from, to int, err error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, 0, fmt.Errorf("database: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS airlock_schema (version int NOT NULL)`); err != nil {
		return 0, 0, fmt.Errorf("database: %w", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, writeLock); err != nil {
		return 0, 0, err
	}
	from, err = pgSchemaVersion(ctx, tx)
	if err != nil {
		return 0, 0, err
	}
	if from > len(migrations) {
		return from, from, fmt.Errorf("%w: version %d is newer than this airlock (%d)", ErrSchema, from, len(migrations))
	}
	for v := from; v < len(migrations); v++ {
		if _, err := tx.Exec(ctx, migrations[v]); err != nil {
			return from, v, fmt.Errorf("database: migration %d: %w", v+1, err)
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM airlock_schema`); err != nil {
		return from, from, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO airlock_schema (version) VALUES ($1)`, len(migrations)); err != nil {
		return from, from, err
	}
	return from, len(migrations), tx.Commit(ctx)
}

func pgSchemaVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, error) {
	var v int
	err := q.QueryRow(ctx, `SELECT version FROM airlock_schema`).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// OpenPostgres opens the store on a PostgreSQL database whose schema
// Migrate made; dir holds what stays per replica (staging files).
func OpenPostgres(ctx context.Context, dsn, dir string, blobs Blobs) (*Store, error) {
	pool, err := newPool(ctx, dsn, queryConns)
	if err != nil {
		return nil, err
	}
	var v int
	if err := pool.QueryRow(ctx, `SELECT version FROM airlock_schema`).Scan(&v); err != nil || v != len(migrations) {
		pool.Close()
		if err != nil {
			return nil, fmt.Errorf("%w: none found (%v): run `airlock migrate` first", ErrSchema, err)
		}
		return nil, fmt.Errorf("%w: the database is at version %d, this airlock reads %d: run `airlock migrate`", ErrSchema, v, len(migrations))
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		pool.Close()
		return nil, fmt.Errorf("storage: %w", err)
	}
	lock, err := lockDir(dir, time.Second)
	if err != nil {
		pool.Close()
		return nil, err
	}
	if blobs == nil {
		blobs = LocalBlobs(dir).Ensure()
	}
	held, err := newPool(ctx, dsn, heldConns)
	if err != nil {
		pool.Close()
		lock.Close()
		return nil, err
	}
	s := &Store{dir: dir, db: &pgDB{pool: pool, held: held, replica: newReplicaID()}, blobs: blobs, dirLock: lock}
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Connections per replica: queries and transactions take them from one
// pool, and what holds a connection for long (a fill's lock for the whole
// download, the listener, the sweep leader) from another, so that holders
// never leave the writes they wait on without a connection. Two replicas
// stay within PostgreSQL's default of 100 connections.
const (
	queryConns = 16
	heldConns  = 24
)

func newPool(ctx context.Context, dsn string, size int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, dbErr(err)
	}
	cfg.MaxConns = size
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, dbErr(err)
	}
	return pool, nil
}

type pgDB struct {
	pool *pgxpool.Pool
	// held serves the connections kept for long: locks, the listener.
	held *pgxpool.Pool
	// replica tells this process's notifications from the others'.
	replica string
	// lead is the connection holding the sweep lock while this replica
	// leads.
	leadMu sync.Mutex
	lead   *pgxpool.Conn
}

// dbErr marks an error that means the database cannot be reached, is
// going down or did not answer in time as ErrUnavailable; an error the
// server reported about the statement itself stays a plain database error
// (a bug, not an outage).
func dbErr(err error) error {
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("database: %w", err) // the caller is gone
	case errors.As(err, &pe) && !strings.HasPrefix(pe.Code, "08") && !strings.HasPrefix(pe.Code, "57P") && pe.Code != "53300":
		return fmt.Errorf("database: %w", err) // not a connection, shutdown or too-many-connections error
	}
	return fmt.Errorf("%w: database: %w", ErrUnavailable, err)
}

// pgTimeout bounds one transaction: a database that stops answering
// fails the request instead of holding it.
const pgTimeout = 30 * time.Second

func (d *pgDB) View(ctx context.Context, fn func(kvTx) error) error {
	ctx, cancel := context.WithTimeout(ctx, pgTimeout)
	defer cancel()
	tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return dbErr(err)
	}
	defer tx.Rollback(ctx)
	t := &pgTx{ctx: ctx, tx: tx}
	if err := fn(t); err != nil {
		return err
	}
	if t.err != nil {
		return t.err
	}
	return tx.Commit(ctx)
}

func (d *pgDB) Update(ctx context.Context, fn func(kvTx) error) error {
	ctx, cancel := context.WithTimeout(ctx, pgTimeout)
	defer cancel()
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return dbErr(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, writeLock); err != nil {
		return dbErr(err)
	}
	t := &pgTx{ctx: ctx, tx: tx}
	if err := fn(t); err != nil {
		return err
	}
	if t.err != nil {
		return t.err // a write failed inside fn: nothing is committed
	}
	if err := tx.Commit(ctx); err != nil {
		return dbErr(fmt.Errorf("commit: %w", err))
	}
	return nil
}

func (d *pgDB) Get(ctx context.Context, bucket, key []byte, fn func(v []byte) error) error {
	ctx, cancel := context.WithTimeout(ctx, pgTimeout)
	defer cancel()
	var v []byte
	err := d.pool.QueryRow(ctx, qGet, string(bucket), key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return fn(nil)
	}
	if err != nil {
		return dbErr(err)
	}
	return fn(v)
}

// getManyChunk bounds the keys of one query.
const getManyChunk = 5000

func (d *pgDB) GetMany(ctx context.Context, bucket []byte, keys [][]byte, fn func(k, v []byte) error) error {
	return d.View(ctx, func(kt kvTx) error {
		t := kt.(*pgTx)
		for start := 0; start < len(keys); start += getManyChunk {
			rows, err := t.tx.Query(t.ctx, qGetMany, string(bucket), keys[start:min(start+getManyChunk, len(keys))])
			if err != nil {
				return dbErr(err)
			}
			for rows.Next() {
				var k, v []byte
				if err := rows.Scan(&k, &v); err != nil {
					rows.Close()
					return dbErr(err)
				}
				if err := fn(k, v); err != nil {
					rows.Close()
					return err
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return dbErr(err)
			}
		}
		return nil
	})
}

func (d *pgDB) Close() error {
	d.leadMu.Lock()
	if d.lead != nil {
		// Unlock before closing: a closed connection's session locks end
		// only when its server process notices, so another replica asking
		// at once would be refused. The unlock's answer means it is free.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		d.lead.Exec(ctx, `SELECT pg_advisory_unlock($1)`, sweepLock)
		cancel()
		d.lead.Release()
		d.lead = nil
	}
	d.leadMu.Unlock()
	d.held.Close()
	d.pool.Close()
	return nil
}

// pgTx remembers the first error of a read that has no error result
// (Get, KeyN, cursor moves), so the transaction fails rather than reading
// a missing value as "not there".
type pgTx struct {
	ctx context.Context
	tx  pgx.Tx
	err error
}

func (t *pgTx) fail(err error) {
	if err != nil && t.err == nil {
		t.err = dbErr(err)
	}
}

func (t *pgTx) Bucket(name []byte) kvBucket { return &pgBucket{t: t, name: string(name)} }

type pgBucket struct {
	t    *pgTx
	name string
}

func (b *pgBucket) Get(key []byte) []byte {
	var v []byte
	err := b.t.tx.QueryRow(b.t.ctx, qGet, b.name, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	b.t.fail(err)
	if v == nil && err == nil {
		v = []byte{}
	}
	return v
}

func (b *pgBucket) Put(key, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	_, err := b.t.tx.Exec(b.t.ctx, `INSERT INTO kv (bucket, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (bucket, key) DO UPDATE SET value = excluded.value`, b.name, key, value)
	if err != nil {
		return dbErr(err)
	}
	return nil
}

func (b *pgBucket) Delete(key []byte) error {
	if _, err := b.t.tx.Exec(b.t.ctx, `DELETE FROM kv WHERE bucket = $1 AND key = $2`, b.name, key); err != nil {
		return dbErr(err)
	}
	return nil
}

func (b *pgBucket) NextSequence() (uint64, error) {
	var v int64
	err := b.t.tx.QueryRow(b.t.ctx, `INSERT INTO kv_sequences (bucket, value) VALUES ($1, 1)
		ON CONFLICT (bucket) DO UPDATE SET value = kv_sequences.value + 1 RETURNING value`, b.name).Scan(&v)
	if err != nil {
		return 0, dbErr(err)
	}
	return uint64(v), nil
}

func (b *pgBucket) Sequence() uint64 {
	var v int64
	err := b.t.tx.QueryRow(b.t.ctx, `SELECT value FROM kv_sequences WHERE bucket = $1`, b.name).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0
	}
	b.t.fail(err)
	return uint64(v)
}

func (b *pgBucket) SetSequence(v uint64) error {
	_, err := b.t.tx.Exec(b.t.ctx, `INSERT INTO kv_sequences (bucket, value) VALUES ($1, $2)
		ON CONFLICT (bucket) DO UPDATE SET value = excluded.value`, b.name, int64(v))
	if err != nil {
		return dbErr(err)
	}
	return nil
}

func (b *pgBucket) KeyN() int {
	var n int
	b.t.fail(b.t.tx.QueryRow(b.t.ctx, `SELECT count(*) FROM kv WHERE bucket = $1`, b.name).Scan(&n))
	return n
}

func (b *pgBucket) ForEach(fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return b.t.err
}

func (b *pgBucket) Cursor() kvCursor { return &pgCursor{b: b} }

// pgCursor reads a page of rows at a time in the direction it moves.
type pgCursor struct {
	b          *pgBucket
	keys, vals [][]byte
	i          int
	forward    bool
	cur        []byte // the key the cursor is on; nil: off the end
}

const pgPage = 512

func (c *pgCursor) load(query string, arg []byte, forward bool) (k, v []byte) {
	c.keys, c.vals, c.i, c.forward = nil, nil, 0, forward
	var rows pgx.Rows
	var err error
	if arg == nil {
		rows, err = c.b.t.tx.Query(c.b.t.ctx, query, c.b.name, pgPage)
	} else {
		rows, err = c.b.t.tx.Query(c.b.t.ctx, query, c.b.name, pgPage, arg)
	}
	if err != nil {
		c.b.t.fail(err)
		return c.set()
	}
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			c.b.t.fail(err)
			break
		}
		c.keys, c.vals = append(c.keys, k), append(c.vals, v)
	}
	rows.Close()
	c.b.t.fail(rows.Err())
	return c.set()
}

func (c *pgCursor) set() ([]byte, []byte) {
	if c.i >= len(c.keys) {
		c.cur = nil
		return nil, nil
	}
	c.cur = c.keys[c.i]
	v := c.vals[c.i]
	if v == nil {
		v = []byte{}
	}
	return c.cur, v
}

const (
	qGet     = `SELECT value FROM kv WHERE bucket = $1 AND key = $2`
	qGetMany = `SELECT key, value FROM kv WHERE bucket = $1 AND key = ANY($2)`
	qFirst   = `SELECT key, value FROM kv WHERE bucket = $1 ORDER BY key LIMIT $2`
	qLast    = `SELECT key, value FROM kv WHERE bucket = $1 ORDER BY key DESC LIMIT $2`
	qSeek    = `SELECT key, value FROM kv WHERE bucket = $1 AND key >= $3 ORDER BY key LIMIT $2`
	qAfter   = `SELECT key, value FROM kv WHERE bucket = $1 AND key > $3 ORDER BY key LIMIT $2`
	qBefore  = `SELECT key, value FROM kv WHERE bucket = $1 AND key < $3 ORDER BY key DESC LIMIT $2`
)

func (c *pgCursor) First() ([]byte, []byte) { return c.load(qFirst, nil, true) }
func (c *pgCursor) Last() ([]byte, []byte)  { return c.load(qLast, nil, false) }
func (c *pgCursor) Seek(seek []byte) ([]byte, []byte) {
	if seek == nil {
		seek = []byte{}
	}
	return c.load(qSeek, seek, true)
}

func (c *pgCursor) Next() ([]byte, []byte) {
	if c.cur == nil {
		return nil, nil
	}
	if c.forward && c.i+1 < len(c.keys) {
		c.i++
		return c.set()
	}
	return c.load(qAfter, c.cur, true)
}

func (c *pgCursor) Prev() ([]byte, []byte) {
	if c.cur == nil {
		return nil, nil
	}
	if !c.forward && c.i+1 < len(c.keys) {
		c.i++
		return c.set()
	}
	return c.load(qBefore, c.cur, false)
}

// Delete removes the key the cursor is on; the cursor stays there, so
// Next and Prev go on from it.
func (c *pgCursor) Delete() error {
	if c.cur == nil {
		return nil
	}
	return c.b.Delete(c.cur)
}
