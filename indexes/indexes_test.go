package indexes

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
	r := NewRouter(ctx, public, []*Index{internal}, store, zerolog.Nop())
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
	r = NewRouter(ctx, public, []*Index{internal2}, store, zerolog.Nop())
	r.Refresh(context.Background()) // fails: keeps what it learned
	if r.For("acme-tools") != internal2 || r.ByName("internal") != internal2 || r.ByName("") != public {
		t.Error("after a restart with the private index down, its names went public")
	}
	var nilRouter *Router
	if nilRouter.For("x") != nil {
		t.Error("a nil router routes")
	}
}
