// Package reviewui is the review page for the quarantine queue: server
// rendered under /ui/, assets embedded, no JavaScript and nothing loaded
// from other hosts. Sign-in takes the admin token and gives a session
// cookie (HttpOnly, SameSite=Strict, Secure over TLS: Airlock's own or a
// trusted proxy's); every form carries a CSRF token.
package reviewui

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/rs/zerolog"

	"airlock/advisories"
	"airlock/forwarded"
	"airlock/gate"
	"airlock/policy"
	"airlock/quarantine"
	"airlock/reviewauth"
	"airlock/storage"
	"airlock/textsafe"
)

//go:embed assets/* templates/*
var files embed.FS

const (
	sessionCookie   = "airlock_session"
	loginCSRFCookie = "airlock_login_csrf"
	sessionTTL      = 12 * time.Hour
)

// Reviewer is the gate as the review pages use it: a person's decision
// (an approval first runs the checks that have not run) and every check's
// status for a file.
type Reviewer interface {
	Review(ctx context.Context, sha string, t quarantine.Transition, actor, remote, reason string, scope quarantine.Scope) (quarantine.View, error)
	Checks(v quarantine.View) []gate.CheckStatus
	// Warnings are the checks that cannot act (shown as a banner).
	Warnings() []policy.Warning
	// DownloadsServed counts whole files served since a time.
	DownloadsServed(ctx context.Context, since time.Time) (int, error)
	// Confusions are privately owned names the public upstream lists.
	Confusions(ctx context.Context) ([]storage.Confusion, error)
	// DownloadsFor lists a target's downloads (a sha256 here).
	DownloadsFor(ctx context.Context, target string, since time.Time) ([]storage.DownloadRecord, error)
}

// Feeds are the advisory sources (advisories.Feed), for the overview.
type Feeds interface {
	Records() int
	Status() []advisories.SourceStatus
}

var _ Reviewer = (*gate.Gate)(nil)

// UI serves the review pages.
type UI struct {
	q         *quarantine.Service
	gate      Reviewer
	feeds     Feeds  // nil: none
	upstream  string // base URL, for links to the project page
	now       func() time.Time
	templates map[string]*template.Template

	sessions Sessions
	signin   *reviewauth.Checker
}

// Sessions keeps signed-in sessions: in memory by default, in the shared
// store (Options.Sessions) so that every replica knows them.
type Sessions interface {
	PutSession(ctx context.Context, cookie string, s storage.Session, now time.Time) error
	GetSession(ctx context.Context, cookie string, now time.Time) (storage.Session, error)
	DeleteSession(ctx context.Context, cookie string) error
}

// memorySessions is the default: one process.
type memorySessions struct {
	mu sync.Mutex
	m  map[string]storage.Session
}

func (m *memorySessions) PutSession(_ context.Context, cookie string, s storage.Session, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, old := range m.m {
		if now.After(old.Expires) {
			delete(m.m, k)
		}
	}
	m.m[cookie] = s
	return nil
}

func (m *memorySessions) GetSession(_ context.Context, cookie string, now time.Time) (storage.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[cookie]
	if !ok || now.After(s.Expires) {
		return storage.Session{}, storage.ErrNotFound
	}
	return s, nil
}

func (m *memorySessions) DeleteSession(_ context.Context, cookie string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, cookie)
	return nil
}

type session struct {
	csrf    string
	expires time.Time
	// actor is what the audit log records for this reviewer.
	actor string
}

// Options configure the UI.
type Options struct {
	// Auth checks the admin token and reviewers' own tokens; nil (or no
	// admin token) turns the UI off (it says so).
	Auth     *reviewauth.Checker
	Feeds    Feeds  // the advisory sources, for the overview; nil: none
	Upstream string // the public index's URL, for links
	Now      func() time.Time
	// Sessions keeps signed-in sessions (the store, so every replica knows
	// them); nil: this process's memory.
	Sessions Sessions
}

// New builds the UI.
func New(q *quarantine.Service, g Reviewer, opt Options) *UI {
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	u := &UI{q: q, gate: g, feeds: opt.Feeds, signin: opt.Auth, upstream: strings.TrimRight(opt.Upstream, "/"), now: now,
		sessions: opt.Sessions, templates: map[string]*template.Template{}}
	if u.sessions == nil {
		u.sessions = &memorySessions{m: map[string]storage.Session{}}
	}
	funcs := template.FuncMap{
		"time":  func(t time.Time) string { return fmtTime(t) },
		"short": func(s string) string { return quarantine.ReviewID(s) },
		"join":  strings.Join,
		"num":   fmtFloat,
		"sortedKeys": func(m map[string]any) []string {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return keys
		},
	}
	for _, page := range []string{"login", "queue", "detail", "audit", "overview", "message"} {
		u.templates[page] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+page+".html"))
	}
	return u
}

// Register adds the UI's routes.
func (u *UI) Register(r *mux.Router) {
	static, _ := fs.Sub(files, "assets")
	r.PathPrefix("/ui/static/").Handler(http.StripPrefix("/ui/static/", http.FileServer(http.FS(static)))).Methods(http.MethodGet).Name("ui-static")
	r.HandleFunc("/ui/", u.off(func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/queue", http.StatusSeeOther) })).Methods(http.MethodGet).Name("ui-root")
	r.HandleFunc("/ui", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusMovedPermanently) }).Methods(http.MethodGet)
	r.HandleFunc("/ui/login", u.off(u.loginPage)).Methods(http.MethodGet).Name("ui-login")
	r.HandleFunc("/ui/login", u.off(u.login)).Methods(http.MethodPost).Name("ui-login-post")
	r.HandleFunc("/ui/logout", u.off(u.auth(u.logout))).Methods(http.MethodPost).Name("ui-logout")
	r.HandleFunc("/ui/queue", u.off(u.auth(u.queue))).Methods(http.MethodGet).Name("ui-queue")
	r.HandleFunc("/ui/file/{sha:[0-9a-f]{64}}", u.off(u.auth(u.detail))).Methods(http.MethodGet).Name("ui-detail")
	r.HandleFunc("/ui/file/{sha:[0-9a-f]{64}}/{action:approve|reject|reopen}", u.off(u.auth(u.decide))).Methods(http.MethodPost).Name("ui-decide")
	r.HandleFunc("/ui/audit", u.off(u.auth(u.audit))).Methods(http.MethodGet).Name("ui-audit")
	r.HandleFunc("/ui/overview", u.off(u.auth(u.overview))).Methods(http.MethodGet).Name("ui-overview")
}

// off answers every page with a notice when no admin token is configured.
func (u *UI) off(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !u.signin.Enabled() {
			u.render(w, r, http.StatusServiceUnavailable, "message", pageData{Title: "Review is off",
				Message: "The review page is off: set admin.token in the config or AIRLOCK_ADMIN_TOKEN."})
			return
		}
		next(w, r)
	}
}

// auth requires a session; POSTs also require its CSRF token.
func (u *UI) auth(next func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := u.sessionOf(r)
		if s == nil {
			http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) != 1 {
				u.render(w, r, http.StatusForbidden, "message", pageData{Title: "Refused", Error: "Missing or wrong CSRF token: reload the page and try again."})
				return
			}
		}
		next(w, r, s)
	}
}

func (u *UI) sessionOf(r *http.Request) *session {
	ctx := r.Context()
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	s, err := u.sessions.GetSession(ctx, c.Value, u.now())
	if err != nil {
		return nil
	}
	actor := "ui:" + s.Reviewer
	if s.OwnToken {
		actor = "reviewer:" + s.Reviewer
	}
	if s.Reviewer == "" {
		actor = "ui:" + reviewauth.Remote(r) // a session from before names were asked
	}
	return &session{csrf: s.CSRF, expires: s.Expires, actor: actor}
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/ui/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: forwarded.HTTPS(r)})
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	csrf := ""
	if c, err := r.Cookie(loginCSRFCookie); err == nil && len(c.Value) == 64 {
		csrf = c.Value
	} else {
		csrf = randomToken()
		setCookie(w, r, loginCSRFCookie, csrf, 3600)
	}
	u.render(w, r, http.StatusOK, "login", pageData{Title: "Sign in", CSRF: csrf})
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	c, err := r.Cookie(loginCSRFCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(c.Value)) != 1 {
		u.render(w, r, http.StatusForbidden, "message", pageData{Title: "Refused", Error: "Missing or wrong CSRF token: reload the sign-in page and try again."})
		return
	}
	token := r.PostFormValue("token")
	name := strings.TrimSpace(r.PostFormValue("name"))
	who, err := u.signin.Check(ctx, r, token)
	switch {
	case errors.Is(err, reviewauth.ErrThrottled):
		u.render(w, r, http.StatusTooManyRequests, "login", pageData{Title: "Sign in", CSRF: c.Value, Error: "Too many failed attempts; wait a minute."})
		return
	case err != nil:
		zerolog.Ctx(r.Context()).Warn().Str("remote", reviewauth.Remote(r)).Msg("review page sign-in with a wrong token")
		u.render(w, r, http.StatusUnauthorized, "login", pageData{Title: "Sign in", CSRF: c.Value, Error: "Wrong token."})
		return
	case who.Own():
		name = who.Reviewer
	case !validReviewerName(name):
		u.render(w, r, http.StatusBadRequest, "login", pageData{Title: "Sign in", CSRF: c.Value,
			Error: "With the shared admin token, give your name: it is what the audit log records for your decisions."})
		return
	}
	ownToken := who.Own()
	id := randomToken()
	if err := u.sessions.PutSession(ctx, id, storage.Session{CSRF: randomToken(), Expires: u.now().Add(sessionTTL), Reviewer: name, OwnToken: ownToken}, u.now()); err != nil {
		zerolog.Ctx(r.Context()).Error().Err(err).Msg("storing a review session")
		u.render(w, r, http.StatusInternalServerError, "message", pageData{Title: "Error", Error: "Could not start a session; try again."})
		return
	}
	setCookie(w, r, sessionCookie, id, int(sessionTTL.Seconds()))
	setCookie(w, r, loginCSRFCookie, "", -1)
	http.Redirect(w, r, "/ui/queue", http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request, _ *session) {
	ctx := r.Context()
	if c, err := r.Cookie(sessionCookie); err == nil {
		u.sessions.DeleteSession(ctx, c.Value)
	}
	setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

// pageData is what every template gets.
type pageData struct {
	Title    string
	CSRF     string
	SignedIn bool
	Error    string
	Message  string
	Notice   string
	// Warnings are checks that cannot act, on every signed-in page.
	Warnings []policy.Warning

	Files   []quarantine.View
	Counts  []stateCount
	Filter  quarantine.Filter
	States  []string
	Checks  []string
	File    *detailView
	Events  []storage.AuditEvent
	Windows []window
	// Confusions are shown on the overview.
	Confusions []storage.Confusion
	// AdvisoryRecords and AdvisorySources are the feed's state (overview).
	AdvisoryRecords int
	AdvisorySources []advisories.SourceStatus
}

type stateCount struct {
	State string
	N     int
}

func (u *UI) render(w http.ResponseWriter, r *http.Request, code int, page string, d pageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	// Nothing from other hosts, no scripts, forms post only here.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(code)
	if d.SignedIn {
		d.Warnings = u.gate.Warnings()
	}
	if err := u.templates[page].Execute(w, d); err != nil {
		zerolog.Ctx(r.Context()).Error().Err(err).Str("page", page).Msg("render")
	}
}

func (u *UI) queue(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	q := r.URL.Query()
	f := quarantine.Filter{State: q.Get("state"), Project: strings.TrimSpace(strings.ToLower(q.Get("project"))), Check: q.Get("check")}
	files, err := u.q.List(ctx, f)
	if err != nil {
		u.render(w, r, http.StatusInternalServerError, "message", pageData{Title: "Error", SignedIn: true, CSRF: s.csrf, Error: "Could not read the queue."})
		return
	}
	counts, _ := u.q.Counts(ctx)
	var cs []stateCount
	for _, st := range []quarantine.State{quarantine.Held, quarantine.Blocked, quarantine.Released, quarantine.Approved, quarantine.Rejected, quarantine.Allowed} {
		cs = append(cs, stateCount{string(st), counts[st]})
	}
	if f.State == "" {
		f.State = "held"
	}
	checks := policy.CheckNames() // every check a reviewer may filter by, from the one registry
	u.render(w, r, http.StatusOK, "queue", pageData{Title: "Queue", SignedIn: true, CSRF: s.csrf, Files: files, Counts: cs, Filter: f,
		States: []string{"held", "blocked", "released", "approved", "rejected", "allowed", "all"}, Checks: checks})
}

func (u *UI) decide(w http.ResponseWriter, r *http.Request, s *session) {
	vars := mux.Vars(r)
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" {
		u.showDetail(w, r, s, vars["sha"], http.StatusBadRequest, "A reason is required.")
		return
	}
	scope := quarantine.Scope{Waive: r.PostForm["waive"], Evidence: r.PostFormValue("evidence")}
	v, err := u.gate.Review(r.Context(), vars["sha"], quarantine.Transition(vars["action"]), s.actor, reviewauth.Remote(r), reason, scope)
	if errors.Is(err, gate.ErrNewEvidence) || errors.Is(err, quarantine.ErrEvidenceChanged) {
		u.showDetail(w, r, s, vars["sha"], http.StatusConflict, err.Error()+". Review the new evidence below.")
		return
	}
	if err != nil {
		u.showDetail(w, r, s, vars["sha"], http.StatusConflict, err.Error())
		return
	}
	// The notice is the server's own: a flag, with the text made from the
	// stored record, never text from the URL.
	http.Redirect(w, r, "/ui/file/"+v.SHA256+"?decided=1", http.StatusSeeOther)
}

func (u *UI) audit(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	events, err := u.q.AuditLog(ctx, 500, nil)
	if err != nil {
		u.render(w, r, http.StatusInternalServerError, "message", pageData{Title: "Error", SignedIn: true, CSRF: s.csrf, Error: "Could not read the audit log."})
		return
	}
	u.render(w, r, http.StatusOK, "audit", pageData{Title: "Audit log", SignedIn: true, CSRF: s.csrf, Events: events})
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

// validReviewerName is a name a person types at sign-in: a few words of
// printable text (it goes into the audit log, webhooks and terminals).
func validReviewerName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
			return false
		}
	}
	return textsafe.Line(name) == name
}
