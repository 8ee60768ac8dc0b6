// Package indexes decides which upstream answers for a project. A private
// index owns the names its patterns match and every name its own /simple/
// list shows; any other name belongs to the public upstream. A project a
// private index owns is answered from that index alone, whatever the
// public upstream lists: the public one cannot win with a higher version
// (dependency confusion, as with torchtriton in December 2022).
package indexes

import (
	"context"
	"path"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"airlock/index"
	"airlock/internal/every"
	"airlock/storage"
	"airlock/upstream"
)

// Index is one upstream.
type Index struct {
	// Name is "" for the public upstream.
	Name   string
	Client *upstream.Client
	// Patterns are the names and globs a private index owns.
	Patterns []string
	// ListEvery is how often a private index's /simple/ list is read.
	ListEvery time.Duration

	mu      sync.RWMutex
	learned map[string]bool // names its /simple/ list showed
}

// Private reports whether this is a private index.
func (ix *Index) Private() bool { return ix.Name != "" }

// owns reports whether a private index owns a (normalized) name.
func (ix *Index) owns(project string) bool {
	for _, p := range ix.Patterns {
		if ok, _ := path.Match(p, project); ok {
			return true
		}
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.learned[project]
}

// Names lists what the index is known to serve (for the root list).
func (ix *Index) Names() []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := make([]string, 0, len(ix.learned))
	for n := range ix.learned {
		out = append(out, n)
	}
	return out
}

func (ix *Index) setLearned(names []string) {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	ix.mu.Lock()
	ix.learned = m
	ix.mu.Unlock()
}

// ListStore keeps what each private index listed, so that a restart while
// the index is down does not hand its names to the public upstream.
type ListStore interface {
	GetIndexList(ctx context.Context, name string) (storage.CachedList, error)
	PutIndexList(ctx context.Context, name string, cl storage.CachedList) error
}

// Router picks the index of a project.
type Router struct {
	public  *Index
	private []*Index
	store   ListStore
	log     zerolog.Logger
	now     func() time.Time
}

// NewRouter builds a router; private indexes are asked in order. Their
// last stored lists are loaded at once.
func NewRouter(ctx context.Context, public *Index, private []*Index, store ListStore, log zerolog.Logger) *Router {
	r := &Router{public: public, private: private, store: store, log: log, now: time.Now}
	for _, ix := range private {
		if cl, err := store.GetIndexList(ctx, ix.Name); err == nil {
			ix.setLearned(cl.Names)
		}
	}
	return r
}

// For returns the index that answers for a normalized project name.
func (r *Router) For(project string) *Index {
	if r == nil {
		return nil
	}
	for _, ix := range r.private {
		if ix.owns(project) {
			return ix
		}
	}
	return r.public
}

// Private lists the private indexes.
func (r *Router) Private() []*Index { return r.private }

// ByName finds an index ("" is the public one).
func (r *Router) ByName(name string) *Index {
	if name == "" {
		return r.public
	}
	for _, ix := range r.private {
		if ix.Name == name {
			return ix
		}
	}
	return nil
}

// Refresh reads every private index's /simple/ list and learns its names.
// An index that cannot be read keeps the names learned before.
func (r *Router) Refresh(ctx context.Context) {
	for _, ix := range r.private {
		r.refresh(ctx, ix)
	}
}

func (r *Router) refresh(ctx context.Context, ix *Index) {
	var v storage.Validators
	old, err := r.store.GetIndexList(ctx, ix.Name)
	if err == nil {
		v = old.Validators
	}
	res, err := ix.Client.FetchList(ctx, upstream.Validators(v))
	if err != nil {
		r.log.Warn().Err(err).Str("index", ix.Name).Msg("private index list unreadable; keeping the names learned before")
		return
	}
	cl := storage.CachedList{Validators: storage.Validators(res.Validators), FetchedAt: r.now()}
	if res.NotModified {
		cl.Names = old.Names
	} else {
		cl.Names = index.NormalizeList(res.Names)
	}
	if err := r.store.PutIndexList(ctx, ix.Name, cl); err != nil {
		r.log.Error().Err(err).Str("index", ix.Name).Msg("storing a private index's list")
	}
	ix.setLearned(cl.Names)
}

// Run refreshes each private index's list on its interval until ctx ends
// (the first time after one interval: serve refreshes before it listens).
func (r *Router) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, ix := range r.private {
		interval := ix.ListEvery
		if interval <= 0 {
			interval = 5 * time.Minute
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			every.Run(ctx, interval, func() { r.refresh(ctx, ix) })
		}()
	}
	wg.Wait()
}
