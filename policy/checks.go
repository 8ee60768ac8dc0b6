package policy

import (
	"airlock/humantime"
	"fmt"
	"time"
)

// uploadTimeCheck holds files whose index entry has no upload time: their
// age, and so the cooldown, cannot be judged.
type uploadTimeCheck struct{}

func (uploadTimeCheck) Name() string { return CheckUploadTime }

func (uploadTimeCheck) Evaluate(rules ProjectRules, in Input, _ time.Time) ([]Reason, error) {
	if !in.UploadTime.IsZero() || rules.OnMissingUploadTime == Allow {
		return nil, nil
	}
	return []Reason{{Action: rules.OnMissingUploadTime, Message: "no upload time in the index, so its age cannot be checked"}}, nil
}

// cooldownCheck holds a file younger than the cooldown until it is old
// enough. Compromised releases are usually found and removed within days.
type cooldownCheck struct{}

func (cooldownCheck) Name() string { return CheckCooldown }

func (cooldownCheck) Evaluate(rules ProjectRules, in Input, now time.Time) ([]Reason, error) {
	cooldown, adaptive := rules.Cooldown, false
	if s := in.Signals; s != nil && s.Score != nil && rules.CooldownBelowScore > 0 && *s.Score < rules.CooldownBelowScore &&
		rules.CooldownBelow > cooldown && s.Confidence >= rules.CooldownMinConfidence {
		cooldown, adaptive = rules.CooldownBelow, true // riskier projects wait longer
	}
	rules.Cooldown = cooldown
	if in.UploadTime.IsZero() || rules.Cooldown <= 0 {
		return nil, nil
	}
	until := in.UploadTime.Add(rules.Cooldown)
	if !now.Before(until) {
		return nil, nil
	}
	age := now.Sub(in.UploadTime)
	r := Reason{
		Action:  rules.action(CheckCooldown),
		Message: fmt.Sprintf("cooldown until %s (%s cooldown)", until.UTC().Format(TimeFormat), formatDays(rules.Cooldown)),
		Evidence: map[string]any{
			"upload_time":      in.UploadTime.UTC().Format(time.RFC3339),
			"age":              humantime.Duration(age),
			"age_seconds":      int64(age.Seconds()),
			"cooldown":         humantime.Duration(rules.Cooldown),
			"cooldown_seconds": int64(rules.Cooldown.Seconds()),
			"until":            until.UTC().Format(time.RFC3339),
		},
	}
	if adaptive {
		r.Evidence["risk_adaptive"] = fmt.Sprintf("score %d below %d (confidence %.0f%%)", *in.Signals.Score, rules.CooldownBelowScore, 100*in.Signals.Confidence)
		r.Message += fmt.Sprintf(", risk-adaptive: score %d", *in.Signals.Score)
	}
	if r.Action == Hold {
		r.Until = until
	}
	return []Reason{r}, nil
}

// notAfterCheck holds everything uploaded after a cut-off, for an ongoing
// outbreak.
type notAfterCheck struct{}

func (notAfterCheck) Name() string { return CheckNotAfter }

func (notAfterCheck) Evaluate(rules ProjectRules, in Input, _ time.Time) ([]Reason, error) {
	if rules.NotAfter.IsZero() || in.UploadTime.IsZero() || !in.UploadTime.After(rules.NotAfter) {
		return nil, nil
	}
	return []Reason{{
		Action:  rules.action(CheckNotAfter),
		Message: fmt.Sprintf("uploaded %s, after the not_after cut-off %s", in.UploadTime.UTC().Format(TimeFormat), rules.NotAfter.UTC().Format(TimeFormat)),
		Evidence: map[string]any{
			"upload_time": in.UploadTime.UTC().Format(time.RFC3339),
			"not_after":   rules.NotAfter.UTC().Format(time.RFC3339),
		},
	}}, nil
}

// formatDays writes a duration for people: "7d", "1d 12h".
func formatDays(d time.Duration) string { return humantime.Duration(d) }

// filenameReuseCheck holds a file whose name Airlock already stored with
// other bytes: PyPI never reuses a filename, so new bytes under an old name
// are a swapped file (a compromised mirror, an index that lies).
type filenameReuseCheck struct{}

func (filenameReuseCheck) Name() string { return CheckFilenameReused }

func (filenameReuseCheck) Evaluate(rules ProjectRules, in Input, _ time.Time) ([]Reason, error) {
	if in.ReusedFilename == "" || in.ReusedFilename == in.SHA256 {
		return nil, nil
	}
	return []Reason{{Action: rules.action(CheckFilenameReused),
		Message:  fmt.Sprintf("the upstream now lists different bytes for %s than Airlock stored before (sha256 %.12s…); PyPI never reuses a filename", in.Filename, in.ReusedFilename),
		Evidence: map[string]any{"stored_sha256": in.ReusedFilename, "listed_sha256": in.SHA256}}}, nil
}
