package simpleapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"airlock/gate"
	"airlock/internal/fakepypi"
	"airlock/policy"
	"airlock/quarantine"
	"airlock/signals"
)

// TestPageNeverWaitsForDownloadsAndBackgroundChecksCoolingRelease: a page
// view downloads nothing; the release inside its cooldown is queued, the
// queue (which survives a restart) downloads and inspects it, and by the
// time the cooldown ends its payload keeps it held while the release
// before stays installable.
func TestPageNeverWaitsForDownloadsAndBackgroundChecksCoolingRelease(t *testing.T) {
	h := newHarness(t)
	clean := h.fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.7"}, uploaded)
	poisoned := h.fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.8", Extra: pthPayload}, h.clock().Add(-time.Hour))
	_, page := h.jsonPage("litellm")
	if n := h.fake.Hits(upstreamFilePath(poisoned)) + h.fake.Hits(upstreamFilePath(clean)); n != 0 {
		t.Fatalf("a page view downloaded %d distributions", n)
	}
	if f := fileByName(page, poisoned.Filename); f == nil || !strings.Contains(f["yanked"].(string), "cooldown until") {
		t.Fatalf("cooling release: %v", f)
	}
	// A restart loses nothing queued.
	h.http.Close()
	h.store.Close()
	h.open()
	if n := h.gate.RunPending(context.Background()); n != 1 {
		t.Fatalf("background ran %d items, want 1", n)
	}
	if h.fake.Hits(upstreamFilePath(poisoned)) != 1 {
		t.Error("background did not download the cooling release")
	}
	h.advance(8 * 24 * time.Hour) // the cooldown is over
	_, page = h.jsonPage("litellm")
	f := fileByName(page, poisoned.Filename)
	if f == nil || f["yanked"] == nil || !strings.Contains(f["yanked"].(string), "critical pth-exec in litellm_init.pth") {
		t.Fatalf("after its cooldown the poisoned release is listed as installable: %v", f)
	}
	if f := fileByName(page, clean.Filename); f["yanked"] != nil {
		t.Errorf("clean release held: %v", f)
	}
	metrics := h.metrics()
	for _, want := range []string{"airlock_queue_depth 0", `airlock_queue_items_total{outcome="done"} 1`, "airlock_background_fetched_bytes_total"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestCoolingReleaseCheckedWithinItsLead: with a lead, a release days
// from the end of its cooldown is not downloaded (it may be yanked,
// removed or replaced before anyone may have it); the listing is made
// again when the release is due, which queues it, and the check is done
// before the cooldown ends, so the payload holds from its first minute.
func TestCoolingReleaseCheckedWithinItsLead(t *testing.T) {
	h := newHarness(t, func(o *gate.Options, _ *fakepypi.Server) { o.Background.Lead = 24 * time.Hour })
	h.fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.7"}, uploaded)
	poisoned := h.fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.8", Extra: pthPayload}, h.clock().Add(-time.Hour))
	h.jsonPage("litellm")
	if n := h.gate.RunPending(context.Background()); n != 0 || h.fake.Hits(upstreamFilePath(poisoned)) != 0 {
		t.Fatalf("a release six days from its cooldown's end was checked (%d items ran)", n)
	}
	if !strings.Contains(h.metrics(), `airlock_background_skipped_total{reason="not_due"}`) {
		t.Error("the release checked later is not counted as skipped for now")
	}
	h.advance(6*24*time.Hour + time.Minute) // within a day of the cooldown's end
	h.jsonPage("litellm")
	if n := h.gate.RunPending(context.Background()); n != 1 || h.fake.Hits(upstreamFilePath(poisoned)) != 1 {
		t.Fatalf("within its lead the release was not checked (%d items ran)", n)
	}
	h.advance(24 * time.Hour) // the cooldown is over
	h.fake.ResetHits()
	_, page := h.jsonPage("litellm")
	f := fileByName(page, poisoned.Filename)
	if f == nil || f["yanked"] == nil || !strings.Contains(f["yanked"].(string), "critical pth-exec in litellm_init.pth") {
		t.Fatalf("after its cooldown the poisoned release is listed as installable: %v", f)
	}
	if n := h.fake.Hits(upstreamFilePath(poisoned)); n != 0 {
		t.Errorf("the release was downloaded %d more times", n)
	}
}

// TestBackgroundByteBudget: files beyond the per-project budget are left
// for the client's request.
func TestBackgroundByteBudget(t *testing.T) {
	h := newHarness(t, func(o *gate.Options, _ *fakepypi.Server) { o.Background.ProjectBytes = 10 })
	young := h.fake.AddWheel(fakepypi.WheelSpec{Name: "beta", Version: "2.0"}, h.clock().Add(-time.Hour))
	h.jsonPage("beta")
	h.gate.RunPending(context.Background())
	if h.fake.Hits(upstreamFilePath(young)) != 0 {
		t.Error("background went over its byte budget")
	}
	if !strings.Contains(h.metrics(), `airlock_queue_items_total{outcome="skipped"} 1`) {
		t.Error("skipped item not counted")
	}
}

// TestMetadataFirstQueuesContentBeforeReview: pip asks for .metadata
// first; a held release answered from its metadata alone is queued with
// priority, so its content is inspected before a reviewer sees it.
func TestMetadataFirstQueuesContentBeforeReview(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t)
	h.fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.7"}, uploaded)
	poisoned := h.fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.8", Extra: pthPayload}, h.clock().Add(-time.Hour))
	h.fake.ResetHits()
	if resp, _ := h.get(fileURL(poisoned) + ".metadata"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("metadata of a cooling release: %s", resp.Status)
	}
	v, _ := h.config.Quarantine.Get(ctx, poisoned.SHA256())
	if v.Inputs.Content != nil {
		t.Fatalf("content known without the file: %+v", v.Inputs.Content)
	}
	h.gate.RunPending(context.Background())
	v, _ = h.config.Quarantine.Get(ctx, poisoned.SHA256())
	if v.Inputs.Content == nil || len(v.Inputs.Content.New) == 0 || !strings.Contains(v.Decision.Summary(), "critical pth-exec") {
		t.Errorf("after the queued check the decision lacks the content finding: %s", v.Decision.Summary())
	}
}

// TestBaselineIsLastClearedRelease: 1.1 carries a payload and is held;
// 1.2 repeats it. Compared with 1.1 the payload would be "always had";
// the baseline is 1.0, the newest release that cleared the gate, so it is
// new.
func TestBaselineIsLastClearedRelease(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t)
	h.fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.0"}, uploaded)
	bad := h.fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.1", Extra: pthPayload}, uploaded.Add(time.Hour))
	again := h.fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.2", Extra: pthPayload}, uploaded.Add(2*time.Hour))
	if resp, _ := h.get(fileURL(bad)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("1.1: %s", resp.Status)
	}
	resp, _ := h.get(fileURL(again))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Status, "critical pth-exec") {
		t.Errorf("repeated payload: %s", resp.Status)
	}
	v, _ := h.config.Quarantine.Get(ctx, again.SHA256())
	if c := v.Inputs.Content; c == nil || c.PreviousVersion != "1.0" {
		t.Errorf("baseline: %+v", c)
	}
}

// TestTransientErrorRetriesNotSticks: one 500 on an earlier release's
// provenance holds the newest file with a short reason and a retry time
// (no host or port in what a client sees); once the upstream answers, the
// retry lifts it without any client asking for the file. With
// attestations not required the earlier releases are not even asked.
func TestTransientErrorRetriesNotSticks(t *testing.T) {
	ctx := t.Context()
	h, attested, bare := newAttestHarness(t, func(r *policy.Rules) { r.Default.RequireAttestation = policy.RequireNever })
	prov := "/integrity/abi3info/2024.10.3/" + attested.Filename + "/provenance"
	h.fake.SetFault(prov, fakepypi.Fault{Status: 500})
	resp, _ := h.get(fileURL(bare))
	if resp.StatusCode != 200 {
		t.Errorf("require: never, earlier provenance failing: %s", resp.Status)
	}

	h, _, bare = newAttestHarness(t, nil)
	h.fake.SetFault(prov, fakepypi.Fault{Status: 500})
	resp, body := h.get(fileURL(bare))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Status, "could not be checked yet: earlier attestations error; retrying at") {
		t.Fatalf("transient error: %s", resp.Status)
	}
	host := strings.TrimPrefix(h.fake.Index.URL, "http://")
	if strings.Contains(resp.Status, host) || strings.Contains(string(body), host) {
		t.Errorf("client sees the upstream's address: %s\n%s", resp.Status, body)
	}
	v, _ := h.config.Quarantine.Get(ctx, bare.SHA256())
	if v.Decision.Until.IsZero() || !strings.Contains(v.Decision.Reasons[0].Evidence["error"].(string), "answered 500 Internal Server Error") {
		t.Errorf("the hold has no retry time or lost the raw error: %+v", v.Decision)
	}
	h.fake.SetFault(prov, fakepypi.Fault{})
	h.advance(2 * time.Minute)
	h.gate.Sweep(ctx)
	v, _ = h.config.Quarantine.Get(ctx, bare.SHA256())
	if strings.Contains(v.Decision.Summary(), "could not be checked") {
		t.Errorf("after the retry the error still holds: %s", v.Decision.Summary())
	}
	if !strings.Contains(v.Decision.Summary(), "attestation missing") {
		t.Errorf("after the retry: %s (want the real finding: attestation missing)", v.Decision.Summary())
	}
}

// TestMissingSourcesDoNotLengthenCooldown: with pypistats and GitHub
// unreachable, a mainstream project's score rests on part of its weights;
// the risk-adaptive cooldown does not apply, failures are counted per
// source and warned about once.
func TestMissingSourcesDoNotLengthenCooldown(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t)
	h.rules.Default.CooldownBelowScore, h.rules.Default.CooldownBelow, h.rules.Default.CooldownMinConfidence = 50, 14*24*time.Hour, 0.8
	h.http.Close()
	h.store.Close()
	h.open(func(o *gate.Options, fake *fakepypi.Server) {
		o.Signals = &signals.Assessor{Client: signals.New(signals.Options{PyPIURL: fake.Index.URL, PyPIStatsURL: "http://127.0.0.1:9",
			GitHubAPIURL: "http://127.0.0.1:9", Timeout: time.Second, TTL: time.Hour, Cache: o.Store.(signals.Cache), Now: h.clock}),
			Weights: signals.DefaultWeights(), Thresholds: signals.DefaultThresholds(), OnGathered: o.Metrics.CountSignalErrors}
	})
	d := h.fake.AddWheel(fakepypi.WheelSpec{Name: "boto", Version: "1.0"}, h.clock().Add(-8*24*time.Hour))
	h.fake.AddWheel(fakepypi.WheelSpec{Name: "boto", Version: "0.9"}, h.clock().Add(-9*24*time.Hour))
	h.fake.SetMeta("boto", fakepypi.ProjectMeta{Maintainers: []string{"one"}, ProjectURLs: map[string]string{"Source": "https://github.com/acme/boto"}})
	_, page := h.jsonPage("boto")
	if f := fileByName(page, d.Filename); f["yanked"] != nil {
		t.Errorf("a score on missing sources lengthened the cooldown: %v", f["yanked"])
	}
	if resp, _ := h.get(fileURL(d)); resp.StatusCode != 200 {
		t.Errorf("listed file refused: %s", resp.Status)
	}
	v, _ := h.config.Quarantine.Get(ctx, d.SHA256())
	if s := v.Inputs.Signals; s == nil || s.Confidence >= 0.8 || len(s.Missing) == 0 {
		t.Errorf("signals should say they are incomplete: %+v", s)
	}
	// The reviewer sees a partial score and a tag check that could not
	// run (GitHub unreachable), not two checks that passed.
	checks := h.gate.Checks(v)
	partial := false
	for _, c := range checks {
		partial = partial || (c.Check == "score" && (c.Status == gate.StatusPartial || strings.Contains(c.Detail, "partial data")))
	}
	if !partial || !hasCheck(checks, "source_release", gate.StatusCouldNotRun) {
		t.Errorf("checks on partial signals: %+v", checks)
	}
	m := h.metrics()
	if !strings.Contains(m, `airlock_signal_source_errors_total{source="pypistats"}`) {
		t.Error("failing source not counted")
	}
	if n := strings.Count(h.logs.String(), `"reason":"source_pypistats"`); n != 1 {
		t.Errorf("pypistats warned %d times, want once", n)
	}
	// The check that cannot act says so where an operator looks.
	if !strings.Contains(m, `airlock_check_inert{check="signals",reason="source_pypistats"} 1`) {
		t.Error("failing source not in airlock_check_inert")
	}
	if resp, body := h.get("/readyz"); resp.StatusCode != 200 || !strings.Contains(string(body), "warning: signal source pypistats is failing") {
		t.Errorf("readyz: %d %s", resp.StatusCode, body)
	}
}

// TestSweepRereadsMissingTag: after the grace, the sweep keeps looking at
// the repository on a back-off without any client asking, so a tag pushed
// 16 hours after the upload is recorded as late.
func TestSweepRereadsMissingTag(t *testing.T) {
	ctx := t.Context()
	h, _, young := newSignalsHarness(t)
	if resp, _ := h.get(fileURL(young)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("untagged: %s", resp.Status)
	}
	for i := 0; i < 15; i++ { // hourly sweeps for 15 hours
		h.advance(time.Hour)
		h.gate.Sweep(ctx)
	}
	h.fake.AddTag("acme/tagged", fakepypi.FakeTag{Name: "v1.1", CommitTime: young.UploadTime.Add(-48 * time.Hour)})
	for i := 0; i < 6; i++ {
		h.advance(time.Hour)
		h.gate.Sweep(ctx)
	}
	v, _ := h.config.Quarantine.Get(ctx, young.SHA256())
	if v.State != "held" || !strings.Contains(v.Decision.Summary(), "after the upload") {
		t.Errorf("late tag not recorded by the sweep: %s %s", v.State, v.Decision.Summary())
	}
}

func (h *harness) metrics() string {
	h.t.Helper()
	resp, err := http.Get(h.http.URL + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestApprovalRunsWhatHasNotRun: a reviewer approves a release decided from
// its metadata alone (held for its cooldown). The approval first downloads
// and inspects it; its payload is new evidence, so it stays held and the
// reviewer is told. A clean release decided the same way is approved.
func TestApprovalRunsWhatHasNotRun(t *testing.T) {
	h := newHarness(t)
	h.fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.7"}, uploaded)
	poisoned := h.fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.8", Extra: pthPayload}, h.clock().Add(-time.Hour))
	clean := h.fake.AddWheel(fakepypi.WheelSpec{Name: "beta", Version: "2.0"}, h.clock().Add(-time.Hour))
	for _, d := range []*fakepypi.Dist{poisoned, clean} {
		if resp, _ := h.get(fileURL(d) + ".metadata"); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s metadata: %s", d.Filename, resp.Status)
		}
	}
	ctx := context.Background()
	v, err := h.gate.Review(ctx, poisoned.SHA256(), quarantine.Approve, "alice", "", "cooldown only", quarantine.Scope{})
	if !errors.Is(err, gate.ErrNewEvidence) || !strings.Contains(err.Error(), "content: critical pth-exec in litellm_init.pth") {
		t.Fatalf("approval without the content: %v", err)
	}
	if v.State != "held" {
		t.Errorf("state after a refused approval: %s", v.State)
	}
	checks := h.gate.Checks(v)
	if !hasCheck(checks, "content", "hold") {
		t.Errorf("checks after the approval attempt: %+v", checks)
	}
	before, _ := h.config.Quarantine.Get(ctx, clean.SHA256())
	if !hasCheck(h.gate.Checks(before), "content", "not yet run") {
		t.Errorf("a file decided from its metadata must say its content is not yet inspected: %+v", h.gate.Checks(before))
	}
	if v, err := h.gate.Review(ctx, clean.SHA256(), quarantine.Approve, "alice", "", "cooldown only", quarantine.Scope{}); err != nil || v.State != "approved" {
		t.Errorf("clean approval: %v %s", err, v.State)
	}
	if v, _ := h.config.Quarantine.Get(ctx, clean.SHA256()); v.Inputs.Content == nil {
		t.Error("approved without inspecting")
	}
}

func hasCheck(checks []gate.CheckStatus, check, status string) bool {
	for _, c := range checks {
		if c.Check == check && c.Status == status {
			return true
		}
	}
	return false
}

// TestEvidenceSaysWhichLinesAreNew: a payload added to a module the
// previous release already had is shown with the lines that are new since
// then; a payload in a new file says the file is new.
func TestEvidenceSaysWhichLinesAreNew(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t)
	base := "import base64\n\nVERSION = '1.0'\n\ndef helper():\n    return 1\n"
	h.fake.AddWheel(fakepypi.WheelSpec{Name: "evo", Version: "1.0", Extra: map[string]string{"evo/util.py": base}}, uploaded)
	changed := h.fake.AddWheel(fakepypi.WheelSpec{Name: "evo", Version: "1.1", Extra: map[string]string{
		"evo/util.py":  base + "\nexec(base64.b64decode('cHJpbnQoMSk='))\n",
		"evo/extra.py": "import base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n",
	}}, uploaded.Add(time.Hour))
	if resp, _ := h.get(fileURL(changed)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("%s", resp.Status)
	}
	v, _ := h.config.Quarantine.Get(ctx, changed.SHA256())
	msgs := map[string]string{}
	for _, f := range v.Inputs.Content.New {
		msgs[f.Path] = f.Message
		if f.Path == "evo/util.py" && (len(f.NewLines) != 1 || f.NewLines[0] != 8) {
			t.Errorf("new lines of util.py: %v", f.NewLines)
		}
	}
	if !strings.Contains(msgs["evo/util.py"], "(lines new since 1.0: 8)") {
		t.Errorf("util.py: %q", msgs["evo/util.py"])
	}
	if !strings.Contains(msgs["evo/extra.py"], "(the file is new since 1.0)") {
		t.Errorf("extra.py: %q", msgs["evo/extra.py"])
	}
}

// TestMetadataRequestFetchesTheFileAhead: pip and uv read a candidate's
// metadata before they download it. A served metadata request starts the
// distribution's verified fill and its checks at once, so by the time the
// resolver asks for the file it is stored and decided; the file request
// then downloads nothing more from the upstream.
func TestMetadataRequestFetchesTheFileAhead(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t)
	d := h.fake.AddWheel(fakepypi.WheelSpec{Name: "ahead", Version: "1.0"}, uploaded)
	if resp, _ := h.get(fileURL(d) + ".metadata"); resp.StatusCode != 200 {
		t.Fatalf("metadata: %s", resp.Status)
	}
	deadline := time.Now().Add(30 * time.Second) // a bound on a background step, not a speed claim
	for {
		v, err := h.config.Quarantine.Get(ctx, d.SHA256())
		if err == nil && v.Inputs.Content != nil && h.store.HasBlob(ctx, d.SHA256()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the file was not fetched and checked ahead: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := h.fake.Hits(upstreamFilePath(d)); n != 1 {
		t.Fatalf("fetched %d times ahead", n)
	}
	if resp, _ := h.get(fileURL(d)); resp.StatusCode != 200 {
		t.Fatalf("file: %s", resp.Status)
	}
	if n := h.fake.Hits(upstreamFilePath(d)); n != 1 {
		t.Errorf("the file request downloaded it again: %d upstream downloads", n)
	}
	// A held file's metadata is not served, and fetches nothing ahead.
	young := h.fake.AddWheel(fakepypi.WheelSpec{Name: "ahead", Version: "1.1"}, h.clock().Add(-time.Hour))
	h.advance(2 * time.Minute)
	if resp, _ := h.get(fileURL(young) + ".metadata"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("young metadata: %s", resp.Status)
	}
	time.Sleep(200 * time.Millisecond)
	if n := h.fake.Hits(upstreamFilePath(young)); n != 0 {
		t.Errorf("a held file was fetched ahead by its metadata request: %d", n)
	}
}
