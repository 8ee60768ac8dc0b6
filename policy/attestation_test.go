package policy

import (
	"strings"
	"testing"
	"time"
)

func TestAttestationCheck(t *testing.T) {
	old := t0.Add(-365 * 24 * time.Hour)
	pub := "github:woodruffw/abi3info:release.yml"
	verified := &Attestation{Status: AttestationVerified, Publisher: pub, PredicateTypes: []string{"https://docs.pypi.org/attestations/publish/v1"},
		Identity: map[string]string{"build_config_uri": "https://github.com/woodruffw/abi3info/.github/workflows/release.yml@refs/tags/v2024.10.8"}}
	missing := &Attestation{Status: AttestationMissing}
	invalid := &Attestation{Status: AttestationInvalid, Error: "failed to verify signature"}
	prior := &PriorAttestation{Version: "2024.10.3", Publisher: pub}
	otherPrior := &PriorAttestation{Version: "2024.10.3", Publisher: "github:attacker/abi3info:release.yml"}

	pinned := DefaultRules()
	pinned.Overrides = []Override{{Pattern: "abi3info", Publisher: ptr("github:WoodruffW/abi3info:release.yml")}}
	always := DefaultRules()
	always.Default.RequireAttestation = RequireAlways
	never := DefaultRules()
	never.Default.RequireAttestation = RequireNever

	for _, tt := range []struct {
		name  string
		rules Rules
		att   *Attestation
		prior *PriorAttestation
		want  Action
		msg   string
	}{
		{"verified", DefaultRules(), verified, prior, Allow, "attested by " + pub},
		{"not looked at", DefaultRules(), nil, prior, Allow, ""},
		{"invalid blocks", DefaultRules(), invalid, prior, Block, "attestation invalid: failed to verify signature"},
		{"missing after attested releases", DefaultRules(), missing, prior, Hold, "attestation missing; releases up to 2024.10.3 were attested by " + pub},
		{"missing, never attested", DefaultRules(), missing, nil, Allow, ""},
		{"missing, require always", always, missing, nil, Hold, "policy requires one"},
		{"missing, require never", never, missing, prior, Allow, ""},
		{"publisher changed", DefaultRules(), verified, otherPrior, Hold, "publisher changed: releases up to 2024.10.3 were attested by github:attacker/abi3info:release.yml, this file by " + pub},
		{"pinned publisher matches (case-insensitive repo)", pinned, verified, nil, Allow, "attested by"},
		{"pinned publisher, missing", pinned, missing, nil, Hold, "policy pins publisher"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := input("abi3info", "2024.10.8", old)
			in.Attestation, in.Prior = tt.att, tt.prior
			d := engine(t, tt.rules).Evaluate(in, t0)
			if d.Action != tt.want {
				t.Fatalf("%s (%v), want %s", d.Action, d.Reasons, tt.want)
			}
			var msgs []string
			for _, r := range d.Reasons {
				msgs = append(msgs, r.Message)
			}
			if !strings.Contains(strings.Join(msgs, "|"), tt.msg) {
				t.Errorf("reasons %q lack %q", msgs, tt.msg)
			}
		})
	}
	pinnedOther := DefaultRules()
	pinnedOther.Overrides = []Override{{Pattern: "abi3info", Publisher: ptr("gitlab:someone/abi3info:.gitlab-ci.yml")}}
	in := input("abi3info", "2024.10.8", old)
	in.Attestation = verified
	d := engine(t, pinnedOther).Evaluate(in, t0)
	if d.Action != Hold || !strings.Contains(d.Summary(), "policy pins publisher gitlab:someone/abi3info:.gitlab-ci.yml") || d.Reasons[0].Evidence["cert_build_config_uri"] == nil {
		t.Errorf("pinned other publisher: %+v", d)
	}
}

func ptr[T any](v T) *T { return &v }
