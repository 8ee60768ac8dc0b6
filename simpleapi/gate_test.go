package simpleapi

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
	"airlock/policy"
	"airlock/quarantine"
)

// newGateHarness: alpha 1.0 and 1.1 are old; beta 1.0 is old and beta 2.0
// was uploaded an hour before the harness clock.
func newGateHarness(t *testing.T, rules func(*policy.Rules)) (*harness, *fakepypi.Dist, *fakepypi.Dist) {
	t.Helper()
	h := newHarness(t)
	if rules != nil {
		rules(&h.rules)
		h.http.Close()
		h.store.Close()
		h.open()
	}
	old := h.fake.AddWheel(fakepypi.WheelSpec{Name: "beta", Version: "1.0"}, uploaded)
	young := h.fake.AddWheel(fakepypi.WheelSpec{Name: "beta", Version: "2.0"}, h.clock().Add(-time.Hour))
	return h, old, young
}

func fileByName(page map[string]any, name string) map[string]any {
	for _, f := range filesOf(page) {
		if f["filename"] == name {
			return f
		}
	}
	return nil
}

func TestCooldownHoldIsVisibleAndReleasesItself(t *testing.T) {
	ctx := t.Context()
	h, old, young := newGateHarness(t, nil)
	until := young.UploadTime.Add(7 * 24 * time.Hour)

	_, page := h.jsonPage("beta")
	if f := fileByName(page, old.Filename); f["yanked"] != nil {
		t.Errorf("old release marked: %v", f)
	}
	f := fileByName(page, young.Filename)
	want := "held by Airlock: cooldown until " + until.UTC().Format(policy.TimeFormat) + " (7d cooldown) (review " + young.SHA256()[:12] + ")"
	if f == nil || f["yanked"] != want {
		t.Fatalf("young release: yanked = %v, want %q", f["yanked"], want)
	}
	_, html := h.get("/simple/beta/")
	if !strings.Contains(string(html), `data-yanked="held by Airlock: cooldown until `) {
		t.Errorf("HTML page does not mark the held file:\n%s", html)
	}

	resp, body := h.get(fileURL(young))
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("held file: %d", resp.StatusCode)
	}
	if !strings.HasPrefix(resp.Status, "403 Held by Airlock (cooldown): cooldown until") {
		t.Errorf("reason phrase does not name the check: %q", resp.Status)
	}
	if resp.Header.Get("X-Airlock-Decision") != "hold" || resp.Header.Get("X-Airlock-Review") != young.SHA256()[:12] ||
		resp.Header.Get("X-Airlock-Release-At") != until.UTC().Format(time.RFC3339) {
		t.Errorf("headers: %v", resp.Header)
	}
	for _, s := range []string{"cooldown (hold)", "Releases on its own at " + until.UTC().Format(time.RFC3339), "Review id: " + young.SHA256()[:12]} {
		if !strings.Contains(string(body), s) {
			t.Errorf("body lacks %q:\n%s", s, body)
		}
	}
	if resp, _ := h.get(fileURL(young) + ".metadata"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("metadata of a held file: %d", resp.StatusCode)
	}
	if resp, _ := h.get(fileURL(old)); resp.StatusCode != 200 {
		t.Errorf("old release: %d", resp.StatusCode)
	}
	if m := metricsText(t, h); !strings.Contains(m, `airlock_gate_decisions_total{action="hold",outcome="refused"} 2`) ||
		!strings.Contains(m, `airlock_gate_decisions_total{action="allow",outcome="served"} 1`) {
		t.Errorf("gate metrics:\n%s", m)
	}

	v, err := h.config.Quarantine.Get(ctx, young.SHA256())
	if err != nil || v.State != "held" || v.Inputs.UploadTime.IsZero() || len(v.Decision.Reasons) == 0 {
		t.Fatalf("stored decision: %+v %v", v, err)
	}

	// One second before the end: the sweep keeps it. At the end: released.
	h.advance(until.Sub(h.clock()) - time.Second)
	if n, err := h.gate.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep a second early: %d %v", n, err)
	}
	h.advance(time.Second)
	if n, err := h.gate.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep at the end: %d %v", n, err)
	}
	if v, _ := h.config.Quarantine.Get(ctx, young.SHA256()); v.State != "released" {
		t.Errorf("after the sweep: %s", v.State)
	}
	_, page = h.jsonPage("beta")
	if f := fileByName(page, young.Filename); f["yanked"] != nil {
		t.Errorf("released file still marked: %v", f["yanked"])
	}
	if resp, _ := h.get(fileURL(young)); resp.StatusCode != 200 {
		t.Errorf("released file: %d", resp.StatusCode)
	}
	// A cooldown starting and ending is routine: audited, not announced.
	if got := h.hooks.kinds(); len(got) != 0 {
		t.Errorf("notifications for a cooldown: %q", got)
	}
	events, _ := h.store.Audit(ctx, 0, nil)
	if len(events) != 2 || events[0].To != "released" || events[1].To != "held" || events[0].Actor != quarantine.Actor {
		t.Errorf("audit log: %+v", events)
	}
}

func TestHideHeldFiles(t *testing.T) {
	h, old, young := newGateHarness(t, nil)
	h.hideHeld = true
	h.rebuild()
	_, page := h.jsonPage("beta")
	if fileByName(page, young.Filename) != nil || fileByName(page, old.Filename) == nil {
		t.Errorf("hide: %v", filesOf(page))
	}
	if vs := page["versions"].([]any); len(vs) != 1 || vs[0] != "1.0" {
		t.Errorf("versions still offer the hidden release: %v", vs)
	}
}

func TestAuditModeServesAndRecords(t *testing.T) {
	ctx := t.Context()
	h, _, young := newGateHarness(t, func(r *policy.Rules) { r.Mode = policy.Audit })
	_, page := h.jsonPage("beta")
	if f := fileByName(page, young.Filename); f["yanked"] != nil {
		t.Errorf("audit mode marked the file: %v", f)
	}
	if resp, _ := h.get(fileURL(young)); resp.StatusCode != 200 {
		t.Fatalf("audit mode: %d", resp.StatusCode)
	}
	v, err := h.config.Quarantine.Get(ctx, young.SHA256())
	if err != nil || v.State != "held" || v.Decision.Action != policy.Hold {
		t.Errorf("audit decision not stored: %+v %v", v, err)
	}
	if !strings.Contains(h.logs.String(), "would hold (audit mode)") {
		t.Error("audit decision not logged")
	}
}

func TestNotAfterHoldsEverythingNewer(t *testing.T) {
	h, old, young := newGateHarness(t, func(r *policy.Rules) {
		r.Default.Cooldown = 0
		r.Default.NotAfter = time.Now().Add(-48 * time.Hour)
	})
	if resp, _ := h.get(fileURL(young)); resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Status, "(not_after)") {
		t.Errorf("after the cut-off: %s", resp.Status)
	}
	if resp, _ := h.get(fileURL(old)); resp.StatusCode != 200 {
		t.Errorf("before the cut-off: %d", resp.StatusCode)
	}
}

func TestPersonDecisionsStickAndSurviveRestart(t *testing.T) {
	ctx := t.Context()
	h, _, young := newGateHarness(t, nil)
	q := h.config.Quarantine
	h.get(fileURL(young)) // held
	if _, err := q.Apply(ctx, young.SHA256(), quarantine.Approve, "alice", "127.0.0.1", "", quarantine.Scope{}); !errors.Is(err, quarantine.ErrReasonRequired) {
		t.Errorf("approve without reason: %v", err)
	}
	if _, err := q.Apply(ctx, young.SHA256(), quarantine.Approve, "alice", "127.0.0.1", "diffed against the tag", quarantine.Scope{}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := h.get(fileURL(young)); resp.StatusCode != 200 {
		t.Errorf("approved: %d", resp.StatusCode)
	}
	if _, err := q.Apply(ctx, young.SHA256(), quarantine.Approve, "alice", "", "again", quarantine.Scope{}); !errors.Is(err, quarantine.ErrTransition) {
		t.Errorf("approving twice: %v", err)
	}

	// Restart: decisions and approvals are still there.
	h.http.Close()
	h.store.Close()
	h.open()
	q = h.config.Quarantine
	if resp, _ := h.get(fileURL(young)); resp.StatusCode != 200 {
		t.Errorf("approval lost on restart: %d", resp.StatusCode)
	}

	if _, err := q.Apply(ctx, young.SHA256(), quarantine.Reopen, "bob", "", "second look", quarantine.Scope{}); err != nil {
		t.Fatal(err)
	}
	resp, body := h.get(fileURL(young))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "bob") {
		t.Errorf("reopened: %d %s", resp.StatusCode, body)
	}
	// A reopened hold is a person's: time passing does not release it.
	h.advance(30 * 24 * time.Hour)
	h.gate.Sweep(ctx)
	if resp, _ := h.get(fileURL(young)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("reopened hold released by the sweep: %d", resp.StatusCode)
	}
	if _, err := q.Apply(ctx, young.SHA256(), quarantine.Reject, "bob", "", "typosquat", quarantine.Scope{}); err != nil {
		t.Fatal(err)
	}
	resp, _ = h.get(fileURL(young))
	if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Status, "403 Rejected by Airlock") {
		t.Errorf("rejected: %s", resp.Status)
	}
	h.advance(2 * time.Minute)
	if _, page := h.jsonPage("beta"); fileByName(page, young.Filename) != nil {
		t.Error("a rejected file is still listed")
	}
	events, _ := h.store.Audit(ctx, 0, nil)
	var trail []string
	for i := len(events) - 1; i >= 0; i-- {
		trail = append(trail, events[i].From+">"+events[i].To+"("+events[i].Actor+")")
	}
	if got := strings.Join(trail, " "); got != ">held(airlock) held>approved(alice) approved>held(bob) held>rejected(bob)" {
		t.Errorf("audit trail: %s", got)
	}
}

type brokenCheck struct{}

func (brokenCheck) Name() string { return "signals" }
func (brokenCheck) Evaluate(policy.ProjectRules, policy.Input, time.Time) ([]policy.Reason, error) {
	return nil, errors.New("source timed out")
}

func TestGateFailsClosed(t *testing.T) {
	h := newHarness(t)
	engine, err := policy.NewEngine(policy.DefaultRules(), brokenCheck{})
	if err != nil {
		t.Fatal(err)
	}
	h.config.Quarantine = quarantine.New(h.store, engine, nil, h.clock, h.config.Log)
	h.rebuild()
	resp, body := h.get("/files/alpha/alpha-1.0-py3-none-any.whl")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "source timed out") {
		t.Errorf("a failing check let a file through: %d %s", resp.StatusCode, body)
	}
	// A store that cannot record the decision serves nothing either.
	h.store.Close()
	resp, _ = h.get("/files/alpha/alpha-1.1-py3-none-any.whl")
	if resp.StatusCode == 200 {
		t.Error("served a file without a recorded decision")
	}
}
