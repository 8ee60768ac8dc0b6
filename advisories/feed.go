package advisories

import (
	"archive/zip"
	"bytes"
	"context"
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

// maxFeedBytes bounds a downloaded or read zip of records.
const maxFeedBytes = 1 << 30

// maxRecordBytes bounds one record.
const maxRecordBytes = 4 << 20

// Feed reads its sources on an interval and keeps the merged advisories.
// A source that cannot be read keeps its last good records, and says so.
type Feed struct {
	sources []string
	client  *http.Client
	log     zerolog.Logger
	now     func() time.Time

	db atomic.Pointer[DB]

	mu       sync.Mutex
	lastGood map[string][]*Advisory
	status   map[string]SourceStatus
	// OnChange is called after a refresh that changed the data;
	// AfterRefresh after every refresh (for metrics).
	OnChange     func(ctx context.Context)
	AfterRefresh func(db *DB, sources []SourceStatus)
}

// SourceStatus is what the last refresh of a source found.
type SourceStatus struct {
	Source    string    `json:"source"`
	Records   int       `json:"records"`
	LastOK    time.Time `json:"last_ok,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	ErrorAt   time.Time `json:"error_at,omitzero"`
}

// NewFeed makes a feed of sources: directories (the malicious-packages
// layout or any tree of *.json), zip files, or http(s) URLs of zips.
func NewFeed(sources []string, log zerolog.Logger) *Feed {
	f := &Feed{sources: sources, log: log, now: time.Now, client: &http.Client{Timeout: 5 * time.Minute},
		lastGood: map[string][]*Advisory{}, status: map[string]SourceStatus{}}
	f.db.Store(NewDB(nil, time.Time{}))
	return f
}

// DB is the current data.
func (f *Feed) DB() *DB { return f.db.Load() }

// Status lists each source's last refresh.
func (f *Feed) Status() []SourceStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]SourceStatus, 0, len(f.sources))
	for _, s := range f.sources {
		out = append(out, f.status[s])
	}
	return out
}

// Refresh reads every source once and swaps in the merged data. It
// returns the errors of the sources that failed (their last good records
// stay in force).
func (f *Feed) Refresh(ctx context.Context) []error {
	var errs []error
	var all []*Advisory
	for _, src := range f.sources {
		list, err := f.read(ctx, src)
		f.mu.Lock()
		st := f.status[src]
		st.Source = src
		if err != nil {
			st.LastError, st.ErrorAt = err.Error(), f.now().UTC()
			errs = append(errs, fmt.Errorf("%s: %w", src, err))
			f.log.Error().Err(err).Str("source", src).Int("kept_records", len(f.lastGood[src])).
				Msg("advisory source unreadable; keeping its last good records")
		} else {
			f.lastGood[src] = list
			st.Records, st.LastOK, st.LastError = len(list), f.now().UTC(), ""
		}
		f.status[src] = st
		all = append(all, f.lastGood[src]...)
		f.mu.Unlock()
	}
	old := f.DB()
	db := NewDB(all, f.now().UTC())
	f.db.Store(db)
	if f.OnChange != nil && (db.Records != old.Records || len(errs) < len(f.sources)) {
		f.OnChange(ctx)
	}
	if f.AfterRefresh != nil {
		f.AfterRefresh(db, f.Status())
	}
	return errs
}

// Run refreshes every interval until ctx ends (the first refresh is the
// caller's).
func (f *Feed) Run(ctx context.Context, interval time.Duration) {
	every.Run(ctx, interval, func() { f.Refresh(ctx) })
}

func (f *Feed) read(ctx context.Context, src string) ([]*Advisory, error) {
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, err
		}
		resp, err := f.client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("answered %s", resp.Status)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxFeedBytes+1))
		if err != nil {
			return nil, err
		}
		if len(data) > maxFeedBytes {
			return nil, fmt.Errorf("larger than %d bytes", maxFeedBytes)
		}
		return readZip(data)
	}
	fi, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return readDir(src)
	}
	if fi.Size() > maxFeedBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxFeedBytes)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return nil, err
	}
	return readZip(data)
}

// readDir reads every *.json under dir. A record that does not parse is
// an error of the whole source: half a feed must not pass for all of it.
func readDir(dir string) ([]*Advisory, error) {
	var out []*Advisory
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
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
		a, err := Parse(data)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if a != nil {
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

func readZip(data []byte) ([]*Advisory, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("not a zip of OSV records: %v", err)
	}
	var out []*Advisory
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || !strings.HasSuffix(zf.Name, ".json") {
			continue
		}
		if zf.UncompressedSize64 > maxRecordBytes {
			return nil, fmt.Errorf("%s: larger than %d bytes", zf.Name, maxRecordBytes)
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxRecordBytes+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", zf.Name, err)
		}
		a, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", zf.Name, err)
		}
		if a != nil {
			out = append(out, a)
		}
	}
	return out, nil
}
