package policy

import (
	"fmt"
	"strings"
	"time"
)

// Check is one rule applied to a file. It returns reasons (with the action
// each takes) or an error, which holds the file.
type Check interface {
	Name() string
	Evaluate(rules ProjectRules, in Input, now time.Time) ([]Reason, error)
}

// Engine evaluates files against rules. It is immutable and safe for
// concurrent use.
type Engine struct {
	rules   Rules
	version string
	checks  []Check
}

// NewEngine builds an engine with the built-in checks plus extra ones
// (attestations, signals and content inspection plug in here).
func NewEngine(rules Rules, extra ...Check) (*Engine, error) {
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	checks := append([]Check{advisoryCheck{}, upstreamRemovedCheck{}, filenameReuseCheck{}, uploadTimeCheck{}, cooldownCheck{}, notAfterCheck{}, attestationCheck{}, signalsCheck{}, sourceReleaseCheck{}, contentCheck{}}, extra...)
	return &Engine{rules: rules, version: rules.Version(), checks: checks}, nil
}

// Rules returns the engine's rules.
func (e *Engine) Rules() Rules { return e.rules }

// Version identifies the engine's rules.
func (e *Engine) Version() string { return e.version }

// Evaluate decides one file at time now. It never returns an allow when a
// check failed: errors and panics become hold reasons.
func (e *Engine) Evaluate(in Input, now time.Time) (d Decision) {
	d = Decision{Action: Allow, Policy: e.version, Mode: e.rules.Mode, EvaluatedAt: now.UTC()}
	defer func() {
		if p := recover(); p != nil {
			d.Reasons = append(d.Reasons, Reason{Check: CheckError, Action: Hold, Message: fmt.Sprintf("evaluation failed: %v", p)})
			d.finish()
		}
	}()
	for _, ge := range in.GatherErrors {
		d.Reasons = append(d.Reasons, gatherErrorReason(ge, in.RetryAt))
	}
	if entry := e.rules.exempt(in.Project, in.Version); entry != "" && len(in.GatherErrors) == 0 {
		d.Reasons = append(d.Reasons, Reason{Check: CheckExempt, Action: Allow, Message: "exempt by policy (" + entry + ")"})
		// An exemption does not cover a known-malicious file.
		rules, _ := e.rules.ForIndex(in.Project, in.Index)
		for _, r := range advisoryReasons(rules, in) {
			if r.Check == CheckMalicious {
				d.Reasons = append(d.Reasons, r)
			}
		}
		d.finish()
		return d
	}
	rules, pattern := e.rules.ForIndex(in.Project, in.Index)
	for _, c := range e.checks {
		reasons, err := c.Evaluate(rules, in, now)
		if err != nil {
			d.Reasons = append(d.Reasons, Reason{Check: c.Name(), Action: Hold, Message: "check failed: " + err.Error()})
			continue
		}
		for _, r := range reasons {
			if r.Check == "" {
				r.Check = c.Name()
			}
			if pattern != "" {
				if r.Evidence == nil {
					r.Evidence = map[string]any{}
				}
				r.Evidence["policy_override"] = pattern
			}
			d.Reasons = append(d.Reasons, r)
		}
	}
	d.finish()
	return d
}

// finish sets the action to the strongest reason's and the release time
// when every holding reason is time-bound.
func (d *Decision) finish() {
	d.Action = Allow
	for _, r := range d.Reasons {
		if r.Action.Stronger(d.Action) {
			d.Action = r.Action
		}
	}
	d.Until = time.Time{}
	if d.Action != Hold {
		return
	}
	for _, r := range d.Reasons {
		if r.Action != Hold {
			continue
		}
		if r.Until.IsZero() {
			d.Until = time.Time{}
			return
		}
		if r.Until.After(d.Until) {
			d.Until = r.Until
		}
	}
}

// gatherErrorReason holds a file whose inputs could not be gathered. What a
// client sees is short (which input, and when it is tried again); the raw
// error, which may name hosts and ports, is evidence for the log and the
// review page only.
func gatherErrorReason(raw string, retryAt time.Time) Reason {
	what, _, found := strings.Cut(raw, ":")
	if !found || len(what) > 40 {
		what = "input"
	}
	r := Reason{Check: CheckError, Action: Hold, Message: "could not be checked yet: " + what + " error",
		Evidence: map[string]any{"error": raw}}
	if !retryAt.IsZero() {
		r.Message += "; retrying at " + retryAt.UTC().Format(TimeFormat)
		r.Until = retryAt
	}
	return r
}
