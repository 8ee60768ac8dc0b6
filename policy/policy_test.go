package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func engine(t *testing.T, r Rules, extra ...Check) *Engine {
	t.Helper()
	e, err := NewEngine(r, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func input(project, version string, uploaded time.Time) Input {
	return Input{Project: project, Version: version, Filename: project + "-" + version + ".tar.gz", SHA256: strings.Repeat("a", 64), UploadTime: uploaded}
}

func TestCooldownBoundaries(t *testing.T) {
	e := engine(t, DefaultRules())
	week := 7 * 24 * time.Hour
	tests := []struct {
		name string
		age  time.Duration
		want Action
	}{
		{"one second short", week - time.Second, Hold},
		{"exactly the cooldown", week, Allow},
		{"one second past", week + time.Second, Allow},
		{"brand new", 0, Hold},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Evaluate(input("alpha", "1.0", t0.Add(-tt.age)), t0)
			if d.Action != tt.want {
				t.Fatalf("age %v: %s (%v), want %s", tt.age, d.Action, d.Reasons, tt.want)
			}
			if tt.want == Hold {
				if want := t0.Add(-tt.age).Add(week); !d.Until.Equal(want) {
					t.Errorf("until %v, want %v", d.Until, want)
				}
				if !strings.Contains(d.Summary(), "cooldown until "+t0.Add(-tt.age).Add(week).Format(TimeFormat)) {
					t.Errorf("summary %q", d.Summary())
				}
				if d.Checks()[0] != CheckCooldown || d.Reasons[0].Evidence["upload_time"] == nil {
					t.Errorf("reasons lack check or evidence: %+v", d.Reasons)
				}
			}
		})
	}
}

func TestOverridesAndGlobs(t *testing.T) {
	day := 24 * time.Hour
	one, two, zero := 1*day, 2*day, time.Duration(0)
	allow := Allow
	r := DefaultRules()
	r.Overrides = []Override{
		{Pattern: "internal-*", Cooldown: &zero},
		{Pattern: "internal-c*", Cooldown: &two},
		{Pattern: "internal-core", Cooldown: &one},
		{Pattern: "legacy", OnMissingUploadTime: &allow},
		{Pattern: "noisy", Actions: map[string]Action{CheckCooldown: Warn}},
	}
	e := engine(t, r)
	tests := []struct {
		project string
		age     time.Duration
		want    Action
		pattern string
	}{
		{"internal-tools", time.Minute, Allow, ""},              // internal-* : no cooldown
		{"internal-cache", 36 * time.Hour, Hold, "internal-c*"}, // longer literal glob wins
		{"internal-core", 36 * time.Hour, Allow, ""},            // exact name beats globs
		{"internal-core", 12 * time.Hour, Hold, "internal-core"},
		{"other", 6 * day, Hold, ""},
		{"noisy", time.Hour, Warn, "noisy"},
	}
	for _, tt := range tests {
		d := e.Evaluate(input(tt.project, "1", t0.Add(-tt.age)), t0)
		if d.Action != tt.want {
			t.Errorf("%s aged %v: %s, want %s (%v)", tt.project, tt.age, d.Action, tt.want, d.Reasons)
		}
		if tt.pattern != "" && (len(d.Reasons) == 0 || d.Reasons[0].Evidence["policy_override"] != tt.pattern) {
			t.Errorf("%s: override %q not recorded in evidence: %+v", tt.project, tt.pattern, d.Reasons)
		}
	}
	d := e.Evaluate(input("legacy", "1", time.Time{}), t0)
	if d.Action != Allow {
		t.Errorf("legacy without upload time: %s", d.Action)
	}
	d = e.Evaluate(input("other", "1", time.Time{}), t0)
	if d.Action != Hold || d.Checks()[0] != CheckUploadTime || !d.Until.IsZero() {
		t.Errorf("missing upload time: %+v", d)
	}
}

func TestExemptions(t *testing.T) {
	r := DefaultRules()
	r.Exempt = []string{"trusted", "pinned==2.0"}
	e := engine(t, r)
	for _, tt := range []struct {
		project, version string
		want             Action
	}{{"trusted", "9", Allow}, {"pinned", "2.0", Allow}, {"pinned", "2.1", Hold}, {"other", "1", Hold}} {
		if d := e.Evaluate(input(tt.project, tt.version, t0), t0); d.Action != tt.want {
			t.Errorf("%s==%s: %s, want %s", tt.project, tt.version, d.Action, tt.want)
		}
	}
}

func TestNotAfter(t *testing.T) {
	r := DefaultRules()
	r.Default.Cooldown = 0
	r.Default.NotAfter = t0.Add(-time.Hour)
	e := engine(t, r)
	if d := e.Evaluate(input("a", "1", t0.Add(-time.Hour-time.Second)), t0); d.Action != Allow {
		t.Errorf("before the cut-off: %s", d.Action)
	}
	d := e.Evaluate(input("a", "2", t0.Add(-time.Hour+time.Second)), t0)
	if d.Action != Hold || d.Checks()[0] != CheckNotAfter || !d.Until.IsZero() {
		t.Errorf("after the cut-off: %+v", d)
	}
}

func TestAuditModeDecidesButDoesNotEnforce(t *testing.T) {
	r := DefaultRules()
	r.Mode = Audit
	d := engine(t, r).Evaluate(input("a", "1", t0), t0)
	if d.Action != Hold || d.Enforced() || d.Mode != Audit {
		t.Errorf("audit: %+v", d)
	}
	r.Mode = Enforce
	if d := engine(t, r).Evaluate(input("a", "1", t0), t0); !d.Enforced() {
		t.Error("enforce mode does not enforce")
	}
}

type failingCheck struct{ panics bool }

func (failingCheck) Name() string { return "flaky" }
func (f failingCheck) Evaluate(ProjectRules, Input, time.Time) ([]Reason, error) {
	if f.panics {
		panic("boom")
	}
	return nil, errors.New("source unreachable")
}

func TestFailsClosed(t *testing.T) {
	r := DefaultRules()
	r.Default.Cooldown = 0
	old := t0.Add(-365 * 24 * time.Hour)
	for name, e := range map[string]*Engine{
		"check error": engine(t, r, failingCheck{}),
		"check panic": engine(t, r, failingCheck{panics: true}),
	} {
		d := e.Evaluate(input("a", "1", old), t0)
		if d.Action != Hold || !d.Until.IsZero() {
			t.Errorf("%s: %+v, want an open-ended hold", name, d)
		}
	}
	in := input("a", "1", old)
	in.GatherErrors = []string{"attestation: 127.0.0.1:8443 answered 500 Internal Server Error"}
	d := engine(t, r).Evaluate(in, t0)
	if d.Action != Hold || d.Summary() != "could not be checked yet: attestation error" || !d.Until.IsZero() {
		t.Errorf("gather error: %+v", d)
	}
	if d.Reasons[0].Evidence["error"] != in.GatherErrors[0] {
		t.Errorf("raw error not kept as evidence: %+v", d.Reasons[0])
	}
	// With a retry time the hold ends then, and the client is told; the
	// host and port stay out of what the client sees.
	in.RetryAt = t0.Add(2 * time.Minute)
	d = engine(t, r).Evaluate(in, t0)
	if want := "could not be checked yet: attestation error; retrying at " + in.RetryAt.UTC().Format(TimeFormat); d.Summary() != want || !d.Until.Equal(in.RetryAt) {
		t.Errorf("gather error with retry: %q until %v, want %q", d.Summary(), d.Until, want)
	}
	if strings.Contains(d.Summary(), "127.0.0.1") {
		t.Errorf("client-facing reason names the host: %q", d.Summary())
	}
	in.RetryAt = time.Time{}
	// An exemption does not cover a file whose inputs could not be gathered.
	r.Exempt = []string{"a"}
	if d := engine(t, r).Evaluate(in, t0); d.Action != Hold {
		t.Errorf("exempt with gather error: %s", d.Action)
	}
}

func TestVersionChangesWithRules(t *testing.T) {
	a, b := DefaultRules(), DefaultRules()
	b.Default.Cooldown = time.Hour
	if a.Version() == b.Version() || a.Version() != DefaultRules().Version() {
		t.Error("rules version does not track the rules")
	}
}

func TestValidate(t *testing.T) {
	bad := DefaultRules()
	bad.Default.Actions = map[string]Action{"cooldwn": Hold}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "cooldwn") {
		t.Errorf("unknown check: %v", err)
	}
	bad = DefaultRules()
	bad.Overrides = []Override{{Pattern: "[oops"}}
	if err := bad.Validate(); err == nil {
		t.Error("bad glob accepted")
	}
}

// A private index's files skip the cooldown, the upload-time rule, the
// attestation and behaviour checks unless policy.indexes turns them on;
// content and filename reuse still apply.
func TestPrivateIndexChecks(t *testing.T) {
	r := DefaultRules()
	r.Default.Cooldown = 7 * 24 * time.Hour
	r.Default.RequireAttestation = RequireAlways
	e, err := NewEngine(r)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	score := 5
	young := Input{Project: "torchtriton", Version: "2.0", Filename: "torchtriton-2.0.tar.gz", SHA256: strings.Repeat("a", 64),
		UploadTime: now.Add(-time.Hour), Attestation: &Attestation{Status: AttestationMissing},
		Signals: &Signals{Score: &score, Flags: []string{"single-maintainer"}}}
	if d := e.Evaluate(young, now); d.Action != Hold {
		t.Fatalf("public file: %s, want hold", d.Action)
	}
	private := young
	private.Index = "internal"
	if d := e.Evaluate(private, now); d.Action != Allow {
		t.Errorf("private file: %s %+v, want allow", d.Action, d.Reasons)
	}
	noTime := private
	noTime.UploadTime = time.Time{}
	if d := e.Evaluate(noTime, now); d.Action != Allow {
		t.Errorf("private file without an upload time: %s", d.Action)
	}
	bad := private
	bad.Content = &Content{New: []ContentFinding{{Kind: "pth-exec", Severity: "critical", Path: "x.pth", Message: "runs code"}}}
	if d := e.Evaluate(bad, now); d.Action != Hold {
		t.Errorf("private file with a new .pth: %s, want hold (content always applies)", d.Action)
	}
	r.Indexes = map[string]IndexChecks{"internal": {Cooldown: true}}
	e, _ = NewEngine(r)
	if d := e.Evaluate(private, now); d.Action != Hold || d.Checks()[0] != CheckCooldown {
		t.Errorf("cooldown turned back on: %s %v", d.Action, d.Checks())
	}
}

func TestAdvisoriesAndRemoval(t *testing.T) {
	r := DefaultRules()
	r.Default.Cooldown = 0
	r.Exempt = []string{"exempted"}
	r.Default.VulnerabilityActions = map[string]Action{"critical": Hold}
	e, err := NewEngine(r)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	base := Input{Project: "litellm", Version: "1.82.8", Filename: "litellm-1.82.8-py3-none-any.whl", SHA256: strings.Repeat("a", 64), UploadTime: now.Add(-30 * 24 * time.Hour)}
	mal := Advisory{ID: "MAL-2026-1", Summary: "Malicious code in litellm", Link: "https://osv.dev/vulnerability/MAL-2026-1", Malicious: true}
	for name, c := range map[string]struct {
		mod   func(*Input)
		want  Action
		check string
	}{
		"malicious":            {func(in *Input) { in.Advisories = []Advisory{mal} }, Block, CheckMalicious},
		"malicious, exempt":    {func(in *Input) { in.Project, in.Advisories = "exempted", []Advisory{mal} }, Block, CheckMalicious},
		"malicious, private":   {func(in *Input) { in.Index, in.Advisories = "internal", []Advisory{mal} }, Block, CheckMalicious},
		"vulnerability":        {func(in *Input) { in.Advisories = []Advisory{{ID: "GHSA-1", Severity: "high"}} }, Warn, CheckVulnerability},
		"critical vuln":        {func(in *Input) { in.Advisories = []Advisory{{ID: "GHSA-2", Severity: "critical"}} }, Hold, CheckVulnerability},
		"removed upstream":     {func(in *Input) { in.RemovedUpstream = now }, Block, CheckUpstreamRemoved},
		"nothing":              {func(in *Input) {}, Allow, ""},
		"exempt, nothing else": {func(in *Input) { in.Project = "exempted" }, Allow, CheckExempt},
	} {
		in := base
		c.mod(&in)
		d := e.Evaluate(in, now)
		if d.Action != c.want || (c.check != "" && !strings.Contains(strings.Join(d.Checks(), ",")+","+d.Reasons[len(d.Reasons)-1].Check, c.check)) {
			t.Errorf("%s: %s %v, want %s by %s", name, d.Action, d.Reasons, c.want, c.check)
		}
		if c.check == CheckMalicious && !strings.Contains(d.Summary(), "MAL-2026-1") {
			t.Errorf("%s: summary %q does not name the advisory", name, d.Summary())
		}
	}
	r.Default.Actions = map[string]Action{CheckUpstreamRemoved: Allow} // on_upstream_removed: keep
	e, _ = NewEngine(r)
	in := base
	in.RemovedUpstream = now
	if d := e.Evaluate(in, now); d.Action != Allow {
		t.Errorf("keep: %s", d.Action)
	}
}
