package simpleapi

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"airlock/index"
	"airlock/storage"
	"airlock/upstream"
)

// pageEntry is a decoded cached page with its rendered forms, built lazily.
// Entries are immutable once published except for the rendered bytes, which
// are guarded by mu.
type pageEntry struct {
	cp       storage.CachedPage
	mu       sync.Mutex
	rendered map[string]renderedPage // media type -> body
	// failedAt (unix nanoseconds) is when revalidating this page last
	// failed. For upstreamRetryAfter after that the stale page is served
	// without asking again, so a dead upstream does not slow every request.
	failedAt atomic.Int64
}

// renderedPage is a page body with what it depended on: the quarantine's
// generation and the moment a time-bound hold on it ends.
type renderedPage struct {
	body  []byte
	gen   uint64
	until time.Time
}

// upstreamRetryAfter is how long a failed revalidation is not retried.
const upstreamRetryAfter = 30 * time.Second

// pageCache keeps decoded pages in memory so that a warm page or file
// request costs no decoding. bbolt stays the source of truth; the cache is
// bounded and evicts an arbitrary entry when full.
type pageCache struct {
	mu      sync.RWMutex
	max     int
	entries map[string]*pageEntry
}

func newPageCache(max int) *pageCache {
	return &pageCache{max: max, entries: map[string]*pageEntry{}}
}

func (c *pageCache) get(project string) *pageEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.entries[project]
}

func (c *pageCache) put(e *pageEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[e.cp.Page.Name] = e
}

// pageResult is what getPage found.
type pageResult struct {
	entry *pageEntry
	stale bool // served from cache because the upstream failed
}

// getPage returns the project's page: from cache while fresh, revalidated
// with the upstream after the TTL, and from the stale cache when the upstream
// fails. Concurrent callers share one upstream fetch, which is not cut short
// when one of them hangs up.
func (s *Server) getPage(ctx context.Context, project string) (pageResult, error) {
	now := s.opt.Now()
	cached := s.pages.get(project)
	if cached == nil {
		if cp, err := s.opt.Store.GetPage(project); err == nil {
			cached = &pageEntry{cp: cp}
			s.pages.put(cached)
		} else if !errors.Is(err, storage.ErrNotFound) {
			return pageResult{}, err
		}
	}
	if cached != nil && now.Sub(cached.cp.FetchedAt) < s.opt.PageTTL {
		s.opt.Metrics.Cache.WithLabelValues("page", "hit").Inc()
		return pageResult{entry: cached}, nil
	}
	if cached != nil {
		if failed := cached.failedAt.Load(); failed != 0 && now.Sub(time.Unix(0, failed)) < upstreamRetryAfter {
			s.opt.Metrics.Cache.WithLabelValues("page", "stale").Inc()
			return pageResult{entry: cached, stale: true}, nil
		}
	}
	ch := s.fetches.DoChan(project, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opt.PageTimeout)
		defer cancel()
		return s.refreshPage(fctx, project, cached)
	})
	select {
	case <-ctx.Done():
		return pageResult{}, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return pageResult{}, res.Err
		}
		return res.Val.(pageResult), nil
	}
}

func (s *Server) refreshPage(ctx context.Context, project string, cached *pageEntry) (pageResult, error) {
	var v storage.Validators
	if cached != nil {
		v = cached.cp.Validators
	}
	res, err := s.opt.Upstream.FetchProject(ctx, project, v)
	switch {
	case errors.Is(err, upstream.ErrNotFound):
		s.opt.Metrics.Cache.WithLabelValues("page", "miss").Inc()
		return pageResult{}, err
	case err != nil:
		if cached == nil {
			s.opt.Metrics.Cache.WithLabelValues("page", "miss").Inc()
			return pageResult{}, err
		}
		s.opt.Metrics.Cache.WithLabelValues("page", "stale").Inc()
		cached.failedAt.Store(s.opt.Now().UnixNano())
		logFrom(ctx).Warn().Err(err).Str("project", project).
			Time("fetched_at", cached.cp.FetchedAt).Msg("upstream failed; serving stale page")
		return pageResult{entry: cached, stale: true}, nil
	}
	var cp storage.CachedPage
	if res.NotModified && cached != nil {
		s.opt.Metrics.Cache.WithLabelValues("page", "hit").Inc()
		cp = cached.cp
	} else {
		s.opt.Metrics.Cache.WithLabelValues("page", "miss").Inc()
		cp = storage.CachedPage{Page: *res.Page}
	}
	cp.Validators = res.Validators
	cp.FetchedAt = s.opt.Now()
	if err := s.opt.Store.PutPage(cp); err != nil {
		return pageResult{}, err
	}
	e := &pageEntry{cp: cp}
	if res.NotModified && cached != nil {
		e.rendered = cached.renderedCopy()
	}
	s.pages.put(e)
	return pageResult{entry: e}, nil
}

func (e *pageEntry) renderedCopy() map[string]renderedPage {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]renderedPage, len(e.rendered))
	for k, v := range e.rendered {
		out[k] = v
	}
	return out
}

// render returns the page in the given media type with the quarantine
// applied. The body is reused until a file's state changes or a time-bound
// hold on the page ends.
func (s *Server) render(ctx context.Context, e *pageEntry, media string) ([]byte, error) {
	gen, now := s.opt.Quarantine.Generation(), s.opt.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if rp, ok := e.rendered[media]; ok && rp.gen == gen && (rp.until.IsZero() || now.Before(rp.until)) {
		return rp.body, nil
	}
	s.prefetchNewest(ctx, &e.cp.Page)
	gen = s.opt.Quarantine.Generation()
	page, until := s.gatePage(ctx, &e.cp.Page)
	var b []byte
	var err error
	if media == index.MediaJSON {
		b, err = index.RenderJSON(page, localURLs(page.Name))
	} else {
		b, err = index.RenderHTML(page, localURLs(page.Name))
	}
	if err != nil {
		return nil, err
	}
	if e.rendered == nil {
		e.rendered = map[string]renderedPage{}
	}
	e.rendered[media] = renderedPage{body: b, gen: gen, until: until}
	return b, nil
}

// localURLs rewrites every file, metadata and provenance URL to Airlock's
// own endpoints so that a client never talks to another host. The metadata
// URL is the file URL plus ".metadata" (PEP 658), so it follows.
func localURLs(project string) index.Rewrite {
	return func(f index.File) (string, string) {
		fileURL := "/files/" + project + "/" + url.PathEscape(f.Filename)
		prov := ""
		if f.Provenance != "" {
			if v, ok := index.VersionFromFilename(project, f.Filename); ok {
				prov = "/integrity/" + project + "/" + url.PathEscape(v) + "/" + url.PathEscape(f.Filename) + "/provenance"
			}
		}
		return fileURL, prov
	}
}

// listEntry is the root project list with its rendered forms.
type listEntry struct {
	cl       storage.CachedList
	mu       sync.Mutex
	rendered map[string][]byte
}

// getList returns the root list: from cache while fresh, else from the
// upstream, else stale from cache.
func (s *Server) getList(ctx context.Context) (*listEntry, error) {
	s.listMu.Lock()
	cached := s.list
	s.listMu.Unlock()
	if cached == nil {
		if cl, err := s.opt.Store.GetList(); err == nil {
			cached = &listEntry{cl: cl}
		}
	}
	if cached != nil && s.opt.Now().Sub(cached.cl.FetchedAt) < s.opt.PageTTL {
		s.opt.Metrics.Cache.WithLabelValues("list", "hit").Inc()
		return cached, nil
	}
	ch := s.fetches.DoChan("\x00list", func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opt.PageTimeout)
		defer cancel()
		var v storage.Validators
		if cached != nil {
			v = cached.cl.Validators
		}
		res, err := s.opt.Upstream.FetchList(fctx, v)
		if err != nil {
			if cached == nil {
				s.opt.Metrics.Cache.WithLabelValues("list", "miss").Inc()
				return nil, err
			}
			s.opt.Metrics.Cache.WithLabelValues("list", "stale").Inc()
			logFrom(ctx).Warn().Err(err).Time("fetched_at", cached.cl.FetchedAt).Msg("upstream failed; serving stale project list")
			return cached, nil
		}
		cl := storage.CachedList{Validators: res.Validators, FetchedAt: s.opt.Now()}
		if res.NotModified && cached != nil {
			cl.Names = cached.cl.Names
		} else {
			cl.Names = index.NormalizeList(res.Names)
		}
		s.opt.Metrics.Cache.WithLabelValues("list", "miss").Inc()
		if err := s.opt.Store.PutList(cl); err != nil {
			return nil, err
		}
		e := &listEntry{cl: cl}
		s.listMu.Lock()
		s.list = e
		s.listMu.Unlock()
		return e, nil
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*listEntry), nil
	}
}

func (e *listEntry) render(media string) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if b, ok := e.rendered[media]; ok {
		return b, nil
	}
	var b []byte
	var err error
	if media == index.MediaJSON {
		b, err = index.RenderProjectListJSON(e.cl.Names)
	} else {
		b, err = index.RenderProjectListHTML(e.cl.Names)
	}
	if err != nil {
		return nil, err
	}
	if e.rendered == nil {
		e.rendered = map[string][]byte{}
	}
	e.rendered[media] = b
	return b, nil
}

// fetchedAt is for the staleness header.
func staleHeader(t time.Time) string { return t.UTC().Format(time.RFC1123) }
