package simpleapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
	"airlock/policy"
)

// A release the upstream deletes (as PyPI does with malicious ones) is no
// longer served from the store by default; its bytes are kept and the
// removal recorded. With on_upstream_removed: keep it is served as before.
// A yanked file is not a removal.
func TestReleaseRemovedUpstream(t *testing.T) {
	ctx := t.Context()
	for _, keep := range []bool{false, true} {
		h := newHarness(t)
		if keep {
			h.rules.Default.Actions = map[string]policy.Action{policy.CheckUpstreamRemoved: policy.Allow}
			h.http.Close()
			h.store.Close()
			h.open()
		}
		gone := h.fake.AddWheel(fakepypi.WheelSpec{Name: "gone", Version: "1.0"}, uploaded)
		yanked := h.fake.AddWheel(fakepypi.WheelSpec{Name: "gone", Version: "0.9"}, uploaded)
		for _, d := range []*fakepypi.Dist{gone, yanked} {
			if resp, _ := h.get(fileURL(d)); resp.StatusCode != 200 {
				t.Fatalf("before: %s", resp.Status)
			}
		}
		h.fake.Remove(gone)
		h.fake.SetYanked(yanked, "broken build")
		h.advance(2 * time.Minute) // past the page's TTL
		_, page := h.jsonPage("gone")
		if f := fileByName(page, gone.Filename); f != nil {
			t.Errorf("keep=%v: a removed file is still listed", keep)
		}
		resp, body := h.get(fileURL(gone))
		rec, err := h.store.GetFile(ctx, "gone", gone.Filename)
		if err != nil || rec.RemovedAt.IsZero() || !h.store.HasBlob(ctx, gone.SHA256()) {
			t.Errorf("keep=%v: removal not recorded or bytes lost: %+v %v", keep, rec, err)
		}
		if keep {
			if resp.StatusCode != 200 {
				t.Errorf("keep: removed file refused: %s", resp.Status)
			}
		} else if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Status, "removed by the upstream") {
			t.Errorf("block: removed file: %s %s", resp.Status, body)
		}
		if resp, _ := h.get(fileURL(yanked)); resp.StatusCode != 200 {
			t.Errorf("keep=%v: a yanked file was treated as removed: %s", keep, resp.Status)
		}
	}
}
