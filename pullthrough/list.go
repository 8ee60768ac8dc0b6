package pullthrough

import (
	"context"
	"sync"

	"airlock/index"
	"airlock/internal/flight"
	"airlock/storage"
	"airlock/upstream"
)

// List is the root project list as the cache holds it: immutable once
// published; Derived keeps what consumers make of it (rendered bodies)
// until the list is read anew.
type List struct {
	storage.CachedList
	Derived *Derived
}

// rootList is the list in memory, filled from the store or the upstream.
type rootList struct {
	mu   sync.Mutex
	list *List
}

// ProjectList returns the root list: from memory or the store while fresh,
// else from the upstream (conditionally, one fetch for all who ask, with
// the private indexes' names added: Airlock is the one index a client
// needs), else stale.
func (c *Cache) ProjectList(ctx context.Context) (*List, error) {
	c.root.mu.Lock()
	cached := c.root.list
	c.root.mu.Unlock()
	if cached == nil {
		if cl, err := c.opt.Store.GetList(ctx); err == nil {
			cached = &List{CachedList: cl, Derived: &Derived{}}
		}
	}
	if cached != nil && c.opt.Now().Sub(cached.FetchedAt) < c.opt.PageTTL {
		c.opt.Metrics.Cache.WithLabelValues("list", "hit").Inc()
		return cached, nil
	}
	return flight.Do(ctx, &c.fetches, "\x00list", c.opt.PageTimeout, func(fctx context.Context) (*List, error) {
		var v storage.Validators
		if cached != nil {
			v = cached.Validators
		}
		res, err := c.opt.Upstream.FetchList(fctx, upstream.Validators(v))
		if err != nil {
			if cached == nil {
				c.opt.Metrics.Cache.WithLabelValues("list", "miss").Inc()
				return nil, err
			}
			c.opt.Metrics.Cache.WithLabelValues("list", "stale").Inc()
			logFrom(ctx).Warn().Err(err).Time("fetched_at", cached.FetchedAt).Msg("upstream failed; serving stale project list")
			return cached, nil
		}
		cl := storage.CachedList{Validators: storage.Validators(res.Validators), FetchedAt: c.opt.Now()}
		if res.NotModified && cached != nil {
			cl.Names = cached.Names
		} else {
			names := res.Names
			if c.opt.Indexes != nil {
				for _, ix := range c.opt.Indexes.Private() {
					names = append(names, ix.Names()...)
				}
			}
			cl.Names = index.NormalizeList(names)
		}
		c.opt.Metrics.Cache.WithLabelValues("list", "miss").Inc()
		if err := c.opt.Store.PutList(ctx, cl); err != nil {
			return nil, err
		}
		l := &List{CachedList: cl, Derived: &Derived{}}
		c.root.mu.Lock()
		c.root.list = l
		c.root.mu.Unlock()
		return l, nil
	})
}
