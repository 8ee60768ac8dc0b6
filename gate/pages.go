package gate

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"airlock/index"
	"airlock/internal/flight"
	"airlock/storage"
	"airlock/upstream"
)

// Entry is a decoded cached page. It is immutable once published, except
// for its rendered bodies, which the gate keeps (RenderedBody,
// KeepRendered) and which survive a revalidation that changed nothing.
type Entry struct {
	Cached storage.CachedPage
	// Stale is set on the result of Page when the upstream failed and the
	// cached page was served instead.
	Stale bool

	rendered *rendered
	// failedAt (unix nanoseconds) is when revalidating this page last
	// failed. For upstreamRetryAfter after that the stale page is served
	// without asking again, so a dead upstream does not slow every request.
	failedAt *atomic.Int64
}

// rendered holds a page's rendered bodies, keyed by media type.
type rendered struct {
	mu     sync.Mutex
	bodies map[string]RenderedBody
}

// RenderedBody is a page body with what it depended on: the quarantine's
// generation and the moment a time-bound hold on it ends.
type RenderedBody struct {
	Body  []byte
	Gen   uint64
	Until time.Time
	// ETag identifies Body; Gzip is Body compressed, made once.
	ETag string
	Gzip []byte
}

func (r *rendered) clone() *rendered {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := &rendered{bodies: make(map[string]RenderedBody, len(r.bodies))}
	for k, v := range r.bodies {
		out.bodies[k] = v
	}
	return out
}

// Generation changes whenever a decision a page shows may have: a body
// rendered at another generation is stale.
func (g *Gate) Generation() uint64 { return g.opt.Quarantine.Generation() }

// RenderedBody returns the body kept for e in a media type, when it is
// still what rendering the page now would give: rendered at the current
// generation, and before any time-bound hold on it ends.
func (g *Gate) RenderedBody(e *Entry, media string) (RenderedBody, bool) {
	e.rendered.mu.Lock()
	b, ok := e.rendered.bodies[media]
	e.rendered.mu.Unlock()
	if !ok || b.Gen != g.Generation() || (!b.Until.IsZero() && !g.opt.Now().Before(b.Until)) {
		return RenderedBody{}, false
	}
	return b, true
}

// KeepRendered keeps a body rendered for e (a page the cache keeps).
func (g *Gate) KeepRendered(e *Entry, media string, b RenderedBody) {
	e.rendered.mu.Lock()
	defer e.rendered.mu.Unlock()
	if e.rendered.bodies == nil {
		e.rendered.bodies = map[string]RenderedBody{}
	}
	e.rendered.bodies[media] = b
}

// RenderKey names one rendering of e: renders with the same key give the
// same body, so concurrent requests can share one.
func (g *Gate) RenderKey(e *Entry, media string, gen uint64, gz bool) string {
	return fmt.Sprintf("%s\x00%s\x00%d\x00%p\x00%t", e.Cached.Page.Name, media, gen, e.rendered, gz)
}

func newEntry(cp storage.CachedPage) *Entry {
	return &Entry{Cached: cp, rendered: &rendered{}, failedAt: new(atomic.Int64)}
}

// upstreamRetryAfter is how long a failed revalidation is not retried.
const upstreamRetryAfter = 30 * time.Second

// pageCache keeps decoded pages in memory so that a warm page or file
// request costs no decoding. bbolt stays the source of truth. The cache is
// bounded by the memory its pages take (an estimate: a decoded file entry
// with its rendered forms), evicting the least recently used page: a few
// huge projects (200,000 files) must not hold the process's memory.
type pageCache struct {
	mu      sync.Mutex
	max     int64
	used    int64
	entries map[string]*list.Element // project -> element holding *cached
	lru     *list.List               // front: most recently used
}

type cached struct {
	e    *Entry
	size int64
}

// bytesPerFile estimates what one file entry of a page costs in memory:
// the decoded entry (strings, hashes map) and its share of the rendered
// JSON, HTML and gzip bodies.
const bytesPerFile = 1400

func pageSize(e *Entry) int64 { return 4096 + bytesPerFile*int64(len(e.Cached.Page.Files)) }

func newPageCache(maxBytes int64) *pageCache {
	return &pageCache{max: maxBytes, entries: map[string]*list.Element{}, lru: list.New()}
}

func (c *pageCache) get(project string) *Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[project]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(el)
	return el.Value.(*cached).e
}

func (c *pageCache) put(e *Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	name := e.Cached.Page.Name
	if el, ok := c.entries[name]; ok {
		c.used -= el.Value.(*cached).size
		c.lru.Remove(el)
		delete(c.entries, name)
	}
	if !c.keeps(e) {
		return // larger than the whole cache: decoded from the store each time
	}
	size := pageSize(e)
	for c.used+size > c.max && c.lru.Len() > 0 {
		old := c.lru.Back()
		oc := old.Value.(*cached)
		c.used -= oc.size
		c.lru.Remove(old)
		delete(c.entries, oc.e.Cached.Page.Name)
	}
	c.entries[name] = c.lru.PushFront(&cached{e: e, size: size})
	c.used += size
}

// keeps reports whether the cache can hold e at all.
func (c *pageCache) keeps(e *Entry) bool { return pageSize(e) <= c.max }

// Keeps reports whether the page cache can hold e: a page too large for
// it is decoded and rendered for each request, so a renderer makes only
// the form that request needs.
func (g *Gate) Keeps(e *Entry) bool { return g.pages.keeps(e) }

// drop forgets a project's page.
func (c *pageCache) drop(project string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[project]; ok {
		c.used -= el.Value.(*cached).size
		c.lru.Remove(el)
		delete(c.entries, project)
	}
}

// Bytes reports the cache's estimated size.
func (c *pageCache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// Page returns the project's page: from cache while fresh, revalidated
// with the upstream after the TTL, and from the stale cache when the upstream
// fails. Concurrent callers share one upstream fetch, which is not cut short
// when one of them hangs up.
func (g *Gate) Page(ctx context.Context, project string) (*Entry, error) {
	now := g.opt.Now()
	if source := g.sourceOf(project); source != "" {
		g.checkConfusion(project, source)
	}
	cached := g.pages.get(project)
	if cached == nil {
		if cp, err := g.opt.Store.GetPage(ctx, project); err == nil {
			g.sawPage(&cp.Page)
			cached = newEntry(cp)
			g.pages.put(cached)
		} else if !errors.Is(err, storage.ErrNotFound) {
			return nil, err
		}
	}
	if cached != nil && cached.Cached.Page.Source != g.sourceOf(project) {
		// The project changed hands (a private index now owns the name):
		// nothing the other upstream said may be served for it.
		g.pages.drop(project)
		cached = nil
	}
	if cached != nil && now.Sub(cached.Cached.FetchedAt) < g.opt.PageTTL {
		g.opt.Metrics.Cache.WithLabelValues("page", "hit").Inc()
		return cached, nil
	}
	if cached != nil {
		if failed := cached.failedAt.Load(); failed != 0 && now.Sub(time.Unix(0, failed)) < upstreamRetryAfter {
			g.opt.Metrics.Cache.WithLabelValues("page", "stale").Inc()
			return stale(cached), nil
		}
	}
	return flight.Do(ctx, &g.fetches, project, g.opt.PageTimeout, func(fctx context.Context) (*Entry, error) {
		// A flight that ended between the look above and this one has
		// stored a fresh page: use it rather than fetch again.
		if e := g.pages.get(project); e != nil && e != cached && e.Cached.Page.Source == g.sourceOf(project) &&
			g.opt.Now().Sub(e.Cached.FetchedAt) < g.opt.PageTTL {
			return e, nil
		}
		return g.refreshPage(fctx, project, cached)
	})
}

// stale is the cached entry marked as served because the upstream failed.
func stale(e *Entry) *Entry {
	out := *e
	out.Stale = true
	return &out
}

func (g *Gate) refreshPage(ctx context.Context, project string, cached *Entry) (*Entry, error) {
	var v storage.Validators
	if cached != nil {
		v = cached.Cached.Validators
	}
	source := g.sourceOf(project)
	res, err := g.clientFor(source).FetchProject(ctx, project, upstream.Validators(v))
	switch {
	case errors.Is(err, upstream.ErrNotFound):
		g.opt.Metrics.Cache.WithLabelValues("page", "miss").Inc()
		if cached == nil && !g.hasStoredFiles(ctx, project, source) {
			return nil, err
		}
		// The upstream says a project it listed is gone (how PyPI removes
		// malware): every file of it was removed. Its page becomes empty,
		// so no stale copy lists them again while the upstream is down.
		if cached == nil || len(cached.Cached.Page.Files) > 0 {
			logFrom(ctx).Warn().Str("event", "security").Str("project", project).
				Msg("the upstream says the project does not exist any more; its stored files are treated as removed")
		}
		res, err = &upstream.PageResult{Page: &index.Page{Name: project}}, nil
	case err != nil:
		if cached == nil {
			g.opt.Metrics.Cache.WithLabelValues("page", "miss").Inc()
			return nil, err
		}
		g.opt.Metrics.Cache.WithLabelValues("page", "stale").Inc()
		cached.failedAt.Store(g.opt.Now().UnixNano())
		logFrom(ctx).Warn().Err(err).Str("project", project).
			Time("fetched_at", cached.Cached.FetchedAt).Msg("upstream failed; serving stale page")
		return stale(cached), nil
	}
	var cp storage.CachedPage
	if res.NotModified && cached != nil {
		g.opt.Metrics.Cache.WithLabelValues("page", "hit").Inc()
		cp = cached.Cached
	} else {
		g.opt.Metrics.Cache.WithLabelValues("page", "miss").Inc()
		cp = storage.CachedPage{Page: *res.Page}
		cp.Page.Source = source
		g.sawPage(&cp.Page)
		g.addUploadTimes(ctx, &cp.Page)
	}
	cp.Validators = storage.Validators(res.Validators)
	cp.FetchedAt = g.opt.Now()
	if err := g.opt.Store.PutPage(ctx, cp); err != nil {
		return nil, err
	}
	if !res.NotModified {
		g.noteRemovals(ctx, &cp.Page)
	}
	e := newEntry(cp)
	if res.NotModified && cached != nil {
		e.rendered = cached.rendered.clone()
	}
	g.pages.put(e)
	return e, nil
}

// hasStoredFiles reports whether Airlock stored a file of the project from
// this source (an error counts as yes: a removal must not be missed).
func (g *Gate) hasStoredFiles(ctx context.Context, project, source string) bool {
	recs, err := g.opt.Store.ProjectFiles(ctx, project)
	if err != nil {
		return true
	}
	for _, rec := range recs {
		if rec.Index == source {
			return true
		}
	}
	return false
}

// NewEntry wraps a cached page in a fresh entry, with nothing rendered.
func NewEntry(cp storage.CachedPage) *Entry { return newEntry(cp) }
