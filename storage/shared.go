package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"hash/fnv"
	"time"

	"github.com/rs/zerolog"
)

// What replicas share beyond the records: word that decisions changed
// (so every replica renders its pages anew within a second) and one
// upstream download per file however many replicas are asked for it. On
// bbolt there is one process, and both are no-ops.

const changesChannel = "airlock_changes"

// NotifyChange tells the other replicas that decisions changed.
func (s *Store) NotifyChange(ctx context.Context) {
	d, ok := s.db.(*pgDB)
	if !ok {
		return
	}
	// The change is committed: tell the others even if the caller is
	// gone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	d.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, changesChannel, d.replica)
}

// ListenChanges calls changed whenever another replica's decisions
// changed, and after the connection to the database came back (a change
// may have been missed meanwhile), until ctx ends.
func (s *Store) ListenChanges(ctx context.Context, changed func(), log zerolog.Logger) {
	d, ok := s.db.(*pgDB)
	if !ok {
		return
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := d.listen(ctx, changed, func() { backoff = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		log.Warn().Err(err).Msg("database: listening for other replicas' changes failed; retrying")
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (d *pgDB) listen(ctx context.Context, changed func(), connected func()) error {
	conn, err := d.held.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel); err != nil {
		return err
	}
	connected()
	changed() // whatever happened while not listening
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			conn.Conn().Close(context.Background()) // not back into the pool half-listening
			return err
		}
		if n.Payload != d.replica {
			changed()
		}
	}
}

// LockFill makes this replica the one that downloads a file: it waits for
// any other replica downloading the same sha256 and returns the unlock.
// The caller checks the store again once it holds the lock.
func (s *Store) LockFill(ctx context.Context, sha string) (func(), error) {
	d, ok := s.db.(*pgDB)
	if !ok {
		return func() {}, nil
	}
	conn, err := d.held.Acquire(ctx)
	if err != nil {
		return nil, dbErr(err)
	}
	h := fnv.New64a()
	h.Write([]byte("fill:" + sha))
	key := int64(h.Sum64())
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		conn.Release()
		return nil, dbErr(err)
	}
	return func() {
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			conn.Conn().Close(uctx) // the session's lock ends with it
		}
		conn.Release()
	}, nil
}

func newReplicaID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sweepLock is the advisory lock the sweeping replica holds.
const sweepLock = 0x5357454550 // "SWEEP"

// Leader reports whether this process should do the work one replica does
// for all (the sweep): always on bbolt; on PostgreSQL, the replica that
// holds a session advisory lock, kept on a connection of its own until the
// process or the connection ends (then another replica takes it).
func (s *Store) Leader(ctx context.Context) bool {
	d, ok := s.db.(*pgDB)
	if !ok {
		return true
	}
	d.leadMu.Lock()
	defer d.leadMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if d.lead != nil {
		if err := d.lead.Ping(ctx); err == nil {
			return true
		}
		d.lead.Release() // the connection (and with it the lock) is gone
		d.lead = nil
	}
	conn, err := d.held.Acquire(ctx)
	if err != nil {
		return false
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, sweepLock).Scan(&got); err != nil || !got {
		conn.Release()
		return false
	}
	d.lead = conn
	return true
}
