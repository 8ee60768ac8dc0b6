package storage

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"airlock/internal/pgtest"
)

// BenchmarkDecisionWrites writes decisions (the record, its state index
// and an audit entry in one transaction) from many goroutines: on bbolt,
// and on PostgreSQL from two stores (two replicas) at once. Writes are
// serialized on both (bbolt in its process, an advisory lock across
// replicas), so this is the write capacity of a whole mirror. Run by
// bench/writes.sh.
func BenchmarkDecisionWrites(b *testing.B) {
	b.Run("bbolt", func(b *testing.B) {
		s, err := Open(context.Background(), b.TempDir(), time.Second)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchDecisionWrites(b, s, s)
	})
	b.Run("postgres-2-replicas", func(b *testing.B) {
		pg := pgtest.StartDurable(b)
		dsn := pg.Database(b)
		benchDecisionWrites(b, openMigrated(b, dsn, nil), openMigrated(b, dsn, nil))
	})
}

func benchDecisionWrites(b *testing.B, a, c *Store) {
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			s := a
			if i%2 == 0 {
				s = c
			}
			sha := fmt.Sprintf("%064x", i)
			_, err := s.UpdateDecision(context.Background(), sha, func(rec *DecisionRecord, exists bool) (bool, *AuditEvent, error) {
				*rec = DecisionRecord{SHA256: sha, Project: "p", Version: "1.0", Filename: "p-1.0.tar.gz", State: "held"}
				return true, &AuditEvent{Time: time.Now(), SHA256: sha, Project: "p", From: "", To: "held", Actor: "airlock", Reason: "bench"}, nil
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}
