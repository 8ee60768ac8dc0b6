package policy

import (
	"fmt"
	"strings"
	"time"
)

// attestationCheck acts on PEP 740 provenance: an attestation that does not
// verify blocks the file; a missing one holds it when the policy requires
// one (always, or because earlier releases were attested); a publisher other
// than the pinned one, or than the earlier releases', holds it. A verified
// attestation adds an allow reason carrying the identity as evidence.
type attestationCheck struct{}

func (attestationCheck) Name() string { return CheckAttestation }

func (attestationCheck) Evaluate(rules ProjectRules, in Input, _ time.Time) ([]Reason, error) {
	a := in.Attestation
	if a == nil {
		return nil, nil // not looked at (a listing that cannot tell)
	}
	hold := func(msg string, ev map[string]any) []Reason {
		return []Reason{{Check: CheckAttestation, Action: rules.action(CheckAttestation), Message: msg, Evidence: ev}}
	}
	prior := in.Prior
	switch a.Status {
	case AttestationInvalid:
		return []Reason{{Check: CheckAttestationInvalid, Action: rules.action(CheckAttestationInvalid),
			Message: "attestation invalid: " + a.Error, Evidence: map[string]any{"error": a.Error}}}, nil
	case AttestationMissing:
		switch {
		case rules.Publisher != "":
			return hold("attestation missing; policy pins publisher "+rules.Publisher, map[string]any{"pinned_publisher": rules.Publisher}), nil
		case rules.RequireAttestation == RequireAlways:
			return hold("attestation missing; policy requires one", nil), nil
		case rules.RequireAttestation == RequireIfPreviouslyAttested && prior != nil:
			return hold(fmt.Sprintf("attestation missing; releases up to %s were attested by %s", prior.Version, prior.Publisher),
				map[string]any{"prior_version": prior.Version, "prior_publisher": prior.Publisher}), nil
		}
		return nil, nil
	case AttestationVerified:
		ev := map[string]any{"publisher": a.Publisher, "predicate_types": strings.Join(a.PredicateTypes, ", ")}
		if !a.LogTime.IsZero() {
			ev["log_time"] = a.LogTime.UTC().Format(time.RFC3339)
		}
		if a.Environment != "" {
			ev["environment"] = a.Environment
		}
		for k, v := range a.Identity {
			ev["cert_"+k] = v
		}
		if rules.Publisher != "" && !SamePublisher(rules.Publisher, a.Publisher) {
			ev["pinned_publisher"] = rules.Publisher
			return hold(fmt.Sprintf("attested by %s, but policy pins publisher %s", a.Publisher, rules.Publisher), ev), nil
		}
		if prior != nil && prior.Publisher != "" && !SamePublisher(prior.Publisher, a.Publisher) && rules.Publisher == "" {
			ev["prior_version"], ev["prior_publisher"] = prior.Version, prior.Publisher
			return hold(fmt.Sprintf("publisher changed: releases up to %s were attested by %s, this file by %s", prior.Version, prior.Publisher, a.Publisher), ev), nil
		}
		return []Reason{{Check: CheckAttestation, Action: Allow, Message: "attested by " + a.Publisher, Evidence: ev}}, nil
	}
	return nil, fmt.Errorf("unknown attestation status %q", a.Status)
}

// SamePublisher compares two publisher specs as the hosts do: repository
// paths are case-insensitive, workflow file names are not.
func SamePublisher(a, b string) bool {
	ka, ra, _ := strings.Cut(a, ":")
	kb, rb, _ := strings.Cut(b, ":")
	if !strings.EqualFold(ka, kb) {
		return false
	}
	switch strings.ToLower(ka) {
	case "github", "gitlab":
		ia, ib := strings.LastIndexByte(ra, ':'), strings.LastIndexByte(rb, ':')
		if ia < 0 || ib < 0 {
			return a == b
		}
		return strings.EqualFold(ra[:ia], rb[:ib]) && ra[ia+1:] == rb[ib+1:]
	}
	return strings.EqualFold(ra, rb)
}
