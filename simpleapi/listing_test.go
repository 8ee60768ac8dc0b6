package simpleapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"airlock/gate"
	"airlock/internal/fakepypi"
	"airlock/internal/testclock"
	"airlock/policy"
	"airlock/quarantine"
	"airlock/storage"
)

// decisionsDown is a store whose page-wide decision read fails on demand.
type decisionsDown struct {
	quarantine.Store
	down *atomic.Bool
}

func (d decisionsDown) DecisionsOf(ctx context.Context, shas []string) (map[string]storage.DecisionRecord, error) {
	if d.down.Load() {
		return nil, errors.New("decisions unreadable")
	}
	return d.Store.DecisionsOf(ctx, shas)
}

// A page whose decisions cannot be read offers nothing installable: every
// file is listed yanked with "could not evaluate the policy" (fail closed),
// and once the store answers the page is as before.
func TestListingFailsClosedWhenDecisionsCannotBeRead(t *testing.T) {
	var down atomic.Bool
	var q *quarantine.Service
	h := newHarness(t, func(o *gate.Options, _ *fakepypi.Server) {
		engine, err := policy.NewEngine(policy.DefaultRules())
		if err != nil {
			t.Fatal(err)
		}
		q = quarantine.New(decisionsDown{Store: o.Store.(quarantine.Store), down: &down}, engine, nil, o.Now, zerolog.Nop())
		o.Quarantine = q
	})
	const accept = "application/vnd.pypi.simple.v1+json"
	_, body := h.get("/simple/alpha/", "Accept", accept)
	if strings.Contains(string(body), "could not evaluate") || !strings.Contains(string(body), `"filename":"alpha-1.0-py3-none-any.whl"`) {
		t.Fatalf("store up: %s", body)
	}
	down.Store(true)
	q.Invalidate()
	_, body = h.get("/simple/alpha/", "Accept", accept)
	files := strings.Count(string(body), `"filename":`)
	if held := strings.Count(string(body), `"yanked":"held by Airlock: could not evaluate the policy"`); files != 3 || held != files {
		t.Errorf("decisions unreadable: %d of %d files yanked, want all 3:\n%s", held, files, body)
	}
	down.Store(false)
	q.Invalidate()
	if _, body = h.get("/simple/alpha/", "Accept", accept); strings.Contains(string(body), "could not evaluate") {
		t.Errorf("store back: %s", body)
	}
}

// A page too large for the page cache is rendered per request in the form
// the request needs; both forms say the same, with the same validators as
// a kept page's (plain ETag, and the gzip form's with -gz).
func TestPageTooLargeToKeepRendersEachForm(t *testing.T) {
	get := func(h *harness, enc, inm string) (*http.Response, []byte) {
		return h.get("/simple/alpha/", "Accept", "application/vnd.pypi.simple.v1+json", "Accept-Encoding", enc, "If-None-Match", inm)
	}
	kept := newHarness(t)
	small := newHarness(t, func(o *gate.Options, _ *fakepypi.Server) { o.PageCacheBytes = 1 })
	for _, h := range []*harness{kept, small} {
		h.time = testclock.New(kept.clock()) // one time: the same decisions on both
	}
	keptPlain, want := get(kept, "identity", "")
	keptGz, _ := get(kept, "gzip", "")
	plain, body := get(small, "identity", "")
	gz, gzBody := get(small, "gzip", "")
	if plain.StatusCode != 200 || plain.Header.Get("Content-Encoding") != "" || string(body) != string(want) {
		t.Fatalf("plain form: %d %q\n%s\nwant\n%s", plain.StatusCode, plain.Header.Get("Content-Encoding"), body, want)
	}
	if gz.StatusCode != 200 || gz.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip form: %d %q", gz.StatusCode, gz.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gzBody))
	if err != nil {
		t.Fatal(err)
	}
	if unzipped, _ := io.ReadAll(zr); string(unzipped) != string(want) {
		t.Errorf("gzip form differs:\n%s\nwant\n%s", unzipped, want)
	}
	if plain.Header.Get("ETag") != keptPlain.Header.Get("ETag") || gz.Header.Get("ETag") != keptGz.Header.Get("ETag") ||
		!strings.HasSuffix(gz.Header.Get("ETag"), `-gz"`) {
		t.Errorf("validators: %q %q, kept page's %q %q", plain.Header.Get("ETag"), gz.Header.Get("ETag"),
			keptPlain.Header.Get("ETag"), keptGz.Header.Get("ETag"))
	}
	if r, _ := get(small, "gzip", gz.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
		t.Errorf("revalidating the gzip form: %d", r.StatusCode)
	}
	if r, _ := get(small, "identity", plain.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
		t.Errorf("revalidating the plain form: %d", r.StatusCode)
	}
}
