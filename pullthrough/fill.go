package pullthrough

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"airlock/index"
	"airlock/internal/flight"
	"airlock/storage"
	"airlock/upstream"
)

// Errors of a file request, which the HTTP layer maps to its answers.
var (
	// ErrNotFound: the upstreams do not have the project (or release).
	ErrNotFound = upstream.ErrNotFound
	// ErrHostNotAllowed, ErrUnavailable, ErrUpstreamTooLarge: a file URL
	// on a host not allowed, an upstream that failed, an answer over the
	// bounds.
	ErrHostNotAllowed   = upstream.ErrHostNotAllowed
	ErrUnavailable      = upstream.ErrUnavailable
	ErrUpstreamTooLarge = upstream.ErrTooLarge
	ErrNoSHA256         = errors.New("the upstream index lists no sha256 for this file; Airlock serves only files it can verify")
	ErrNotListed        = errors.New("file is not listed on the project's upstream page")
	ErrNoMetadata       = errors.New("the upstream index offers no verifiable metadata for this file")
	ErrTruncated        = errors.New("upstream download was truncated")
)

// MetadataSuffix makes a PEP 658 metadata file's name from its
// distribution's.
const MetadataSuffix = ".metadata"

// Target is one servable object: a distribution or its PEP 658 metadata.
type Target struct {
	Project  string
	Key      string // storage filename: the dist filename, plus ".metadata" for metadata
	File     index.File
	URL      string // upstream URL
	SHA256   string // published digest
	Size     int64  // published size, -1 if unknown
	Max      int64
	Metadata bool
	// Source is the private index the file is listed on ("" public).
	Source string
}

// TargetFor finds what to download for a request, refusing files that cannot
// be verified.
func (c *Cache) TargetFor(page *index.Page, distName string, isMeta bool) (Target, error) {
	f, ok := page.Lookup(distName)
	if !ok {
		return Target{}, ErrNotListed
	}
	t := Target{Project: page.Name, Key: distName, File: f, URL: f.URL, SHA256: f.SHA256(), Size: f.Size, Max: c.opt.MaxFileBytes, Source: page.Source}
	if isMeta {
		if f.MetadataSHA256() == "" {
			return Target{}, ErrNoMetadata
		}
		t = Target{Project: page.Name, Key: distName + MetadataSuffix, File: f, URL: f.URL + MetadataSuffix,
			SHA256: f.MetadataSHA256(), Size: -1, Max: c.opt.MaxMetaBytes, Metadata: true, Source: page.Source}
	}
	if t.SHA256 == "" {
		return Target{}, ErrNoSHA256
	}
	if t.Size >= 0 && t.Size < t.Max {
		t.Max = t.Size // more bytes than published cannot be the published file
	}
	return t, nil
}

// Fill downloads a file once for all concurrent callers. The download runs
// on a context detached from the callers' (bounded by FillTimeout), so a
// client hanging up does not waste the fill for the others or the next.
func (c *Cache) Fill(ctx context.Context, t Target) (storage.FileRecord, error) {
	return flight.Do(ctx, &c.fills, t.SHA256+"/"+t.Key, c.opt.FillTimeout, func(fctx context.Context) (storage.FileRecord, error) {
		return c.fill(fctx, t)
	})
}

// fill stages, verifies, commits and records one file.
func (c *Cache) fill(ctx context.Context, t Target) (storage.FileRecord, error) {
	log := logFrom(ctx).With().Str("project", t.Project).Str("file", t.Key).Logger()
	// One download per file across replicas: the others wait, then find
	// it stored.
	unlock, err := c.opt.Store.LockFill(ctx, t.SHA256)
	if err != nil {
		return storage.FileRecord{}, err
	}
	defer unlock()
	if c.opt.Store.HasBlob(ctx, t.SHA256) {
		// Same bytes already stored under another name or by an earlier fill.
		return c.record(ctx, t)
	}
	st, err := c.opt.Store.Stage(ctx, t.Max)
	if err != nil {
		return storage.FileRecord{}, err
	}
	defer st.Abort()
	start := time.Now()
	if err := c.ClientFor(t.Source).Download(ctx, t.URL, st); err != nil {
		if errors.Is(err, upstream.ErrHostNotAllowed) {
			c.opt.Metrics.RefusedHosts.Inc()
			log.Error().Str("event", "security").Str("upstream_url", upstream.RedactURL(t.URL)).Err(err).
				Msg("refused to download a file from a host that is not allowed")
		}
		if errors.Is(err, storage.ErrTooLarge) && t.Max == t.Size {
			// More bytes than the index published: not the published file.
			return storage.FileRecord{}, c.mismatch(log, t, st, err)
		}
		return storage.FileRecord{}, fmt.Errorf("download %s: %w", t.Key, err)
	}
	if t.Size >= 0 && st.Size() < t.Size {
		return storage.FileRecord{}, fmt.Errorf("%w: %d of %d bytes", ErrTruncated, st.Size(), t.Size)
	}
	if err := st.Commit(ctx, t.SHA256); err != nil {
		if errors.Is(err, storage.ErrHashMismatch) {
			return storage.FileRecord{}, c.mismatch(log, t, st, err)
		}
		return storage.FileRecord{}, err
	}
	c.opt.Metrics.UpstreamBytes.Add(float64(st.Size()))
	log.Info().Int64("size", st.Size()).Float64("duration_ms", ms(time.Since(start))).Str("sha256", t.SHA256).Msg("file verified and stored")
	return c.record(ctx, t)
}

func (c *Cache) mismatch(log zerolog.Logger, t Target, st storage.Staged, err error) error {
	c.opt.Metrics.HashMismatches.Inc()
	log.Error().Str("event", "security").Str("listed_sha256", t.SHA256).Str("got_sha256", st.SHA256()).
		Int64("got_size", st.Size()).Str("upstream_url", upstream.RedactURL(t.URL)).Err(err).
		Msg("upstream file did not match its published hash; nothing stored")
	return fmt.Errorf("%s: %w", t.Key, storage.ErrHashMismatch)
}

func (c *Cache) record(ctx context.Context, t Target) (storage.FileRecord, error) {
	size, err := c.opt.Store.BlobSize(ctx, t.SHA256)
	if err != nil {
		return storage.FileRecord{}, err
	}
	version, _ := index.VersionFromFilename(t.Project, t.File.Filename)
	rec := storage.FileRecord{
		Project: t.Project, Version: version, Filename: t.Key, SHA256: t.SHA256, Size: size,
		UploadTime: t.File.UploadTime, UpstreamURL: upstream.RedactURL(t.URL), FetchedAt: c.opt.Now().UTC(), Index: t.Source,
	}
	if old, err := c.opt.Store.GetFile(ctx, t.Project, t.Key); err == nil {
		switch {
		case old.SHA256 != t.SHA256:
			rec.Replaces = old.SHA256 // kept as evidence: the name was reused
		default:
			rec.Replaces = old.Replaces
		}
	}
	if err := c.opt.Store.PutFile(ctx, rec); err != nil {
		return storage.FileRecord{}, err
	}
	return rec, nil
}

// Ensure makes sure a listed file is in the store (a verified fill).
func (c *Cache) Ensure(ctx context.Context, page *index.Page, f index.File) (storage.FileRecord, error) {
	if rec, err := c.opt.Store.GetFile(ctx, page.Name, f.Filename); err == nil && rec.SHA256 == f.SHA256() && c.opt.Store.HasBlob(ctx, rec.SHA256) {
		return rec, nil
	}
	t, err := c.TargetFor(page, f.Filename, false)
	if err != nil {
		return storage.FileRecord{}, err
	}
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return c.Fill(fctx, t)
}

// addUploadTimes fills in upload times a page lacks (HTML-only upstreams)
// from the upstream's JSON API. A failure leaves them missing, which the
// policy's on_missing_upload_time then decides.
func (c *Cache) addUploadTimes(ctx context.Context, p *index.Page) {
	if !p.MissingUploadTimes() {
		return
	}
	times, err := c.ClientFor(p.Source).FetchUploadTimes(ctx, p.Name)
	if err != nil {
		logFrom(ctx).Info().Err(err).Str("project", p.Name).Msg("page lacks upload times and the JSON API did not give them")
		return
	}
	p.AddUploadTimes(times)
}

// ms is a duration in milliseconds, for log fields named *_ms.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
