package advisories

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"airlock/internal/storetest"
	"airlock/storage"
)

func openStore(t *testing.T, dir string) *storage.Store {
	t.Helper()
	s, err := storetest.Open(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func storeFeed(sources []string, s *storage.Store) *Feed {
	f := NewFeed(sources, s, zerolog.Nop())
	f.IsNotFound = func(err error) bool { return errors.Is(err, storage.ErrNotFound) }
	return f
}

// A restart while every source is unreadable (an http zip answering 500,
// a feed directory whose volume is gone) keeps the records of their last
// good reads, from the store: a block must not lift because a feed broke
// and the process restarted. The status says which source is stale and
// since when.
func TestRestartWhileSourcesUnreadableKeepsRecords(t *testing.T) {
	data := zipOf(t, map[string]string{"osv/malicious/pypi/omega/MAL-2026-7.json": record("MAL-2026-7", "omega", []string{"1.0"}, "", "")})
	var failing atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	feedDir := writeDir(t, map[string]string{"dirpkg/MAL-2026-8.json": record("MAL-2026-8", "dirpkg", []string{"2.0"}, "", "")})
	sources := []string{srv.URL + "/all.zip", feedDir}
	dataDir := t.TempDir()

	s := openStore(t, dataDir)
	f := storeFeed(sources, s)
	f.Restore(context.Background())
	if !f.DB().Partial {
		t.Fatal("a feed that was never read must say its data is partial")
	}
	if errs := f.Refresh(context.Background()); len(errs) != 0 || f.DB().Records != 2 || f.DB().Partial {
		t.Fatalf("first read: %v, %d records, partial %v", errs, f.DB().Records, f.DB().Partial)
	}
	s.Close()

	failing.Store(true)
	os.RemoveAll(feedDir)
	s = openStore(t, dataDir)
	defer s.Close()
	f = storeFeed(sources, s)
	f.Restore(context.Background())
	if f.DB().Records != 2 || f.DB().Partial || len(f.DB().Match("omega", "1.0", "")) != 1 || len(f.DB().Match("dirpkg", "2.0", "")) != 1 {
		t.Fatalf("after the restart: %d records, partial %v", f.DB().Records, f.DB().Partial)
	}
	errs := f.Refresh(context.Background())
	if len(errs) != 2 || f.DB().Records != 2 || len(f.DB().Match("omega", "1.0", "")) != 1 {
		t.Fatalf("unreadable after the restart: %v, %d records", errs, f.DB().Records)
	}
	for _, st := range f.Status() {
		if !st.Stale() || !st.Restored || st.Records != 1 || st.LastOK.IsZero() || st.LastError == "" {
			t.Errorf("status of a stale source: %+v", st)
		}
	}

	// Read again: fresh, and the kept read is replaced (a withdrawn record
	// goes, after a good read only).
	failing.Store(false)
	data = zipOf(t, map[string]string{"osv/malicious/pypi/other/MAL-2026-9.json": record("MAL-2026-9", "other", []string{"1.0"}, "", "")})
	f.Refresh(context.Background())
	if st := f.Status()[0]; st.Stale() || st.Restored || st.LastError != "" {
		t.Errorf("a source read again: %+v", st)
	}
	if len(f.DB().Match("omega", "1.0", "")) != 0 || len(f.DB().Match("other", "1.0", "")) != 1 {
		t.Error("a good read replaces the records in force")
	}
	f2 := storeFeed(sources, s)
	f2.Restore(context.Background())
	if len(f2.DB().Match("other", "1.0", "")) != 1 || len(f2.DB().Match("omega", "1.0", "")) != 0 || len(f2.DB().Match("dirpkg", "2.0", "")) != 1 {
		t.Error("the store keeps each source's newest good read")
	}
}

// A source with more records than the store piece size is kept in pieces
// and restored whole.
func TestSnapshotInPieces(t *testing.T) {
	recs := map[string]string{}
	for i := range 6000 { // random hashes and summaries do not compress: over 1 MiB gzipped
		sha, noise := make([]byte, 32), make([]byte, 160)
		rand.Read(sha)
		rand.Read(noise)
		p := fmt.Sprintf("pkg%d", i)
		recs[p+"/MAL.json"] = strings.Replace(record(fmt.Sprintf("MAL-2026-%d", i), p, []string{"1.0"}, hex.EncodeToString(sha), ""),
			`"summary":"`, `"summary":"`+hex.EncodeToString(noise)+" ", 1)
	}
	dir := writeDir(t, recs)
	s := openStore(t, t.TempDir())
	defer s.Close()
	f := storeFeed([]string{dir}, s)
	if errs := f.Refresh(context.Background()); len(errs) != 0 {
		t.Fatal(errs)
	}
	_, _, body, err := s.GetAdvisorySnapshot(context.Background(), dir)
	if err != nil || len(body) < 1<<20 {
		t.Fatalf("kept read: %d bytes, %v (want more than one piece)", len(body), err)
	}
	g := storeFeed([]string{dir}, s)
	g.Restore(context.Background())
	if g.DB().Records != 6000 || g.DB().Partial {
		t.Errorf("restored %d of 6000 records", g.DB().Records)
	}
}

// A hostile or broken zip is refused before it is read into memory: one
// with more entries than MaxMembers (the zip64 count too), one with more
// PyPI records than MaxRecords. The records before stay in force.
func TestHostileFeedsRefused(t *testing.T) {
	manyEntries := func(n int) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for i := range n {
			w, _ := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("x/%d.txt", i), Method: zip.Store})
			w.Write(nil)
		}
		zw.Close()
		return buf.Bytes()
	}
	small, big := manyEntries(10), manyEntries(70000) // 70,000 entries need zip64's count
	for _, tc := range []struct {
		data []byte
		want uint64
	}{{small, 10}, {big, 70000}} {
		n, err := zipEntries(bytes.NewReader(tc.data), int64(len(tc.data)))
		if err != nil || n != tc.want {
			t.Errorf("zipEntries = %d, %v; want %d", n, err, tc.want)
		}
	}
	if _, err := zipEntries(strings.NewReader("not a zip at all"), 16); err == nil {
		t.Error("a file that is not a zip has no entry count")
	}

	defer func(m, r int) { MaxMembers, MaxRecords = m, r }(MaxMembers, MaxRecords)
	MaxMembers, MaxRecords = 50000, 3
	good := filepath.Join(t.TempDir(), "good.zip")
	os.WriteFile(good, zipOf(t, map[string]string{"a/MAL-1.json": record("MAL-1", "a", []string{"1"}, "", "")}), 0o644)
	f := NewFeed([]string{good}, nil, zerolog.Nop())
	if errs := f.Refresh(context.Background()); len(errs) != 0 {
		t.Fatal(errs)
	}
	os.WriteFile(good, big, 0o644)
	if errs := f.Refresh(context.Background()); len(errs) != 1 || !strings.Contains(errs[0].Error(), "70000 entries") || f.DB().Records != 1 {
		t.Errorf("too many entries: %v, %d records", errs, f.DB().Records)
	}
	os.WriteFile(good, zipOf(t, records(4)), 0o644)
	if errs := f.Refresh(context.Background()); len(errs) != 1 || !strings.Contains(errs[0].Error(), "more than 3 PyPI records") || f.DB().Records != 1 {
		t.Errorf("too many records: %v, %d records", errs, f.DB().Records)
	}
}
