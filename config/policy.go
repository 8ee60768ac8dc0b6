package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"airlock/index"
	"airlock/policy"
	"airlock/verify"
)

// Policy is the `policy:` section: what the gate decides.
type Policy struct {
	// Mode is enforce or audit (decide and log, serve everything).
	Mode string `yaml:"mode"`
	// Cooldown holds files younger than this by their upload time.
	Cooldown Duration `yaml:"cooldown"`
	// OnMissingUploadTime is hold or allow.
	OnMissingUploadTime string `yaml:"on_missing_upload_time"`
	// NotAfter (RFC 3339) holds everything uploaded after it.
	NotAfter string `yaml:"not_after"`
	// Exempt lists project names and name==version pins allowed unchecked.
	Exempt []string `yaml:"exempt"`
	// Actions maps a check to its action: allow, warn, hold or block.
	Actions map[string]string `yaml:"actions"`
	// Projects overrides settings for projects matching a name or glob.
	Projects map[string]ProjectPolicy `yaml:"projects"`
	// SweepInterval is how often held files are re-evaluated, so time-bound
	// holds release themselves.
	SweepInterval Duration `yaml:"sweep_interval"`
	// Attestations configures the PEP 740 checks.
	Attestations Attestations `yaml:"attestations"`
	// Score acts on the commitment score.
	Score ScorePolicy `yaml:"score"`
	// Flags maps a flag (single-maintainer, rapid-releases,
	// high-blast-radius, new-project, dormant-then-release, no-repository)
	// to its action.
	Flags map[string]string `yaml:"flags"`
	// SourceRelease matches new releases against their repository's tags.
	SourceRelease SourceReleasePolicy `yaml:"source_release"`
	// OnUnknown is the action when a signal source cannot be read.
	OnUnknown string `yaml:"on_unknown"`
	// NewReleaseWindow: behavioural checks apply to files uploaded within it.
	NewReleaseWindow Duration `yaml:"new_release_window"`
	// Content maps inspection finding severities (critical, high, medium,
	// low, info) to actions.
	Content map[string]string `yaml:"content"`
	// Indexes turns checks back on for a private index's files.
	Indexes map[string]IndexPolicy `yaml:"indexes"`
	// Vulnerabilities maps an advisory's severity (critical, high, medium,
	// low, unknown) to the action of the vulnerability check.
	Vulnerabilities map[string]string `yaml:"vulnerabilities"`
	// OnUpstreamRemoved is block (a stored file the upstream no longer
	// lists is not served) or keep (it is, from the store).
	OnUpstreamRemoved string `yaml:"on_upstream_removed"`
}

// ScorePolicy is `policy.score:`.
type ScorePolicy struct {
	Min           int           `yaml:"min"`
	Action        string        `yaml:"action"`
	CooldownBelow CooldownBelow `yaml:"cooldown_below"`
	// MinConfidence is the share of the score's weights that must come from
	// sources that answered before the risk-adaptive cooldown applies: a
	// score built on missing sources does not lengthen the cooldown.
	MinConfidence float64 `yaml:"min_confidence"`
}

// CooldownBelow is the risk-adaptive cooldown: projects scoring under Score
// wait Cooldown.
type CooldownBelow struct {
	Score    int      `yaml:"score"`
	Cooldown Duration `yaml:"cooldown"`
}

// SourceReleasePolicy is `policy.source_release:`.
type SourceReleasePolicy struct {
	Action         string   `yaml:"action"`
	Grace          Duration `yaml:"grace"`
	OnNoRepository string   `yaml:"on_no_repository"`
}

// Attestations is the `policy.attestations:` section.
type Attestations struct {
	// Require is never, if-previously-attested or always.
	Require string `yaml:"require"`
	// Projects pins publishers (and requirements) per project name or glob.
	Projects map[string]AttestationProject `yaml:"projects"`
}

// AttestationProject is a per-project attestation setting.
type AttestationProject struct {
	// Publisher pins the Trusted Publisher: github:OWNER/REPO:WORKFLOW,
	// gitlab:PROJECT_PATH:WORKFLOW_FILEPATH or google:EMAIL.
	Publisher string `yaml:"publisher"`
	Require   string `yaml:"require"`
}

// Sigstore is the `sigstore:` section.
type Sigstore struct {
	// TrustedRoot is a trusted_root.json to use instead of the embedded
	// Sigstore public-good root.
	TrustedRoot string `yaml:"trusted_root"`
	// TUF refreshes the trusted root from Sigstore's TUF repository at
	// start-up (needs the network).
	TUF bool `yaml:"tuf"`
	// TUFURL is the TUF repository (empty: Sigstore's public one).
	TUFURL string `yaml:"tuf_url"`
	// TUFRoot is the TUF root.json to trust first (empty: the one
	// sigstore-go embeds for Sigstore's public repository).
	TUFRoot string `yaml:"tuf_root"`
}

// ProjectPolicy is a per-project override; unset keys keep the default.
type ProjectPolicy struct {
	Cooldown            *Duration         `yaml:"cooldown"`
	OnMissingUploadTime string            `yaml:"on_missing_upload_time"`
	NotAfter            string            `yaml:"not_after"`
	Actions             map[string]string `yaml:"actions"`
}

// Admin is the `admin:` section.
type Admin struct {
	// Token is the bearer token of the admin API; empty turns the API off.
	// At least 32 characters.
	Token string `yaml:"token"`
	// Listen serves the admin API and the review page on their own address
	// (e.g. 127.0.0.1:3181) instead of the index's; empty shares it.
	Listen string `yaml:"listen"`
	// ReviewersFile holds per-reviewer tokens, "name:sha256-hex" lines: a
	// reviewer signs in to the review page and calls the API with their
	// own token, and the audit log and webhooks name them.
	ReviewersFile string `yaml:"reviewers_file"`
}

// MinAdminToken is the shortest admin token accepted.
const MinAdminToken = 32

// Notify is the `notify:` section: webhooks on every new hold and release.
type Notify struct {
	Webhooks []string `yaml:"webhooks"`
	Timeout  Duration `yaml:"timeout"`
	Retries  int      `yaml:"retries"`
}

func defaultPolicy() Policy {
	return Policy{Mode: "enforce", Cooldown: Duration(7 * 24 * time.Hour), OnMissingUploadTime: "hold",
		SweepInterval: Duration(time.Minute), Attestations: Attestations{Require: "if-previously-attested"},
		Score:         ScorePolicy{Min: 40, Action: "warn", CooldownBelow: CooldownBelow{Score: 50, Cooldown: Duration(14 * 24 * time.Hour)}, MinConfidence: 0.8},
		SourceRelease: SourceReleasePolicy{Action: "hold", Grace: Duration(time.Hour), OnNoRepository: "warn"},
		OnUnknown:     "warn", NewReleaseWindow: Duration(30 * 24 * time.Hour), OnUpstreamRemoved: "block"}
}

// Rules converts the section into the policy engine's rules, naming the key
// of the first bad value.
func (p Policy) Rules() (policy.Rules, error) {
	r := policy.Rules{Mode: policy.Mode(p.Mode), Default: policy.ProjectRules{
		Cooldown: time.Duration(p.Cooldown), Actions: map[string]policy.Action{},
		RequireAttestation: p.Attestations.Require,
		ScoreMin:           p.Score.Min, NewReleaseWindow: time.Duration(p.NewReleaseWindow), TagGrace: time.Duration(p.SourceRelease.Grace),
		CooldownBelowScore: p.Score.CooldownBelow.Score, CooldownBelow: time.Duration(p.Score.CooldownBelow.Cooldown),
		CooldownMinConfidence: p.Score.MinConfidence,
	}}
	for name, ip := range p.Indexes {
		if r.Indexes == nil {
			r.Indexes = map[string]policy.IndexChecks{}
		}
		r.Indexes[name] = policy.IndexChecks{Cooldown: ip.Cooldown, MissingUploadTime: ip.MissingUploadTime, Attestations: ip.Attestations, Behaviour: ip.Behaviour}
	}
	if r.Mode != policy.Enforce && r.Mode != policy.Audit {
		return r, fmt.Errorf("config: policy.mode: %q is not enforce or audit", p.Mode)
	}
	var err error
	if r.Default.OnMissingUploadTime, err = holdOrAllow(p.OnMissingUploadTime); err != nil {
		return r, fmt.Errorf("config: policy.on_missing_upload_time: %w", err)
	}
	if r.Default.NotAfter, err = parseTime(p.NotAfter); err != nil {
		return r, fmt.Errorf("config: policy.not_after: %w", err)
	}
	if r.Default.Actions, err = actions(p.Actions); err != nil {
		return r, fmt.Errorf("config: policy.actions.%w", err)
	}
	for key, a := range map[string]struct{ check, value string }{
		"policy.score.action":                    {policy.CheckScore, p.Score.Action},
		"policy.source_release.action":           {policy.CheckSourceRelease, p.SourceRelease.Action},
		"policy.source_release.on_no_repository": {policy.CheckNoRepository, p.SourceRelease.OnNoRepository},
		"policy.on_unknown":                      {policy.CheckUnknown, p.OnUnknown},
	} {
		act, err := policy.ParseAction(a.value)
		if err != nil {
			return r, fmt.Errorf("config: %s: %w", key, err)
		}
		if _, set := r.Default.Actions[a.check]; !set {
			r.Default.Actions[a.check] = act
		}
	}
	for flag, value := range p.Flags {
		if !slices.Contains(policy.Flags, flag) {
			return r, fmt.Errorf("config: policy.flags.%s: unknown flag (known: %s)", flag, strings.Join(policy.Flags, ", "))
		}
		act, err := policy.ParseAction(value)
		if err != nil {
			return r, fmt.Errorf("config: policy.flags.%s: %w", flag, err)
		}
		r.Default.Actions[flag] = act
	}
	switch p.OnUpstreamRemoved {
	case "block":
		if _, set := r.Default.Actions[policy.CheckUpstreamRemoved]; !set {
			r.Default.Actions[policy.CheckUpstreamRemoved] = policy.Block
		}
	case "keep":
		r.Default.Actions[policy.CheckUpstreamRemoved] = policy.Allow
	default:
		return r, fmt.Errorf("config: policy.on_upstream_removed: %q is not block or keep", p.OnUpstreamRemoved)
	}
	for sev, value := range p.Vulnerabilities {
		if !slices.Contains([]string{"critical", "high", "medium", "low", "unknown"}, sev) {
			return r, fmt.Errorf("config: policy.vulnerabilities.%s: not a severity (critical, high, medium, low, unknown)", sev)
		}
		act, err := policy.ParseAction(value)
		if err != nil {
			return r, fmt.Errorf("config: policy.vulnerabilities.%s: %w", sev, err)
		}
		if r.Default.VulnerabilityActions == nil {
			r.Default.VulnerabilityActions = map[string]policy.Action{}
		}
		r.Default.VulnerabilityActions[sev] = act
	}
	r.Default.ContentActions = map[string]policy.Action{}
	for sev, value := range p.Content {
		act, err := policy.ParseAction(value)
		if err != nil {
			return r, fmt.Errorf("config: policy.content.%s: %w", sev, err)
		}
		r.Default.ContentActions[sev] = act
	}
	if p.Score.MinConfidence < 0 || p.Score.MinConfidence > 1 {
		return r, fmt.Errorf("config: policy.score.min_confidence: must be between 0 and 1")
	}
	if p.Score.Min < 0 || p.Score.Min > 100 || p.Score.CooldownBelow.Score < 0 || p.Score.CooldownBelow.Score > 100 {
		return r, fmt.Errorf("config: policy.score: min and cooldown_below.score must be 0-100")
	}
	if p.NewReleaseWindow <= 0 || p.SourceRelease.Grace < 0 {
		return r, fmt.Errorf("config: policy.new_release_window must be positive and policy.source_release.grace not negative")
	}
	for _, e := range p.Exempt {
		name, version, pinned := strings.Cut(e, "==")
		n, nerr := index.Normalize(strings.TrimSpace(name))
		if nerr != nil || (pinned && strings.TrimSpace(version) == "") {
			return r, fmt.Errorf("config: policy.exempt: %q is not a name or name==version", e)
		}
		if pinned {
			n += "==" + strings.TrimSpace(version)
		}
		r.Exempt = append(r.Exempt, n)
	}
	// policy.projects and policy.attestations.projects may name the same
	// pattern: they make one override.
	overrides := map[string]*policy.Override{}
	override := func(section, pat string) (*policy.Override, string, error) {
		key := "config: " + section + "." + pat
		// Names and globs are spelled as names are normalized: "Acme.*"
		// is "acme-*", which matches what it was written for.
		norm, nerr := index.NormalizeGlob(pat)
		if nerr != nil {
			return nil, key, fmt.Errorf("%s: not a project name or glob", key)
		}
		if overrides[norm] == nil {
			overrides[norm] = &policy.Override{Pattern: norm}
		}
		return overrides[norm], key, nil
	}
	for _, pat := range sortedKeys(p.Projects) {
		pp := p.Projects[pat]
		o, key, err := override("policy.projects", pat)
		if err != nil {
			return r, err
		}
		if pp.Cooldown != nil {
			d := time.Duration(*pp.Cooldown)
			o.Cooldown = &d
		}
		if pp.OnMissingUploadTime != "" {
			a, err := holdOrAllow(pp.OnMissingUploadTime)
			if err != nil {
				return r, fmt.Errorf("%s.on_missing_upload_time: %w", key, err)
			}
			o.OnMissingUploadTime = &a
		}
		if pp.NotAfter != "" {
			t, err := parseTime(pp.NotAfter)
			if err != nil {
				return r, fmt.Errorf("%s.not_after: %w", key, err)
			}
			o.NotAfter = &t
		}
		if o.Actions, err = actions(pp.Actions); err != nil {
			return r, fmt.Errorf("%s.actions.%w", key, err)
		}
	}
	for _, pat := range sortedKeys(p.Attestations.Projects) {
		ap := p.Attestations.Projects[pat]
		o, key, err := override("policy.attestations.projects", pat)
		if err != nil {
			return r, err
		}
		if ap.Publisher != "" {
			spec, err := verify.ParsePublisherSpec(ap.Publisher)
			if err != nil || spec.Kind == "Email" {
				return r, fmt.Errorf("%s.publisher: %q is not github:OWNER/REPO:WORKFLOW, gitlab:PROJECT_PATH:WORKFLOW_FILEPATH or google:EMAIL", key, ap.Publisher)
			}
			pub := spec.Spec()
			o.Publisher = &pub
		}
		if ap.Require != "" {
			req := ap.Require
			o.RequireAttestation = &req
		}
	}
	for _, pat := range sortedKeys(overrides) {
		r.Overrides = append(r.Overrides, *overrides[pat])
	}
	if err := r.Validate(); err != nil {
		return r, fmt.Errorf("config: policy: %w", err)
	}
	return r, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func holdOrAllow(s string) (policy.Action, error) {
	switch s {
	case "hold":
		return policy.Hold, nil
	case "allow":
		return policy.Allow, nil
	}
	return "", fmt.Errorf("%q is not hold or allow", s)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time such as 2026-03-24T00:00:00Z", s)
	}
	return t.UTC(), nil
}

func actions(m map[string]string) (map[string]policy.Action, error) {
	out := map[string]policy.Action{}
	for check, s := range m {
		if _, ok := policy.DefaultActions[check]; !ok {
			return nil, fmt.Errorf("%s: unknown check", check)
		}
		a, err := policy.ParseAction(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", check, err)
		}
		out[check] = a
	}
	return out, nil
}
