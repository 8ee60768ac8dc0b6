package gate

import (
	"context"
	"fmt"
	"time"

	"airlock/index"
	"airlock/pullthrough"
	"airlock/storage"
)

// The pull-through cache's names, as the gate's callers know them.
type (
	Entry  = pullthrough.Entry
	List   = pullthrough.List
	Target = pullthrough.Target
)

// Errors of a request, which the HTTP layer maps to its answers.
var (
	// What the upstreams answered: not there, a file host not allowed,
	// unavailable, an answer over the bounds.
	ErrNotFound         = pullthrough.ErrNotFound
	ErrHostNotAllowed   = pullthrough.ErrHostNotAllowed
	ErrUnavailable      = pullthrough.ErrUnavailable
	ErrUpstreamTooLarge = pullthrough.ErrUpstreamTooLarge

	ErrNoSHA256   = pullthrough.ErrNoSHA256
	ErrNotListed  = pullthrough.ErrNotListed
	ErrNoMetadata = pullthrough.ErrNoMetadata
	// ErrNoWheelMetadata: a wheel with no metadata to make a metadata file of.
	ErrNoWheelMetadata = pullthrough.ErrNoWheelMetadata
	ErrTruncated       = pullthrough.ErrTruncated
)

// MetadataSuffix makes a PEP 658 metadata file's name from its
// distribution's.
const MetadataSuffix = pullthrough.MetadataSuffix

// NewEntry wraps a cached page in a fresh entry, with nothing rendered.
func NewEntry(cp storage.CachedPage) *Entry { return pullthrough.NewEntry(cp) }

// Page returns the project's page from the pull-through cache.
func (g *Gate) Page(ctx context.Context, project string) (*Entry, error) {
	return g.cache.Page(ctx, project)
}

// ProjectList returns the root project list from the pull-through cache
// (no decision applies to names).
func (g *Gate) ProjectList(ctx context.Context) (*List, error) { return g.cache.ProjectList(ctx) }

// Keeps reports whether the cache keeps e in memory (then its rendered
// bodies are kept with it).
func (g *Gate) Keeps(e *Entry) bool { return g.cache.Keeps(e) }

// ProjectJSON is the JSON API document of a project (or one release) from
// the upstream that served its page.
func (g *Gate) ProjectJSON(ctx context.Context, page *index.Page, version string) ([]byte, error) {
	return g.cache.ProjectJSON(ctx, page, version)
}

// storedFile reports whether the store holds the verified bytes of f.
func (g *Gate) storedFile(ctx context.Context, project string, f index.File) (storage.FileRecord, bool) {
	return g.cache.Stored(ctx, project, f)
}

// ensureStored makes sure a listed file is in the store (a verified fill).
func (g *Gate) ensureStored(ctx context.Context, page *index.Page, f index.File) (storage.FileRecord, error) {
	return g.cache.Ensure(ctx, page, f)
}

// cacheObserver is what the gate does with what the cache learns.
type cacheObserver struct{ g *Gate }

func (o cacheObserver) PageRead(p *index.Page) { o.g.sawPage(p) }

func (o cacheObserver) PageChanged(ctx context.Context, p *index.Page) { o.g.noteRemovals(ctx, p) }

func (o cacheObserver) Confusion(ctx context.Context, project, source string, versions []string) {
	o.g.recordConfusion(ctx, project, source, versions)
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

// Generation changes whenever a decision a page shows may have: a body
// rendered at another generation is stale.
func (g *Gate) Generation() uint64 { return g.opt.Quarantine.Generation() }

// RenderedBody returns the body kept for e in a media type, when it is
// still what rendering the page now would give: rendered at the current
// generation, and before any time-bound hold on it ends.
func (g *Gate) RenderedBody(e *Entry, media string) (RenderedBody, bool) {
	v, ok := e.Derived.Get("body:" + media)
	b, _ := v.(RenderedBody)
	if !ok || b.Gen != g.Generation() || (!b.Until.IsZero() && !g.opt.Now().Before(b.Until)) {
		return RenderedBody{}, false
	}
	return b, true
}

// KeepRendered keeps a body rendered for e (a page the cache keeps).
func (g *Gate) KeepRendered(e *Entry, media string, b RenderedBody) { e.Derived.Put("body:"+media, b) }

// RenderKey names one rendering of e: renders with the same key give the
// same body, so concurrent requests can share one.
func (g *Gate) RenderKey(e *Entry, media string, gen uint64, gz bool) string {
	return fmt.Sprintf("%s\x00%s\x00%d\x00%p\x00%t", e.Cached.Page.Name, media, gen, e.Derived, gz)
}
func (g *Gate) recordConfusion(ctx context.Context, project, source string, versions []string) {
	c := storage.Confusion{Project: project, Index: source, PublicVersions: versions, LastSeen: g.opt.Now().UTC()}
	first, err := g.opt.Store.PutConfusion(ctx, c)
	if err != nil {
		g.opt.Log.Error().Err(err).Str("project", project).Msg("recording a dependency confusion")
		return
	}
	g.opt.Log.Error().Str("event", "security").Str("kind", "dependency_confusion").Str("project", project).
		Str("index", source).Strs("public_versions", versions).
		Msg("the public upstream lists a name a private index owns; its files are never served")
	if first {
		g.opt.Quarantine.NotifyEvent("dependency_confusion", project, map[string]any{
			"project": project, "index": source, "public_versions": versions,
			"message": "the public upstream lists " + project + ", which the private index " + source + " owns; Airlock serves only the private index's files for it",
		})
	}
}

// Confusions lists the privately owned names the public upstream lists.
func (g *Gate) Confusions(ctx context.Context) ([]storage.Confusion, error) {
	return g.opt.Store.Confusions(ctx)
}
