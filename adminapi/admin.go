// Package adminapi is the JSON API a security engineer (or the airlock
// CLI) uses to review the quarantine: list held files, show one with every
// reason and its evidence, approve, reject, reopen, read the audit log, and
// evaluate a release now. Every request needs the admin bearer token; without
// a configured token the API is off and says so.
package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/rs/zerolog"

	"airlock/authlimit"
	"airlock/gate"
	"airlock/index"
	"airlock/quarantine"
	"airlock/reviewauth"
	"airlock/storage"
	"airlock/upstream"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1/"

// Routes, relative to Prefix.
const (
	routeList         = "/quarantine"
	routeShow         = "/quarantine/{id}"
	routeDecide       = "/quarantine/{id}/{action:approve|reject|reopen|override}"
	routeDownloads    = "/downloads"
	routeFeedsRefresh = "/feeds/refresh"
	routeAudit        = "/audit"
	routeEvaluate     = "/evaluate"
)

// Evaluator is the gate as the API uses it: evaluating a release now, a
// person's decision (an approval runs the checks that have not run), and
// every check's status for a file.
type Evaluator interface {
	Evaluate(ctx context.Context, project, version string) ([]quarantine.View, error)
	Review(ctx context.Context, sha string, t quarantine.Transition, actor, remote, reason string, scope quarantine.Scope) (quarantine.View, error)
	Checks(v quarantine.View) []gate.CheckStatus
	DownloadsFor(ctx context.Context, target string, since time.Time) ([]storage.DownloadRecord, error)
}

var _ Evaluator = (*gate.Gate)(nil)

// FileView is a file's decision with the status of every check, the
// checks that hold it (an approval waives each by name) and the
// fingerprint of that evidence (an approval may carry it).
type FileView struct {
	quarantine.View
	Checks      []gate.CheckStatus `json:"check_results"`
	Holding     []string           `json:"holding_checks"`
	Fingerprint string             `json:"evidence_fingerprint"`
}

func (a *API) fileView(v quarantine.View) FileView {
	return FileView{View: v, Checks: a.eval.Checks(v), Holding: quarantine.HoldingChecks(v.Decision), Fingerprint: quarantine.EvidenceFingerprint(v.Decision)}
}

// API is the admin API.
type API struct {
	q      *quarantine.Service
	eval   Evaluator
	owned  Names
	signin *reviewauth.Checker
	feeds  Feeds
}

// New builds the API. An empty token turns it off; names may be nil (no
// private indexes).
func New(q *quarantine.Service, eval Evaluator, names Names, opt Options) *API {
	return &API{q: q, eval: eval, owned: names, signin: opt.Auth, feeds: opt.Feeds}
}

// Options configure the API.
type Options struct {
	// Auth checks the admin token and reviewers' own tokens; nil (or no
	// admin token) turns the API off.
	Auth *reviewauth.Checker
	// Feeds are the advisory sources POST /feeds/refresh reads; nil: none.
	Feeds Feeds
}

// Feeds are the advisory sources (advisories.Feed).
type Feeds interface {
	// Refresh reads them now; the files they name are re-decided.
	Refresh(ctx context.Context) []error
	// Records counts the records in force.
	Records() int
}

// Register adds the API's routes to r, each behind the token check.
func (a *API) Register(r *mux.Router) {
	sub := r.PathPrefix(strings.TrimSuffix(Prefix, "/")).Subrouter()
	sub.Use(a.auth)
	sub.HandleFunc(routeList, a.list).Methods(http.MethodGet).Name("admin-list")
	sub.HandleFunc(routeDecide, a.decide).Methods(http.MethodPost).Name("admin-decide")
	sub.HandleFunc(routeShow, a.show).Methods(http.MethodGet).Name("admin-show")
	sub.HandleFunc(routeAudit, a.audit).Methods(http.MethodGet).Name("admin-audit")
	sub.HandleFunc(routeEvaluate, a.evaluate).Methods(http.MethodPost).Name("admin-evaluate")
	sub.HandleFunc(routeDownloads, a.downloads).Methods(http.MethodGet).Name("admin-downloads")
	sub.HandleFunc(routeFeedsRefresh, a.refreshFeeds).Methods(http.MethodPost).Name("admin-feeds-refresh")
	sub.HandleFunc(routeNames, a.names).Methods(http.MethodGet).Name("admin-names")
	sub.HandleFunc(routeNameRelease, a.releaseName).Methods(http.MethodPost).Name("admin-name-release")
	sub.NotFoundHandler = a.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such admin endpoint")
	}))
}

// auth checks the bearer token in constant time.
func (a *API) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.signin.Enabled() {
			writeError(w, http.StatusServiceUnavailable, "the admin API is off: set admin.token in the config or AIRLOCK_ADMIN_TOKEN")
			return
		}
		got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		who, err := a.signin.Check(r.Context(), r, got)
		switch {
		case errors.Is(err, reviewauth.ErrThrottled):
			w.Header().Set("Retry-After", "60")
			writeError(w, http.StatusTooManyRequests, "too many failed attempts; wait a minute")
			return
		case err != nil:
			w.Header().Set("WWW-Authenticate", `Bearer realm="airlock"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong admin token")
			return
		case who.Own():
			// A reviewer's own token: what they decide is recorded as them.
			r = r.WithContext(context.WithValue(r.Context(), reviewerKey{}, who.Reviewer))
		}
		next.ServeHTTP(w, r)
	})
}

// ListResponse is the answer of GET /api/v1/quarantine.
type ListResponse struct {
	Files  []quarantine.View        `json:"files"`
	Counts map[quarantine.State]int `json:"counts"`
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	f := quarantine.Filter{State: q.Get("state"), Project: q.Get("project"), Version: q.Get("version"), Check: q.Get("check")}
	if f.Project != "" {
		n, err := index.Normalize(f.Project)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid project name")
			return
		}
		f.Project = n
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "limit must be a non-negative integer")
			return
		}
		f.Limit = n
	}
	files, err := a.q.List(ctx, f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	counts, err := a.q.Counts(ctx)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if files == nil {
		files = []quarantine.View{}
	}
	writeJSON(w, http.StatusOK, ListResponse{Files: files, Counts: counts})
}

func (a *API) show(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, err := a.q.Get(ctx, mux.Vars(r)["id"])
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.fileView(v))
}

// DecideRequest is the body of POST /api/v1/quarantine/{id}/{action}.
type DecideRequest struct {
	Reason string `json:"reason"`
	Actor  string `json:"actor"`
	// Waive and Evidence scope an approval (quarantine.Scope): the holding
	// checks the reviewer waives (none: a cooldown only), and the
	// evidence_fingerprint of the decision they read (a mismatch is 409
	// with the new evidence).
	Waive    []string `json:"waive,omitempty"`
	Evidence string   `json:"evidence,omitempty"`
}

func (a *API) decide(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req DecideRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body must be JSON: {\"reason\": \"...\"}")
		return
	}
	vars := mux.Vars(r)
	v, err := a.q.Get(ctx, vars["id"])
	if err != nil {
		a.fail(w, r, err)
		return
	}
	actor := actorOf(r, req.Actor)
	v, err = a.eval.Review(r.Context(), v.SHA256, quarantine.Transition(vars["action"]), actor, authlimit.Remote(r), req.Reason,
		quarantine.Scope{Waive: req.Waive, Evidence: req.Evidence})
	if errors.Is(err, gate.ErrNewEvidence) || errors.Is(err, quarantine.ErrEvidenceChanged) || errors.Is(err, quarantine.ErrNotWaived) {
		if now, gerr := a.q.Get(r.Context(), v.SHA256); gerr == nil {
			v = now
		}
		writeJSON(w, http.StatusConflict, map[string]any{"error": err.Error(), "file": a.fileView(v)})
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.fileView(v))
}

func (a *API) audit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	limit := 200
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "limit must be a non-negative integer")
			return
		}
		limit = n
	}
	sha, project := strings.ToLower(q.Get("sha256")), q.Get("project")
	events, err := a.q.AuditLog(ctx, limit, func(ev storage.AuditEvent) bool {
		return (sha == "" || strings.HasPrefix(ev.SHA256, sha)) && (project == "" || ev.Project == project)
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if events == nil {
		events = []storage.AuditEvent{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": events})
}

// EvaluateRequest is the body of POST /api/v1/evaluate.
type EvaluateRequest struct {
	Target string `json:"target"` // name==version
}

func (a *API) evaluate(w http.ResponseWriter, r *http.Request) {
	var req EvaluateRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body must be JSON: {\"target\": \"name==version\"}")
		return
	}
	project, version, err := ParseTarget(req.Target)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	views, err := a.eval.Evaluate(r.Context(), project, version)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"files": views})
}

// ParseTarget reads "name==version".
func ParseTarget(s string) (project, version string, err error) {
	name, version, ok := strings.Cut(strings.TrimSpace(s), "==")
	version = strings.TrimSpace(version)
	if !ok || version == "" || strings.ContainsAny(version, " /") {
		return "", "", errors.New("target must be name==version")
	}
	project, err = index.Normalize(strings.TrimSpace(name))
	if err != nil {
		return "", "", errors.New("invalid project name in target")
	}
	return project, version, nil
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	msg := "internal error"
	switch {
	case errors.Is(err, quarantine.ErrNotFound):
		code, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, quarantine.ErrAmbiguous), errors.Is(err, quarantine.ErrReasonRequired):
		code, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, quarantine.ErrTransition), errors.Is(err, quarantine.ErrOverrideRequired):
		code, msg = http.StatusConflict, err.Error()
	case errors.Is(err, gate.ErrUnknownTarget):
		code, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, upstream.ErrNotFound):
		code, msg = http.StatusNotFound, "not found upstream"
	case errors.Is(err, upstream.ErrUnavailable), errors.Is(err, upstream.ErrTooLarge), errors.Is(err, index.ErrMalformed):
		code, msg = http.StatusBadGateway, "upstream error: "+err.Error()
	}
	lvl := zerolog.WarnLevel
	if code >= 500 {
		lvl = zerolog.ErrorLevel
	}
	zerolog.Ctx(r.Context()).WithLevel(lvl).Err(err).Int("status", code).Msg("admin request failed")
	writeError(w, code, msg)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// DownloadsResponse is the answer of GET /api/v1/downloads.
type DownloadsResponse struct {
	Target    string                   `json:"target"`
	Downloads []storage.DownloadRecord `json:"downloads"`
	// Clients counts the distinct addresses.
	Clients int `json:"clients"`
}

// downloads lists who downloaded a target (?target=sha256, name==version
// or an advisory ID; ?since=RFC 3339 time).
func (a *API) downloads(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	target := q.Get("target")
	if target == "" {
		writeError(w, http.StatusBadRequest, "target is required: a sha256, name==version or an advisory ID")
		return
	}
	var since time.Time
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "since must be an RFC 3339 time, e.g. 2026-03-24T00:00:00Z")
			return
		}
		since = t
	}
	recs, err := a.eval.DownloadsFor(ctx, target, since)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	clients := map[string]bool{}
	for _, d := range recs {
		clients[d.Client] = true
	}
	if recs == nil {
		recs = []storage.DownloadRecord{}
	}
	writeJSON(w, http.StatusOK, DownloadsResponse{Target: target, Downloads: recs, Clients: len(clients)})
}

// refreshFeeds reads the advisory sources now; files they name are
// re-decided at once.
func (a *API) refreshFeeds(w http.ResponseWriter, r *http.Request) {
	records, errs := 0, []error(nil)
	if a.feeds != nil {
		errs = a.feeds.Refresh(r.Context())
		records = a.feeds.Records()
	}
	var msgs []string
	for _, err := range errs {
		msgs = append(msgs, err.Error())
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": records, "errors": msgs})
}

type reviewerKey struct{}

// actorOf is who the audit log and webhooks name for a request: the
// reviewer whose token it carries, or, with the shared admin token, the
// name the caller declares (the CLI sends the user's login).
func actorOf(r *http.Request, declared string) string {
	if name, ok := r.Context().Value(reviewerKey{}).(string); ok {
		return "reviewer:" + name
	}
	if declared != "" {
		return "admin:" + declared
	}
	return "admin"
}
