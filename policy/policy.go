// Package policy decides, for one distribution file, whether Airlock serves
// it. It is pure: it takes plain inputs gathered elsewhere (upload time
// today; attestations, behavioural signals and content findings as they are
// added) and knows nothing of HTTP or storage.
//
// A decision is allow, warn (served, recorded), hold (quarantined until
// released) or block (never served), with the reasons that produced it. Any
// error while gathering inputs or evaluating a check holds the file: the
// gate fails closed.
package policy

import (
	"fmt"
	"strings"
	"time"
)

// Action is what happens to a file. Later actions are stronger.
type Action string

const (
	Allow Action = "allow"
	Warn  Action = "warn"
	Hold  Action = "hold"
	Block Action = "block"
)

var strength = map[Action]int{Allow: 0, Warn: 1, Hold: 2, Block: 3}

// Allows reports whether a is allow: nothing to say about the file.
func (a Action) Allows() bool { return a == Allow }

// ParseAction reads an action name.
func ParseAction(s string) (Action, error) {
	a := Action(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := strength[a]; !ok {
		return "", fmt.Errorf("%q is not one of allow, warn, hold, block", s)
	}
	return a, nil
}

// Stronger reports whether a outranks b.
func (a Action) Stronger(b Action) bool { return strength[a] > strength[b] }

// Serves reports whether a file with this action may reach clients.
func (a Action) Serves() bool { return a == Allow || a == Warn }

// Mode is enforce (decisions apply) or audit (decisions are made, stored
// and logged, and every file is served as if allowed).
type Mode string

const (
	Enforce Mode = "enforce"
	Audit   Mode = "audit"
)

// Reason explains one part of a decision.
type Reason struct {
	Check    string         `json:"check"`
	Action   Action         `json:"action"`
	Message  string         `json:"message"`
	Evidence map[string]any `json:"evidence,omitempty"`
	// Until is when a time-bound reason stops applying (a cooldown's end).
	Until time.Time `json:"until,omitzero"`
}

// Decision is the outcome of evaluating one file.
type Decision struct {
	Action  Action   `json:"action"`
	Reasons []Reason `json:"reasons"`
	// Until is when a hold ends on its own: set only when every reason that
	// holds the file is time-bound.
	Until time.Time `json:"until,omitzero"`
	// Policy identifies the rules that made the decision, so a stored
	// decision is re-evaluated when the rules change.
	Policy string `json:"policy"`
	// Mode is the mode the decision was made in.
	Mode Mode `json:"mode"`
	// EvaluatedAt is the evaluation's clock.
	EvaluatedAt time.Time `json:"evaluated_at"`
}

// Enforced reports whether the decision keeps the file from clients: its
// action does not serve and the mode is enforce.
func (d Decision) Enforced() bool { return d.Mode != Audit && !d.Action.Serves() }

// Summary is a one-line account of the reasons that decided the action,
// e.g. "cooldown until 2026-11-30T08:00Z".
func (d Decision) Summary() string {
	var parts []string
	for _, r := range d.Reasons {
		if r.Action == d.Action {
			parts = append(parts, r.Message)
		}
	}
	if len(parts) == 0 {
		return string(d.Action)
	}
	return strings.Join(parts, "; ")
}

// Checks returns the names of the checks behind the decision's action.
func (d Decision) Checks() []string {
	var out []string
	for _, r := range d.Reasons {
		if r.Action == d.Action && r.Action != Allow {
			out = append(out, r.Check)
		}
	}
	return out
}

// Input is everything the engine knows about one file. Fields are plain
// values; a field that could not be gathered is reported in GatherErrors.
type Input struct {
	Project string `json:"project"` // normalized
	// Index names the private index the file comes from; "" is the public
	// upstream.
	Index    string `json:"index,omitempty"`
	Version  string `json:"version"`
	Filename string `json:"filename"`
	SHA256   string `json:"sha256"`
	// UploadTime is zero when the index did not say.
	UploadTime time.Time `json:"upload_time,omitzero"`
	// Attestation is what is known of the file's PEP 740 provenance; nil
	// when it was not looked at (a page listing whose index does not say).
	Attestation *Attestation `json:"attestation,omitempty"`
	// Prior is the newest earlier release that was attested; nil when none
	// was (or it was not looked up).
	Prior *PriorAttestation `json:"prior,omitempty"`
	// Signals are the project's behaviour; nil when not gathered.
	Signals *Signals `json:"signals,omitempty"`
	// Content is what inspecting the file found; nil when not inspected
	// (a metadata request, or a listing).
	Content *Content `json:"content,omitempty"`
	// GatherErrors are failures while collecting inputs; each holds the file.
	GatherErrors []string `json:"gather_errors,omitempty"`
	// ReusedFilename is the sha256 of other bytes Airlock stored earlier
	// under this file's name, when the upstream changed them.
	ReusedFilename string `json:"reused_filename,omitempty"`
	// RetryAt is when inputs that failed to gather are gathered again; a
	// hold for a gather error ends then (and is decided anew).
	RetryAt time.Time `json:"retry_at,omitzero"`
	// Advisories are the OSV records that name the file.
	Advisories []Advisory `json:"advisories,omitempty"`
	// AdvisoriesPartial: an advisory source had no records in force (not
	// read since a start with nothing kept), so an advisory missing from
	// Advisories may only be unknown; the quarantine then keeps those an
	// earlier decision of the file named.
	AdvisoriesPartial bool `json:"advisories_partial,omitempty"`
	// RemovedUpstream is when Airlock found the upstream no longer lists
	// the stored file (zero while it does). A yank is not a removal.
	RemovedUpstream time.Time `json:"removed_upstream,omitzero"`
}

// Advisory is an OSV record that names a file, as evidence.
type Advisory struct {
	ID        string    `json:"id"`
	Summary   string    `json:"summary"`
	Link      string    `json:"link"`
	Published time.Time `json:"published,omitzero"`
	Malicious bool      `json:"malicious"`
	Severity  string    `json:"severity,omitempty"`
}

// Signals are the behavioural facts about a project that checks act on.
type Signals struct {
	// Score is the commitment score 0-100; nil when no source answered.
	Score *int `json:"score,omitempty"`
	// Confidence is the share (0-1) of the score's weights whose sources
	// answered; Missing names the components left out.
	Confidence float64            `json:"confidence,omitempty"`
	Missing    []string           `json:"missing,omitempty"`
	Breakdown  map[string]float64 `json:"breakdown,omitempty"`
	Flags      []string           `json:"flags,omitempty"`
	// Unknown lists the sources that could not be read, with why.
	Unknown map[string]string `json:"unknown,omitempty"`
	// Repository is owner/repo of the linked GitHub repository, "" when
	// the project links none.
	Repository string `json:"repository,omitempty"`
	// RepoKnown is set when the repository's tags could be read.
	RepoKnown bool `json:"repo_known,omitempty"`
	// TagsReleases is set when earlier releases have matching tags or
	// releases: only then is a missing tag a finding.
	TagsReleases bool `json:"tags_releases,omitempty"`
	// Tag is the tag matching this version, nil when there is none.
	Tag *TagMatch `json:"tag,omitempty"`
}

// TagMatch is a repository tag matching a release's version.
type TagMatch struct {
	Name string `json:"name"`
	// Time is when the tag (or its GitHub release) appeared, as well as can
	// be told; zero when unknown.
	Time time.Time `json:"time,omitzero"`
	// How says where Time came from: release (GitHub's publication time),
	// commit (the tagged commit's date), or absent-until (the last time
	// Airlock looked and the tag was not there, when that is later).
	How string `json:"how,omitempty"`
}

// Attestation statuses.
const (
	AttestationVerified = "verified"
	AttestationMissing  = "missing"
	AttestationInvalid  = "invalid"
)

// Attestation is the outcome of checking a file's provenance.
type Attestation struct {
	Status string `json:"status"`
	// Publisher is the verified publisher's spec, e.g.
	// github:owner/repo:release.yml.
	Publisher      string            `json:"publisher,omitempty"`
	Environment    string            `json:"environment,omitempty"`
	PredicateTypes []string          `json:"predicate_types,omitempty"`
	LogTime        time.Time         `json:"log_time,omitzero"`
	Identity       map[string]string `json:"identity,omitempty"`
	// Error says why an invalid attestation failed.
	Error string `json:"error,omitempty"`
}

// PriorAttestation is an earlier release's verified attestation.
type PriorAttestation struct {
	Version   string `json:"version"`
	Publisher string `json:"publisher"`
}

// Requirement is a parsed "name==version" target.
type Requirement struct {
	Project string // normalized
	Version string
}

// TimeFormat is how times appear in reasons: minutes, UTC, as in
// "cooldown until 2026-11-30T08:00Z".
const TimeFormat = "2006-01-02T15:04Z"

// Content is the outcome of inspecting a file, compared with the previous
// release of the project.
type Content struct {
	// Error is set when the file could not be inspected (a limit, a
	// corrupt archive): "could not inspect: ...".
	Error string `json:"error,omitempty"`
	// New are findings the previous release did not have (all of them when
	// there is no previous release).
	New []ContentFinding `json:"new,omitempty"`
	// Known are findings the previous release had too: informational.
	Known           []ContentFinding `json:"known,omitempty"`
	PreviousVersion string           `json:"previous_version,omitempty"`
	FilesAdded      []string         `json:"files_added,omitempty"`
	FilesRemoved    []string         `json:"files_removed,omitempty"`
	// Note says why the file was not compared with an earlier release.
	Note string `json:"note,omitempty"`
}

// ContentFinding is one inspection finding.
type ContentFinding struct {
	Severity string `json:"severity"`
	Kind     string `json:"kind"`
	Path     string `json:"path"`
	Line     int    `json:"line,omitempty"`
	// NewLines are the lines of Evidence the baseline's copy of the file
	// does not have.
	NewLines []int  `json:"new_lines,omitempty"`
	Message  string `json:"message"`
	Evidence string `json:"evidence,omitempty"`
}
