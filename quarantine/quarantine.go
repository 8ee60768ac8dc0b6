// Package quarantine keeps the gate's state per file: it runs the policy
// engine, stores each decision with the inputs that produced it, moves files
// through their lifecycle (held -> released | approved | rejected, reopen
// back to held), writes the append-only audit log, and tells a notifier about
// new holds and releases. It knows nothing of HTTP.
package quarantine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"airlock/policy"
	"airlock/storage"
)

// State is a file's place in the lifecycle.
type State string

const (
	Allowed  State = "allowed"  // passed the policy (or only warned)
	Held     State = "held"     // quarantined: not served
	Released State = "released" // was held; re-evaluation now passes
	Approved State = "approved" // a person released it
	Rejected State = "rejected" // a person refused it
	Blocked  State = "blocked"  // the policy blocks it: never served
)

// Serves reports whether clients get a file in this state (in enforce mode).
func (s State) Serves() bool { return s == Allowed || s == Released || s == Approved }

// Errors of the manual transitions.
var (
	ErrNotFound       = errors.New("no decision is recorded for this file")
	ErrAmbiguous      = errors.New("review id matches more than one file; use the full sha256")
	ErrReasonRequired = errors.New("a reason is required")
	ErrTransition     = errors.New("transition not allowed")
	// ErrOverrideRequired: a known-malicious advisory blocks the file.
	ErrOverrideRequired = errors.New("override required")
	// ErrNotWaived: an approval that does not name every hold.
	ErrNotWaived = errors.New("not approved")
	// ErrEvidenceChanged: the decision changed since the reviewer read it.
	ErrEvidenceChanged = errors.New("not approved: the evidence changed since it was shown")
)

// Actor names automatic transitions in the audit log.
const Actor = "airlock"

// Notifier is told about new holds and releases. It must not block.
type Notifier interface {
	Notify(Event)
}

// Event is a notification.
type Event struct {
	Kind   string // "hold", "release", or an event about a project (dependency_confusion)
	Record View
	Actor  string
	Reason string
	// Details describe a project event (Record then names only the project).
	Details map[string]any
	// Downloads and DownloadClients say how often, and to how many
	// addresses, a file that is now blocked was served before.
	Downloads, DownloadClients int
}

// Invalidate makes every rendered page stale: what the pages depend on
// changed outside a decision (new advisories).
func (s *Service) Invalidate() { s.gen.Add(1) }

// NotifyEvent sends an event about a project rather than a file, such as
// a dependency confusion, to the webhooks.
func (s *Service) NotifyEvent(kind, project string, details map[string]any) {
	if s.notify == nil {
		return
	}
	e := Event{Kind: kind, Details: details}
	e.Record.Project = project
	s.notify.Notify(e)
}

// View is a decoded record, as the admin API and the server use it.
type View struct {
	storage.DecisionRecord
	ReviewID string          `json:"review_id"`
	Decision policy.Decision `json:"decision"`
	Inputs   policy.Input    `json:"inputs"`
	// Serve is whether clients get the file now.
	Serve bool `json:"serve"`
}

// ReviewID is the short id a person quotes: the sha256's first 12 digits.
func ReviewID(sha string) string {
	if len(sha) < 12 {
		return sha
	}
	return sha[:12]
}

// Service is safe for concurrent use.
type Service struct {
	store  Store
	engine *policy.Engine
	notify Notifier
	now    func() time.Time
	log    zerolog.Logger
	gen    atomic.Uint64

	recheckMu sync.Mutex
	rechecked map[string]time.Time // sha256 -> the sweep's last re-read
}

// New builds a Service. notify may be nil.
func New(store Store, engine *policy.Engine, notify Notifier, now func() time.Time, log zerolog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, engine: engine, notify: notify, now: now, log: log}
}

// Engine returns the policy engine.
func (s *Service) Engine() *policy.Engine { return s.engine }

// Generation changes whenever any file's state changes; cached pages that
// show decisions are stale when it moves.
func (s *Service) Generation() uint64 { return s.gen.Load() }

// Audit reports whether the policy runs in audit mode.
func (s *Service) Audit() bool { return s.engine.Rules().Mode == policy.Audit }

// Listing is how a page shows one file.
type Listing struct {
	Show   bool
	Yank   bool   // listed, but marked yanked with Reason
	Reason string // e.g. "held by Airlock: cooldown until ... (review abc)"
	// Until is when this listing may change on its own (a cooldown's end).
	Until time.Time
}

// Listing decides how a page shows a file, from its stored state and a
// fresh evaluation of what the page says about it. It writes nothing.
func (s *Service) Listing(ctx context.Context, in policy.Input) (Listing, error) {
	if s.Audit() {
		return Listing{Show: true}, nil
	}
	rec, err := s.store.GetDecision(ctx, in.SHA256)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return Listing{}, err
	}
	return s.listing(in, rec, err == nil)
}

// Stored is the stored decisions of a page's files, read at once.
type Stored map[string]storage.DecisionRecord

// StoredFor reads the decisions of many files (a page's) in one go.
func (s *Service) StoredFor(ctx context.Context, shas []string) (Stored, error) {
	if s.Audit() {
		return nil, nil
	}
	return s.store.DecisionsOf(ctx, shas)
}

// ListingFrom is Listing with the file's decision taken from stored, which
// StoredFor read for the whole page: a page of N files costs one read,
// not N.
func (s *Service) ListingFrom(stored Stored, in policy.Input) (Listing, error) {
	if s.Audit() {
		return Listing{Show: true}, nil
	}
	rec, found := stored[in.SHA256]
	return s.listing(in, rec, found)
}

// listing decides from rec, or from the page alone when no decision is
// stored (found false).
func (s *Service) listing(in policy.Input, rec storage.DecisionRecord, found bool) (Listing, error) {
	if found {
		in = keepAdvisories(in, rec)
	}
	// A file a known-malicious advisory names is marked yanked on pages at
	// once, whatever its record says (unless an override covers it): an
	// unpinned install skips it, and a pinned one (a lock file) asks for it
	// and is refused with the advisory's ID instead of "no such version".
	for _, a := range in.Advisories {
		if !a.Malicious {
			continue
		}
		d := s.engine.Evaluate(in, s.now())
		if found && State(rec.State) == Approved && len(NewEvidence(rec.Approved, d)) == 0 {
			break
		}
		if len(maliciousIDs(d)) > 0 {
			return Listing{Show: true, Yank: true, Reason: HoldMessage(d, in.SHA256)}, nil
		}
		break
	}
	switch {
	case !found:
	case State(rec.State) == Approved:
		return Listing{Show: true}, nil
	case State(rec.State) == Rejected:
		return Listing{}, nil
	case State(rec.State) == Held && rec.DecidedBy != "":
		return Listing{Show: true, Yank: true, Reason: fmt.Sprintf("held by Airlock: reopened for review by %s (review %s)", rec.DecidedBy, ReviewID(in.SHA256))}, nil
	case (State(rec.State) == Held || State(rec.State) == Blocked) && rec.Policy == s.engine.Version() &&
		(rec.Until.IsZero() || s.now().Before(rec.Until)):
		// A full decision (attestation included) outranks what a listing
		// alone can tell, until its time is up or the rules change.
		var d policy.Decision
		if err := json.Unmarshal(rec.Decision, &d); err != nil {
			return Listing{}, err
		}
		if State(rec.State) == Blocked {
			return Listing{}, nil
		}
		return Listing{Show: true, Yank: true, Reason: HoldMessage(d, in.SHA256), Until: d.Until}, nil
	}
	d := s.engine.Evaluate(in, s.now())
	switch d.Action {
	case policy.Block:
		return Listing{}, nil
	case policy.Hold:
		return Listing{Show: true, Yank: true, Reason: HoldMessage(d, in.SHA256), Until: d.Until}, nil
	}
	return Listing{Show: true}, nil
}

// keepAdvisories adds to in, when its advisories may be incomplete, those
// the stored decision rec named: a source that could not be read must not
// lift a block its records made. With every source read, an advisory
// missing is one withdrawn, and it goes.
func keepAdvisories(in policy.Input, rec storage.DecisionRecord) policy.Input {
	if !in.AdvisoriesPartial || len(rec.Inputs) == 0 {
		return in
	}
	var before struct {
		Advisories []policy.Advisory `json:"advisories"`
	}
	if json.Unmarshal(rec.Inputs, &before) != nil {
		return in
	}
	for _, a := range before.Advisories {
		if !slices.ContainsFunc(in.Advisories, func(b policy.Advisory) bool { return b.ID == a.ID }) {
			in.Advisories = append(slices.Clip(in.Advisories), a)
		}
	}
	return in
}

// HoldMessage is the line clients see for a held file.
func HoldMessage(d policy.Decision, sha string) string {
	return fmt.Sprintf("%s by Airlock: %s (review %s)", verb(d.Action), d.Summary(), ReviewID(sha))
}

func verb(a policy.Action) string {
	if a == policy.Block {
		return "blocked"
	}
	return "held"
}

// Decide evaluates a file a client asked for, stores the decision with its
// inputs, applies the lifecycle and returns whether to serve it. A warm
// request whose decision has not changed costs one read.
func (s *Service) Decide(ctx context.Context, in policy.Input) (View, error) {
	now := s.now()
	rec, err := s.store.GetDecision(ctx, in.SHA256)
	if err == nil {
		in = keepAdvisories(in, rec)
	}
	d := s.engine.Evaluate(in, now)
	if err == nil {
		if rec.Project != "" && rec.Project != in.Project {
			return s.viaOtherProject(rec, in, d)
		}
		// A warm request: decode the stored record once, and keep it when
		// nothing that matters changed.
		if st, changed := s.nextState(rec, d); !changed && st == State(rec.State) && rec.Policy == d.Policy {
			if v, err := s.view(rec); err == nil && fingerprintOf(v.Decision, v.Inputs) == fingerprintOf(d, in) {
				return v, nil
			}
		}
	} else if !errors.Is(err, storage.ErrNotFound) {
		return View{}, err
	}
	var events []Event
	moved, blocked := false, false
	rec, err = s.store.UpdateDecision(ctx, in.SHA256, func(rec *storage.DecisionRecord, exists bool) (bool, *storage.AuditEvent, error) {
		events, moved, blocked = nil, false, false
		from, fromChecks := State(rec.State), rec.Checks
		if !exists {
			rec.CreatedAt = now.UTC()
			from = ""
		}
		to, _ := s.nextState(*rec, d)
		if !exists {
			to = stateFor(d.Action)
		}
		approved := rec.Approved
		if err := fill(rec, in, d, to, now); err != nil {
			return false, nil, err
		}
		if from == to || (from == "" && to == Allowed) {
			return true, nil, nil // nothing a reviewer needs, nothing a page shows
		}
		moved = true
		reason := d.Summary()
		if from == Approved && to == Held {
			reason = "reopened: evidence the approval did not cover: " + strings.Join(NewEvidence(approved, d), "; ")
			rec.DecidedBy, rec.Note, rec.Approved = "", "", nil
		}
		if to == Blocked && rec.DecidedBy != "" {
			// A person's earlier decision does not stand against a
			// known-malicious advisory; the audit entry keeps it.
			reason = "blocked after a person's decision (" + rec.DecidedBy + "): " + d.Summary()
			rec.DecidedBy, rec.Note, rec.Approved = "", "", nil
		}
		if d.Action.Serves() {
			reason = "re-evaluated: the policy now allows it"
		}
		ev := s.auditEvent(*rec, Actor, "", from, to, reason)
		e := s.event(from, to, *rec, d, Actor, reason)
		blocked = to == Blocked
		if (e.Kind == "hold" && cooldownOnly(rec.Checks)) || (e.Kind == "release" && cooldownOnly(fromChecks)) {
			e.Kind = "" // a cooldown starting or ending is routine: audited, not announced
		}
		events = append(events, e)
		return true, ev, nil
	})
	if err != nil {
		return View{}, err
	}
	if blocked && len(events) > 0 {
		// Counted after the write, not inside it: a read inside a write
		// transaction takes a second connection on PostgreSQL while the
		// write lock is held.
		events[0].Downloads, events[0].DownloadClients = s.store.DownloadCounts(ctx, rec.SHA256)
	}
	if moved {
		s.changed(ctx, events)
	}
	v, err := s.view(rec)
	if err == nil && !v.Decision.Action.Serves() {
		lvl := s.log.Info()
		if s.Audit() {
			lvl = s.log.Warn().Bool("audit", true)
		}
		lvl.Str("project", in.Project).Str("file", in.Filename).Str("sha256", in.SHA256).
			Str("action", string(d.Action)).Str("state", rec.State).Strs("checks", d.Checks()).
			Str("reason", d.Summary()).Msg(map[bool]string{true: "would " + string(d.Action) + " (audit mode)", false: "file " + rec.State}[s.Audit()])
	}
	return v, err
}

// viaOtherProject decides a file whose bytes a second project lists too.
// The record belongs to the project that listed it first, so requests
// through the other do not rewrite it (no flip-flop of its state, audit
// entries or webhooks); they get the stricter of the stored state and
// their own project's evaluation.
func (s *Service) viaOtherProject(rec storage.DecisionRecord, in policy.Input, d policy.Decision) (View, error) {
	v, err := s.view(rec)
	if err != nil {
		return View{}, err
	}
	if !v.Serve || d.Action.Serves() || s.Audit() {
		return v, nil
	}
	out := View{DecisionRecord: rec, ReviewID: v.ReviewID, Decision: d, Inputs: in}
	out.Project, out.Version, out.Filename = in.Project, in.Version, in.Filename
	out.State = string(stateFor(d.Action))
	return out, nil
}

// nextState is where an automatic evaluation moves a record. Person
// decisions (approved, rejected, a reopened hold) stick, except that an
// approval is reopened by evidence it did not cover.
func (s *Service) nextState(rec storage.DecisionRecord, d policy.Decision) (State, bool) {
	cur := State(rec.State)
	// A known-malicious advisory blocks the file whatever was decided
	// before, unless an override covers exactly these advisories.
	if len(maliciousIDs(d)) > 0 && cur != Rejected {
		if cur == Approved && len(NewEvidence(rec.Approved, d)) == 0 {
			return cur, false
		}
		return Blocked, cur != Blocked
	}
	if cur == Approved && len(NewEvidence(rec.Approved, d)) > 0 {
		return Held, true
	}
	if cur == Approved || cur == Rejected || (cur == Held && rec.DecidedBy != "") {
		return cur, false
	}
	to := stateFor(d.Action)
	if to == Allowed && (cur == Held || cur == Released) {
		to = Released
	}
	return to, to != cur
}

func stateFor(a policy.Action) State {
	switch a {
	case policy.Hold:
		return Held
	case policy.Block:
		return Blocked
	}
	return Allowed
}

// fingerprintOf is what matters of a decision and its inputs; evidence such
// as a file's age changes every minute and does not.
func fingerprintOf(d policy.Decision, in policy.Input) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s|%s|", d.Action, d.Until.UTC().Format(time.RFC3339), d.Policy)
	for _, r := range d.Reasons {
		fmt.Fprintf(h, "%s:%s|", r.Check, r.Action)
	}
	inputs, _ := json.Marshal(in)
	h.Write(inputs)
	return hex.EncodeToString(h.Sum(nil))
}

func fill(rec *storage.DecisionRecord, in policy.Input, d policy.Decision, to State, now time.Time) error {
	decision, err := json.Marshal(d)
	if err != nil {
		return err
	}
	inputs, err := json.Marshal(in)
	if err != nil {
		return err
	}
	rec.SHA256, rec.Project, rec.Version, rec.Filename = in.SHA256, in.Project, in.Version, in.Filename
	rec.State, rec.Decision, rec.Inputs, rec.Policy = string(to), decision, inputs, d.Policy
	rec.Until, rec.Checks, rec.UpdatedAt = d.Until, d.Checks(), now.UTC()
	return nil
}

func (s *Service) auditEvent(rec storage.DecisionRecord, actor, remote string, from, to State, reason string) *storage.AuditEvent {
	return &storage.AuditEvent{Time: s.now().UTC(), SHA256: rec.SHA256, Project: rec.Project, Version: rec.Version,
		Filename: rec.Filename, Actor: actor, Remote: remote, From: string(from), To: string(to), Reason: reason}
}

// event builds the notification for a transition, if it is one people hear
// about: a new hold (or block), or a release.
func (s *Service) event(from, to State, rec storage.DecisionRecord, d policy.Decision, actor, reason string) Event {
	kind := ""
	switch {
	case (to == Held || to == Blocked) && from != to:
		kind = "hold"
	case (to == Released || to == Approved) && (from == Held || from == Blocked):
		kind = "release"
	case to == Rejected && from != to:
		kind = "reject" // a person's: the channel learns who refused what
	}
	v := View{DecisionRecord: rec, ReviewID: ReviewID(rec.SHA256), Decision: d}
	return Event{Kind: kind, Record: v, Actor: actor, Reason: reason}
}

// cooldownOnly reports whether the checks behind a hold are the cooldown
// alone.
func cooldownOnly(checks []string) bool {
	return len(checks) == 1 && checks[0] == policy.CheckCooldown
}

func (s *Service) changed(ctx context.Context, events []Event) {
	s.gen.Add(1)
	s.store.NotifyChange(ctx) // the other replicas render their pages anew
	if s.notify == nil {
		return
	}
	for _, e := range events {
		if e.Kind != "" {
			s.notify.Notify(e)
		}
	}
}

func (s *Service) view(rec storage.DecisionRecord) (View, error) {
	v := View{DecisionRecord: rec, ReviewID: ReviewID(rec.SHA256)}
	if err := json.Unmarshal(rec.Decision, &v.Decision); err != nil {
		return View{}, fmt.Errorf("quarantine: corrupt decision for %s: %w", rec.SHA256, err)
	}
	if err := json.Unmarshal(rec.Inputs, &v.Inputs); err != nil {
		return View{}, fmt.Errorf("quarantine: corrupt inputs for %s: %w", rec.SHA256, err)
	}
	v.Serve = State(rec.State).Serves() || s.Audit()
	return v, nil
}

// Get returns a record by sha256 or review id (a unique prefix of at least
// 12 hex digits).
func (s *Service) Get(ctx context.Context, id string) (View, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	if len(id) == 64 {
		rec, err := s.store.GetDecision(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			return View{}, ErrNotFound
		}
		if err != nil {
			return View{}, err
		}
		return s.view(rec)
	}
	if len(id) < 12 || strings.Trim(id, "0123456789abcdef") != "" {
		return View{}, fmt.Errorf("%w: %q is not a sha256 or a 12-digit review id", ErrNotFound, id)
	}
	var found []storage.DecisionRecord
	err := s.store.Decisions(ctx, func(rec storage.DecisionRecord) error {
		if strings.HasPrefix(rec.SHA256, id) {
			found = append(found, rec)
		}
		return nil
	})
	if err != nil {
		return View{}, err
	}
	switch len(found) {
	case 0:
		return View{}, ErrNotFound
	case 1:
		return s.view(found[0])
	}
	return View{}, ErrAmbiguous
}

// Filter selects records for List.
type Filter struct {
	State   string // "" means held
	Project string
	Version string
	Check   string
	Limit   int
}

// List returns matching records, newest first.
func (s *Service) List(ctx context.Context, f Filter) ([]View, error) {
	if f.State == "" {
		f.State = string(Held)
	}
	var out []View
	each := s.store.Decisions
	if f.State != "all" {
		each = func(ctx context.Context, fn func(storage.DecisionRecord) error) error {
			return s.store.DecisionsInState(ctx, f.State, fn)
		}
	}
	err := each(ctx, func(rec storage.DecisionRecord) error {
		if (f.Project != "" && rec.Project != f.Project) || (f.Version != "" && rec.Version != f.Version) {
			return nil
		}
		if f.Check != "" && !contains(rec.Checks, f.Check) {
			return nil
		}
		v, err := s.view(rec)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].UpdatedAt.After(out[j].UpdatedAt) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// AuditLog returns the newest audit events (at most limit; 0 means all)
// that keep accepts (nil keeps every one).
func (s *Service) AuditLog(ctx context.Context, limit int, keep func(storage.AuditEvent) bool) ([]storage.AuditEvent, error) {
	return s.store.Audit(ctx, limit, keep)
}

// Records calls fn with every decision record, undecoded: for counts that
// need only states, checks and times.
func (s *Service) Records(ctx context.Context, fn func(storage.DecisionRecord) error) error {
	return s.store.Decisions(ctx, fn)
}

// Counts returns how many records are in each state.
func (s *Service) Counts(ctx context.Context) (map[State]int, error) {
	raw, err := s.store.CountByState(ctx)
	counts := make(map[State]int, len(raw))
	for k, v := range raw {
		counts[State(k)] = v
	}
	return counts, err
}

// evidenceChecks are the checks whose findings are evidence about the file
// itself; time rules (cooldown, not_after) and errors are not, so they
// never reopen an approval.
var evidenceChecks = map[string]bool{policy.CheckContent: true, policy.CheckAttestation: true,
	policy.CheckAttestationInvalid: true, policy.CheckSourceRelease: true, policy.CheckMalicious: true,
	policy.CheckUpstreamRemoved: true}

// maliciousIDs lists the known-malicious advisories that block a decision.
func maliciousIDs(d policy.Decision) []string {
	var out []string
	for _, r := range d.Reasons {
		if r.Check == policy.CheckMalicious && r.Action == policy.Block {
			id, _ := r.Evidence["advisory"].(string)
			out = append(out, id)
		}
	}
	return out
}

// Evidence lists a decision's holding reasons from the evidence checks.
func Evidence(d policy.Decision) []string {
	var out []string
	for _, r := range d.Reasons {
		if evidenceChecks[r.Check] && !r.Action.Serves() {
			out = append(out, r.Check+": "+r.Message)
		}
	}
	return out
}

// NewEvidence lists the holding evidence in d that approved does not
// contain.
func NewEvidence(approved []string, d policy.Decision) []string {
	var out []string
	for _, e := range Evidence(d) {
		if !contains(approved, e) {
			out = append(out, e)
		}
	}
	return out
}
