package gate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"airlock/policy"
	"airlock/quarantine"
)

// ErrNewEvidence means an approval was not applied: the checks that had not
// run yet found a reason to hold the file that the reviewer has not seen.
var ErrNewEvidence = errors.New("not approved: checks that had not run yet found new evidence")

// Review applies a person's decision. An approval first runs whatever has
// not run for the file (download, attestation, inspection, signals); if
// that brings evidence the reviewer did not see, the file stays held with
// it and the error says what it is.
func (g *Gate) Review(ctx context.Context, sha string, t quarantine.Transition, actor, remote, reason string, scope quarantine.Scope) (quarantine.View, error) {
	q := g.opt.Quarantine
	v, err := q.Get(ctx, sha)
	if err != nil {
		return quarantine.View{}, err
	}
	if t == quarantine.Approve && strings.TrimSpace(reason) != "" && g.incomplete(v) {
		seen := quarantine.Evidence(v.Decision)
		after, err := g.complete(ctx, v)
		if err != nil {
			return v, fmt.Errorf("not approved: could not run the remaining checks: %w", err)
		}
		if fresh := quarantine.NewEvidence(seen, after.Decision); len(fresh) > 0 {
			return after, fmt.Errorf("%w: %s", ErrNewEvidence, strings.Join(fresh, "; "))
		}
	}
	return q.Apply(ctx, v.SHA256, t, actor, remote, reason, scope)
}

// incomplete reports whether a check has not run for the file: its content
// was never inspected, its attestation never looked at, or gathering
// failed.
func (g *Gate) incomplete(v quarantine.View) bool {
	in := v.Inputs
	return (g.opt.Inspect && in.Content == nil) || (g.attestFor(in.Index) != nil && in.Attestation == nil) ||
		(g.signalsFor(in.Index) != nil && in.Signals == nil) || len(in.GatherErrors) > 0
}

// complete runs every check for a decided file, downloading it if needed.
func (g *Gate) complete(ctx context.Context, v quarantine.View) (quarantine.View, error) {
	entry, err := g.Page(ctx, v.Project)
	if err != nil {
		return v, err
	}
	page := &entry.Cached.Page
	f, ok := page.Lookup(v.Filename)
	if !ok || f.SHA256() != v.SHA256 {
		return v, ErrNotListed
	}
	return g.decideListed(ctx, page, f, true)
}

// CheckStatus is one check's state for a reviewer.
type CheckStatus struct {
	Check string `json:"check"`
	// Status is the action it took ("passed" when it found nothing), or
	// StatusNotRun, StatusCouldNotRun, StatusPartial, "off": a check that
	// had nothing to work on must not read as one that passed.
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Check statuses besides the actions.
const (
	StatusNotRun      = "not yet run"
	StatusCouldNotRun = "could not run"
	StatusPartial     = "partial"
)

// Checks lists every check the gate runs for a file with its result,
// including the ones that have not run yet, so a reviewer sees what the
// decision rests on.
func (g *Gate) Checks(v quarantine.View) []CheckStatus {
	in := v.Inputs
	byCheck := map[string][]string{}
	worst := map[string]policy.Action{}
	for _, r := range v.Decision.Reasons {
		byCheck[r.Check] = append(byCheck[r.Check], r.Message)
		if w, ok := worst[r.Check]; !ok || r.Action.Stronger(w) {
			worst[r.Check] = r.Action
		}
	}
	status := func(check string, ran bool, why string) CheckStatus {
		cs := CheckStatus{Check: check, Status: "passed"}
		if !ran {
			return CheckStatus{Check: check, Status: "not yet run", Detail: why}
		}
		if a, ok := worst[check]; ok {
			cs.Status, cs.Detail = string(a), strings.Join(byCheck[check], "; ")
		}
		return cs
	}
	out := []CheckStatus{
		status("cooldown", true, ""),
		status("upload_time", true, ""),
		status("not_after", true, ""),
	}
	// unable marks a check that ran on nothing as such, unless it acted.
	unable := func(cs CheckStatus, state, why string) CheckStatus {
		if cs.Status == "passed" {
			cs.Status, cs.Detail = state, why
		}
		return cs
	}
	if g.attestFor(in.Index) != nil {
		cs := status("attestation", in.Attestation != nil, "provenance not fetched yet")
		if in.Attestation != nil && in.Attestation.Status == policy.AttestationMissing && g.AttestationUnavailable() {
			cs = unable(cs, StatusCouldNotRun, "the upstream publishes no PEP 740 provenance: a missing attestation says nothing")
		}
		out = append(out, cs)
	} else {
		out = append(out, CheckStatus{Check: "attestation", Status: "off"})
	}
	if g.signalsFor(in.Index) != nil {
		src, score := status("source_release", in.Signals != nil, "signal sources not read yet"),
			status("score", in.Signals != nil, "signal sources not read yet")
		if s := in.Signals; s != nil {
			if why, failed := s.Unknown[policy.SourceGitHub]; failed {
				src = unable(src, StatusCouldNotRun, "the source repository could not be read: "+why)
			} else if s.Repository == "" {
				src = unable(src, StatusCouldNotRun, "no source repository is linked, so there is no tag to compare")
			}
			if s.Score == nil {
				score = unable(score, StatusCouldNotRun, "no signal source answered")
			} else if len(s.Missing) > 0 {
				partial := fmt.Sprintf("score %d from %.0f%% of its weights; unknown: %s", *s.Score, 100*s.Confidence, strings.Join(s.Missing, ", "))
				if score.Status == "passed" {
					score.Status, score.Detail = StatusPartial, partial
				} else {
					score.Detail += " (partial data: " + partial + ")"
				}
			}
		}
		out = append(out, src, score)
	} else {
		out = append(out, CheckStatus{Check: "signals", Status: "off"})
	}
	if g.opt.Inspect {
		cs := status("content", in.Content != nil, "not yet inspected: the file has not been downloaded")
		if c := in.Content; c != nil && c.Error != "" {
			cs = unable(cs, StatusCouldNotRun, c.Error)
		} else if c != nil && c.PreviousVersion == "" && cs.Status == "passed" {
			cs.Detail = "no earlier release compared"
			if c.Note != "" {
				cs.Detail = c.Note
			}
		}
		out = append(out, cs)
	} else {
		out = append(out, CheckStatus{Check: "content", Status: "off"})
	}
	if len(in.GatherErrors) > 0 {
		out = append(out, CheckStatus{Check: "error", Status: "hold", Detail: strings.Join(in.GatherErrors, "; ")})
	}
	listed := map[string]bool{"error": true}
	for _, cs := range out {
		listed[cs.Check] = true
	}
	for _, r := range v.Decision.Reasons { // flags, unknown sources, exemptions
		if !listed[r.Check] {
			listed[r.Check] = true
			out = append(out, status(r.Check, true, ""))
		}
	}
	return out
}
