package simpleapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"airlock/gate"
	"airlock/internal/fakepypi"
	"airlock/policy"
	"airlock/signals"
)

// newSignalsHarness: project "tagged" links github.com/acme/tagged, which
// tags every release; 1.0 is tagged before its upload, 1.1 (uploaded an
// hour ago) has no tag.
func newSignalsHarness(t *testing.T) (*harness, *fakepypi.Dist, *fakepypi.Dist) {
	t.Helper()
	h := newHarness(t)
	h.rules.Default.Cooldown = 0 // isolate the source-release check
	h.http.Close()
	h.store.Close()
	h.open(func(o *gate.Options, fake *fakepypi.Server) {
		o.Signals = &signals.Assessor{Client: signals.New(signals.Options{PyPIURL: fake.Index.URL, PyPIStatsURL: fake.Stats.URL,
			GitHubAPIURL: fake.GitHub.URL, Timeout: 2 * time.Second, TTL: time.Hour, Cache: o.Store.(signals.Cache), Now: h.clock}),
			Weights: signals.DefaultWeights(), Thresholds: signals.DefaultThresholds(), OnGathered: o.Metrics.CountSignalErrors}
	})
	now := h.clock()
	oldUp := now.Add(-10 * 24 * time.Hour)
	// 0.9 and its tag make "the repository tags its releases" true for 1.0.
	h.fake.AddWheel(fakepypi.WheelSpec{Name: "tagged", Version: "0.9"}, now.Add(-20*24*time.Hour))
	old := h.fake.AddWheel(fakepypi.WheelSpec{Name: "tagged", Version: "1.0"}, oldUp)
	young := h.fake.AddWheel(fakepypi.WheelSpec{Name: "tagged", Version: "1.1"}, now.Add(-10*time.Minute))
	h.fake.SetMeta("tagged", fakepypi.ProjectMeta{Maintainers: []string{"a", "b"}, ProjectURLs: map[string]string{"Source": "https://github.com/acme/tagged"}})
	h.fake.SetDownloads("tagged", 10, 70, 300)
	h.fake.SetRepo("acme/tagged", fakepypi.Repo{CreatedAt: now.Add(-400 * 24 * time.Hour), PushedAt: now, Tags: []fakepypi.FakeTag{
		{Name: "v0.9", Released: now.Add(-20*24*time.Hour - time.Hour)},
		{Name: "v1.0", CommitTime: oldUp.Add(-time.Hour)},
	}})
	return h, old, young
}

func TestSourceReleaseMatch(t *testing.T) {
	ctx := t.Context()
	h, old, young := newSignalsHarness(t)
	if resp, body := h.get(fileURL(old)); resp.StatusCode != 200 {
		t.Fatalf("tagged release: %s %s", resp.Status, body)
	}
	v, _ := h.config.Quarantine.Get(ctx, old.SHA256())
	matched := false
	for _, r := range v.Decision.Reasons {
		matched = matched || (r.Check == policy.CheckSourceRelease && r.Message == "tag v1.0 in acme/tagged matches")
	}
	if !matched || v.Inputs.Signals == nil || v.Inputs.Signals.Tag == nil || v.Inputs.Signals.Tag.How != "commit" {
		t.Errorf("tagged release inputs: %+v", v.Inputs.Signals)
	}
	resp, _ := h.get(fileURL(young))
	if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Status, "403 Held by Airlock (source_release): no tag for 1.1 in acme/tagged") {
		t.Fatalf("untagged release: %s", resp.Status)
	}
	// Within the grace the hold is time-bound; the pipeline pushes the tag
	// 20 minutes after the upload; the sweep at the end of the grace sees it.
	h.fake.AddTag("acme/tagged", fakepypi.FakeTag{Name: "v1.1", Released: young.UploadTime.Add(20 * time.Minute)})
	h.advance(time.Hour)
	if n, err := h.gate.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if resp, _ := h.get(fileURL(young)); resp.StatusCode != 200 {
		t.Errorf("tag pushed within the grace: %s", resp.Status)
	}
}

func TestLateTagDoesNotClear(t *testing.T) {
	ctx := t.Context()
	h, _, young := newSignalsHarness(t)
	if resp, _ := h.get(fileURL(young)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("untagged: %s", resp.Status)
	}
	// The sweep re-checks at the end of the grace: still no tag.
	h.advance(time.Hour)
	h.gate.Sweep(ctx)
	// 16 hours later a tag appears, pointing at an old commit (the Telnyx
	// shape). Airlock looked after the grace and did not see it, so the tag
	// is dated no earlier than that look.
	h.advance(15 * time.Hour)
	h.fake.AddTag("acme/tagged", fakepypi.FakeTag{Name: "v1.1", CommitTime: young.UploadTime.Add(-48 * time.Hour)})
	resp, _ := h.get(fileURL(young))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Status, "after the upload") {
		t.Errorf("late tag cleared the hold: %s", resp.Status)
	}
}

func TestUnknownSourcesAsConfigured(t *testing.T) {
	ctx := t.Context()
	h, _, young := newSignalsHarness(t)
	h.fake.SetFault("/repos/acme/tagged", fakepypi.Fault{Status: 503})
	resp, _ := h.get(fileURL(young))
	v, _ := h.config.Quarantine.Get(ctx, young.SHA256())
	if resp.StatusCode != 200 || resp.Header.Get("X-Airlock-Decision") != "warn" || !strings.Contains(v.Decision.Summary(), "signals unknown: github") {
		t.Errorf("default on_unknown: %s %s", resp.Status, v.Decision.Summary())
	}

	strict, _, young2 := newSignalsHarness(t)
	strict.rules.Default.Actions = map[string]policy.Action{policy.CheckUnknown: policy.Hold}
	strict.http.Close()
	strict.store.Close()
	strict.open(func(o *gate.Options, fake *fakepypi.Server) {
		o.Signals = &signals.Assessor{Client: signals.New(signals.Options{PyPIURL: fake.Index.URL, PyPIStatsURL: fake.Stats.URL,
			GitHubAPIURL: fake.GitHub.URL, Timeout: 2 * time.Second, TTL: time.Hour, Now: strict.clock}), Weights: signals.DefaultWeights(), Thresholds: signals.DefaultThresholds(), OnGathered: o.Metrics.CountSignalErrors}
	})
	strict.fake.SetFault("/repos/acme/tagged", fakepypi.Fault{Status: 503})
	if resp, _ := strict.get(fileURL(young2)); resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Status, "(unknown)") {
		t.Errorf("on_unknown: hold: %s", resp.Status)
	}
}
