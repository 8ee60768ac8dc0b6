package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"airlock/index"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestSecondOpenIsRefused(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := Open(ctx, dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Open(ctx, dir, 100*time.Millisecond)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second open: %v, want ErrInUse", err)
	}
	if want := "data directory in use"; !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestLeftoverTempFilesRemoved(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := Open(ctx, dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Stage(ctx, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	st.ReadFrom(bytes.NewReader([]byte("partial download")))
	s.Close() // as if the process died mid-download
	s, err = Open(ctx, dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	entries, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	if len(entries) != 0 {
		t.Errorf("%d leftover temp files after open", len(entries))
	}
}

func TestStageCommit(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := []byte("hello wheel")

	st, _ := s.Stage(ctx, 100)
	st.ReadFrom(bytes.NewReader(data))
	if err := st.Commit(ctx, sum([]byte("other"))); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
	if s.HasBlob(ctx, sum(data)) {
		t.Fatal("mismatched bytes stored")
	}

	st, _ = s.Stage(ctx, 5)
	if _, err := st.ReadFrom(bytes.NewReader(data)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the cap: %v", err)
	}
	st.Abort()

	st, _ = s.Stage(ctx, 100)
	st.ReadFrom(bytes.NewReader(data))
	if err := st.Commit(ctx, sum(data)); err != nil {
		t.Fatal(err)
	}
	f, err := s.OpenBlob(ctx, sum(data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make([]byte, 100)
	n, _ := f.Read(got)
	if !bytes.Equal(got[:n], data) {
		t.Errorf("blob = %q", got[:n])
	}
	entries, _ := os.ReadDir(filepath.Join(s.dir, "tmp"))
	if len(entries) != 0 {
		t.Errorf("temp files left: %d", len(entries))
	}
	if _, err := s.OpenBlob(ctx, "../../etc/passwd"); err == nil {
		t.Error("OpenBlob accepted a path")
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, _ := Open(ctx, dir, time.Second)
	rec := FileRecord{Project: "a", Version: "1", Filename: "a-1.tar.gz", SHA256: sum(nil), Size: 0, FetchedAt: time.Now().UTC()}
	if err := s.PutFile(ctx, rec); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, _ = Open(ctx, dir, time.Second)
	defer s.Close()
	got, err := s.GetFile(ctx, "a", "a-1.tar.gz")
	if err != nil || got.SHA256 != rec.SHA256 || !got.FetchedAt.Equal(rec.FetchedAt) {
		t.Errorf("got %+v, %v", got, err)
	}
	if _, err := s.GetFile(ctx, "a", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing record: %v", err)
	}
}

func TestStateIndexFollowsTransitions(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, _ := Open(ctx, dir, time.Second)
	set := func(sha, state string) {
		t.Helper()
		_, err := s.UpdateDecision(ctx, sha, func(rec *DecisionRecord, _ bool) (bool, *AuditEvent, error) {
			rec.SHA256, rec.State = sha, state
			return true, nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	a, b := sum([]byte("a")), sum([]byte("b"))
	set(a, "held")
	set(b, "held")
	set(a, "approved")
	set(b, "held") // unchanged state
	s.Close()
	s, _ = Open(ctx, dir, time.Second)
	defer s.Close()
	counts, _ := s.CountByState(ctx)
	if counts["held"] != 1 || counts["approved"] != 1 || len(counts) != 2 {
		t.Errorf("counts %v", counts)
	}
	var held []string
	s.DecisionsInState(ctx, "held", func(rec DecisionRecord) error { held = append(held, rec.SHA256); return nil })
	if len(held) != 1 || held[0] != b {
		t.Errorf("held: %v", held)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

// TestOutOfSpaceIsErrFull: a write that runs out of space is ErrFull, not
// an upstream error, and the staged file is removed.
func TestOutOfSpaceIsErrFull(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	staged, err := s.Stage(ctx, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	st := staged.(*fileStaged)
	st.w = failingWriter{&os.PathError{Op: "write", Path: st.f.Name(), Err: syscall.ENOSPC}}
	if _, err := st.ReadFrom(strings.NewReader("some bytes")); !errors.Is(err, ErrFull) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("out of space: %v", err)
	}
	st.Abort()
	if entries, _ := os.ReadDir(filepath.Join(s.dir, "tmp")); len(entries) != 0 {
		t.Errorf("staged file left behind: %v", entries)
	}
	if free, err := s.FreeBytes(ctx); err != nil || free <= 0 {
		t.Errorf("free bytes: %d %v", free, err)
	}
}

// TestPagesStoredCompressed: a page is kept gzipped; one stored as plain
// JSON by an earlier version still reads.
func TestPagesStoredCompressed(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var p index.Page
	p.Name = "big"
	for i := 0; i < 2000; i++ {
		p.Files = append(p.Files, index.File{Filename: fmt.Sprintf("big-1.%d-py3-none-any.whl", i), URL: "https://files.example/packages/big-1.0.whl",
			Hashes: index.Sha256(strings.Repeat("ab", 32)), Size: 1234})
	}
	cp := CachedPage{Page: p, FetchedAt: time.Unix(1700000000, 0).UTC()}
	if err := s.PutPage(ctx, cp); err != nil {
		t.Fatal(err)
	}
	plain, _ := json.Marshal(cp)
	var stored []byte
	s.db.View(ctx, func(tx kvTx) error { stored = bytes.Clone(tx.Bucket(bucketPages).Get([]byte("big"))); return nil })
	if len(stored)*4 > len(plain) {
		t.Errorf("stored %d bytes for %d of JSON", len(stored), len(plain))
	}
	got, err := s.GetPage(ctx, "big")
	if err != nil || len(got.Page.Files) != 2000 || !got.FetchedAt.Equal(cp.FetchedAt) {
		t.Fatalf("round trip: %v %d", err, len(got.Page.Files))
	}
	s.db.Update(ctx, func(tx kvTx) error { return tx.Bucket(bucketPages).Put([]byte("old"), plain) })
	if old, err := s.GetPage(ctx, "old"); err != nil || len(old.Page.Files) != 2000 {
		t.Errorf("plain record from before: %v", err)
	}
}

// TestWorkStats: depth counts every item; the oldest is found whether it
// heads the lowest priority or was moved up to a higher one.
func TestWorkStats(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	item := func(i int) WorkItem {
		return WorkItem{SHA256: strings.Repeat(string(rune('a'+i)), 64), EnqueuedAt: t0.Add(time.Duration(i) * time.Minute)}
	}
	if d, o, err := s.WorkStats(ctx); err != nil || d != 0 || !o.IsZero() {
		t.Fatalf("empty: %d %v %v", d, o, err)
	}
	s.AddWork(ctx, 1, []WorkItem{item(0), item(1), item(2)})
	s.AddWork(ctx, 0, []WorkItem{item(3)})
	if d, o, _ := s.WorkStats(ctx); d != 4 || !o.Equal(t0) {
		t.Errorf("depth %d oldest %v", d, o)
	}
	s.AddWork(ctx, 0, []WorkItem{item(0)}) // moved up, keeps its enqueue time
	key, it, ok, _ := s.NextWork(ctx, t0.Add(time.Hour), func(string) bool { return false })
	if !ok || it.SHA256 != item(3).SHA256 {
		t.Fatalf("next: %+v", it)
	}
	s.FinishWork(ctx, key, it.SHA256)
	if d, o, _ := s.WorkStats(ctx); d != 3 || !o.Equal(t0) {
		t.Errorf("after moving the oldest up: depth %d oldest %v", d, o)
	}
}

// TestLayoutVersion: a store written by the layout before pieces (1) is
// taken over and marked 2; one from a newer airlock is refused by name.
func TestLayoutVersion(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	setVersion := func(v uint64) {
		s, err := Open(ctx, dir, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		s.db.Update(ctx, func(tx kvTx) error {
			return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint64(nil, v))
		})
		s.Close()
	}
	setVersion(1)
	s, err := Open(ctx, dir, time.Second)
	if err != nil {
		t.Fatalf("version 1 store: %v", err)
	}
	var got uint64
	s.db.View(ctx, func(tx kvTx) error { got = binary.BigEndian.Uint64(tx.Bucket(bucketMeta).Get(keySchema)); return nil })
	s.Close()
	if got != schemaVersion {
		t.Errorf("version after opening a version 1 store: %d", got)
	}
	setVersion(schemaVersion + 1)
	if _, err := Open(ctx, dir, time.Second); err == nil || !strings.Contains(err.Error(), "written by a newer airlock") {
		t.Errorf("a newer store: %v", err)
	}
}

// TestLayoutMigrations: opening an older store runs each migration from
// its version on, once, with the new version; a migration that fails
// leaves the store as it was.
func TestLayoutMigrations(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := Open(ctx, dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	saved, savedVersion := layoutMigrations, schemaVersion
	t.Cleanup(func() { layoutMigrations, schemaVersion = saved, savedVersion })
	ran := 0
	fail := true
	layoutMigrations = append(slices.Clone(saved), func(tx kvTx) error {
		ran++
		if fail {
			return errors.New("disk on fire")
		}
		return tx.Bucket(bucketMeta).Put([]byte("migrated"), []byte("yes"))
	})
	schemaVersion = uint64(1 + len(layoutMigrations))
	if _, err := Open(ctx, dir, time.Second); err == nil || !strings.Contains(err.Error(), "migrating the layout from version 2: disk on fire") {
		t.Fatalf("a failing migration: %v", err)
	}
	fail = false
	s, err = Open(ctx, dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var got uint64
	var marker []byte
	s.db.View(ctx, func(tx kvTx) error {
		got = binary.BigEndian.Uint64(tx.Bucket(bucketMeta).Get(keySchema))
		marker = slices.Clone(tx.Bucket(bucketMeta).Get([]byte("migrated"))) // valid only inside the transaction
		return nil
	})
	s.Close()
	if got != schemaVersion || string(marker) != "yes" || ran != 2 {
		t.Errorf("after migrating: version %d, marker %q, ran %d times", got, marker, ran)
	}
	if s, err = Open(ctx, dir, time.Second); err != nil || ran != 2 {
		t.Errorf("opened again: %v, ran %d times", err, ran)
	}
	s.Close()
}
