// Package simpleapi is Airlock's HTTP face: the PEP 503/691 simple index,
// the file and metadata endpoints that serve only verified bytes from the
// store, provenance pass-through, health and metrics.
package simpleapi

import (
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"

	"airlock/gate"
	"airlock/metrics"
	"airlock/storage"
)

// Options configure a Server.
type Options struct {
	// Gate decides every file; the server only negotiates, renders, serves
	// and refuses.
	Gate *gate.Gate
	// Store serves stored blobs and says whether the store is healthy.
	Store Store
	// UpstreamURL is the public upstream, without credentials, for the
	// landing page.
	UpstreamURL string
	Metrics     *metrics.Metrics
	Log         zerolog.Logger
	PageTTL     time.Duration
	PageTimeout time.Duration // bound for one shared list fetch
	Now         func() time.Time
	// HideHeld leaves held files out of pages instead of marking them yanked.
	HideHeld bool
	// TrustedProxies are reverse proxies whose X-Forwarded-For names the
	// client; from anyone else the header is ignored.
	TrustedProxies []netip.Prefix
	// WriteTimeout and MinDownloadRate set a file download's deadline:
	// WriteTimeout plus its size at MinDownloadRate (0: none).
	WriteTimeout    time.Duration
	MinDownloadRate int64
	// FillTimeout is how long a file request may wait for its download
	// from the upstream and its checks.
	FillTimeout time.Duration
	// MinFreeBytes: /readyz fails when the data directory has less free
	// space (0: not checked).
	MinFreeBytes int64
	// ClientAuth, when set, makes the index answer only authenticated
	// clients (auth.clients).
	ClientAuth Clients
	// Downloads records every file served (nil: not recorded).
	Downloads Downloads
	// PublicURL is where clients reach Airlock (server.public_url); empty:
	// the landing page uses the request's host and a 403 has no link.
	PublicURL string
	// ReviewOnAdmin is set when the review page answers on admin.listen
	// only, so the landing page does not link to it.
	ReviewOnAdmin bool
}

// Server serves the simple API. It is safe for concurrent use.
type Server struct {
	opt      Options
	renders  singleflight.Group // one listing per page, media type and generation
	draining atomic.Bool
}

// Downloads records each file served (downloads.Recorder), off the
// request's path.
type Downloads interface {
	Record(rec storage.DownloadRecord)
}

// New builds a Server.
func New(opt Options) *Server {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Server{opt: opt}
}

// Drain marks the server as shutting down: /readyz answers 503 from now on.
func (s *Server) Drain() { s.draining.Store(true) }

// Handler returns the routed handler wrapped in request logging, which sits
// outside the router so it also sees 404s and 405s. mounts add other
// packages' routes (the admin API, the review UI) under the same logging.
func (s *Server) Handler(mounts ...func(*mux.Router)) http.Handler {
	r := mux.NewRouter()
	for _, m := range mounts {
		m(r)
	}
	r.Handle(routeMetrics, promhttp.HandlerFor(s.opt.Metrics.Registry, promhttp.HandlerOpts{})).Methods(http.MethodGet).Name("metrics")
	r.HandleFunc(routeLanding, s.landing).Methods(http.MethodGet, http.MethodHead).Name("landing")
	r.HandleFunc(routeHealthz, s.healthz).Methods(http.MethodGet, http.MethodHead).Name("healthz")
	r.HandleFunc(routeReadyz, s.readyz).Methods(http.MethodGet, http.MethodHead).Name("readyz")
	// The index itself answers only authenticated clients when
	// auth.clients is set.
	client := s.requireClient
	r.HandleFunc(routeSimpleNoSlash, client(redirectTo("/simple/"))).Methods(http.MethodGet, http.MethodHead).Name("simple-redirect")
	r.HandleFunc(routeProjectList, client(s.projectList)).Methods(http.MethodGet, http.MethodHead).Name("project-list")
	r.HandleFunc(routeProjectPage, client(s.projectPage)).Methods(http.MethodGet, http.MethodHead).Name("project-page")
	r.HandleFunc(routeProjectNoSlash, client(s.projectRedirect)).Methods(http.MethodGet, http.MethodHead).Name("project-redirect")
	r.HandleFunc(routeFile, client(s.file)).Methods(http.MethodGet, http.MethodHead).Name("file")
	r.HandleFunc(routeProvenance, client(s.provenance)).Methods(http.MethodGet, http.MethodHead).Name("provenance")
	r.HandleFunc(routeJSONProject, client(s.jsonAPI)).Methods(http.MethodGet, http.MethodHead).Name("json-project")
	r.HandleFunc(routeJSONRelease, client(s.jsonAPI)).Methods(http.MethodGet, http.MethodHead).Name("json-release")
	r.Use(nameRoute)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusNotFound, "not found")
	})
	return s.accessLog(r)
}

// AdminHandler serves only the mounted routes (the admin API and the review
// page) with the same request logging, for admin.listen.
func (s *Server) AdminHandler(mounts ...func(*mux.Router)) http.Handler {
	r := mux.NewRouter()
	for _, m := range mounts {
		m(r)
	}
	r.HandleFunc(routeHealthz, s.healthz).Methods(http.MethodGet, http.MethodHead).Name("healthz")
	r.Use(nameRoute)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusNotFound, "not found")
	})
	return s.accessLog(r)
}

func redirectTo(target string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusMovedPermanently)
	}
}
