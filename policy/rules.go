package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// Check names, as they appear in reasons and in the actions map.
const (
	CheckCooldown   = "cooldown"
	CheckNotAfter   = "not_after"
	CheckUploadTime = "upload_time"
	CheckExempt     = "exempt"
	CheckError      = "error"
	// CheckAttestation covers missing attestations, publisher changes and
	// pinned publishers; CheckAttestationInvalid an attestation that does
	// not verify.
	CheckAttestation        = "attestation"
	CheckAttestationInvalid = "attestation_invalid"
	// Behavioural checks: a low commitment score, each flag (by its name),
	// a release without a matching tag, no linked repository, and sources
	// that could not be read.
	CheckScore         = "score"
	CheckSourceRelease = "source_release"
	CheckNoRepository  = "no_repository"
	CheckUnknown       = "unknown"
	// CheckContent acts on inspection findings by severity.
	CheckContent = "content"
	// CheckFilenameReused: the upstream lists different bytes under a
	// filename Airlock stored before.
	CheckFilenameReused = "filename_reused"
	// CheckMalicious blocks a file named by a known-malicious advisory
	// (OSV MAL-…); CheckVulnerability acts on other advisories by severity.
	CheckMalicious     = "malicious"
	CheckVulnerability = "vulnerability"
	// CheckUpstreamRemoved acts on a stored file the upstream no longer
	// lists (block, or allow to keep serving it).
	CheckUpstreamRemoved = "upstream_removed"
)

// DefaultContentActions map finding severities to actions.
var DefaultContentActions = map[string]Action{"critical": Hold, "high": Hold, "medium": Warn, "low": Allow, "info": Allow}

// Attestation requirements.
const (
	RequireNever                = "never"
	RequireIfPreviouslyAttested = "if-previously-attested"
	RequireAlways               = "always"
)

// Rules are the whole policy, as configured.
type Rules struct {
	Mode    Mode
	Default ProjectRules
	// Overrides apply to projects matching their pattern (a normalized name
	// or a glob); the most specific match wins.
	Overrides []Override
	// Exempt lists normalized names and "name==version" pins that are
	// allowed without checks.
	Exempt []string
	// Indexes are the checks turned back on for a private index's files,
	// by index name. A private index missing here gets none of them.
	Indexes map[string]IndexChecks
}

// IndexChecks are the families of checks that apply to a private index's
// files besides the hash check and content inspection, which always do.
type IndexChecks struct {
	Cooldown          bool // cooldown, risk-adaptive cooldown, not_after
	MissingUploadTime bool
	Attestations      bool
	Behaviour         bool // score, flags, source release, unknown sources
}

// ForIndex is For with the private index's rules applied: the families of
// checks it does not turn on are off. index "" is the public upstream.
func (r Rules) ForIndex(project, index string) (ProjectRules, string) {
	pr, pattern := r.For(project)
	if index == "" {
		return pr, pattern
	}
	on := r.Indexes[index]
	if !on.Cooldown {
		pr.Cooldown, pr.CooldownBelowScore, pr.NotAfter = 0, 0, time.Time{}
	}
	if !on.MissingUploadTime {
		pr.OnMissingUploadTime = Allow
	}
	if !on.Attestations {
		pr.RequireAttestation, pr.Publisher = RequireNever, ""
		pr.Actions[CheckAttestation] = Allow
	}
	if !on.Behaviour {
		for _, c := range BehaviourChecks() {
			pr.Actions[c] = Allow
		}
	}
	return pr, pattern
}

// ProjectRules are the settings that can differ per project.
type ProjectRules struct {
	Cooldown            time.Duration
	OnMissingUploadTime Action // hold or allow
	NotAfter            time.Time
	// Actions maps a check name to the action its finding takes.
	Actions map[string]Action
	// RequireAttestation is never, if-previously-attested or always.
	RequireAttestation string
	// Publisher pins the Trusted Publisher (a spec such as
	// github:owner/repo:release.yml); empty means any.
	Publisher string
	// ScoreMin is the lowest commitment score that passes the score check.
	ScoreMin int
	// NewReleaseWindow: behavioural checks apply to files uploaded within
	// it, so old, long-installed releases are not judged by today's score.
	NewReleaseWindow time.Duration
	// TagGrace is how long after an upload its tag may appear.
	TagGrace time.Duration
	// CooldownBelowScore and CooldownBelow make projects scoring under the
	// threshold wait longer (risk-adaptive cooldown); 0 turns it off.
	CooldownBelowScore int
	CooldownBelow      time.Duration
	// CooldownMinConfidence is the least Signals.Confidence at which the
	// risk-adaptive cooldown applies.
	CooldownMinConfidence float64
	// ContentActions maps an inspection finding's severity to an action;
	// missing severities take DefaultContentActions.
	ContentActions map[string]Action
	// VulnerabilityActions maps an advisory's severity (critical, high,
	// medium, low, unknown) to an action; missing ones take the
	// vulnerability check's action (warn).
	VulnerabilityActions map[string]Action
}

// Override is a per-project change to the default rules. Nil fields keep
// the default.
type Override struct {
	Pattern             string
	Cooldown            *time.Duration
	OnMissingUploadTime *Action
	NotAfter            *time.Time
	Actions             map[string]Action
	RequireAttestation  *string
	Publisher           *string
}

// DefaultRules are the built-in policy: enforce, 7-day cooldown, hold files
// without an upload time.
func DefaultRules() Rules {
	return Rules{Mode: Enforce, Default: ProjectRules{
		Cooldown: 7 * 24 * time.Hour, OnMissingUploadTime: Hold, Actions: map[string]Action{},
		RequireAttestation: RequireIfPreviouslyAttested,
		ScoreMin:           40, NewReleaseWindow: 30 * 24 * time.Hour, TagGrace: time.Hour,
	}}
}

// Validate checks the rules once, at load time.
func (r Rules) Validate() error {
	if r.Mode != Enforce && r.Mode != Audit {
		return fmt.Errorf("mode: %q is not enforce or audit", r.Mode)
	}
	if err := r.Default.validate(); err != nil {
		return err
	}
	for _, o := range r.Overrides {
		if _, err := path.Match(o.Pattern, ""); err != nil || o.Pattern == "" {
			return fmt.Errorf("projects: %q is not a valid name or glob", o.Pattern)
		}
		if o.Cooldown != nil && *o.Cooldown < 0 {
			return fmt.Errorf("projects.%s.cooldown: must not be negative", o.Pattern)
		}
		if o.OnMissingUploadTime != nil && *o.OnMissingUploadTime != Hold && *o.OnMissingUploadTime != Allow {
			return fmt.Errorf("projects.%s.on_missing_upload_time: must be hold or allow", o.Pattern)
		}
		if err := validateActions(o.Actions); err != nil {
			return fmt.Errorf("projects.%s.%w", o.Pattern, err)
		}
		if o.RequireAttestation != nil {
			if err := validateRequire(*o.RequireAttestation); err != nil {
				return fmt.Errorf("attestations.projects.%s.require: %w", o.Pattern, err)
			}
		}
	}
	for _, e := range r.Exempt {
		if e == "" {
			return fmt.Errorf("exempt: empty entry")
		}
	}
	return nil
}

func (p ProjectRules) validate() error {
	if p.Cooldown < 0 {
		return fmt.Errorf("cooldown: must not be negative")
	}
	if p.OnMissingUploadTime != Hold && p.OnMissingUploadTime != Allow {
		return fmt.Errorf("on_missing_upload_time: must be hold or allow")
	}
	if err := validateRequire(p.RequireAttestation); err != nil {
		return fmt.Errorf("attestations.require: %w", err)
	}
	if err := validateContentActions(p.ContentActions); err != nil {
		return err
	}
	return validateActions(p.Actions)
}

func validateRequire(s string) error {
	switch s {
	case RequireNever, RequireIfPreviouslyAttested, RequireAlways:
		return nil
	}
	return fmt.Errorf("%q is not never, if-previously-attested or always", s)
}

func validateActions(m map[string]Action) error {
	for check, a := range m {
		if _, ok := DefaultActions[check]; !ok {
			return fmt.Errorf("actions: unknown check %q (known: %s)", check, strings.Join(knownChecks(), ", "))
		}
		if _, ok := strength[a]; !ok {
			return fmt.Errorf("actions.%s: %q is not one of allow, warn, hold, block", check, a)
		}
	}
	return nil
}

func knownChecks() []string {
	var out []string
	for k := range DefaultActions {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Version is a stable fingerprint of the rules.
func (r Rules) Version() string {
	b, _ := json.Marshal(r)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// For resolves the rules for one project: the most specific matching
// override (an exact name beats any glob; among globs, more literal
// characters win, then the pattern that sorts first) applied to the default.
func (r Rules) For(project string) (ProjectRules, string) {
	best, bestScore := -1, -1
	for i, o := range r.Overrides {
		ok, _ := path.Match(o.Pattern, project)
		if !ok {
			continue
		}
		score := literalChars(o.Pattern)
		if o.Pattern == project {
			score = 1 << 20
		}
		if score > bestScore || (score == bestScore && o.Pattern < r.Overrides[best].Pattern) {
			best, bestScore = i, score
		}
	}
	pr := r.Default
	pr.Actions = copyActions(r.Default.Actions)
	if best < 0 {
		return pr, ""
	}
	o := r.Overrides[best]
	if o.Cooldown != nil {
		pr.Cooldown = *o.Cooldown
	}
	if o.OnMissingUploadTime != nil {
		pr.OnMissingUploadTime = *o.OnMissingUploadTime
	}
	if o.NotAfter != nil {
		pr.NotAfter = *o.NotAfter
	}
	for k, v := range o.Actions {
		pr.Actions[k] = v
	}
	if o.RequireAttestation != nil {
		pr.RequireAttestation = *o.RequireAttestation
	}
	if o.Publisher != nil {
		pr.Publisher = *o.Publisher
	}
	return pr, o.Pattern
}

func literalChars(pattern string) int {
	n := 0
	for _, c := range pattern {
		if c != '*' && c != '?' && c != '[' && c != ']' {
			n++
		}
	}
	return n
}

func copyActions(m map[string]Action) map[string]Action {
	out := make(map[string]Action, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// action returns the configured action for a check.
func (p ProjectRules) action(check string) Action {
	if a, ok := p.Actions[check]; ok {
		return a
	}
	return DefaultActions[check]
}

// exempt reports the exemption entry that covers project==version, if any.
func (r Rules) exempt(project, version string) string {
	for _, e := range r.Exempt {
		if e == project || e == project+"=="+version {
			return e
		}
	}
	return ""
}
