package simpleapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/rs/zerolog"

	"airlock/index"
	"airlock/storage"
	"airlock/upstream"
)

const routeFile = "/files/{project}/{filename}"

const metadataSuffix = ".metadata"

// target is one servable object: a distribution or its PEP 658 metadata.
type target struct {
	project  string
	key      string // storage filename: the dist filename, plus ".metadata" for metadata
	file     index.File
	url      string // upstream URL
	sha256   string // published digest
	size     int64  // published size, -1 if unknown
	max      int64
	metadata bool
}

// file serves a distribution or its metadata, from the store when it holds
// a verified copy and after a verified download otherwise. No byte reaches
// the client before its sha256 matched the published one.
func (s *Server) file(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	project, err := index.Normalize(vars["project"])
	if err != nil || project != vars["project"] {
		s.fail(w, r, errBadName)
		return
	}
	key := vars["filename"]
	distName, isMeta := strings.CutSuffix(key, metadataSuffix)
	if !index.ValidFilename(distName) {
		s.fail(w, r, storage.ErrNotFound)
		return
	}
	ctx := r.Context()
	rec, recErr := s.opt.Store.GetFile(project, key)
	if recErr != nil && !errors.Is(recErr, storage.ErrNotFound) {
		s.fail(w, r, recErr)
		return
	}
	haveRec := recErr == nil && s.opt.Store.HasBlob(rec.SHA256)

	page, pageErr := s.getPage(ctx, project)
	if pageErr != nil {
		// The upstream cannot tell us anything new: a file verified
		// earlier is still what was published.
		if haveRec && !errors.Is(pageErr, context.Canceled) {
			logFrom(ctx).Debug().Err(pageErr).Str("file", key).Msg("upstream failed; serving stored file")
			dist := rec
			if isMeta {
				if dist, err = s.opt.Store.GetFile(project, distName); err != nil {
					s.fail(w, r, pageErr)
					return
				}
			}
			s.decideAndServe(w, r, s.inputFromRecord(dist), rec, isMeta)
			return
		}
		s.fail(w, r, pageErr)
		return
	}
	t, err := s.targetFor(&page.entry.cp.Page, distName, isMeta)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if haveRec && rec.SHA256 == t.sha256 {
		s.opt.Metrics.Cache.WithLabelValues(kindOf(isMeta), "hit").Inc()
		s.decideAndServe(w, r, s.gather(ctx, &page.entry.cp.Page, t.file, !isMeta), rec, isMeta)
		return
	}
	if haveRec {
		logFrom(ctx).Error().Str("event", "security").Str("file", key).
			Str("stored_sha256", rec.SHA256).Str("listed_sha256", t.sha256).
			Msg("upstream now lists a different sha256 for a stored file")
	}
	s.opt.Metrics.Cache.WithLabelValues(kindOf(isMeta), "miss").Inc()
	rec, err = s.fillShared(ctx, t)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The attestation is verified against the listed sha256, which the
	// stored bytes were just checked to have.
	s.decideAndServe(w, r, s.gather(ctx, &page.entry.cp.Page, t.file, !isMeta), rec, isMeta)
}

func kindOf(isMeta bool) string {
	if isMeta {
		return "metadata"
	}
	return "file"
}

// targetFor finds what to download for a request, refusing files that cannot
// be verified.
func (s *Server) targetFor(page *index.Page, distName string, isMeta bool) (target, error) {
	f, ok := page.Lookup(distName)
	if !ok {
		return target{}, errNotListed
	}
	t := target{project: page.Name, key: distName, file: f, url: f.URL, sha256: f.SHA256(), size: f.Size, max: s.opt.MaxFileBytes}
	if isMeta {
		if f.MetadataSHA256() == "" {
			return target{}, errNoMetadata
		}
		t = target{project: page.Name, key: distName + metadataSuffix, file: f, url: f.URL + metadataSuffix,
			sha256: f.MetadataSHA256(), size: -1, max: s.opt.MaxMetaBytes, metadata: true}
	}
	if t.sha256 == "" {
		return target{}, errNoSHA256
	}
	if t.size >= 0 && t.size < t.max {
		t.max = t.size // more bytes than published cannot be the published file
	}
	return t, nil
}

// fillShared downloads a file once for all concurrent callers. The download
// runs on a context detached from the callers' (bounded by FillTimeout), so
// a client hanging up does not waste the fill for the others or the next.
func (s *Server) fillShared(ctx context.Context, t target) (storage.FileRecord, error) {
	ch := s.fills.DoChan(t.sha256+"/"+t.key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opt.FillTimeout)
		defer cancel()
		return s.fill(fctx, t)
	})
	select {
	case <-ctx.Done():
		return storage.FileRecord{}, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return storage.FileRecord{}, res.Err
		}
		return res.Val.(storage.FileRecord), nil
	}
}

// fill stages, verifies, commits and records one file.
func (s *Server) fill(ctx context.Context, t target) (storage.FileRecord, error) {
	log := logFrom(ctx).With().Str("project", t.project).Str("file", t.key).Logger()
	if s.opt.Store.HasBlob(t.sha256) {
		// Same bytes already stored under another name or by an earlier fill.
		return s.record(t)
	}
	st, err := s.opt.Store.Stage(t.max)
	if err != nil {
		return storage.FileRecord{}, err
	}
	defer st.Abort()
	start := time.Now()
	if err := s.opt.Upstream.Download(ctx, t.url, st); err != nil {
		if errors.Is(err, upstream.ErrHostNotAllowed) {
			s.opt.Metrics.RefusedHosts.Inc()
			log.Error().Str("event", "security").Str("upstream_url", redactURL(t.url)).Err(err).
				Msg("refused to download a file from a host that is not allowed")
		}
		if errors.Is(err, storage.ErrTooLarge) && t.max == t.size {
			// More bytes than the index published: not the published file.
			return storage.FileRecord{}, s.mismatch(log, t, st, err)
		}
		return storage.FileRecord{}, fmt.Errorf("download %s: %w", t.key, err)
	}
	if t.size >= 0 && st.Size() < t.size {
		return storage.FileRecord{}, fmt.Errorf("%w: %d of %d bytes", errTruncated, st.Size(), t.size)
	}
	if err := st.Commit(t.sha256); err != nil {
		if errors.Is(err, storage.ErrHashMismatch) {
			return storage.FileRecord{}, s.mismatch(log, t, st, err)
		}
		return storage.FileRecord{}, err
	}
	log.Info().Int64("size", st.Size()).Dur("duration", time.Since(start)).Str("sha256", t.sha256).Msg("file verified and stored")
	return s.record(t)
}

func (s *Server) mismatch(log zerolog.Logger, t target, st *storage.Staged, err error) error {
	s.opt.Metrics.HashMismatches.Inc()
	log.Error().Str("event", "security").Str("listed_sha256", t.sha256).Str("got_sha256", st.SHA256()).
		Int64("got_size", st.Size()).Str("upstream_url", redactURL(t.url)).Err(err).
		Msg("upstream file did not match its published hash; nothing stored")
	return fmt.Errorf("%s: %w", t.key, storage.ErrHashMismatch)
}

func (s *Server) record(t target) (storage.FileRecord, error) {
	info, err := os.Stat(s.opt.Store.BlobPath(t.sha256))
	if err != nil {
		return storage.FileRecord{}, err
	}
	version, _ := index.VersionFromFilename(t.project, t.file.Filename)
	rec := storage.FileRecord{
		Project: t.project, Version: version, Filename: t.key, SHA256: t.sha256, Size: info.Size(),
		UploadTime: t.file.UploadTime, UpstreamURL: redactURL(t.url), FetchedAt: s.opt.Now().UTC(),
	}
	if err := s.opt.Store.PutFile(rec); err != nil {
		return storage.FileRecord{}, err
	}
	return rec, nil
}

// serveBlob serves stored bytes with http.ServeContent: Range, HEAD and
// conditional requests work (uv reads wheels with Range requests).
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, rec storage.FileRecord, isMeta bool) {
	f, err := s.opt.Store.OpenBlob(rec.SHA256)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	h := w.Header()
	if isMeta {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		h.Set("Content-Type", "application/octet-stream")
	}
	h.Set("ETag", `"`+rec.SHA256+`"`)
	h.Set("X-Airlock-SHA256", rec.SHA256)
	h.Set("Cache-Control", "max-age=31536000, immutable")
	cw := &countingWriter{ResponseWriter: w}
	http.ServeContent(cw, r, "", rec.FetchedAt, f)
	s.opt.Metrics.BytesServed.Add(float64(cw.n))
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// ReadFrom keeps sendfile working for large blobs.
func (c *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := io.Copy(c.ResponseWriter, r)
	c.n += n
	return n, err
}
