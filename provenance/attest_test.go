package provenance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/index"
	"airlock/internal/storetest"
	"airlock/policy"
	"airlock/upstream"
	"airlock/verify"
)

// fakeFetcher serves provenance by URL and counts requests.
type fakeFetcher struct {
	mu    sync.Mutex
	docs  map[string][]byte
	fail  map[string]error
	calls map[string]int
}

func (f *fakeFetcher) FetchProvenance(_ context.Context, u string, _ int64) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[u]++
	if err := f.fail[u]; err != nil {
		return nil, err
	}
	if d, ok := f.docs[u]; ok {
		return d, nil
	}
	return nil, upstream.ErrNotFound
}

func fixture(t *testing.T, name string) []byte {
	dir := os.Getenv("PEP740_FIXTURES_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "fixtures", "pep740")
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hexsum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// world: abi3info releases 2024.9.0 (no provenance), 2024.10.3 (attested),
// 2024.10.5 (no provenance), 2024.10.8, 2024.11.0rc1 (yanked), on an index
// that does or does not speak PEP 740.
func world(t *testing.T, known bool) (*Gatherer, *fakeFetcher, *index.Page) {
	t.Helper()
	v, err := verify.NewVerifierFromJSON(verify.PublicGoodTrustedRoot())
	if err != nil {
		t.Fatal(err)
	}
	whl := "abi3info-2024.10.3-py3-none-any.whl"
	provURL := "https://up.example/integrity/abi3info/2024.10.3/" + whl + "/provenance"
	f := &fakeFetcher{docs: map[string][]byte{provURL: fixture(t, whl+".provenance")}, fail: map[string]error{}, calls: map[string]int{}}
	page := &index.Page{Name: "abi3info", ProvenanceKnown: known, Files: []index.File{
		{Filename: "abi3info-2024.9.0-py3-none-any.whl", Hashes: index.Sha256(strings.Repeat("1", 64))},
		{Filename: whl, Hashes: index.Sha256(hexsum(fixture(t, whl)))},
		{Filename: "abi3info-2024.10.5-py3-none-any.whl", Hashes: index.Sha256(strings.Repeat("5", 64))},
		{Filename: "abi3info-2024.10.8-py3-none-any.whl", Hashes: index.Sha256(hexsum(fixture(t, "abi3info-2024.10.8-py3-none-any.whl")))},
		{Filename: "abi3info-2024.11.0rc1-py3-none-any.whl", Yanked: true, Hashes: index.Sha256(strings.Repeat("9", 64))},
	}}
	if known {
		page.Files[1].Provenance = provURL
	}
	store, err := storetest.Open(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	base, _ := url.Parse("https://up.example")
	return New(f, base, v, store), f, page
}

func TestPriorWalksBackToTheLastAttestedRelease(t *testing.T) {
	for _, known := range []bool{true, false} {
		g, f, page := world(t, known)
		for _, version := range []string{"2024.10.8", "2024.10.5", "2024.11.0"} {
			prior, err := g.Prior(context.Background(), page, version)
			if err != nil || prior == nil || prior.Version != "2024.10.3" || prior.Publisher != "github:woodruffw/abi3info:release.yml" {
				t.Errorf("known=%v %s: prior %+v, %v", known, version, prior, err)
			}
		}
		for _, version := range []string{"2024.10.3", "2024.9.0", "not-a-version"} {
			if prior, err := g.Prior(context.Background(), page, version); err != nil || prior != nil {
				t.Errorf("known=%v %s: prior %+v, %v; want none", known, version, prior, err)
			}
		}
		// Verified once, remembered: the provenance was fetched once.
		for u, n := range f.calls {
			if n != 1 {
				t.Errorf("known=%v: %s fetched %d times", known, u, n)
			}
		}
	}
}

func TestForFile(t *testing.T) {
	g, f, page := world(t, true)
	ctx := context.Background()
	a, err := g.ForFile(ctx, page, page.Files[1])
	if err != nil || a.Status != policy.AttestationVerified || a.Identity["build_config_uri"] == "" {
		t.Fatalf("attested: %+v %v", a, err)
	}
	if a, _ := g.ForFile(ctx, page, page.Files[3]); a.Status != policy.AttestationMissing || len(f.calls) != 1 {
		t.Errorf("index says none: %+v, %d fetches", a, len(f.calls))
	}

	// The provenance of another release, served for this file: invalid.
	g2, f2, page2 := world(t, true)
	page2.Files[3].Provenance = page2.Files[1].Provenance
	if a, _ := g2.ForFile(ctx, page2, page2.Files[3]); a.Status != policy.AttestationInvalid || !strings.Contains(a.Error, "digest") {
		t.Errorf("wrong provenance: %+v", a)
	}
	_ = f2

	// A fetch failure is an error (the gate holds), and is not remembered.
	g3, f3, page3 := world(t, true)
	f3.fail[page3.Files[1].Provenance] = upstream.ErrUnavailable
	if _, err := g3.ForFile(ctx, page3, page3.Files[1]); !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("fetch failure: %v", err)
	}
	delete(f3.fail, page3.Files[1].Provenance)
	if a, err := g3.ForFile(ctx, page3, page3.Files[1]); err != nil || a.Status != policy.AttestationVerified {
		t.Errorf("after recovery: %+v %v", a, err)
	}
	// Oversized provenance is invalid, not missing.
	g4, f4, page4 := world(t, true)
	f4.fail[page4.Files[1].Provenance] = upstream.ErrTooLarge
	if a, _ := g4.ForFile(ctx, page4, page4.Files[1]); a.Status != policy.AttestationInvalid {
		t.Errorf("oversized: %+v", a)
	}
}

// A page's release index lives as long as the page and never longer: it
// must not keep a 200,000-file page alive after the page cache let it go.
func TestPageIndexDiesWithItsPage(t *testing.T) {
	g, _, page := world(t, true)
	if _, err := g.Prior(context.Background(), page, "2024.10.8"); err != nil {
		t.Fatal(err)
	}
	if n := g.indexedPages(); n != 1 {
		t.Fatalf("%d indexes after one page, want 1", n)
	}
	copyOfPage := *page // a refreshed page is a new object with a new index
	if _, err := g.Prior(context.Background(), &copyOfPage, "2024.10.8"); err != nil {
		t.Fatal(err)
	}
	if n := g.indexedPages(); n != 2 {
		t.Fatalf("%d indexes after two pages, want 2", n)
	}
	runtime.KeepAlive(page)
	runtime.KeepAlive(&copyOfPage)
	page = nil
	// Cleanups run on their own goroutine after a collection.
	for i := 0; i < 200 && g.indexedPages() > 0; i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	if n := g.indexedPages(); n != 0 {
		t.Errorf("%d indexes alive after their pages were collected", n)
	}
}
