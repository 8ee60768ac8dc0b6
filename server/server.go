// Package server is `airlock serve`: it puts the house together from the
// config — the shared parts (server/parts: store, quarantine, upstreams,
// metrics), the evidence gatherers (server/evidence), the gate over the
// pull-through cache, and the HTTP side (server/front) — and runs it
// until its context ends, then drains and stops in order.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"airlock/config"
	"airlock/connlimit"
	"airlock/gate"
	"airlock/internal/every"
	"airlock/platforms"
	"airlock/server/evidence"
	"airlock/server/front"
	"airlock/server/parts"
)

// Server is an assembled server, not yet listening.
type Server struct {
	parts    *parts.Parts
	evidence evidence.Gatherers
	gate     *gate.Gate
	front    *front.Front
}

// New assembles a server from the config. Close releases it.
func New(ctx context.Context, cfg config.Config, log zerolog.Logger, version string) (*Server, error) {
	p, err := parts.Open(ctx, cfg, log, version)
	if err != nil {
		return nil, err
	}
	ev, err := evidence.Build(p)
	if err != nil {
		p.Close()
		return nil, err
	}
	g := gate.New(gateOptions(p, ev))
	ev.Feed.OnChange = g.AdvisoriesChanged
	f, err := front.Build(p, g, ev.Feed)
	if err != nil {
		p.Close()
		return nil, err
	}
	return &Server{parts: p, evidence: ev, gate: g, front: f}, nil
}

// gateOptions are the gate's options from the config; a gatherer turned
// off stays nil (not a nil pointer in an interface).
func gateOptions(p *parts.Parts, ev evidence.Gatherers) gate.Options {
	cfg := p.Config
	opt := gate.Options{
		Store: p.Store,
		Options: gate.CacheOptions{
			Indexes:        p.Router,
			Upstream:       p.Upstream,
			Metrics:        p.Metrics,
			Log:            p.Log,
			PageTTL:        time.Duration(cfg.Index.TTL),
			PageCacheBytes: int64(cfg.Index.PageCacheBytes),
			PageTimeout:    3 * time.Duration(cfg.Upstream.Timeout),
			FillTimeout:    time.Duration(cfg.Upstream.FillTimeout),
			MaxFileBytes:   int64(cfg.Upstream.MaxFileBytes),
			MaxMetaBytes:   int64(cfg.Upstream.MaxPageBytes),
		},
		Advisories:    ev.Feed,
		Quarantine:    p.Quarantine,
		Attest:        ev.Attest,
		Inspect:       cfg.Inspect.Enabled,
		InspectLimits: cfg.Inspect.Limits(),
		Background: gate.Background{Workers: cfg.Background.Workers, ProjectBytes: int64(cfg.Background.ProjectBytes),
			TotalBytes: int64(cfg.Background.TotalBytes), Lead: time.Duration(cfg.Background.Lead)},
		SignalsWait: time.Duration(cfg.Background.SignalsWait),
		RetryBase:   time.Duration(cfg.Background.Retry),
		RetryMax:    time.Duration(cfg.Background.RetryMax),
	}
	if ev.Signals != nil {
		opt.Signals = ev.Signals
	}
	// The background checks what this deployment's clients could install:
	// the platforms they named lately, and those the config lists.
	opt.Platforms = platforms.NewSeen(30*24*time.Hour, nil, cfg.Background.PlatformList()...)
	if ev.Sources != nil {
		opt.Sources = ev.Sources
	}
	return opt
}

// Handler serves the index (and the admin API and review pages unless
// they have admin.listen); AdminHandler is admin.listen's, or nil.
func (s *Server) Handler() http.Handler      { return s.front.Index }
func (s *Server) AdminHandler() http.Handler { return s.front.Admin }

// Gate is the server's gate (`airlock check` evaluates through it).
func (s *Server) Gate() *gate.Gate { return s.gate }

// Close flushes the download records and webhooks and closes the store.
func (s *Server) Close() {
	s.front.Downloads.Close()
	s.parts.Close()
}

// NewHTTPServer bounds what one connection can hold: reading a request
// (headers and body) within read_timeout, writing a page within
// write_timeout (a file download sets its own, longer deadline from its
// size), idle keep-alives for two minutes.
func NewHTTPServer(h http.Handler, cfg config.Config, log zerolog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(10*time.Second, time.Duration(cfg.Server.ReadTimeout)),
		ReadTimeout:       time.Duration(cfg.Server.ReadTimeout),
		WriteTimeout:      time.Duration(cfg.Server.WriteTimeout),
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return log.WithContext(context.Background()) },
	}
}

// Run assembles the server and serves until ctx ends. tell, when not nil
// (a terminal), gets a plain-words welcome once the server listens.
func Run(ctx context.Context, cfg config.Config, log zerolog.Logger, version string, tell io.Writer) error {
	s, err := New(ctx, cfg, log, version)
	if err != nil {
		return err
	}
	defer s.Close()
	p := s.parts
	// The sweep and the background queue stop before the store closes.
	runCtx, stopRun := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { s.gate.Run(runCtx, time.Duration(cfg.Policy.SweepInterval)); close(ran) }()
	go every.Run(runCtx, time.Minute, s.gate.ReportWarnings)
	defer func() { stopRun(); <-ran }()
	// Learn the private indexes' names before the first client asks, so
	// that none of them is sent to the public upstream meanwhile.
	rctx, cancelRefresh := context.WithTimeout(runCtx, time.Duration(cfg.Upstream.Timeout))
	p.Router.Refresh(rctx)
	cancelRefresh()
	go p.Router.Run(runCtx)
	go p.Store.ListenChanges(runCtx, p.Quarantine.Invalidate, log)
	if len(cfg.Feeds.OSV) > 0 {
		go s.gate.AdvisoriesChanged(ctx) // files decided before this start, under older advisories
		go s.evidence.Feed.Run(runCtx, time.Duration(cfg.Feeds.Interval))
	}
	go every.Run(runCtx, time.Hour, func() { pruneDownloads(runCtx, p, time.Duration(cfg.Downloads.Retention)) })
	go pruneDownloads(runCtx, p, time.Duration(cfg.Downloads.Retention))
	if cfg.TLS.CertFile != "" {
		if _, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile); err != nil {
			return fmt.Errorf("tls: %w", err)
		}
	}
	raw, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	proxies, _ := cfg.TrustedProxyPrefixes()
	ln := connlimit.New(raw, cfg.Server.MaxConnsPerClient, proxies)
	httpSrv := NewHTTPServer(s.Handler(), cfg, log)
	errc := make(chan error, 2)
	serve := func(hs *http.Server, l net.Listener) {
		if cfg.TLS.CertFile != "" {
			// The review page's session cookie is Secure over TLS.
			errc <- hs.ServeTLS(l, cfg.TLS.CertFile, cfg.TLS.KeyFile)
		} else {
			errc <- hs.Serve(l)
		}
	}
	go serve(httpSrv, ln)
	servers := []*http.Server{httpSrv}
	adminAddr := ""
	if s.AdminHandler() != nil {
		aln, err := net.Listen("tcp", cfg.Admin.Listen)
		if err != nil {
			httpSrv.Close()
			return fmt.Errorf("admin.listen: %w", err)
		}
		adminSrv := NewHTTPServer(s.AdminHandler(), cfg, log)
		servers = append(servers, adminSrv)
		adminAddr = aln.Addr().String()
		go serve(adminSrv, aln)
	}
	log.Info().Str("listen", ln.Addr().String()).Str("admin_listen", adminAddr).Bool("tls", cfg.TLS.CertFile != "").Str("upstream", cfg.Upstream.URL).
		Str("data_dir", cfg.DataDir).Str("database", backendName(cfg.Database.URL, "bbolt", "postgresql")).
		Str("blobs", backendName(cfg.Blobs.URL, "folder", "s3")).Str("version", version).Msg("airlock serving")
	if tell != nil {
		Welcome(tell, ln.Addr().String(), cfg)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down")
	s.front.Server.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, hs := range servers {
		if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	log.Info().Msg("stopped")
	return nil
}

// pruneDownloads deletes download records older than the retention.
func pruneDownloads(ctx context.Context, p *parts.Parts, retention time.Duration) {
	if n, err := p.Store.PruneDownloads(ctx, time.Now().Add(-retention)); err != nil {
		p.Log.Error().Err(err).Msg("pruning download records")
	} else if n > 0 {
		p.Log.Info().Int("records", n).Msg("old download records pruned")
	}
}

// backendName names a store backend for the log without its URL (which
// may carry a password).
func backendName(url, embedded, shared string) string {
	if url == "" {
		return embedded
	}
	return shared
}
