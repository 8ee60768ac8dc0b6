package downloads

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"airlock/internal/storetest"

	"github.com/rs/zerolog"

	"airlock/storage"
)

func TestRecordsAreStoredInBatchesAndOnClose(t *testing.T) {
	ctx := t.Context()
	s, err := storetest.Open(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := New(s, zerolog.Nop())
	now := time.Now()
	for i := 0; i < 5000; i++ {
		r.Record(storage.DownloadRecord{Time: now, SHA256: fmt.Sprintf("%064d", i%3), Filename: "x.whl", Client: "10.0.0.1", Status: 200, Bytes: 10})
	}
	r.Record(storage.DownloadRecord{Time: now, SHA256: fmt.Sprintf("%064d", 0), Status: 206})
	r.Close()
	recs, err := s.DownloadsOf(ctx, fmt.Sprintf("%064d", 0))
	if err != nil || len(recs) != 1668 {
		t.Fatalf("downloads of one file: %d, %v; want 1668", len(recs), err)
	}
	if recs[0].Client != "10.0.0.1" || recs[0].Filename != "x.whl" {
		t.Errorf("record: %+v", recs[0])
	}
	// Whole files only in the served count.
	if n, err := s.DownloadsServed(ctx, now.Add(-time.Hour)); err != nil || n != 5000 {
		t.Errorf("served in the last hour: %d, %v; want 5000", n, err)
	}
	if n, _ := s.DownloadsServed(ctx, now.Add(2*time.Hour)); n != 0 {
		t.Errorf("served in the future: %d", n)
	}
}

// flakySink refuses the first writes, as a full disk would.
type flakySink struct {
	mu    sync.Mutex
	fails int
	got   []storage.DownloadRecord
}

func (f *flakySink) PutDownloads(_ context.Context, recs []storage.DownloadRecord) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails > 0 {
		f.fails--
		return errors.New("disk full")
	}
	f.got = append(f.got, recs...)
	return nil
}

func TestRefusedRecordsAreRetriedNotLost(t *testing.T) {
	sink := &flakySink{fails: 3}
	r := New(sink, zerolog.Nop())
	r.retry = time.Millisecond
	for i := 0; i < 10; i++ {
		r.Record(storage.DownloadRecord{SHA256: fmt.Sprint(i), Status: 200})
	}
	// Wait for the writer to get past the failures, then close.
	for i := 0; i < 1000; i++ {
		sink.mu.Lock()
		n := len(sink.got)
		sink.mu.Unlock()
		if n == 10 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	r.Close()
	if len(sink.got) != 10 {
		t.Errorf("stored %d of 10 records after the store recovered", len(sink.got))
	}
}

func TestOldRecordsArePruned(t *testing.T) {
	ctx := t.Context()
	s, err := storetest.Open(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	old, recent := now.Add(-100*24*time.Hour), now.Add(-time.Hour)
	sha := fmt.Sprintf("%064d", 7)
	for _, when := range []time.Time{old, recent} { // two batches
		if err := s.PutDownloads(ctx, []storage.DownloadRecord{{Time: when, SHA256: sha, Status: 200}}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneDownloads(ctx, now.Add(-90*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1", n, err)
	}
	recs, _ := s.DownloadsOf(ctx, sha)
	if len(recs) != 1 || !recs[0].Time.Equal(recent) {
		t.Errorf("left: %+v", recs)
	}
	if served, _ := s.DownloadsServed(ctx, old.Add(-time.Hour)); served != 1 {
		t.Errorf("served count after pruning: %d, want 1", served)
	}
}
