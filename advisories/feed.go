package advisories

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"airlock/internal/every"
)

// maxFeedBytes bounds a downloaded or read zip of records; a download is
// streamed to a temporary file, never held in memory.
const maxFeedBytes = 1 << 30

// maxRecordBytes bounds one record.
const maxRecordBytes = 4 << 20

// MaxMembers bounds the entries of a zip source (Go's zip reader keeps
// every entry of the central directory in memory, about 300 bytes each),
// and MaxRecords the PyPI records one source may hold: the real feeds hold
// tens of thousands; a source over either is unreadable (its last good
// records stay in force), so that a hostile or broken feed cannot take the
// process past its memory limit.
var (
	MaxMembers = 400_000
	MaxRecords = 100_000
)

// Snapshots keeps each source's last good read across restarts (the
// store, on either backend): a restart while a source is unreadable must
// not lift the blocks its records made.
type Snapshots interface {
	PutAdvisorySnapshot(ctx context.Context, source string, records int, readAt time.Time, body io.Reader) error
	// GetAdvisorySnapshot's error wraps one that says "not found" when
	// nothing was ever kept; the feed tells them apart with IsNotFound.
	GetAdvisorySnapshot(ctx context.Context, source string) (records int, readAt time.Time, body []byte, err error)
}

// Feed reads its sources on an interval and keeps the merged advisories.
// A source that cannot be read keeps its last good records, and says so.
type Feed struct {
	sources   []string
	client    *http.Client
	log       zerolog.Logger
	now       func() time.Time
	snapshots Snapshots
	// IsNotFound tells a snapshot never kept from a store that failed.
	IsNotFound func(error) bool

	db atomic.Pointer[DB]

	mu       sync.Mutex
	lastGood map[string][]*Advisory
	status   map[string]SourceStatus
	// OnChange is called after a refresh that changed the data;
	// AfterRefresh after every refresh (for metrics).
	OnChange     func(ctx context.Context)
	AfterRefresh func(db *DB, sources []SourceStatus)
}

// SourceStatus is what the feed knows of a source.
type SourceStatus struct {
	Source  string `json:"source"`
	Records int    `json:"records"`
	// LastOK is when the records in force were read (by this process or,
	// when Restored, by an earlier one; kept in the store).
	LastOK    time.Time `json:"last_ok,omitzero"`
	Restored  bool      `json:"restored,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	ErrorAt   time.Time `json:"error_at,omitzero"`
	// StaleSince is when the source stopped being read as it should: its
	// first failure after the records in force were read, or this
	// process's start while it has not been read yet. Zero while fresh.
	StaleSince time.Time `json:"stale_since,omitzero"`
}

// Stale reports whether the records in force are not a fresh read.
func (s SourceStatus) Stale() bool { return !s.StaleSince.IsZero() }

// NewFeed makes a feed of sources: directories (the malicious-packages
// layout or any tree of *.json), zip files, or http(s) URLs of zips. With
// snapshots, every good read is kept there and Restore brings it back.
func NewFeed(sources []string, snapshots Snapshots, log zerolog.Logger) *Feed {
	f := &Feed{sources: sources, log: log, now: time.Now, client: &http.Client{Timeout: 5 * time.Minute},
		snapshots: snapshots, IsNotFound: func(error) bool { return false },
		lastGood: map[string][]*Advisory{}, status: map[string]SourceStatus{}}
	start := f.now().UTC()
	for _, s := range sources {
		f.status[s] = SourceStatus{Source: s, StaleSince: start, LastError: "not read yet"}
	}
	f.db.Store(f.merge(start))
	return f
}

// DB is the current data.
func (f *Feed) DB() *DB { return f.db.Load() }

// Status lists each source's state.
func (f *Feed) Status() []SourceStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]SourceStatus, 0, len(f.sources))
	for _, s := range f.sources {
		out = append(out, f.status[s])
	}
	return out
}

// merge builds the DB from every source's records in force; it is
// Partial while a source has none (never read, nothing kept). Callers hold
// f.mu or own f.
func (f *Feed) merge(at time.Time) *DB {
	var all []*Advisory
	partial := false
	for _, src := range f.sources {
		list, ok := f.lastGood[src]
		partial = partial || !ok
		all = append(all, list...)
	}
	db := NewDB(all, at)
	db.Partial = partial
	return db
}

// Restore brings back each source's last good read from the snapshots,
// so that the records in force at start are the ones in force before it.
// A snapshot that cannot be read leaves its source without records (the
// DB stays Partial, which keeps every block already made).
func (f *Feed) Restore(ctx context.Context) {
	if f.snapshots == nil {
		return
	}
	for _, src := range f.sources {
		records, readAt, body, err := f.snapshots.GetAdvisorySnapshot(ctx, src)
		if err != nil {
			if !f.IsNotFound(err) {
				f.log.Error().Err(err).Str("source", src).Msg("advisory source: its kept records cannot be read")
			}
			continue
		}
		list, err := readSnapshot(body)
		if err == nil && len(list) != records {
			err = fmt.Errorf("holds %d records, its head says %d", len(list), records)
		}
		if err != nil {
			f.log.Error().Err(err).Str("source", src).Msg("advisory source: its kept records are corrupt")
			continue
		}
		f.mu.Lock()
		f.lastGood[src] = list
		st := f.status[src]
		st.Records, st.LastOK, st.Restored = len(list), readAt, true
		f.status[src] = st
		f.mu.Unlock()
		f.log.Info().Str("source", src).Int("records", len(list)).Time("read_at", readAt).
			Msg("advisory source: records kept from its last good read restored")
	}
	f.mu.Lock()
	f.db.Store(f.merge(f.now().UTC()))
	f.mu.Unlock()
	if f.AfterRefresh != nil {
		f.AfterRefresh(f.DB(), f.Status())
	}
}

// Refresh reads every source once and swaps in the merged data. It
// returns the errors of the sources that failed (their last good records
// stay in force).
func (f *Feed) Refresh(ctx context.Context) []error {
	var errs []error
	for _, src := range f.sources {
		list, snap, err := f.read(ctx, src)
		if err == nil && f.snapshots != nil {
			if perr := f.snapshots.PutAdvisorySnapshot(ctx, src, len(list), f.now().UTC(), bytes.NewReader(snap)); perr != nil {
				// In force now, but a restart would not have them.
				f.log.Error().Err(perr).Str("source", src).Msg("advisory source: keeping its records in the store failed")
			}
		}
		f.mu.Lock()
		st := f.status[src]
		st.Source = src
		if err != nil {
			if st.StaleSince.IsZero() {
				st.StaleSince = f.now().UTC()
			}
			st.LastError, st.ErrorAt = err.Error(), f.now().UTC()
			errs = append(errs, fmt.Errorf("%s: %w", src, err))
			f.log.Error().Err(err).Str("source", src).Int("kept_records", len(f.lastGood[src])).
				Time("records_read_at", st.LastOK).Time("stale_since", st.StaleSince).
				Msg("advisory source unreadable; keeping its last good records")
		} else {
			f.lastGood[src] = list
			st.Records, st.LastOK, st.LastError, st.Restored, st.StaleSince = len(list), f.now().UTC(), "", false, time.Time{}
		}
		f.status[src] = st
		f.mu.Unlock()
	}
	old := f.DB()
	f.mu.Lock()
	db := f.merge(f.now().UTC())
	f.mu.Unlock()
	f.db.Store(db)
	if f.OnChange != nil && (db.Records != old.Records || len(errs) < len(f.sources)) {
		f.OnChange(ctx)
	}
	if f.AfterRefresh != nil {
		f.AfterRefresh(db, f.Status())
	}
	return errs
}

// Run refreshes every interval until ctx ends, the first time at once.
func (f *Feed) Run(ctx context.Context, interval time.Duration) {
	f.Refresh(ctx)
	every.Run(ctx, interval, func() { f.Refresh(ctx) })
}

// read reads one source: its advisories and a snapshot of their records
// (gzipped, one compact OSV record a line).
func (f *Feed) read(ctx context.Context, src string) ([]*Advisory, []byte, error) {
	var rs recordSink
	rs.start()
	var err error
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		err = f.readURL(ctx, src, &rs)
	} else {
		err = readPath(src, &rs)
	}
	if err != nil {
		return nil, nil, err
	}
	snap, err := rs.finish()
	return rs.list, snap, err
}

// readURL streams a zip to a temporary file, then reads it from there.
func (f *Feed) readURL(ctx context.Context, src string, rs *recordSink) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("answered %s", resp.Status)
	}
	tmp, err := os.CreateTemp("", "airlock-feed-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := io.Copy(tmp, io.LimitReader(resp.Body, maxFeedBytes+1))
	if err != nil {
		return err
	}
	if n > maxFeedBytes {
		return fmt.Errorf("larger than %d bytes", maxFeedBytes)
	}
	return readZip(tmp, n, rs)
}

func readPath(src string, rs *recordSink) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return readDir(src, rs)
	}
	if fi.Size() > maxFeedBytes {
		return fmt.Errorf("larger than %d bytes", maxFeedBytes)
	}
	file, err := os.Open(src)
	if err != nil {
		return err
	}
	defer file.Close()
	return readZip(file, fi.Size(), rs)
}

// recordSink collects a source's advisories and writes each one's record
// into the snapshot as it is read.
type recordSink struct {
	list []*Advisory
	buf  bytes.Buffer
	zw   *gzip.Writer
}

func (rs *recordSink) start() { rs.zw, _ = gzip.NewWriterLevel(&rs.buf, gzip.BestSpeed) }

// add parses one record; name says where it came from.
func (rs *recordSink) add(name string, data []byte) error {
	a, err := Parse(data)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if a == nil {
		return nil
	}
	if len(rs.list) == MaxRecords {
		return fmt.Errorf("more than %d PyPI records: refused as a broken or hostile feed", MaxRecords)
	}
	rs.list = append(rs.list, a)
	var line bytes.Buffer
	if err := json.Compact(&line, data); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	line.WriteByte('\n')
	_, err = rs.zw.Write(line.Bytes())
	return err
}

func (rs *recordSink) finish() ([]byte, error) {
	if err := rs.zw.Close(); err != nil {
		return nil, err
	}
	return rs.buf.Bytes(), nil
}

// readSnapshot parses a snapshot written by recordSink.
func readSnapshot(body []byte) ([]*Advisory, error) {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	dec := json.NewDecoder(zr)
	var out []*Advisory
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		a, err := Parse(raw)
		if err != nil {
			return nil, err
		}
		if a != nil {
			out = append(out, a)
		}
	}
}

// readDir reads every *.json under dir. A record that does not parse is
// an error of the whole source: half a feed must not pass for all of it.
func readDir(dir string, rs *recordSink) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".json") {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Size() > maxRecordBytes {
			return fmt.Errorf("%s: larger than %d bytes", path, maxRecordBytes)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return rs.add(path, data)
	})
}

func readZip(r io.ReaderAt, size int64, rs *recordSink) error {
	if n, err := zipEntries(r, size); err != nil {
		return fmt.Errorf("not a zip of OSV records: %v", err)
	} else if n > uint64(MaxMembers) {
		return fmt.Errorf("a zip of %d entries (more than %d): refused as a broken or hostile feed", n, MaxMembers)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("not a zip of OSV records: %v", err)
	}
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || !strings.HasSuffix(zf.Name, ".json") {
			continue
		}
		if zf.UncompressedSize64 > maxRecordBytes {
			return fmt.Errorf("%s: larger than %d bytes", zf.Name, maxRecordBytes)
		}
		rc, err := zf.Open()
		if err != nil {
			return err
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxRecordBytes+1))
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %v", zf.Name, err)
		}
		if err := rs.add(zf.Name, b); err != nil {
			return err
		}
	}
	return nil
}

// zipEntries reads the entry count from a zip's end of central directory
// record (zip64 too), before Go's reader loads every entry into memory.
func zipEntries(r io.ReaderAt, size int64) (uint64, error) {
	const eocdLen, maxComment = 22, 65535
	tail := min(size, eocdLen+maxComment)
	buf := make([]byte, tail)
	if _, err := r.ReadAt(buf, size-tail); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	at := bytes.LastIndex(buf, []byte("PK\x05\x06"))
	if at < 0 || len(buf)-at < eocdLen {
		return 0, errors.New("no end of central directory")
	}
	n := uint64(binary.LittleEndian.Uint16(buf[at+10:]))
	if n != 0xffff || at < 20 || !bytes.Equal(buf[at-20:at-16], []byte("PK\x06\x07")) {
		return n, nil
	}
	// zip64: the locator before the record points at the zip64 record,
	// whose entry count is at offset 32.
	off := int64(binary.LittleEndian.Uint64(buf[at-20+8:]))
	rec := make([]byte, 40)
	if off < 0 || off+40 > size {
		return 0, errors.New("bad zip64 locator")
	}
	if _, err := r.ReadAt(rec, off); err != nil {
		return 0, err
	}
	if !bytes.Equal(rec[:4], []byte("PK\x06\x06")) {
		return 0, errors.New("bad zip64 end of central directory")
	}
	return binary.LittleEndian.Uint64(rec[32:]), nil
}
