package simpleapi

import (
	"net/http"
	"testing"

	"airlock/internal/fakepypi"
)

// Every file served is recorded with the client's address and user agent;
// metadata, HEAD requests and refusals are not downloads.
func TestDownloadsAreRecorded(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t)
	d := h.fake.AddWheel(fakepypi.WheelSpec{Name: "rec", Version: "1.0"}, uploaded)
	ua := "pip/26.3 {\"ci\":true,\"implementation\":{\"name\":\"CPython\"}}"
	if resp, _ := h.get(fileURL(d), "User-Agent", ua); resp.StatusCode != 200 {
		t.Fatalf("file: %s", resp.Status)
	}
	if resp, _ := h.get(fileURL(d), "Range", "bytes=0-9"); resp.StatusCode != http.StatusPartialContent {
		t.Fatalf("range: %s", resp.Status)
	}
	h.get(fileURL(d) + ".metadata")
	req, _ := http.NewRequest(http.MethodHead, h.http.URL+fileURL(d), nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	h.downloads.Close() // flush
	recs, err := h.store.DownloadsOf(ctx, d.SHA256())
	if err != nil || len(recs) != 2 {
		t.Fatalf("records: %d, %v; want the download and the range read", len(recs), err)
	}
	if r := recs[0]; r.Client != "127.0.0.1" || r.UserAgent != ua || r.Filename != d.Filename || r.Project != "rec" || r.Status != 200 || r.Bytes != int64(len(d.Data)) {
		t.Errorf("record: %+v", r)
	}
	if recs[1].Status != http.StatusPartialContent || recs[1].Bytes != 10 {
		t.Errorf("range record: %+v", recs[1])
	}
	if n, err := h.store.DownloadsServed(ctx, h.clock().Add(-24*60*60*1e9)); err != nil || n != 1 {
		t.Errorf("downloads served: %d, %v; want 1 (a range read is not a download)", n, err)
	}
}
