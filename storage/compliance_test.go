package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"airlock/index"
	"airlock/internal/pgtest"
	"airlock/internal/s3test"
)

// hugePage is a page of n files whose hashes do not compress: 60,000 files
// gzip to about 2.5 MB, three pieces of pageChunkBytes.
func hugePage(n int, now time.Time) CachedPage {
	p := index.Page{Name: "huge", Versions: []string{"1.0"}}
	for i := 0; i < n; i++ {
		sum := sha256.Sum256(fmt.Appendf(nil, "%d", i))
		p.Files = append(p.Files, index.File{Filename: fmt.Sprintf("huge-1.%d.tar.gz", i), URL: "https://f.example/x",
			Hashes: index.Sha256(fmt.Sprintf("%x", sum)), Size: int64(i)})
	}
	return CachedPage{Page: p, FetchedAt: now}
}

// runIndexSuite is what every database behind the store must do, the same
// way: bbolt (embedded) and PostgreSQL (shared by replicas).
func runIndexSuite(t *testing.T, open func(t *testing.T) *Store) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	sha := func(i int) string { return fmt.Sprintf("%064x", i) }

	t.Run("analyses", func(t *testing.T) {
		s := open(t)
		if _, err := s.GetAnalysis(ctx, "k1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing analysis: %v", err)
		}
		if err := s.PutAnalyses(ctx, map[string][]byte{"k1": []byte("one"), "k2": {0, 1, 2}}); err != nil {
			t.Fatal(err)
		}
		if v, err := s.GetAnalysis(ctx, "k2"); err != nil || string(v) != "\x00\x01\x02" {
			t.Errorf("analysis: %q %v", v, err)
		}
		if err := s.PutAnalyses(ctx, nil); err != nil {
			t.Errorf("nothing to put: %v", err)
		}
	})

	t.Run("pages", func(t *testing.T) {
		s := open(t)
		p := index.Page{Name: "big", ProvenanceKnown: true, Versions: []string{"1.0"}}
		for i := 0; i < 3000; i++ {
			p.Files = append(p.Files, index.File{Filename: fmt.Sprintf("big-1.%d.tar.gz", i), URL: "https://f.example/x", Hashes: index.Sha256(sha(i)), Size: int64(i)})
		}
		if _, err := s.GetPage(ctx, "big"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing page: %v", err)
		}
		if err := s.PutPage(ctx, CachedPage{Page: p, FetchedAt: now, Validators: Validators{ETag: `"e"`}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetPage(ctx, "big")
		if err != nil || len(got.Page.Files) != 3000 || got.Page.Files[2999].Size != 2999 || got.Validators.ETag != `"e"` || !got.FetchedAt.Equal(now) {
			t.Fatalf("page: %v %d", err, len(got.Page.Files))
		}
		if err := s.PutList(ctx, CachedList{Names: []string{"a", "b"}, FetchedAt: now}); err != nil {
			t.Fatal(err)
		}
		if l, err := s.GetList(ctx); err != nil || len(l.Names) != 2 {
			t.Errorf("list: %v %v", l, err)
		}
		s.PutIndexList(ctx, "internal", CachedList{Names: []string{"x"}})
		if l, err := s.GetIndexList(ctx, "internal"); err != nil || l.Names[0] != "x" {
			t.Errorf("index list: %v %v", l, err)
		}
	})

	t.Run("a large page in pieces", func(t *testing.T) {
		s := open(t)
		big := func(n int) CachedPage { return hugePage(n, now) }
		pieces := func() int {
			n := 0
			s.db.View(ctx, func(tx kvTx) error {
				return tx.Bucket(bucketPageChunks).ForEach(func(k, _ []byte) error {
					if bytes.HasPrefix(k, []byte("huge\x00")) {
						n++
					}
					return nil
				})
			})
			return n
		}
		s.PutPage(ctx, CachedPage{Page: index.Page{Name: "hug", Files: []index.File{{Filename: "hug-1.0.tar.gz", URL: "https://f.example/y", Size: -1}}}})
		for _, n := range []int{60000, 30000} {
			if err := s.PutPage(ctx, big(n)); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetPage(ctx, "huge")
			if err != nil || len(got.Page.Files) != n || got.Page.Files[n-1].Size != int64(n-1) || got.Page.Files[n-1].SHA256() != big(n).Page.Files[n-1].SHA256() {
				t.Fatalf("%d files: %v, read %d", n, err, len(got.Page.Files))
			}
			if p := pieces(); p < 2 {
				t.Errorf("%d files stored in %d pieces", n, p)
			}
		}
		if p := pieces(); p != 2 {
			t.Errorf("after a smaller page: %d pieces, want 2 (none of the larger one's left)", p)
		}
		if err := s.PutPage(ctx, big(10)); err != nil {
			t.Fatal(err)
		}
		if p := pieces(); p != 0 {
			t.Errorf("a small page left %d pieces", p)
		}
		if got, err := s.GetPage(ctx, "huge"); err != nil || len(got.Page.Files) != 10 {
			t.Errorf("small page after a large one: %v %d", err, len(got.Page.Files))
		}
		if got, err := s.GetPage(ctx, "hug"); err != nil || len(got.Page.Files) != 1 {
			t.Errorf("a neighbour's page: %v %d", err, len(got.Page.Files))
		}
		// A missing piece is an error, never a page with files left out.
		s.PutPage(ctx, big(60000))
		s.db.Update(ctx, func(tx kvTx) error { return tx.Bucket(bucketPageChunks).Delete(chunkKey("huge", 1)) })
		if _, err := s.GetPage(ctx, "huge"); err == nil || !strings.Contains(err.Error(), "piece 2 of") {
			t.Errorf("page with a piece missing: %v", err)
		}
	})

	t.Run("files", func(t *testing.T) {
		s := open(t)
		for i, name := range []string{"p-1.0.tar.gz", "p-1.0.tar.gz.metadata", "p-2.0.tar.gz"} {
			if err := s.PutFile(ctx, FileRecord{Project: "p", Filename: name, SHA256: sha(i), FetchedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		s.PutFile(ctx, FileRecord{Project: "pp", Filename: "pp-1.0.tar.gz", SHA256: sha(9)})
		recs, err := s.ProjectFiles(ctx, "p")
		if err != nil || len(recs) != 3 || recs["p-2.0.tar.gz"].SHA256 != sha(2) {
			t.Errorf("project files: %v %v", recs, err)
		}
		if rec, err := s.GetFile(ctx, "p", "p-1.0.tar.gz"); err != nil || rec.SHA256 != sha(0) {
			t.Errorf("file: %v %v", rec, err)
		}
		n := 0
		s.Files(ctx, func(FileRecord) error { n++; return nil })
		if n != 4 {
			t.Errorf("all files: %d", n)
		}
	})

	t.Run("decisions and audit in one transaction", func(t *testing.T) {
		s := open(t)
		write := func(i int, state string) error {
			_, err := s.UpdateDecision(ctx, sha(i), func(rec *DecisionRecord, exists bool) (bool, *AuditEvent, error) {
				from := rec.State
				rec.SHA256, rec.Project, rec.State, rec.UpdatedAt = sha(i), "p", state, now
				return true, &AuditEvent{Time: now, SHA256: sha(i), From: from, To: state, Actor: "airlock"}, nil
			})
			return err
		}
		for i := 0; i < 5; i++ {
			if err := write(i, "held"); err != nil {
				t.Fatal(err)
			}
		}
		write(0, "approved")
		// A decision whose function fails writes neither record nor audit.
		_, err := s.UpdateDecision(ctx, sha(7), func(rec *DecisionRecord, exists bool) (bool, *AuditEvent, error) {
			rec.State = "held"
			return false, nil, errors.New("boom")
		})
		if err == nil {
			t.Fatal("a failed update succeeded")
		}
		if _, err := s.GetDecision(ctx, sha(7)); !errors.Is(err, ErrNotFound) {
			t.Errorf("failed update left a record: %v", err)
		}
		counts, _ := s.CountByState(ctx)
		if counts["held"] != 4 || counts["approved"] != 1 {
			t.Errorf("counts: %v", counts)
		}
		// A page's decisions in one read: those stored, none invented.
		many := []string{sha(0), sha(3), sha(7), sha(99)}
		for i := 100; i < 12000; i++ { // more keys than one query takes
			many = append(many, sha(i))
		}
		got, err := s.DecisionsOf(ctx, many)
		if err != nil || len(got) != 2 || got[sha(0)].State != "approved" || got[sha(3)].State != "held" {
			t.Errorf("decisions of a page: %v %+v", err, got)
		}
		var held []string
		s.DecisionsInState(ctx, "held", func(r DecisionRecord) error { held = append(held, r.SHA256); return nil })
		if len(held) != 4 {
			t.Errorf("held: %v", held)
		}
		events, err := s.Audit(ctx, 3, nil)
		if err != nil || len(events) != 3 || events[0].To != "approved" || events[0].Seq <= events[1].Seq {
			t.Errorf("audit, newest first: %+v %v", events, err)
		}
	})

	t.Run("work queue", func(t *testing.T) {
		s := open(t)
		items := []WorkItem{{SHA256: sha(1), Project: "p", EnqueuedAt: now}, {SHA256: sha(2), Project: "p", EnqueuedAt: now.Add(time.Second)}}
		if n, err := s.AddWork(ctx, 5, items); err != nil || n != 2 {
			t.Fatalf("add: %d %v", n, err)
		}
		if n, _ := s.AddWork(ctx, 1, items[1:]); n != 1 {
			t.Errorf("moving an item up: %d", n)
		}
		key, it, ok, err := s.NextWork(ctx, now, func(string) bool { return false })
		if err != nil || !ok || it.SHA256 != sha(2) {
			t.Fatalf("next: %v %v %v", it, ok, err)
		}

		it.Attempts, it.NotBefore = 1, now.Add(time.Hour)
		if err := s.RetryWork(ctx, key, it); err != nil {
			t.Fatal(err)
		}
		key, it, ok, _ = s.NextWork(ctx, now, func(string) bool { return false })
		if !ok || it.SHA256 != sha(1) {
			t.Fatalf("next while the other waits: %v %v", it, ok)
		}
		if err := s.FinishWork(ctx, key, it.SHA256); err != nil {
			t.Fatal(err)
		}
		depth, oldest, err := s.WorkStats(ctx)
		if err != nil || depth != 1 || oldest.IsZero() {
			t.Errorf("stats: %d %v %v", depth, oldest, err)
		}
		// A taken item is not given to another worker (another replica)
		// until its claim runs out (its worker died).
		later := now.Add(2 * time.Hour)
		never := func(string) bool { return false }
		if _, it, ok, _ := s.NextWork(ctx, later, never); !ok || it.SHA256 != sha(2) {
			t.Fatalf("due item: %v %v", it, ok)
		}
		if _, it, ok, _ := s.NextWork(ctx, later, never); ok {
			t.Errorf("a taken item given to a second worker: %v", it)
		}
		if _, it, ok, _ := s.NextWork(ctx, later.Add(time.Hour), never); !ok || it.SHA256 != sha(2) {
			t.Errorf("after the claim ran out: %v %v", it, ok)
		}
	})

	t.Run("sign-in throttle", func(t *testing.T) {
		s := open(t)
		for i := 0; i < 3; i++ {
			if err := s.AddFailure(ctx, "10.0.0.1", now.Add(time.Duration(i)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		s.AddFailure(ctx, "10.0.0.10", now) // a prefix of another address's key is not its failure
		if n, err := s.Failures(ctx, "10.0.0.1", now.Add(-time.Minute)); err != nil || n != 3 {
			t.Errorf("failures: %d %v", n, err)
		}
		if n, _ := s.Failures(ctx, "10.0.0.1", now.Add(1500*time.Millisecond)); n != 1 {
			t.Errorf("failures in the window: %d", n)
		}
		s.AddFailure(ctx, "10.0.0.1", now.Add(2*time.Hour)) // forgets the old ones
		if n, _ := s.Failures(ctx, "10.0.0.1", now.Add(-time.Minute)); n != 1 {
			t.Errorf("after pruning: %d", n)
		}
	})

	t.Run("sessions", func(t *testing.T) {
		s := open(t)
		if err := s.PutSession(ctx, "cookie-1", Session{CSRF: "c", Expires: now.Add(time.Hour)}, now); err != nil {
			t.Fatal(err)
		}
		s.PutSession(ctx, "cookie-old", Session{CSRF: "o", Expires: now.Add(time.Minute)}, now)
		if got, err := s.GetSession(ctx, "cookie-1", now); err != nil || got.CSRF != "c" {
			t.Errorf("session: %v %v", got, err)
		}
		if _, err := s.GetSession(ctx, "cookie-old", now.Add(2*time.Minute)); !errors.Is(err, ErrNotFound) {
			t.Errorf("expired session: %v", err)
		}
		s.DeleteSession(ctx, "cookie-1")
		if _, err := s.GetSession(ctx, "cookie-1", now); !errors.Is(err, ErrNotFound) {
			t.Errorf("ended session: %v", err)
		}
	})

	t.Run("downloads, caches, confusions", func(t *testing.T) {
		s := open(t)
		old := now.Add(-100 * 24 * time.Hour)
		// Two batches, as the recorder writes them.
		if err := s.PutDownloads(ctx, []DownloadRecord{{Time: old, SHA256: sha(1), Client: "a", Status: 200}}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutDownloads(ctx, []DownloadRecord{{Time: now, SHA256: sha(1), Client: "b", Status: 200},
			{Time: now, SHA256: sha(1), Client: "b", Status: 206}, {Time: now, SHA256: sha(3), Client: "c", Status: 200}}); err != nil {
			t.Fatal(err)
		}
		if n, c := s.DownloadCounts(ctx, sha(1)); n != 3 || c != 2 {
			t.Errorf("counts: %d %d", n, c)
		}
		if n, _ := s.DownloadsServed(ctx, now.Add(-time.Hour)); n != 2 {
			t.Errorf("served: %d", n)
		}
		if n, err := s.PruneDownloads(ctx, now.Add(-24*time.Hour)); err != nil || n != 1 {
			t.Errorf("pruned: %d %v", n, err)
		}
		s.PutProvenance(ctx, ProvenanceRecord{SHA256: sha(1), Status: "verified"})
		if r, err := s.GetProvenance(ctx, sha(1)); err != nil || r.Status != "verified" {
			t.Errorf("provenance: %v %v", r, err)
		}
		s.PutInspection(ctx, InspectionRecord{SHA256: sha(2)})
		if _, err := s.GetInspection(ctx, sha(2)); err != nil {
			t.Errorf("inspection: %v", err)
		}
		s.PutSignalDoc(ctx, "k", SignalDoc{})
		if _, err := s.GetSignalDoc(ctx, "k"); err != nil {
			t.Errorf("signal doc: %v", err)
		}
		if first, err := s.PutConfusion(ctx, Confusion{Project: "t", Index: "i", LastSeen: now}); err != nil || !first {
			t.Errorf("confusion: %v %v", first, err)
		}
		if first, _ := s.PutConfusion(ctx, Confusion{Project: "t", Index: "i", LastSeen: now}); first {
			t.Error("second sighting reported as first")
		}
		if cs, _ := s.Confusions(ctx); len(cs) != 1 {
			t.Errorf("confusions: %v", cs)
		}
	})
}

func TestIndexComplianceBolt(t *testing.T) {
	ctx := t.Context()
	runIndexSuite(t, func(t *testing.T) *Store {
		s, err := Open(ctx, t.TempDir(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// One replica leads (sweeps) at a time; when it goes, another takes over.
func TestOneLeader(t *testing.T) {
	pg := pgtest.Start(t)
	dsn := pg.Database(t)
	ctx := context.Background()
	Migrate(ctx, dsn)
	a, err := OpenPostgres(ctx, dsn, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenPostgres(ctx, dsn, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !a.Leader(ctx) || b.Leader(ctx) || !a.Leader(ctx) {
		t.Fatal("want A to lead, B not")
	}
	a.Close()
	if !b.Leader(ctx) {
		t.Error("B did not take over when A went")
	}
}

func TestIndexCompliancePostgres(t *testing.T) {
	pg := pgtest.Start(t)
	runIndexSuite(t, func(t *testing.T) *Store { return openMigrated(t, pg.Database(t), nil) })
}

// openMigrated migrates the database of dsn and opens a store on it (a
// replica with a data directory of its own), closed when the test ends.
func openMigrated(tb testing.TB, dsn string, blobs Blobs) *Store {
	tb.Helper()
	ctx := context.Background()
	if _, _, err := Migrate(ctx, dsn); err != nil {
		tb.Fatal(err)
	}
	s, err := OpenPostgres(ctx, dsn, tb.TempDir(), blobs)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// A database without the schema, or at another version, is refused with
// the command to run; migrate is idempotent.
func TestPostgresSchema(t *testing.T) {
	pg := pgtest.Start(t)
	dsn := pg.Database(t)
	ctx := context.Background()
	if _, err := OpenPostgres(ctx, dsn, t.TempDir(), nil); !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), "airlock migrate") {
		t.Fatalf("unmigrated: %v", err)
	}
	if from, to, err := Migrate(ctx, dsn); err != nil || from != 0 || to != SchemaVersion() {
		t.Fatalf("migrate: %d->%d %v", from, to, err)
	}
	if from, to, err := Migrate(ctx, dsn); err != nil || from != to {
		t.Fatalf("migrate again: %d->%d %v", from, to, err)
	}
	s, err := OpenPostgres(ctx, dsn, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestStoreCopyRoundTrip moves a bbolt + folder store into PostgreSQL +
// S3 and back: every record, every file (verified on the way) and the
// counters arrive; a second run copies nothing twice.
func TestStoreCopyRoundTrip(t *testing.T) {
	pg := pgtest.Start(t)
	s3 := s3test.Start(t)
	s3.Env(t)
	ctx := context.Background()
	src, err := Open(ctx, t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	var shas []string
	for i := 0; i < 5; i++ {
		data := []byte(fmt.Sprintf("file %d", i))
		sha := fmt.Sprintf("%x", sha256.Sum256(data))
		st, _ := src.Stage(ctx, 100)
		st.ReadFrom(bytes.NewReader(data))
		if err := st.Commit(ctx, sha); err != nil {
			t.Fatal(err)
		}
		src.PutFile(ctx, FileRecord{Project: "p", Filename: fmt.Sprintf("p-%d.tar.gz", i), SHA256: sha, Size: int64(len(data))})
		src.UpdateDecision(ctx, sha, func(rec *DecisionRecord, exists bool) (bool, *AuditEvent, error) {
			rec.SHA256, rec.State = sha, "allowed"
			return true, &AuditEvent{Time: now, SHA256: sha, To: "allowed"}, nil
		})
		shas = append(shas, sha)
	}
	src.PutDownloads(ctx, []DownloadRecord{{Time: now, SHA256: shas[0], Client: "a", Status: 200}})
	if err := src.PutPage(ctx, hugePage(60000, now)); err != nil { // stored in pieces
		t.Fatal(err)
	}

	bucket := s3.Bucket(t, "copy")
	blobs, err := NewS3(ctx, S3Options{URL: "s3://" + bucket, Endpoint: s3.Endpoint, Region: "us-east-1", PathStyle: true, Tmp: filepath.Join(t.TempDir(), "tmp")})
	if err != nil {
		t.Fatal(err)
	}
	mid := openMigrated(t, pg.Database(t), blobs)
	back, err := Open(ctx, t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	var log []string
	progress := func(f string, a ...any) { log = append(log, fmt.Sprintf(f, a...)) }
	defer func(n int) { copyBatchBytes = n }(copyBatchBytes)
	copyBatchBytes = 1 << 20 // the page's pieces go one per transaction
	for _, hop := range [][2]*Store{{src, mid}, {mid, mid}, {mid, back}} {
		if hop[0] == hop[1] {
			log = nil
			if err := src.CopyTo(ctx, mid, progress); err != nil { // again: resumes, copies no file twice
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(log, "\n"), "files: 0 copied and verified, 5 already there") {
				t.Errorf("second copy: %v", log)
			}
			continue
		}
		if err := hop[0].CopyTo(ctx, hop[1], progress); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*Store{mid, back} {
		for i, sha := range shas {
			rec, err := s.GetFile(ctx, "p", fmt.Sprintf("p-%d.tar.gz", i))
			if err != nil || rec.SHA256 != sha || !s.HasBlob(ctx, sha) {
				t.Errorf("file %d: %+v %v", i, rec, err)
			}
			if d, err := s.GetDecision(ctx, sha); err != nil || d.State != "allowed" {
				t.Errorf("decision %d: %v", i, err)
			}
		}
		if ev, _ := s.Audit(ctx, 10, nil); len(ev) != 5 {
			t.Errorf("audit: %d events", len(ev))
		}
		if n, _ := s.DownloadCounts(ctx, shas[0]); n != 1 {
			t.Errorf("downloads: %d", n)
		}
		if p, err := s.GetPage(ctx, "huge"); err != nil || len(p.Page.Files) != 60000 {
			t.Errorf("page in pieces: %v, %d files", err, len(p.Page.Files))
		}
	}
	// New audit entries do not overwrite copied ones.
	back.UpdateDecision(ctx, shas[0], func(rec *DecisionRecord, exists bool) (bool, *AuditEvent, error) {
		rec.State = "held"
		return true, &AuditEvent{Time: now, SHA256: shas[0], To: "held"}, nil
	})
	if ev, _ := back.Audit(ctx, 10, nil); len(ev) != 6 {
		t.Errorf("audit after a new entry: %d events, want 6", len(ev))
	}
}

// Fills of many different files at once each hold a connection for their
// lock while they download; the records they write meanwhile must still
// get a connection of their own.
func TestManyFillLocksDoNotStarveWrites(t *testing.T) {
	pg := pgtest.Start(t)
	ctx := context.Background()
	s := openMigrated(t, pg.Database(t), nil)
	const fills = 12
	var held atomic.Int32
	errs := make(chan error, fills)
	var wg sync.WaitGroup
	for i := 0; i < fills; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			unlock, err := s.LockFill(lctx, fmt.Sprintf("%064x", i))
			if err != nil {
				errs <- fmt.Errorf("lock %d: %w", i, err)
				return
			}
			defer unlock()
			held.Add(1)
			// Every lock held at once, as during parallel downloads.
			for deadline := time.Now().Add(5 * time.Second); held.Load() < fills && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			errs <- s.PutFile(ctx, FileRecord{Project: "p", Filename: fmt.Sprintf("p-%d.tar.gz", i), SHA256: fmt.Sprintf("%064x", i)})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
