package quarantine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"airlock/policy"
	"airlock/storage"
)

// Transition is a person's decision.
type Transition string

const (
	Approve Transition = "approve"
	Reject  Transition = "reject"
	Reopen  Transition = "reopen"
	// Override approves a file a known-malicious advisory blocks: a plain
	// approval cannot, so that no one waves one through by habit.
	Override Transition = "override"
)

// allowedFrom lists the states each transition starts from, and where it
// leads.
var transitions = map[Transition]struct {
	from []State
	to   State
}{
	Approve:  {[]State{Held, Blocked}, Approved},
	Reject:   {[]State{Held, Blocked, Allowed, Released}, Rejected},
	Reopen:   {[]State{Approved, Rejected, Released, Allowed}, Held},
	Override: {[]State{Blocked}, Approved},
}

// CanApply reports whether a person may take transition t on a file in
// state from: the one rule the API, the CLI and the review page follow.
func CanApply(t Transition, from State) bool {
	spec, ok := transitions[t]
	return ok && contains(stateNames(spec.from), string(from))
}

// Scope is what a reviewer saw and waives with an approval: an approval
// releases only holds the reviewer was shown, never one that arrived
// after (a vulnerability, a content finding) or one they did not name.
type Scope struct {
	// Waive names the holding checks the reviewer waives.
	Waive []string `json:"waive,omitempty"`
	// Evidence is the fingerprint (EvidenceFingerprint) of the decision
	// the reviewer read; when given, a decision that changed since is
	// refused with the new evidence.
	Evidence string `json:"evidence,omitempty"`
}

// routineChecks are waived by a plain approval, with no scope: a cooldown
// only delays a release, which is what "approve" has always meant.
var routineChecks = []string{policy.CheckCooldown}

// HoldingChecks lists the checks that hold or block under d, in order.
func HoldingChecks(d policy.Decision) []string {
	var out []string
	for _, r := range d.Reasons {
		if !r.Action.Serves() && !contains(out, r.Check) {
			out = append(out, r.Check)
		}
	}
	return out
}

// EvidenceFingerprint names what a decision holds a file for: every
// holding reason, in order. A reviewer's form carries it, so an approval
// of what changed since is refused.
func EvidenceFingerprint(d policy.Decision) string {
	h := sha256.New()
	for _, r := range d.Reasons {
		if !r.Action.Serves() {
			fmt.Fprintf(h, "%s\x00%s\x00%s\x00", r.Check, r.Action, r.Message)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// unwaived lists the holding checks of d the scope does not cover, or
// ErrEvidenceChanged when the reviewer saw other evidence.
func (sc Scope) unwaived(d policy.Decision) ([]string, error) {
	if sc.Evidence != "" && sc.Evidence != EvidenceFingerprint(d) {
		return nil, fmt.Errorf("%w: the file is now held for: %s", ErrEvidenceChanged, holdSummary(d))
	}
	covered := sc.Waive
	if len(covered) == 0 {
		covered = routineChecks
	}
	var out []string
	for _, c := range HoldingChecks(d) {
		if !contains(covered, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

func holdSummary(d policy.Decision) string {
	var parts []string
	for _, r := range d.Reasons {
		if !r.Action.Serves() {
			parts = append(parts, r.Check+" ("+r.Message+")")
		}
	}
	return strings.Join(parts, "; ")
}

// Apply records a person's decision on the file with this sha256 (never a
// name: an approval must not cover a swapped file), with its audit entry, in
// one transaction. An approval applies only within scope.
func (s *Service) Apply(ctx context.Context, sha string, t Transition, actor, remote, reason string, scope Scope) (View, error) {
	spec, ok := transitions[t]
	if !ok {
		return View{}, fmt.Errorf("%w: unknown action %q", ErrTransition, t)
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return View{}, ErrReasonRequired
	}
	if actor == "" {
		actor = "admin"
	}
	var events []Event
	rec, err := s.store.UpdateDecision(ctx, sha, func(rec *storage.DecisionRecord, exists bool) (bool, *storage.AuditEvent, error) {
		events = nil
		if !exists {
			return false, nil, ErrNotFound
		}
		from := State(rec.State)
		if !CanApply(t, from) {
			return false, nil, fmt.Errorf("%w: cannot %s a file that is %s", ErrTransition, t, from)
		}
		var d policy.Decision
		json.Unmarshal(rec.Decision, &d)
		advisories := maliciousIDs(d)
		switch {
		case t == Approve && len(advisories) > 0:
			return false, nil, fmt.Errorf("%w: blocked by the known-malicious advisory %s; only an explicit override approves it (airlock quarantine override), and it is audited", ErrOverrideRequired, strings.Join(advisories, ", "))
		case t == Override && len(advisories) == 0:
			return false, nil, fmt.Errorf("%w: no malicious advisory blocks this file; use approve", ErrTransition)
		case t == Override:
			reason = "OVERRIDE of advisory " + strings.Join(advisories, ", ") + ": " + reason
		case t == Approve:
			left, err := scope.unwaived(d)
			if err != nil {
				return false, nil, err
			}
			if len(left) > 0 {
				var shown []string
				for _, r := range d.Reasons {
					if !r.Action.Serves() && contains(left, r.Check) {
						shown = append(shown, r.Check+" ("+r.Message+")")
					}
				}
				return false, nil, fmt.Errorf("%w: also held for %s; review them and waive each by name (--waive %s)",
					ErrNotWaived, strings.Join(shown, "; "), strings.Join(HoldingChecks(d), ","))
			}
			if held := HoldingChecks(d); len(held) > 0 {
				reason += " (waived: " + strings.Join(held, ", ") + ")"
			}
		}
		rec.State, rec.DecidedBy, rec.Note, rec.UpdatedAt = string(spec.to), actor, reason, s.now().UTC()
		rec.Approved = nil
		if spec.to == Approved {
			rec.Approved = Evidence(d) // what this approval covers
		}
		events = append(events, s.event(from, spec.to, *rec, d, actor, reason))
		return true, s.auditEvent(*rec, actor, remote, from, spec.to, reason), nil
	})
	if err != nil {
		return View{}, err
	}
	s.changed(ctx, events)
	s.log.Info().Str("sha256", sha).Str("file", rec.Filename).Str("actor", actor).Str("remote", remote).
		Str("action", string(t)).Str("state", rec.State).Str("reason", reason).Msg("quarantine decision")
	return s.view(rec)
}

func stateNames(states []State) []string {
	out := make([]string, len(states))
	for i, st := range states {
		out[i] = string(st)
	}
	return out
}

// Sweep re-evaluates every record that an automatic evaluation may move:
// holds whose time has come, and records decided under other rules. It
// returns how many records changed state. refresh (nil: none) gathers
// again the inputs that change with time (a tag that may have appeared):
// the caller that gathers owns it.
func (s *Service) Sweep(ctx context.Context, refresh func(policy.Input) policy.Input) (int, error) {
	now := s.now()
	var due []storage.DecisionRecord
	err := s.store.Decisions(ctx, func(rec storage.DecisionRecord) error {
		st := State(rec.State)
		if st == Approved || st == Rejected || (st == Held && rec.DecidedBy != "") {
			return nil
		}
		timeUp := st == Held && !rec.Until.IsZero() && !now.Before(rec.Until)
		if timeUp || rec.Policy != s.engine.Version() || s.recheckDue(rec, now) {
			due = append(due, rec)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	changed := 0
	var errs []error
	for _, rec := range due {
		var in policy.Input
		if err := json.Unmarshal(rec.Inputs, &in); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", rec.SHA256, err))
			continue
		}
		if refresh != nil {
			in = refresh(in)
		}
		v, err := s.Decide(ctx, in)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if v.State != rec.State {
			changed++
		}
	}
	return changed, errors.Join(errs...)
}

// Checks whose sources can change their answer without any time being set:
// a tag pushed late, a signal source that comes back. The sweep reads them
// again on a back-off even when no client asks.
var recheckedChecks = []string{policy.CheckSourceRelease, policy.CheckUnknown}

// recheckDue reports whether a hold by a re-readable check is due for
// another look: a quarter of the hold's age, between 5 minutes and 6 hours,
// after the last look.
func (s *Service) recheckDue(rec storage.DecisionRecord, now time.Time) bool {
	if State(rec.State) != Held || rec.DecidedBy != "" {
		return false
	}
	found := false
	for _, c := range recheckedChecks {
		found = found || contains(rec.Checks, c)
	}
	if !found {
		return false
	}
	every := min(max(now.Sub(rec.CreatedAt)/4, 5*time.Minute), 6*time.Hour)
	s.recheckMu.Lock()
	defer s.recheckMu.Unlock()
	if s.rechecked == nil {
		s.rechecked = map[string]time.Time{}
	}
	last, ok := s.rechecked[rec.SHA256]
	if !ok {
		last = rec.UpdatedAt
	}
	if now.Sub(last) < every {
		return false
	}
	s.rechecked[rec.SHA256] = now
	return true
}
