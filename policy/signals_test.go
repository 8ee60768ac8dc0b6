package policy

import (
	"strings"
	"testing"
	"time"
)

func sig(score int, flags ...string) *Signals {
	return &Signals{Score: &score, Flags: flags, Repository: "BerriAI/litellm", RepoKnown: true, TagsReleases: true,
		Tag: &TagMatch{Name: "v1.82.8", Time: t0.Add(-2 * time.Hour), How: "release"}}
}

func TestSignalChecks(t *testing.T) {
	r := DefaultRules()
	r.Default.Cooldown = 0
	uploaded := t0.Add(-time.Hour)
	noTag := sig(80)
	noTag.Tag = nil
	lateTag := sig(80)
	lateTag.Tag = &TagMatch{Name: "v1.82.8", Time: uploaded.Add(16 * time.Hour), How: "first-seen"}
	graceTag := sig(80)
	graceTag.Tag = &TagMatch{Name: "v1.82.8", Time: uploaded.Add(30 * time.Minute), How: "commit"}
	neverTags := sig(80)
	neverTags.TagsReleases, neverTags.Tag = false, nil
	noRepo := &Signals{Score: ptr(70), Flags: []string{"no-repository"}}
	unknown := &Signals{Unknown: map[string]string{"github": "rate limited"}, Repository: "a/b"}
	for _, tt := range []struct {
		name     string
		s        *Signals
		uploaded time.Time
		now      time.Time
		want     Action
		msg      string
	}{
		{"tagged before upload", sig(80), uploaded, t0.Add(2 * time.Hour), Allow, "tag v1.82.8 in BerriAI/litellm matches"},
		{"low score warns", sig(20), uploaded, t0, Warn, "commitment score 20 is below 40"},
		{"flags warn", sig(80, "single-maintainer", "rapid-releases"), uploaded, t0, Warn, "flag rapid-releases"},
		{"no tag, within grace", noTag, uploaded, t0.Add(-30 * time.Minute), Hold, "re-checked until"},
		{"no tag, after grace", noTag, uploaded, t0.Add(2 * time.Hour), Hold, "no tag for 1.82.8 in BerriAI/litellm"},
		{"tag appeared 16h after upload", lateTag, uploaded, t0.Add(20 * time.Hour), Hold, "after the upload"},
		{"tag within the grace", graceTag, uploaded, t0.Add(2 * time.Hour), Allow, "matches"},
		{"repository never tags", neverTags, uploaded, t0, Allow, ""},
		{"no repository warns", noRepo, uploaded, t0, Warn, "no source repository linked"},
		{"unknown sources warn", unknown, uploaded, t0, Warn, "signals unknown: github (rate limited)"},
		{"old release not judged", sig(5, "single-maintainer"), t0.Add(-60 * 24 * time.Hour), t0, Allow, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := input("litellm", "1.82.8", tt.uploaded)
			in.Signals = tt.s
			d := engine(t, r).Evaluate(in, tt.now)
			if d.Action != tt.want {
				t.Fatalf("%s (%+v), want %s", d.Action, d.Reasons, tt.want)
			}
			var all []string
			for _, x := range d.Reasons {
				all = append(all, x.Message)
			}
			if !strings.Contains(strings.Join(all, "|"), tt.msg) {
				t.Errorf("reasons %q lack %q", all, tt.msg)
			}
		})
	}
	// Within the grace the hold is time-bound, so the sweep re-checks it.
	in := input("litellm", "1.82.8", uploaded)
	in.Signals = noTag
	if d := engine(t, r).Evaluate(in, t0.Add(-30*time.Minute)); !d.Until.Equal(uploaded.Add(time.Hour)) {
		t.Errorf("grace hold until %v", d.Until)
	}
	// Each check's action is configurable: make a low score hold.
	strict := r
	strict.Default.Actions = map[string]Action{CheckScore: Hold, "single-maintainer": Hold, CheckUnknown: Hold}
	in.Signals = sig(10, "single-maintainer")
	if d := engine(t, strict).Evaluate(in, t0.Add(3*time.Hour)); d.Action != Hold || len(d.Checks()) != 2 {
		t.Errorf("strict: %+v", d)
	}
}

func TestRiskAdaptiveCooldown(t *testing.T) {
	r := DefaultRules()
	r.Default.CooldownBelowScore, r.Default.CooldownBelow = 50, 14*24*time.Hour
	in := input("risky", "1", t0.Add(-10*24*time.Hour))
	in.Signals = &Signals{Score: ptr(30), Repository: "a/b", RepoKnown: true}
	d := engine(t, r).Evaluate(in, t0)
	if d.Action != Hold || !strings.Contains(d.Summary(), "risk-adaptive: score 30") || !d.Until.Equal(in.UploadTime.Add(14*24*time.Hour)) {
		t.Errorf("low score: %+v", d)
	}
	in.Signals = &Signals{Score: ptr(60), Repository: "a/b", RepoKnown: true}
	if d := engine(t, r).Evaluate(in, t0); d.Action != Allow {
		t.Errorf("good score waits the normal cooldown: %+v", d)
	}
}
