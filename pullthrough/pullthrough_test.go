package pullthrough_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"airlock/index"
	"airlock/internal/fakepypi"
	"airlock/internal/storetest"
	"airlock/internal/testclock"
	"airlock/metrics"
	"airlock/pullthrough"
	"airlock/storage"
	"airlock/upstream"
)

var uploaded = time.Date(2024, 10, 8, 20, 17, 29, 0, time.UTC)

type recorder struct {
	mu               sync.Mutex
	read, changed    []string
	changedFileCount []int
}

func (r *recorder) PageRead(p *index.Page) {
	r.mu.Lock()
	r.read = append(r.read, p.Name)
	r.mu.Unlock()
}
func (r *recorder) PageChanged(_ context.Context, p *index.Page) {
	r.mu.Lock()
	r.changed = append(r.changed, p.Name)
	r.changedFileCount = append(r.changedFileCount, len(p.Files))
	r.mu.Unlock()
}
func (r *recorder) Confusion(context.Context, string, string, []string) {}

// The cache alone, on a real store, in front of a fake PyPI: pages are
// fetched once while fresh and revalidated after, what it learns goes to
// its observers, a fill stores only bytes whose sha256 matched, and a
// project the upstream says is gone becomes an empty page.
func TestPullThroughCache(t *testing.T) {
	ctx := t.Context()
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	good := fake.AddWheel(fakepypi.WheelSpec{Name: "alpha", Version: "1.0"}, uploaded)
	bad := fake.AddWheel(fakepypi.WheelSpec{Name: "alpha", Version: "1.1"}, uploaded)
	store, err := storetest.Open(t, filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := testclock.New(time.Now())
	base, _ := url.Parse(fake.Index.URL)
	m := metrics.New()
	c := pullthrough.New(pullthrough.Options{Store: store, Metrics: m, Log: zerolog.Nop(), Now: clock.Now,
		Upstream: upstream.New(upstream.Options{BaseURL: base, FileHosts: []string{fake.FileHost()}, Timeout: 2 * time.Second,
			MaxPageBytes: 1 << 20, Metrics: m, Retries: 1}),
		PageTTL: time.Minute, PageTimeout: 5 * time.Second, FillTimeout: 10 * time.Second, MaxFileBytes: 64 << 20, MaxMetaBytes: 1 << 20})
	obs := &recorder{}
	c.Subscribe(obs)

	e, err := c.Page(ctx, "alpha")
	if err != nil || len(e.Cached.Page.Files) != 2 {
		t.Fatalf("page: %v %v", e, err)
	}
	c.Page(ctx, "alpha") // fresh: from memory
	if n := fake.Hits("/simple/alpha/"); n != 1 {
		t.Errorf("a fresh page was fetched %d times", n)
	}
	if len(obs.changed) != 1 || len(obs.read) != 1 {
		t.Errorf("observers after one fetch: read %v, changed %v", obs.read, obs.changed)
	}

	t1, err := c.TargetFor(&e.Cached.Page, good.Filename, false)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := c.Fill(ctx, t1)
	if err != nil || rec.SHA256 != good.SHA256() {
		t.Fatalf("fill: %+v %v", rec, err)
	}
	if _, ok := c.Stored(ctx, "alpha", t1.File); !ok {
		t.Error("a verified fill is not stored")
	}
	fake.SetFault("/packages/"+bad.SHA256()[:8]+"/"+bad.Filename, fakepypi.Fault{WrongBody: make([]byte, len(bad.Data))} /* as long as the published file, other bytes */)
	t2, _ := c.TargetFor(&e.Cached.Page, bad.Filename, false)
	if _, err := c.Fill(ctx, t2); !errors.Is(err, storage.ErrHashMismatch) {
		t.Errorf("tampered fill: %v", err)
	}
	if _, ok := c.Stored(ctx, "alpha", t2.File); ok || store.HasBlob(ctx, bad.SHA256()) {
		t.Error("bytes that did not match were stored")
	}

	// The upstream says the project is gone: its page becomes empty, and
	// the observers hear of it.
	fake.SetFault("/simple/alpha/", fakepypi.Fault{Status: http.StatusNotFound})
	clock.Advance(2 * time.Minute)
	e, err = c.Page(ctx, "alpha")
	if err != nil || len(e.Cached.Page.Files) != 0 {
		t.Fatalf("a project gone: %d files, %v", len(e.Cached.Page.Files), err)
	}
	if len(obs.changedFileCount) != 2 || obs.changedFileCount[1] != 0 {
		t.Errorf("observers did not hear the project is gone: %v", obs.changedFileCount)
	}
}
