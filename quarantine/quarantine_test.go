package quarantine

import (
	"errors"
	"strings"
	"testing"
	"time"

	"airlock/internal/storetest"

	"github.com/rs/zerolog"

	"airlock/policy"
	"airlock/storage"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newService(t *testing.T, rules policy.Rules, c *clock) (*Service, *storage.Store) {
	t.Helper()
	store, err := storetest.Open(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e, err := policy.NewEngine(rules)
	if err != nil {
		t.Fatal(err)
	}
	return New(store, e, nil, c.now, zerolog.Nop()), store
}

func in(sha string, uploaded time.Time) policy.Input {
	return policy.Input{Project: "p", Version: "1", Filename: "p-1-" + sha[:4] + ".tar.gz", SHA256: sha, UploadTime: uploaded}
}

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func TestUnchangedDecisionWritesNothing(t *testing.T) {
	ctx := t.Context()
	c := &clock{t0}
	q, store := newService(t, policy.DefaultRules(), c)
	sha := strings.Repeat("1", 64)
	v1, err := q.Decide(ctx, in(sha, t0.Add(-time.Hour)))
	if err != nil || v1.State != "held" {
		t.Fatal(v1.State, err)
	}
	gen := q.Generation()
	c.t = c.t.Add(time.Hour) // the age changes, the decision does not
	v2, _ := q.Decide(ctx, in(sha, t0.Add(-time.Hour)))
	if !v2.UpdatedAt.Equal(v1.UpdatedAt) || q.Generation() != gen {
		t.Errorf("an unchanged decision was rewritten")
	}
	events, _ := store.Audit(ctx, 0, nil)
	if len(events) != 1 {
		t.Errorf("%d audit events, want 1", len(events))
	}
	// Changed inputs (the index now lists another upload time) re-decide.
	v3, _ := q.Decide(ctx, in(sha, t0.Add(-30*24*time.Hour)))
	if v3.State != "released" {
		t.Errorf("changed inputs: %s", v3.State)
	}
}

func TestPolicyChangeIsPickedUpBySweep(t *testing.T) {
	ctx := t.Context()
	c := &clock{t0}
	dir := t.TempDir()
	open := func(r policy.Rules) (*Service, *storage.Store) {
		store, err := storetest.Open(t, dir)
		if err != nil {
			t.Fatal(err)
		}
		e, _ := policy.NewEngine(r)
		return New(store, e, nil, c.now, zerolog.Nop()), store
	}
	q, store := open(policy.DefaultRules())
	sha := strings.Repeat("2", 64)
	if v, _ := q.Decide(ctx, in(sha, t0.Add(-2*24*time.Hour))); v.State != "held" {
		t.Fatal(v.State)
	}
	store.Close()
	shorter := policy.DefaultRules()
	shorter.Default.Cooldown = 24 * time.Hour
	q, store = open(shorter)
	defer store.Close()
	n, err := q.Sweep(ctx, nil)
	if err != nil || n != 1 {
		t.Fatalf("sweep after a policy change: %d %v", n, err)
	}
	if v, _ := q.Get(ctx, sha); v.State != "released" || v.Policy != shorter.Version() {
		t.Errorf("after the sweep: %+v", v)
	}
}

func TestTransitionsAndLookup(t *testing.T) {
	ctx := t.Context()
	c := &clock{t0}
	q, _ := newService(t, policy.DefaultRules(), c)
	held := strings.Repeat("3", 64)
	allowed := strings.Repeat("3", 12) + strings.Repeat("4", 52)
	q.Decide(ctx, in(held, t0))
	q.Decide(ctx, in(allowed, t0.Add(-365*24*time.Hour)))
	if _, err := q.Get(ctx, held[:12]); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("ambiguous review id: %v", err)
	}
	if _, err := q.Get(ctx, "xyz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("bad id: %v", err)
	}
	if _, err := q.Apply(ctx, strings.Repeat("9", 64), Approve, "a", "", "r", Scope{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("approve unknown: %v", err)
	}
	if _, err := q.Apply(ctx, allowed, Approve, "a", "", "r", Scope{}); !errors.Is(err, ErrTransition) {
		t.Errorf("approve an allowed file: %v", err)
	}
	for _, step := range []struct {
		sha  string
		t    Transition
		want State
	}{
		{held, Approve, Approved}, {held, Reopen, Held}, {held, Reject, Rejected}, {held, Reopen, Held},
		{allowed, Reject, Rejected}, {allowed, Reopen, Held},
	} {
		v, err := q.Apply(ctx, step.sha, step.t, "alice", "10.0.0.1", "because", Scope{})
		if err != nil || State(v.State) != step.want {
			t.Fatalf("%s %s: %v %v", step.sha[:13], step.t, v.State, err)
		}
	}
	list, _ := q.List(ctx, Filter{})
	if len(list) != 2 {
		t.Errorf("held list: %d", len(list))
	}
	counts, _ := q.Counts(ctx)
	if counts[Held] != 2 {
		t.Errorf("counts: %v", counts)
	}
}

// TestNewEvidenceReopensApproval: an approval records the evidence it saw;
// the cooldown ending or an upload error later does not undo it, a content
// finding it did not cover does.
func TestNewEvidenceReopensApproval(t *testing.T) {
	ctx := t.Context()
	c := &clock{t0}
	s, store := newService(t, policy.DefaultRules(), c)
	sha := strings.Repeat("e", 64)
	young := in(sha, t0.Add(-time.Hour))
	if v, _ := s.Decide(ctx, young); v.State != string(Held) {
		t.Fatalf("young file: %s", v.State)
	}
	if _, err := s.Apply(ctx, sha, Approve, "alice", "", "checked the diff", Scope{}); err != nil {
		t.Fatal(err)
	}
	// The same evidence again (still in its cooldown): stays approved.
	if v, _ := s.Decide(ctx, young); v.State != string(Approved) {
		t.Fatalf("re-evaluated with nothing new: %s", v.State)
	}
	withFinding := young
	withFinding.Content = &policy.Content{New: []policy.ContentFinding{{Severity: "critical", Kind: "pth-exec", Path: "x.pth", Message: "executable .pth"}}}
	v, _ := s.Decide(ctx, withFinding)
	if v.State != string(Held) || v.DecidedBy != "" {
		t.Fatalf("new content finding after the approval: %s by %q", v.State, v.DecidedBy)
	}
	events, _ := store.Audit(ctx, 1, nil)
	if len(events) != 1 || !strings.Contains(events[0].Reason, "reopened: evidence the approval did not cover: content: critical pth-exec in x.pth") {
		t.Errorf("audit: %+v", events)
	}
	// Approving again covers the finding, when the reviewer names it.
	if _, err := s.Apply(ctx, sha, Approve, "alice", "", "the .pth is the vendor's", Scope{}); !errors.Is(err, ErrNotWaived) || !strings.Contains(err.Error(), "pth-exec in x.pth") {
		t.Fatalf("a plain approval of a content hold: %v", err)
	}
	if _, err := s.Apply(ctx, sha, Approve, "alice", "", "the .pth is the vendor's", Scope{Waive: []string{"cooldown", "content"}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Decide(ctx, withFinding); v.State != string(Approved) {
		t.Errorf("after approving the finding: %s", v.State)
	}
}

// TestSameBytesTwoProjects: two projects list the same file; requests
// alternate between them. The stored decision does not flip, no audit
// entries pile up, and each project still gets its own policy's answer.
func TestSameBytesTwoProjects(t *testing.T) {
	ctx := t.Context()
	c := &clock{t0}
	rules := policy.DefaultRules()
	thirty := 30 * 24 * time.Hour
	rules.Overrides = []policy.Override{{Pattern: "strict", Cooldown: &thirty}}
	s, store := newService(t, rules, c)
	sha := strings.Repeat("f", 64)
	uploaded := t0.Add(-10 * 24 * time.Hour) // past 7 days, inside 30
	a := policy.Input{Project: "lenient", Version: "1", Filename: "lenient-1.tar.gz", SHA256: sha, UploadTime: uploaded}
	b := policy.Input{Project: "strict", Version: "1", Filename: "strict-1.tar.gz", SHA256: sha, UploadTime: uploaded}
	for i := 0; i < 6; i++ {
		va, err := s.Decide(ctx, a)
		if err != nil || !va.Serve {
			t.Fatalf("round %d: lenient: %v %+v", i, err, va.State)
		}
		vb, err := s.Decide(ctx, b)
		if err != nil || vb.Serve || !strings.Contains(vb.Decision.Summary(), "cooldown") {
			t.Fatalf("round %d: strict served or without its reason: %v %s", i, err, vb.Decision.Summary())
		}
	}
	events, _ := store.Audit(ctx, 0, nil)
	if len(events) != 0 {
		t.Errorf("audit entries from alternating projects: %+v", events)
	}
	if rec, _ := store.GetDecision(ctx, sha); rec.Project != "lenient" || rec.State != string(Allowed) {
		t.Errorf("stored record moved: %s %s", rec.Project, rec.State)
	}
}

// A block made by a MAL advisory stands while the advisories may be
// partial (a source not read since a start with nothing kept): the
// decision and the listing keep the advisories the record named. Once
// every source is read, an advisory missing is one withdrawn, and the
// block goes.
func TestPartialAdvisoriesKeepBlocks(t *testing.T) {
	ctx := t.Context()
	c := &clock{t0}
	q, _ := newService(t, policy.DefaultRules(), c)
	sha := strings.Repeat("5", 64)
	mal := in(sha, t0.Add(-30*24*time.Hour))
	mal.Advisories = []policy.Advisory{{ID: "MAL-2026-5", Malicious: true}}
	if v, err := q.Decide(ctx, mal); err != nil || v.State != "blocked" {
		t.Fatalf("named by a MAL record: %s %v", v.State, err)
	}
	partial := in(sha, t0.Add(-30*24*time.Hour))
	partial.AdvisoriesPartial = true
	if l, err := q.Listing(ctx, partial); err != nil || (l.Show && !l.Yank) {
		t.Errorf("listing with partial advisories: %+v %v", l, err)
	}
	v, err := q.Decide(ctx, partial)
	if err != nil || v.State != "blocked" || v.Serve || len(v.Inputs.Advisories) != 1 {
		t.Fatalf("decided with partial advisories: %s serve=%v %v", v.State, v.Serve, err)
	}
	complete := in(sha, t0.Add(-30*24*time.Hour))
	if v, err := q.Decide(ctx, complete); err != nil || v.State == "blocked" {
		t.Errorf("the record withdrawn, every source read: %s %v", v.State, err)
	}
}
