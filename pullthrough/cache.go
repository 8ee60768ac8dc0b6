package pullthrough

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
// for Derived, where the page's consumers keep what they make of it (the
// gate: rendered bodies), carried over a revalidation that changed
// nothing.
type Entry struct {
	Cached storage.CachedPage
	// Stale is set on the result of Page when the upstream failed and the
	// cached page was served instead.
	Stale bool

	Derived *Derived
	// failedAt (unix nanoseconds) is when revalidating this page last
	// failed. For upstreamRetryAfter after that the stale page is served
	// without asking again, so a dead upstream does not slow every request.
	failedAt *atomic.Int64
}

// Derived holds values computed from a page, by key; the cache knows
// nothing of what they are.
type Derived struct {
	mu sync.Mutex
	m  map[string]any
}

// Get returns the value kept under key.
func (d *Derived) Get(key string) (any, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.m[key]
	return v, ok
}

// Put keeps v under key.
func (d *Derived) Put(key string, v any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]any{}
	}
	d.m[key] = v
}

func (d *Derived) clone() *Derived {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := &Derived{m: make(map[string]any, len(d.m))}
	for k, v := range d.m {
		out.m[k] = v
	}
	return out
}

func newEntry(cp storage.CachedPage) *Entry {
	return &Entry{Cached: cp, Derived: &Derived{}, failedAt: new(atomic.Int64)}
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
func (c *Cache) Keeps(e *Entry) bool { return c.pages.keeps(e) }

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
func (c *Cache) Page(ctx context.Context, project string) (*Entry, error) {
	now := c.opt.Now()
	if source := c.SourceOf(project); source != "" {
		c.checkConfusion(project, source)
	}
	cached := c.pages.get(project)
	if cached == nil {
		if cp, err := c.opt.Store.GetPage(ctx, project); err == nil {
			c.observe(func(o Observer) { o.PageRead(&cp.Page) })
			cached = newEntry(cp)
			c.pages.put(cached)
		} else if !errors.Is(err, storage.ErrNotFound) {
			return nil, err
		}
	}
	if cached != nil && cached.Cached.Page.Source != c.SourceOf(project) {
		// The project changed hands (a private index now owns the name):
		// nothing the other upstream said may be served for it.
		c.pages.drop(project)
		cached = nil
	}
	if cached != nil && now.Sub(cached.Cached.FetchedAt) < c.opt.PageTTL {
		c.opt.Metrics.Cache.WithLabelValues("page", "hit").Inc()
		return cached, nil
	}
	if cached != nil {
		if failed := cached.failedAt.Load(); failed != 0 && now.Sub(time.Unix(0, failed)) < upstreamRetryAfter {
			c.opt.Metrics.Cache.WithLabelValues("page", "stale").Inc()
			return stale(cached), nil
		}
	}
	// A client waits for the upstream only as long as it waits for an
	// answer (pip: 15 s); the fetch goes on for the next request.
	wait := min(c.opt.PageTimeout, clientWait)
	if cached != nil {
		wait = min(wait, staleAfter) // what the store has, at once
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	e, err := flight.Do(wctx, &c.fetches, project, c.opt.PageTimeout, func(fctx context.Context) (*Entry, error) {
		// A flight that ended between the look above and this one has
		// stored a fresh page: use it rather than fetch again.
		if e := c.pages.get(project); e != nil && e != cached && e.Cached.Page.Source == c.SourceOf(project) &&
			c.opt.Now().Sub(e.Cached.FetchedAt) < c.opt.PageTTL {
			return e, nil
		}
		return c.refreshPage(fctx, project, cached)
	})
	if err != nil && ctx.Err() == nil && wctx.Err() != nil {
		if cached != nil {
			c.opt.Metrics.Cache.WithLabelValues("page", "stale").Inc()
			logFrom(ctx).Warn().Str("project", project).Dur("waited", wait).Time("fetched_at", cached.Cached.FetchedAt).
				Msg("upstream slow; serving stale page while it is asked")
			return stale(cached), nil
		}
		return nil, fmt.Errorf("%w: the upstream has not answered for %s in %s; still asking (try again)", upstream.ErrUnavailable, project, wait)
	}
	return e, err
}

// How long a page request waits for the upstream: with a stored page,
// staleAfter, then that page is served; without one, clientWait, under
// pip's 15 s read time-out, then a 502 clients retry (joining the fetch,
// which goes on up to PageTimeout).
const (
	staleAfter = 3 * time.Second
	clientWait = 12 * time.Second
)

// stale is the cached entry marked as served because the upstream failed.
func stale(e *Entry) *Entry {
	out := *e
	out.Stale = true
	return &out
}

func (c *Cache) refreshPage(ctx context.Context, project string, cached *Entry) (*Entry, error) {
	var v storage.Validators
	if cached != nil {
		v = cached.Cached.Validators
	}
	source := c.SourceOf(project)
	res, err := c.ClientFor(source).FetchProject(ctx, project, upstream.Validators(v))
	switch {
	case errors.Is(err, upstream.ErrNotFound):
		c.opt.Metrics.Cache.WithLabelValues("page", "miss").Inc()
		if cached == nil && !c.hasStoredFiles(ctx, project, source) {
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
			c.opt.Metrics.Cache.WithLabelValues("page", "miss").Inc()
			return nil, err
		}
		c.opt.Metrics.Cache.WithLabelValues("page", "stale").Inc()
		cached.failedAt.Store(c.opt.Now().UnixNano())
		logFrom(ctx).Warn().Err(err).Str("project", project).
			Time("fetched_at", cached.Cached.FetchedAt).Msg("upstream failed; serving stale page")
		return stale(cached), nil
	}
	var cp storage.CachedPage
	if res.NotModified && cached != nil {
		c.opt.Metrics.Cache.WithLabelValues("page", "hit").Inc()
		cp = cached.Cached
	} else {
		c.opt.Metrics.Cache.WithLabelValues("page", "miss").Inc()
		cp = storage.CachedPage{Page: *res.Page}
		cp.Page.Source = source
		c.observe(func(o Observer) { o.PageRead(&cp.Page) })
		c.addUploadTimes(ctx, &cp.Page)
	}
	cp.Validators = storage.Validators(res.Validators)
	cp.FetchedAt = c.opt.Now()
	if err := c.opt.Store.PutPage(ctx, cp); err != nil {
		return nil, err
	}
	if !res.NotModified {
		c.observe(func(o Observer) { o.PageChanged(ctx, &cp.Page) })
	}
	e := newEntry(cp)
	if res.NotModified && cached != nil {
		e.Derived = cached.Derived.clone()
	}
	c.pages.put(e)
	return e, nil
}

// hasStoredFiles reports whether Airlock stored a file of the project from
// this source (an error counts as yes: a removal must not be missed).
func (c *Cache) hasStoredFiles(ctx context.Context, project, source string) bool {
	recs, err := c.opt.Store.ProjectFiles(ctx, project)
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
