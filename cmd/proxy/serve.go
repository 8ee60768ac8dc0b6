package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/rs/zerolog"

	"airlock/adminapi"
	"airlock/advisories"
	"airlock/attest"
	"airlock/clientauth"
	"airlock/config"
	"airlock/connlimit"
	"airlock/downloads"
	"airlock/gate"
	"airlock/indexes"
	"airlock/inspect"
	"airlock/internal/every"
	"airlock/metrics"
	"airlock/notify"
	"airlock/policy"
	"airlock/pullthrough"
	"airlock/quarantine"
	"airlock/reviewauth"
	"airlock/reviewui"
	"airlock/simpleapi"
	"airlock/sourcecmp"
	"airlock/storage"
	"airlock/upstream"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags(serveHelp, stderr)
	cfgPath := fs.String("config", "", "YAML config `file` (optional; embedded defaults otherwise)")
	listen := fs.String("listen", "", "listen `address`, overrides the config's listen")
	dataDir := fs.String("data-dir", "", "data `directory`, overrides the config's data_dir")
	if code, done := parseFlags(serveHelp, fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		usageError(stderr, serveHelp, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
		return 2
	}
	cfg, err := config.LoadProcess(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "airlock: %v\n", err)
		return 2
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "airlock: %v\n", err)
		return 2
	}
	log := newLogger(cfg.Log.Level, stderr)
	if cfg.MemoryLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(cfg.MemoryLimit))
	}
	var tell io.Writer
	if isTerminal(stderr) {
		tell = stderr
	}
	if err := serveUntilDone(ctx, cfg, log, tell); err != nil {
		log.Error().Err(err).Msg("airlock stopped")
		fmt.Fprintf(stderr, "airlock: %v\n", err)
		return 1
	}
	return 0
}

func newLogger(level string, w io.Writer) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// app is the running server's parts.
type app struct {
	handler http.Handler
	// adminHandler serves the admin API and review page on admin.listen;
	// nil when they share the index's address.
	adminHandler http.Handler
	server       *simpleapi.Server
	gate         *gate.Gate
	quarantine   *quarantine.Service
	sweepEvery   time.Duration
	router       *indexes.Router
	feed         *advisories.Feed
	store        *storage.Store
	cleanup      func()
}

// App wires the store, the policy engine, the quarantine, the upstream
// client and the HTTP handlers. cleanup flushes webhooks and closes the
// store (releasing its lock).
func App(ctx context.Context, cfg config.Config, log zerolog.Logger) (*app, error) {
	rules, err := cfg.Policy.Rules()
	if err != nil {
		return nil, err
	}
	engine, err := policy.NewEngine(rules)
	if err != nil {
		return nil, err
	}
	if rules.Mode == policy.Audit {
		log.Warn().Msg("policy.mode is audit: decisions are logged, every file is served")
	}
	verifier, err := newVerifier(cfg.Sigstore, cfg.DataDir, log)
	if err != nil {
		return nil, err
	}
	store, err := openStore(cfg, log)
	if err != nil {
		return nil, err
	}
	hooks := notify.New(cfg.Notify.Webhooks, time.Duration(cfg.Notify.Timeout), cfg.Notify.Retries, log)
	q := quarantine.New(store, engine, hooks, time.Now, log)
	m := metrics.New()
	up := upstream.New(upstream.Options{
		BaseURL:      cfg.UpstreamURL(),
		FileHosts:    cfg.Upstream.FileHosts,
		Timeout:      time.Duration(cfg.Upstream.Timeout),
		MaxPageBytes: int64(cfg.Upstream.MaxPageBytes),
		Metrics:      m,
		UserAgent:    "airlock/" + version,
	})
	router, err := newRouter(ctx, cfg, up, store, q, m, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	feed := newFeed(cfg, store, m, log)
	gopt := gate.Options{
		Advisories: feed,
		Store:      store,
		Options: pullthrough.Options{
			Indexes:        router,
			Upstream:       up,
			Metrics:        m,
			Log:            log,
			PageTTL:        time.Duration(cfg.Index.TTL),
			PageCacheBytes: int64(cfg.Index.PageCacheBytes),
			PageTimeout:    3 * time.Duration(cfg.Upstream.Timeout),
			FillTimeout:    time.Duration(cfg.Upstream.FillTimeout),
			MaxFileBytes:   int64(cfg.Upstream.MaxFileBytes),
			MaxMetaBytes:   int64(cfg.Upstream.MaxPageBytes),
		},
		Quarantine: q,
		Attest:     attest.New(up, cfg.UpstreamURL(), verifier, store),
		Inspect:    cfg.Inspect.Enabled,
		InspectLimits: inspect.Limits{MaxTotalBytes: int64(cfg.Inspect.MaxTotalBytes), MaxMemberBytes: int64(cfg.Inspect.MaxMemberBytes), MaxMembers: cfg.Inspect.MaxMembers,
			MaxRatio: cfg.Inspect.MaxRatio, MaxPathLength: cfg.Inspect.MaxPathLength, MaxDepth: cfg.Inspect.MaxDepth,
			MaxScanBytes: int64(cfg.Inspect.MaxScanBytes), MinRatioSizeLen: int64(cfg.Inspect.RatioMinBytes)},
		Background: gate.Background{Workers: cfg.Background.Workers, ProjectBytes: int64(cfg.Background.ProjectBytes),
			TotalBytes: int64(cfg.Background.TotalBytes)},
		SignalsWait: time.Duration(cfg.Background.SignalsWait),
		RetryBase:   time.Duration(cfg.Background.Retry),
		RetryMax:    time.Duration(cfg.Background.RetryMax),
	}
	// A nil collaborator leaves its check off (not a nil in an interface).
	if a := newAssessor(cfg, store); a != nil {
		a.OnGathered = m.CountSignalErrors
		gopt.Signals = a
	}
	if f := newSourceFetcher(cfg, store); f != nil {
		gopt.Sources = f
	}
	g := gate.New(gopt)
	proxies, err := cfg.TrustedProxyPrefixes()
	if err != nil {
		return nil, err
	}
	if wide := cfg.WideProxyRanges(); len(wide) > 0 {
		log.Warn().Strs("ranges", wide).Msg("trusted_proxies holds ranges of more than 256 addresses: a client inside one chooses the address it is throttled and recorded under; list only the balancers")
	}
	var clients *clientauth.Authenticator
	if c := cfg.Auth.Clients; c.UsersFile != "" || c.TokensFile != "" {
		if clients, err = clientauth.New(c.UsersFile, c.TokensFile); err != nil {
			store.Close()
			return nil, fmt.Errorf("auth.clients: %w", err)
		}
		clients.Share(store) // every replica throttles a guesser alike
		clients.OnReloadError = func(err error) {
			log.Error().Err(err).Msg("auth.clients: a changed file could not be read; the credentials read before stay in force")
		}
	} else if host, _, _ := net.SplitHostPort(cfg.Listen); !isLoopback(host) {
		log.Warn().Str("listen", cfg.Listen).Msg("the index is open to anyone who can reach this address: set auth.clients to require credentials")
	}
	feed.OnChange = g.AdvisoriesChanged
	served := downloads.New(store, log)
	sopt := simpleapi.Options{
		Downloads:       served,
		TrustedProxies:  proxies,
		MinFreeBytes:    int64(cfg.Store.MinFreeBytes),
		WriteTimeout:    time.Duration(cfg.Server.WriteTimeout),
		MinDownloadRate: int64(cfg.Server.MinDownloadRate),
		FillTimeout:     time.Duration(cfg.Upstream.FillTimeout),
		Gate:            g,
		Store:           store,
		UpstreamURL:     up.BaseURL(),
		Metrics:         m,
		Log:             log,
		PageTTL:         time.Duration(cfg.Index.TTL),
		PageTimeout:     3 * time.Duration(cfg.Upstream.Timeout),
		HideHeld:        cfg.Index.HeldFiles == "hide",
		PublicURL:       cfg.Server.PublicURL,
		ReviewOnAdmin:   cfg.Admin.Listen != "",
	}
	if clients != nil {
		sopt.ClientAuth = clients
	}
	srv := simpleapi.New(sopt)
	if cfg.Admin.Token == "" {
		log.Info().Msg("admin API off: no admin.token or AIRLOCK_ADMIN_TOKEN")
	}
	var reviewers *clientauth.Authenticator
	if cfg.Admin.ReviewersFile != "" {
		if reviewers, err = clientauth.New("", cfg.Admin.ReviewersFile); err != nil {
			store.Close()
			return nil, fmt.Errorf("admin.reviewers_file: %w", err)
		}
		reviewers.Share(store)
		reviewers.OnReloadError = func(err error) {
			log.Error().Err(err).Msg("admin.reviewers_file: a changed file could not be read; the tokens read before stay in force")
		}
	}
	// Sessions and wrong-token counts are kept with the records: every
	// replica knows them.
	signin := reviewauth.New(reviewauth.Options{Token: cfg.Admin.Token, Reviewers: reviewers, Throttle: store})
	admin := adminapi.New(q, g, router, adminapi.Options{Auth: signin, Feeds: feed})
	ui := reviewui.New(q, g, reviewui.Options{Auth: signin, Feeds: feed, Upstream: cfg.Upstream.URL, Now: time.Now, Sessions: store})
	a := &app{
		feed:       feed,
		store:      store,
		router:     router,
		handler:    srv.Handler(admin.Register, ui.Register),
		server:     srv,
		gate:       g,
		quarantine: q,
		sweepEvery: time.Duration(cfg.Policy.SweepInterval),
		cleanup:    func() { hooks.Close(); served.Close(); store.Close() },
	}
	if cfg.Admin.Listen != "" {
		// The index stays public; the admin API and the review page only
		// answer on their own address.
		a.handler, a.adminHandler = srv.Handler(), srv.AdminHandler(admin.Register, ui.Register)
	}
	return a, nil
}

// newHTTPServer bounds what one connection can hold: reading a request
// (headers and body) within read_timeout, writing a page within
// write_timeout (a file download sets its own, longer deadline from its
// size), idle keep-alives for two minutes.
func newHTTPServer(h http.Handler, cfg config.Config, log zerolog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(10*time.Second, time.Duration(cfg.Server.ReadTimeout)),
		ReadTimeout:       time.Duration(cfg.Server.ReadTimeout),
		WriteTimeout:      time.Duration(cfg.Server.WriteTimeout),
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return log.WithContext(context.Background()) },
	}
}

// serveUntilDone runs the server until ctx ends. tell, when not nil (a
// terminal), gets a plain-words welcome once the server listens.
func serveUntilDone(ctx context.Context, cfg config.Config, log zerolog.Logger, tell io.Writer) error {
	app, err := App(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.cleanup()
	// The sweep and the background queue stop before the store closes.
	runCtx, stopRun := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { app.gate.Run(runCtx, app.sweepEvery); close(ran) }()
	go every.Run(runCtx, time.Minute, app.gate.ReportWarnings)
	defer func() { stopRun(); <-ran }()
	// Learn the private indexes' names before the first client asks, so
	// that none of them is sent to the public upstream meanwhile.
	rctx, cancelRefresh := context.WithTimeout(runCtx, time.Duration(cfg.Upstream.Timeout))
	app.router.Refresh(rctx)
	cancelRefresh()
	go app.router.Run(runCtx)
	go app.store.ListenChanges(runCtx, app.quarantine.Invalidate, log)
	if len(cfg.Feeds.OSV) > 0 {
		go app.gate.AdvisoriesChanged(ctx) // files decided before this start, under older advisories
		go app.feed.Run(runCtx, time.Duration(cfg.Feeds.Interval))
	}
	go pruneDownloads(runCtx, app.store, time.Duration(cfg.Downloads.Retention), log)
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
	httpSrv := newHTTPServer(app.handler, cfg, log)
	errc := make(chan error, 2)
	serve := func(s *http.Server, l net.Listener) {
		if cfg.TLS.CertFile != "" {
			// The review page's session cookie is Secure over TLS.
			errc <- s.ServeTLS(l, cfg.TLS.CertFile, cfg.TLS.KeyFile)
		} else {
			errc <- s.Serve(l)
		}
	}
	go serve(httpSrv, ln)
	servers := []*http.Server{httpSrv}
	adminAddr := ""
	if app.adminHandler != nil {
		aln, err := net.Listen("tcp", cfg.Admin.Listen)
		if err != nil {
			httpSrv.Close()
			return fmt.Errorf("admin.listen: %w", err)
		}
		adminSrv := newHTTPServer(app.adminHandler, cfg, log)
		servers = append(servers, adminSrv)
		adminAddr = aln.Addr().String()
		go serve(adminSrv, aln)
	}
	log.Info().Str("listen", ln.Addr().String()).Str("admin_listen", adminAddr).Bool("tls", cfg.TLS.CertFile != "").Str("upstream", cfg.Upstream.URL).
		Str("data_dir", cfg.DataDir).Str("database", backendName(cfg.Database.URL, "bbolt", "postgresql")).
		Str("blobs", backendName(cfg.Blobs.URL, "folder", "s3")).Str("version", version).Msg("airlock serving")
	if tell != nil {
		welcome(tell, ln.Addr().String(), cfg)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down")
	app.server.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	log.Info().Msg("stopped")
	return nil
}

// newRouter builds the index router: the public upstream and each private
// index with its credentials (read once here, never logged).
func newRouter(ctx context.Context, cfg config.Config, public *upstream.Client, store *storage.Store, notify indexes.Notifier, m *metrics.Metrics, log zerolog.Logger) (*indexes.Router, error) {
	var private []*indexes.Index
	for _, ixc := range cfg.Indexes {
		user, password, token, err := ixc.Credentials(os.Getenv)
		if err != nil {
			return nil, err
		}
		client := upstream.New(upstream.Options{
			BaseURL: ixc.BaseURL(), FileHosts: ixc.FileHosts, Timeout: time.Duration(cfg.Upstream.Timeout),
			MaxPageBytes: int64(cfg.Upstream.MaxPageBytes), Metrics: m, UserAgent: "airlock/" + version,
			Username: user, Password: password, Token: token,
		})
		patterns := ixc.Patterns()
		private = append(private, &indexes.Index{Name: ixc.Name, Client: client, Patterns: patterns, ListEvery: time.Duration(ixc.ListRefresh)})
		log.Info().Str("index", ixc.Name).Str("url", upstream.RedactURL(ixc.URL)).Strs("projects", patterns).
			Bool("authenticated", user != "" || token != "").Msg("private index")
	}
	return indexes.NewRouter(ctx, &indexes.Index{Client: public}, private, store, notify, log), nil
}

// isLoopback reports whether a listen host only answers this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newFeed restores the advisory sources' last good records from the store
// and reports each refresh in the metrics.
func newFeed(cfg config.Config, store *storage.Store, m *metrics.Metrics, log zerolog.Logger) *advisories.Feed {
	feed := advisories.NewFeed(cfg.Feeds.OSV, store, log)
	feed.IsNotFound = func(err error) bool { return errors.Is(err, storage.ErrNotFound) }
	feed.AfterRefresh = func(db *advisories.DB, sources []advisories.SourceStatus) {
		m.AdvisoryRecords.Set(float64(db.Records))
		for _, st := range sources {
			if !st.LastOK.IsZero() {
				m.AdvisoryRefreshed.WithLabelValues(st.Source).Set(float64(st.LastOK.Unix()))
			}
			failing := 0.0
			if st.LastError != "" {
				failing = 1
			}
			m.AdvisoryFailing.WithLabelValues(st.Source).Set(failing)
		}
		log.Info().Int("records", db.Records).Msg("advisories read")
	}
	// The records kept from the last good reads are in force before the
	// first client asks; the sources are read in the background (a feed
	// that never answers must not keep the server from listening).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	feed.Restore(ctx)
	cancel()
	return feed
}

// pruneDownloads deletes download records older than the retention, once
// an hour.
func pruneDownloads(ctx context.Context, store *storage.Store, retention time.Duration, log zerolog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := store.PruneDownloads(ctx, time.Now().Add(-retention)); err != nil {
			log.Error().Err(err).Msg("pruning download records")
		} else if n > 0 {
			log.Info().Int("records", n).Msg("old download records pruned")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
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

// openStore opens the store the config names: bbolt and a blob folder in
// data_dir, or PostgreSQL (whose schema `airlock migrate` made) and an
// S3-compatible bucket.
func openStore(cfg config.Config, log zerolog.Logger) (*storage.Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return storage.OpenLocation(ctx, storage.Location{
		DataDir:     cfg.DataDir,
		DatabaseURL: cfg.Database.URL,
		Blobs: storage.BlobLocation{URL: cfg.Blobs.URL, Endpoint: cfg.Blobs.Endpoint, Region: cfg.Blobs.Region,
			PathStyle: cfg.Blobs.PathStyle, CacheBytes: int64(cfg.Blobs.CacheBytes)},
		LockTimeout: time.Second,
	}, log)
}

// newSourceFetcher reads repositories at a release's tag for the source
// comparison, through the signals' GitHub API, caching each tree with the
// signal documents; nil when the comparison or the signals are off.
func newSourceFetcher(cfg config.Config, store *storage.Store) *sourcecmp.Fetcher {
	if !cfg.Inspect.Enabled || !cfg.Inspect.CompareSource || !cfg.Signals.Enabled {
		return nil
	}
	return &sourcecmp.Fetcher{APIURL: cfg.Signals.GitHubAPIURL, Token: cfg.Signals.GitHubToken,
		HTTP: &http.Client{Timeout: 2 * time.Minute}, MaxBytes: int64(cfg.Inspect.MaxSourceBytes), Cache: treeCache{store}}
}

// treeCache keeps source trees as signal documents in the store.
type treeCache struct{ store *storage.Store }

func (c treeCache) Get(ctx context.Context, key string) ([]byte, bool) {
	d, err := c.store.GetSignalDoc(ctx, key)
	return d.Body, err == nil && d.Status == http.StatusOK
}

func (c treeCache) Put(ctx context.Context, key string, body []byte) {
	c.store.PutSignalDoc(ctx, key, storage.SignalDoc{Body: body, Status: http.StatusOK, FetchedAt: time.Now().UTC()})
}
