package gate_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"airlock/gate"
	"airlock/inspect"
	"airlock/internal/fakepypi"
	"airlock/internal/storetest"
	"airlock/internal/testclock"
	"airlock/metrics"
	"airlock/policy"
	"airlock/pullthrough"
	"airlock/quarantine"
	"airlock/upstream"
)

var uploaded = time.Date(2024, 10, 8, 20, 17, 29, 0, time.UTC)

// newGate is a gate on a real store (bbolt, or PostgreSQL in the second
// pass) in front of a fake PyPI, with no HTTP server of Airlock's own: the
// decisions are called as simpleapi calls them.
func newGate(t *testing.T, fake *fakepypi.Server, now func() time.Time, with ...func(*gate.Options)) *gate.Gate {
	t.Helper()
	store, err := storetest.Open(t, filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	engine, err := policy.NewEngine(policy.DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	q := quarantine.New(store, engine, nil, now, zerolog.Nop())
	base, _ := url.Parse(fake.Index.URL)
	m := metrics.New()
	opt := gate.Options{
		Store: store,
		Options: pullthrough.Options{
			Upstream: upstream.New(upstream.Options{BaseURL: base, FileHosts: []string{fake.FileHost()},
				Timeout: 2 * time.Second, MaxPageBytes: 1 << 20, Metrics: m, Retries: 1}),
			Metrics: m, Log: zerolog.Nop(), PageTTL: time.Minute, PageTimeout: 5 * time.Second,
			FillTimeout: 10 * time.Second, MaxFileBytes: 64 << 20, MaxMetaBytes: 1 << 20, Now: now,
		},
		Quarantine: q, Inspect: true, InspectLimits: inspect.DefaultLimits(),
		Background: gate.Background{Workers: 1},
	}
	for _, w := range with {
		w(&opt)
	}
	return gate.New(opt)
}

func TestFileRequests(t *testing.T) {
	ctx := t.Context()
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	clean := fake.AddWheel(fakepypi.WheelSpec{Name: "alpha", Version: "1.0"}, uploaded)
	poisoned := fake.AddWheel(fakepypi.WheelSpec{Name: "alpha", Version: "1.1",
		Extra: map[string]string{"alpha_init.pth": "import os, base64; exec(base64.b64decode('cHJpbnQoMSk='))\n"}}, uploaded.Add(time.Hour))
	clock := testclock.New(time.Now())
	g := newGate(t, fake, clock.Now)

	// Cold: downloaded, verified, decided, served.
	ans, err := g.File(ctx, gate.FileRequest{Project: "alpha", Filename: clean.Filename})
	if err != nil || !ans.View.Serve || ans.Record.SHA256 != clean.SHA256() || ans.Meta {
		t.Fatalf("clean file: %+v %v", ans, err)
	}
	// Its metadata: the metadata's own record.
	ans, err = g.File(ctx, gate.FileRequest{Project: "alpha", Filename: clean.Filename + gate.MetadataSuffix})
	if err != nil || !ans.View.Serve || !ans.Meta || ans.Record.Filename != clean.Filename+gate.MetadataSuffix {
		t.Fatalf("metadata: %+v %v", ans, err)
	}
	// The download brings the evidence: refused, with the reason.
	ans, err = g.File(ctx, gate.FileRequest{Project: "alpha", Filename: poisoned.Filename})
	if err != nil || ans.View.Serve || !strings.Contains(ans.View.Decision.Summary(), "pth-exec in alpha_init.pth") {
		t.Fatalf("poisoned file: %+v %v", ans.View, err)
	}
	if _, err := g.File(ctx, gate.FileRequest{Project: "alpha", Filename: "alpha-9.9-py3-none-any.whl"}); !errors.Is(err, gate.ErrNotListed) {
		t.Errorf("a file the page does not list: %v", err)
	}
	// The upstream down: the page last read stands in for it; a stored
	// file is served as decided, the poisoned one stays refused, and what
	// the page does not list is not served.
	fake.SetFault("/simple/alpha/", fakepypi.Fault{Status: http.StatusServiceUnavailable})
	clock.Advance(2 * time.Minute) // past the page's time to live
	if ans, err := g.File(ctx, gate.FileRequest{Project: "alpha", Filename: clean.Filename}); err != nil || !ans.View.Serve {
		t.Errorf("stored clean file with the upstream down: %v %v", ans.View.Decision.Summary(), err)
	}
	if ans, err := g.File(ctx, gate.FileRequest{Project: "alpha", Filename: poisoned.Filename}); err != nil || ans.View.Serve {
		t.Errorf("poisoned file with the upstream down: %v %v", ans.View.Decision.Summary(), err)
	}
	if _, err := g.File(ctx, gate.FileRequest{Project: "alpha", Filename: "alpha-9.9-py3-none-any.whl"}); !errors.Is(err, gate.ErrNotListed) {
		t.Errorf("a file never listed: %v", err)
	}
	fake.SetFault("/simple/alpha/", fakepypi.Fault{})

	// Bytes the upstream changed under a stored name are refused before
	// anything is downloaded.
	fake.Replace(clean.Filename, append([]byte(nil), poisoned.Data...))
	clock.Advance(2 * time.Minute)
	ans, err = g.File(ctx, gate.FileRequest{Project: "alpha", Filename: clean.Filename})
	if err != nil || ans.View.Serve || !strings.Contains(ans.View.Decision.Summary(), "the upstream now lists different bytes") {
		t.Errorf("bytes changed under a stored name: %v %v", ans.View.Decision.Summary(), err)
	}
	if n := fake.Hits("/packages/" + clean.SHA256()[:8] + "/" + clean.Filename); n != 0 {
		t.Errorf("the changed bytes were downloaded before the decision (%d times)", n)
	}
}

// Where the upstream has no metadata, a wheel's is made from its verified
// bytes; a wheel with none has nothing to serve.
func TestMetadataFromWheel(t *testing.T) {
	ctx := t.Context()
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	d := fake.AddWheel(fakepypi.WheelSpec{Name: "alpha", Version: "1.0"}, uploaded)
	want := d.Metadata
	d.Metadata = nil
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("alpha/__init__.py")
	w.Write([]byte("x = 1\n"))
	zw.Close()
	broken := &fakepypi.Dist{Project: "alpha", Version: "1.1", Filename: "alpha-1.1-py3-none-any.whl", Data: buf.Bytes(), UploadTime: uploaded}
	fake.Add(broken)
	g := newGate(t, fake, time.Now)

	ans, err := g.File(ctx, gate.FileRequest{Project: "alpha", Filename: d.Filename + gate.MetadataSuffix})
	if err != nil || !ans.View.Serve || !ans.Meta {
		t.Fatalf("metadata made from the wheel: %+v %v", ans.View, err)
	}
	if sum := sha256.Sum256(want); ans.Record.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("the metadata served is not the wheel's METADATA (%s)", ans.Record.SHA256)
	}
	// The wheel itself is stored: its request does not fetch it again.
	if ans, err := g.File(ctx, gate.FileRequest{Project: "alpha", Filename: d.Filename}); err != nil || !ans.View.Serve {
		t.Fatalf("the wheel: %+v %v", ans.View, err)
	}
	if n := fake.Hits("/packages/" + d.SHA256()[:8] + "/" + d.Filename); n != 1 {
		t.Errorf("wheel fetched %d times, want once", n)
	}
	// Asked again, the metadata is the same record, and its decision
	// carries the wheel's checked content (nothing left to work ahead on).
	again, err := g.File(ctx, gate.FileRequest{Project: "alpha", Filename: d.Filename + gate.MetadataSuffix})
	if err != nil || !again.View.Serve || again.Record.SHA256 != ans.Record.SHA256 || again.View.Inputs.Content == nil {
		t.Errorf("metadata asked again: %+v %v", again, err)
	}
	// A wheel with no METADATA is refused with its reason, and the next
	// listing holds it (the page offered its metadata).
	bad, err := g.File(ctx, gate.FileRequest{Project: "alpha", Filename: broken.Filename + gate.MetadataSuffix})
	if err != nil || bad.View.Serve || !strings.Contains(bad.View.Decision.Summary(), "invalid-wheel") {
		t.Errorf("a wheel with no METADATA: %+v %v", bad.View, err)
	}
	entry, err := g.Page(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	view, _ := g.Listing(ctx, &entry.Cached.Page, false)
	listed := false
	for f := range view.Files() {
		if f.Filename == broken.Filename {
			listed = true
			if !f.Yanked || !strings.Contains(f.YankedReason, "invalid-wheel") {
				t.Errorf("the next page offers the wheel with no METADATA: %+v", f)
			}
		}
	}
	if !listed {
		t.Error("the held wheel is not listed with its reason")
	}
	if _, err := g.File(ctx, gate.FileRequest{Project: "alpha", Filename: "alpha-1.0.tar.gz" + gate.MetadataSuffix}); err == nil {
		t.Error("metadata of a file the page does not list was answered")
	}
}
