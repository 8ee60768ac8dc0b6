// Package pullthrough is Airlock's pull-through cache: project pages (in
// memory, bounded by bytes, and in the store; revalidated with their
// upstream after a time to live, served stale while it fails), verified
// fills (stage → verify the published sha256 → commit, one download per
// file however many ask, across replicas), the upload times the JSON API
// adds to an HTML-only page, and which upstream owns a name. It publishes
// what it learns to its observers (a page read or changed, a name a
// private index owns listed publicly) and knows nothing of decisions:
// whether a file is served is the gate's.
package pullthrough

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"

	"airlock/index"
	"airlock/metrics"
	"airlock/route"
	"airlock/storage"
	"airlock/upstream"
)

// Store is what the cache keeps. *storage.Store is one.
type Store interface {
	GetFile(ctx context.Context, project, filename string) (storage.FileRecord, error)
	PutFile(ctx context.Context, rec storage.FileRecord) error
	ProjectFiles(ctx context.Context, project string) (map[string]storage.FileRecord, error)
	HasBlob(ctx context.Context, sha string) bool
	BlobSize(ctx context.Context, sha string) (int64, error)
	OpenBlob(ctx context.Context, sha string) (storage.Blob, error)
	Stage(ctx context.Context, max int64) (storage.Staged, error)
	// LockFill makes one replica at a time download a file.
	LockFill(ctx context.Context, sha string) (unlock func(), err error)
	GetPage(ctx context.Context, project string) (storage.CachedPage, error)
	PutPage(ctx context.Context, cp storage.CachedPage) error
	GetList(ctx context.Context) (storage.CachedList, error)
	PutList(ctx context.Context, cl storage.CachedList) error
}

var _ Store = (*storage.Store)(nil)

// Observer learns what the cache learns. Calls come from the goroutine
// that learned it (PageChanged, inside the page's shared fetch; Confusion,
// in the background).
type Observer interface {
	// PageRead: a page came into memory (from the store or the upstream).
	PageRead(p *index.Page)
	// PageChanged: the upstream answered a page anew (not "not modified"),
	// or said the project is gone (the page is then empty).
	PageChanged(ctx context.Context, p *index.Page)
	// Confusion: the public upstream lists versions of a name a private
	// index owns.
	Confusion(ctx context.Context, project, source string, versions []string)
}

// Options configure a Cache.
type Options struct {
	Store Store
	// Upstream is the public upstream; Indexes (optional) routes the
	// projects private indexes own to them.
	Upstream *upstream.Client
	Indexes  *route.Router
	Metrics  *metrics.Metrics
	Log      zerolog.Logger
	PageTTL  time.Duration
	// PageCacheBytes bounds the decoded pages kept in memory.
	PageCacheBytes int64
	PageTimeout    time.Duration // bound for one shared page fetch
	FillTimeout    time.Duration // bound for one shared file download
	MaxFileBytes   int64
	MaxMetaBytes   int64
	Now            func() time.Time
}

// Cache is safe for concurrent use.
type Cache struct {
	opt     Options
	pages   *pageCache
	fills   singleflight.Group // one upstream download per file, however many ask
	fetches singleflight.Group // one upstream page fetch per project (and the list)
	root    rootList

	obsMu     sync.RWMutex
	observers []Observer

	confusionMu      sync.Mutex
	confusionChecked map[string]time.Time // project -> last time the public upstream was asked

	// wheelMeta remembers the metadata made from each wheel, by the
	// wheel's sha256 (the same bytes make the same metadata), so a warm
	// .metadata request does not read the wheel's zip directory again.
	wheelMetaMu sync.Mutex
	wheelMeta   map[string]storage.FileRecord
}

// New builds a Cache.
func New(opt Options) *Cache {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.PageCacheBytes <= 0 {
		opt.PageCacheBytes = 128 << 20
	}
	return &Cache{opt: opt, pages: newPageCache(opt.PageCacheBytes)}
}

// Subscribe adds an observer of what the cache learns.
func (c *Cache) Subscribe(o Observer) {
	c.obsMu.Lock()
	defer c.obsMu.Unlock()
	c.observers = append(c.observers, o)
}

func (c *Cache) observe(fn func(Observer)) {
	c.obsMu.RLock()
	defer c.obsMu.RUnlock()
	for _, o := range c.observers {
		fn(o)
	}
}

// Stored returns the record of f when the store holds its verified bytes.
func (c *Cache) Stored(ctx context.Context, project string, f index.File) (storage.FileRecord, bool) {
	rec, err := c.opt.Store.GetFile(ctx, project, f.Filename)
	if err != nil || rec.SHA256 != f.SHA256() || !c.opt.Store.HasBlob(ctx, rec.SHA256) {
		return storage.FileRecord{}, false
	}
	return rec, true
}

func logFrom(ctx context.Context) *zerolog.Logger { return zerolog.Ctx(ctx) }
