package policy

import (
	"fmt"
	"time"
)

// advisoryCheck acts on the advisories that name a file: a malicious one
// blocks it (whatever else is true of it: an exemption, an approval, a
// private index); a vulnerability takes the action of its severity.
type advisoryCheck struct{}

func (advisoryCheck) Name() string { return CheckMalicious }

func (advisoryCheck) Evaluate(rules ProjectRules, in Input, _ time.Time) ([]Reason, error) {
	return advisoryReasons(rules, in), nil
}

func advisoryReasons(rules ProjectRules, in Input) []Reason {
	var out []Reason
	for _, a := range in.Advisories {
		ev := map[string]any{"advisory": a.ID, "summary": a.Summary, "link": a.Link}
		if !a.Published.IsZero() {
			ev["published"] = a.Published.UTC().Format(time.RFC3339)
		}
		if a.Malicious {
			out = append(out, Reason{Check: CheckMalicious, Action: rules.action(CheckMalicious), Evidence: ev,
				Message: fmt.Sprintf("known malicious: %s: %s (%s)", a.ID, a.Summary, a.Link)})
			continue
		}
		sev := a.Severity
		if sev == "" {
			sev = "unknown"
		}
		ev["severity"] = sev
		action, ok := rules.VulnerabilityActions[sev]
		if !ok {
			action = rules.action(CheckVulnerability)
		}
		out = append(out, Reason{Check: CheckVulnerability, Action: action, Evidence: ev,
			Message: fmt.Sprintf("vulnerability %s (%s): %s", a.ID, sev, a.Summary)})
	}
	return out
}

// upstreamRemovedCheck acts on a stored file the upstream stopped listing
// (PyPI deletes malicious releases): blocked by default, or served from
// the store with the action allow (policy.on_upstream_removed: keep).
type upstreamRemovedCheck struct{}

func (upstreamRemovedCheck) Name() string { return CheckUpstreamRemoved }

func (upstreamRemovedCheck) Evaluate(rules ProjectRules, in Input, _ time.Time) ([]Reason, error) {
	if in.RemovedUpstream.IsZero() {
		return nil, nil
	}
	return []Reason{{Check: CheckUpstreamRemoved, Action: rules.action(CheckUpstreamRemoved),
		Message:  "removed by the upstream (no longer listed since " + in.RemovedUpstream.UTC().Format(TimeFormat) + ")",
		Evidence: map[string]any{"removed_at": in.RemovedUpstream.UTC().Format(time.RFC3339)}}}, nil
}
