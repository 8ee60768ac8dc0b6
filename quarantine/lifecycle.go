package quarantine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"airlock/policy"
	"airlock/storage"
)

// Transition is a person's decision.
type Transition string

const (
	Approve Transition = "approve"
	Reject  Transition = "reject"
	Reopen  Transition = "reopen"
)

// allowedFrom lists the states each transition starts from, and where it
// leads.
var transitions = map[Transition]struct {
	from []State
	to   State
}{
	Approve: {[]State{Held, Blocked}, Approved},
	Reject:  {[]State{Held, Blocked, Allowed, Released}, Rejected},
	Reopen:  {[]State{Approved, Rejected, Released, Allowed}, Held},
}

// Apply records a person's decision on the file with this sha256 (never a
// name: an approval must not cover a swapped file), with its audit entry, in
// one transaction.
func (s *Service) Apply(sha string, t Transition, actor, remote, reason string) (View, error) {
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
	rec, err := s.store.UpdateDecision(sha, func(rec *storage.DecisionRecord, exists bool) (bool, *storage.AuditEvent, error) {
		events = nil
		if !exists {
			return false, nil, ErrNotFound
		}
		from := State(rec.State)
		if !contains(stateNames(spec.from), rec.State) {
			return false, nil, fmt.Errorf("%w: cannot %s a file that is %s", ErrTransition, t, from)
		}
		rec.State, rec.DecidedBy, rec.Note, rec.UpdatedAt = string(spec.to), actor, reason, s.now().UTC()
		var d policy.Decision
		json.Unmarshal(rec.Decision, &d)
		events = append(events, s.event(from, spec.to, *rec, d, actor, reason))
		return true, s.auditEvent(*rec, actor, remote, from, spec.to, reason), nil
	})
	if err != nil {
		return View{}, err
	}
	s.changed(events)
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
// returns how many records changed state.
func (s *Service) Sweep() (int, error) {
	now := s.now()
	var due []storage.DecisionRecord
	err := s.store.Decisions(func(rec storage.DecisionRecord) error {
		st := State(rec.State)
		if st == Approved || st == Rejected || (st == Held && rec.DecidedBy != "") {
			return nil
		}
		timeUp := st == Held && !rec.Until.IsZero() && !now.Before(rec.Until)
		if timeUp || rec.Policy != s.engine.Version() {
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
		if s.refresh != nil {
			in = s.refresh(in) // inputs that change with time (a tag that may have appeared)
		}
		v, err := s.Decide(in)
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
