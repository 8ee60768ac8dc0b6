// Package route decides which upstream answers for a project. A private
// index owns the names its patterns match and every name its own /simple/
// list shows; any other name belongs to the public upstream. A project a
// private index owns is answered from that index alone, whatever the
// public upstream lists: the public one cannot win with a higher version
// (dependency confusion, as with torchtriton in December 2022).
package route

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
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
	dropped string          // the owned names the last list lacked, joined
}

// setDropped records the names the last list lacked and reports whether
// that changed (a standing condition is announced once).
func (ix *Index) setDropped(key string) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	changed := ix.dropped != key
	ix.dropped = key
	return changed
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

// ListStore keeps the names each private index owns, so that a restart
// while the index is down does not hand its names to the public upstream,
// and audits an operator's release of one.
type ListStore interface {
	GetIndexList(ctx context.Context, name string) (storage.CachedList, error)
	PutIndexList(ctx context.Context, name string, cl storage.CachedList) error
	AppendAudit(ctx context.Context, ev storage.AuditEvent) error
}

// Notifier raises a security event (the webhooks).
type Notifier interface {
	NotifyEvent(kind, project string, details map[string]any)
}

// Router picks the index of a project.
type Router struct {
	public  *Index
	private []*Index
	store   ListStore
	notify  Notifier
	log     zerolog.Logger
	now     func() time.Time
}

// NewRouter builds a router; private indexes are asked in order. Their
// last stored lists are loaded at once. notify may be nil.
func NewRouter(ctx context.Context, public *Index, private []*Index, store ListStore, notify Notifier, log zerolog.Logger) *Router {
	r := &Router{public: public, private: private, store: store, notify: notify, log: log, now: time.Now}
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

// A name a private index owns because its list showed it stays owned
// until an operator releases it (Release): a list that comes back without
// it (an index restarted on an empty volume, a "maintenance" page answered
// with 200) must not hand it to the public upstream, where anyone can
// upload it. A list that drops more than half of the owned names, or all
// of them, is not believed at all: it is unreadable, and a security event.
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
	listed := old.Names
	if !res.NotModified {
		listed = index.NormalizeList(res.Names)
	}
	owned := ix.Names()
	slices.Sort(owned)
	var dropped []string
	for _, n := range owned {
		if _, found := slices.BinarySearch(listed, n); !found {
			dropped = append(dropped, n)
		}
	}
	key := strings.Join(dropped, "\x00")
	changed := ix.setDropped(key)
	if len(owned) > 0 && (len(listed) == 0 || 2*len(dropped) > len(owned)) {
		if changed {
			r.security(ix, "private_index_list_unbelievable", dropped, fmt.Sprintf(
				"the private index %s listed %d names, none or less than half of the %d it owns: the list is not believed; every owned name stays with it", ix.Name, len(listed), len(owned)))
		}
		return
	}
	if len(dropped) > 0 && changed {
		r.security(ix, "private_index_names_dropped", dropped, fmt.Sprintf(
			"the private index %s no longer lists %d names it owns; they stay owned (never sent to the public upstream) until an operator releases them", ix.Name, len(dropped)))
	}
	cl := storage.CachedList{Validators: storage.Validators(res.Validators), FetchedAt: r.now(), Names: union(owned, listed)}
	if err := r.store.PutIndexList(ctx, ix.Name, cl); err != nil {
		r.log.Error().Err(err).Str("index", ix.Name).Msg("storing a private index's list")
	}
	ix.setLearned(cl.Names)
}

func (r *Router) security(ix *Index, kind string, names []string, msg string) {
	shown := names[:min(len(names), 20)]
	r.log.Error().Str("event", "security").Str("kind", kind).Str("index", ix.Name).Int("names", len(names)).
		Strs("first_names", shown).Msg(msg)
	if r.notify != nil {
		r.notify.NotifyEvent(kind, "", map[string]any{"index": ix.Name, "names": shown, "count": len(names), "message": msg})
	}
}

// ErrNotOwned: a release of a name the index does not own by its list.
var ErrNotOwned = errors.New("not a name the index owns by its list")

// Release gives up a name a private index owns by its list (the
// operator's call, audited): the public upstream answers for it from now
// on, unless the index lists it again. A name owned by a pattern in the
// config is released by changing the config.
func (r *Router) Release(ctx context.Context, indexName, project, actor, remote, reason string) error {
	ix := r.ByName(indexName)
	if ix == nil || !ix.Private() {
		return fmt.Errorf("no private index named %q", indexName)
	}
	name, err := index.Normalize(project)
	if err != nil {
		return err
	}
	for _, p := range ix.Patterns {
		if ok, _ := path.Match(p, name); ok {
			return fmt.Errorf("%s is owned by the pattern %q in the config of index %s: change the config to release it", name, p, ix.Name)
		}
	}
	owned := ix.Names()
	if !slices.Contains(owned, name) {
		return fmt.Errorf("%s: %w %s", name, ErrNotOwned, ix.Name)
	}
	old, err := r.store.GetIndexList(ctx, ix.Name)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	// Validators dropped: the next read is a whole list, which may show
	// the name again.
	cl := storage.CachedList{FetchedAt: old.FetchedAt, Names: slices.DeleteFunc(owned, func(n string) bool { return n == name })}
	slices.Sort(cl.Names)
	if err := r.store.PutIndexList(ctx, ix.Name, cl); err != nil {
		return err
	}
	ix.setLearned(cl.Names)
	ev := storage.AuditEvent{Time: r.now().UTC(), Project: name, Actor: actor, Remote: remote,
		From: "owned by index " + ix.Name, To: "released", Reason: reason}
	if err := r.store.AppendAudit(ctx, ev); err != nil {
		return err
	}
	r.log.Warn().Str("event", "security").Str("kind", "private_name_released").Str("index", ix.Name).Str("project", name).
		Str("actor", actor).Str("reason", reason).Msg("an operator released a name a private index owned; the public upstream answers for it")
	if r.notify != nil {
		r.notify.NotifyEvent("private_name_released", name, map[string]any{"index": ix.Name, "actor": actor, "reason": reason,
			"message": actor + " released " + name + " from the private index " + ix.Name + ": the public upstream answers for it"})
	}
	return nil
}

// Owned lists, by private index, the names it owns by its list.
func (r *Router) Owned() map[string][]string {
	out := map[string][]string{}
	for _, ix := range r.private {
		names := ix.Names()
		slices.Sort(names)
		out[ix.Name] = names
	}
	return out
}

func union(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
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
