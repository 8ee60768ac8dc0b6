package signals

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"airlock/storage"
)

// Cache keeps source responses between fetches. *storage.Store is one; a
// nil Cache keeps nothing (the CLI commands use an in-memory one).
type Cache interface {
	GetSignalDoc(ctx context.Context, key string) (storage.SignalDoc, error)
	PutSignalDoc(ctx context.Context, key string, d storage.SignalDoc) error
}

var _ Cache = (*storage.Store)(nil)

// MemCache is a Cache in memory.
type MemCache struct {
	mu   sync.Mutex
	docs map[string]storage.SignalDoc
}

// GetSignalDoc implements Cache.
func (m *MemCache) GetSignalDoc(_ context.Context, key string) (storage.SignalDoc, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.docs[key]
	if !ok {
		return d, storage.ErrNotFound
	}
	return d, nil
}

// PutSignalDoc implements Cache.
func (m *MemCache) PutSignalDoc(_ context.Context, key string, d storage.SignalDoc) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.docs == nil {
		m.docs = map[string]storage.SignalDoc{}
	}
	m.docs[key] = d
	return nil
}

// errNotFound is a source's 404: the thing does not exist (a fact, not an
// unknown).
var errNotFound = errors.New("not found")

// errRateLimited means the source asked us to wait and nothing is cached.
var errRateLimited = errors.New("rate limited")

// fetcher gets JSON documents from the sources with timeouts, size caps,
// conditional requests, a TTL cache and respect for rate limits.
type fetcher struct {
	http    *http.Client
	cache   Cache
	ttl     time.Duration
	maxBody int64
	now     func() time.Time
	headers func(host string) http.Header
	limits  *rateLimits // shared with the fresh view
}

// rateLimits are the hosts that asked us to wait.
type rateLimits struct {
	mu      sync.Mutex
	blocked map[string]time.Time // host -> no requests before
}

// fresh is f asking the sources again (conditionally) instead of using
// answers younger than the TTL: for re-checking a tag within its grace.
func (f *fetcher) fresh() *fetcher {
	c := *f
	c.ttl = 0
	return &c
}

// get returns the body of rawURL, from the cache while fresh, revalidated
// after the TTL, and from the stale cache when the source fails or rate
// limits us. A 404 is errNotFound (and cached as such).
func (f *fetcher) get(ctx context.Context, rawURL string) (storage.SignalDoc, error) {
	now := f.now()
	cached, cerr := f.cache.GetSignalDoc(ctx, rawURL)
	have := cerr == nil
	if have && now.Sub(cached.FetchedAt) < f.ttl {
		return docOrNotFound(cached)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return storage.SignalDoc{}, err
	}
	if until := f.blockedUntil(u.Host); now.Before(until) {
		if have {
			return docOrNotFound(cached)
		}
		return storage.SignalDoc{}, fmt.Errorf("%w by %s until %s", errRateLimited, u.Host, until.UTC().Format(time.RFC3339))
	}
	doc, err := f.fetch(ctx, u, cached, have)
	if err != nil {
		if have && !errors.Is(err, errNotFound) {
			return docOrNotFound(cached) // stale beats unknown
		}
		return storage.SignalDoc{}, err
	}
	f.cache.PutSignalDoc(ctx, rawURL, doc)
	return docOrNotFound(doc)
}

func docOrNotFound(d storage.SignalDoc) (storage.SignalDoc, error) {
	if d.Status == http.StatusNotFound {
		return d, errNotFound
	}
	return d, nil
}

func (f *fetcher) blockedUntil(host string) time.Time {
	f.limits.mu.Lock()
	defer f.limits.mu.Unlock()
	return f.limits.blocked[host]
}

func (f *fetcher) block(host string, until time.Time) {
	l := f.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.blocked == nil {
		l.blocked = map[string]time.Time{}
	}
	if until.After(l.blocked[host]) {
		l.blocked[host] = until
	}
}

func (f *fetcher) fetch(ctx context.Context, u *url.URL, cached storage.SignalDoc, have bool) (storage.SignalDoc, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return storage.SignalDoc{}, err
	}
	req.Header.Set("Accept", "application/json")
	if f.headers != nil {
		for k, v := range f.headers(u.Host) {
			req.Header[k] = v
		}
	}
	if have && cached.Status == http.StatusOK {
		if cached.Validators.ETag != "" {
			req.Header.Set("If-None-Match", cached.Validators.ETag)
		}
		if cached.Validators.LastModified != "" {
			req.Header.Set("If-Modified-Since", cached.Validators.LastModified)
		}
	}
	resp, err := f.http.Do(req)
	if err != nil {
		return storage.SignalDoc{}, fmt.Errorf("%s: %w", u.Host, redactErr(err))
	}
	defer resp.Body.Close()
	f.noteRateLimit(u.Host, resp)
	doc := storage.SignalDoc{Status: resp.StatusCode, FetchedAt: f.now().UTC(), Link: resp.Header.Get("Link"),
		Validators: storage.Validators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}}
	switch {
	case resp.StatusCode == http.StatusNotModified && have:
		cached.FetchedAt = doc.FetchedAt
		return cached, nil
	case resp.StatusCode == http.StatusNotFound:
		return doc, nil
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests:
		return storage.SignalDoc{}, fmt.Errorf("%w: %s answered %s", errRateLimited, u.Host, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return storage.SignalDoc{}, fmt.Errorf("%s answered %s", u.Host, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBody+1))
	if err != nil {
		return storage.SignalDoc{}, fmt.Errorf("%s: reading: %w", u.Host, redactErr(err))
	}
	if int64(len(body)) > f.maxBody {
		return storage.SignalDoc{}, fmt.Errorf("%s: response larger than %d bytes", u.Host, f.maxBody)
	}
	doc.Body = body
	return doc, nil
}

// noteRateLimit honours Retry-After on 403/429 and X-RateLimit-Remaining: 0
// with X-RateLimit-Reset, as GitHub sends them.
func (f *fetcher) noteRateLimit(host string, resp *http.Response) {
	now := f.now()
	if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests {
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			if secs, err := strconv.Atoi(ra); err == nil {
				f.block(host, now.Add(time.Duration(secs)*time.Second))
			} else if t, err := http.ParseTime(ra); err == nil {
				f.block(host, t)
			}
		} else if resp.StatusCode == http.StatusTooManyRequests {
			f.block(host, now.Add(time.Minute))
		}
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			f.block(host, time.Unix(reset, 0))
		}
	}
}

// nextLink returns the rel="next" URL of a Link header.
func nextLink(link string) string {
	for _, part := range strings.Split(link, ",") {
		segs := strings.Split(part, ";")
		if len(segs) < 2 {
			continue
		}
		for _, p := range segs[1:] {
			if strings.TrimSpace(p) == `rel="next"` {
				return strings.Trim(strings.TrimSpace(segs[0]), "<>")
			}
		}
	}
	return ""
}

func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
