package route

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"airlock/internal/fakepypi"
	"airlock/internal/storetest"
	"airlock/upstream"
)

func client(t *testing.T, fake *fakepypi.Server) *upstream.Client {
	u, _ := url.Parse(fake.Index.URL)
	return upstream.New(upstream.Options{BaseURL: u, Timeout: time.Second, MaxPageBytes: 1 << 20, Retries: 1})
}

// A private index owns its patterns and the names its list shows; the
// names it listed survive a restart while it is down, so none of them is
// handed to the public upstream meanwhile.
func TestOwnership(t *testing.T) {
	ctx := t.Context()
	private := fakepypi.New()
	defer private.Close()
	private.AddWheel(fakepypi.WheelSpec{Name: "Acme_Tools", Version: "1.0"}, time.Now())
	dir := t.TempDir()
	store, err := storetest.Open(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	public := &Index{}
	internal := &Index{Name: "internal", Client: client(t, private), Patterns: []string{"corp-*", "torchtriton"}}
	r := NewRouter(ctx, public, []*Index{internal}, store, nil, zerolog.Nop())
	for name, want := range map[string]*Index{"torchtriton": internal, "corp-x": internal, "acme-tools": public, "requests": public} {
		if got := r.For(name); got != want {
			t.Errorf("before the list: %s -> %q", name, got.Name)
		}
	}
	r.Refresh(context.Background())
	if r.For("acme-tools") != internal {
		t.Error("a name the private index lists is not owned")
	}
	store.Close()

	// Restart with the private index down: the learned name stays owned.
	private.Close()
	store, err = storetest.Open(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	internal2 := &Index{Name: "internal", Client: internal.Client, Patterns: internal.Patterns}
	r = NewRouter(ctx, public, []*Index{internal2}, store, nil, zerolog.Nop())
	r.Refresh(context.Background()) // fails: keeps what it learned
	if r.For("acme-tools") != internal2 || r.ByName("internal") != internal2 || r.ByName("") != public {
		t.Error("after a restart with the private index down, its names went public")
	}
	var nilRouter *Router
	if nilRouter.For("x") != nil {
		t.Error("a nil router routes")
	}
}

type events struct{ kinds []string }

func (e *events) NotifyEvent(kind, project string, details map[string]any) {
	e.kinds = append(e.kinds, kind)
}

// A name owned because the private list showed it is not forgotten when a
// later list lacks it: a list that drops one keeps it owned (and says so
// once), a list that comes back empty or drops most names is not believed
// (a security event), and only an operator's release, audited, gives a
// name to the public upstream.
func TestOwnedNamesOutliveTheList(t *testing.T) {
	ctx := t.Context()
	private := fakepypi.New()
	defer private.Close()
	var dists []*fakepypi.Dist
	for _, n := range []string{"alpha", "beta", "gamma", "delta"} {
		dists = append(dists, private.AddWheel(fakepypi.WheelSpec{Name: n, Version: "1.0"}, time.Now()))
	}
	store, err := storetest.Open(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	public := &Index{}
	internal := &Index{Name: "internal", Client: client(t, private), Patterns: []string{"corp-*"}}
	ev := &events{}
	r := NewRouter(ctx, public, []*Index{internal}, store, ev, zerolog.Nop())
	r.Refresh(ctx)
	owned := func() []string { return r.Owned()["internal"] }
	if len(owned()) != 4 {
		t.Fatalf("owned after the first list: %v", owned())
	}

	private.Remove(dists[3]) // one name dropped: kept, said once
	r.Refresh(ctx)
	r.Refresh(ctx)
	if r.For("delta") != internal || len(ev.kinds) != 1 || ev.kinds[0] != "private_index_names_dropped" {
		t.Errorf("a dropped name: owner %q, events %v", r.For("delta").Name, ev.kinds)
	}
	for _, d := range dists[:3] { // the index comes back empty
		private.Remove(d)
	}
	r.Refresh(ctx)
	if len(owned()) != 4 || r.For("alpha") != internal || ev.kinds[len(ev.kinds)-1] != "private_index_list_unbelievable" {
		t.Errorf("an empty list: owned %v, events %v", owned(), ev.kinds)
	}
	private.SetFault("/simple/", fakepypi.Fault{Garbage: true}) // a 200 that is not an index page
	r.Refresh(ctx)
	if len(owned()) != 4 {
		t.Errorf("a garbage list: owned %v", owned())
	}
	private.SetFault("/simple/", fakepypi.Fault{})

	// Release: audited; a pattern's name and an unknown one are refused.
	if err := r.Release(ctx, "internal", "Delta", "admin:alice", "127.0.0.1", "moved to PyPI"); err != nil {
		t.Fatal(err)
	}
	if r.For("delta") != public || len(owned()) != 3 {
		t.Errorf("released: owner %q, owned %v", r.For("delta").Name, owned())
	}
	audit, _ := store.Audit(ctx, 1, nil)
	if len(audit) != 1 || audit[0].Project != "delta" || audit[0].To != "released" || audit[0].Actor != "admin:alice" || audit[0].Reason != "moved to PyPI" {
		t.Errorf("audit: %+v", audit)
	}
	if err := r.Release(ctx, "internal", "corp-x", "a", "", "r"); err == nil {
		t.Error("released a name a pattern owns")
	}
	if err := r.Release(ctx, "internal", "unknown", "a", "", "r"); err == nil {
		t.Error("released a name the index does not own")
	}
	if err := r.Release(ctx, "nosuch", "alpha", "a", "", "r"); err == nil {
		t.Error("released from an index that does not exist")
	}
	// A restart keeps what is owned, and nothing released comes back.
	r2 := NewRouter(ctx, public, []*Index{{Name: "internal", Client: internal.Client}}, store, nil, zerolog.Nop())
	if got := r2.Owned()["internal"]; len(got) != 3 || r2.For("delta") != public {
		t.Errorf("after a restart: %v", got)
	}
}
