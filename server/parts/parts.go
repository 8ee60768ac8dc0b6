// Package parts opens what every room of the server shares, from the
// config: the store, the decisions' record (the quarantine, with its
// policy and webhooks), the upstream clients and the router between them,
// and the metrics. The rooms (server/evidence, server/front) are built
// from Parts; package server puts them together.
package parts

import (
	"context"
	"os"
	"time"

	"github.com/rs/zerolog"

	"airlock/config"
	"airlock/metrics"
	"airlock/notify"
	"airlock/policy"
	"airlock/quarantine"
	"airlock/route"
	"airlock/storage"
	"airlock/upstream"
)

// Parts are the server's shared parts. Close releases them.
type Parts struct {
	Config  config.Config
	Log     zerolog.Logger
	Version string // airlock's, for the User-Agent

	Store      *storage.Store
	Metrics    *metrics.Metrics
	Hooks      *notify.Webhooks
	Quarantine *quarantine.Service
	// Upstream is the public index; Router sends each project to it or
	// to the private index that owns the name.
	Upstream *upstream.Client
	Router   *route.Router
}

// Open opens the parts the config names.
func Open(ctx context.Context, cfg config.Config, log zerolog.Logger, version string) (*Parts, error) {
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
	store, err := OpenStore(cfg, log)
	if err != nil {
		return nil, err
	}
	p := &Parts{Config: cfg, Log: log, Version: version, Store: store, Metrics: metrics.New()}
	p.Hooks = notify.New(cfg.Notify.Webhooks, time.Duration(cfg.Notify.Timeout), cfg.Notify.Retries, log)
	p.Quarantine = quarantine.New(store, engine, p.Hooks, time.Now, log)
	p.Upstream = upstream.New(upstream.Options{
		BaseURL:      cfg.UpstreamURL(),
		FileHosts:    cfg.Upstream.FileHosts,
		Timeout:      time.Duration(cfg.Upstream.Timeout),
		MaxPageBytes: int64(cfg.Upstream.MaxPageBytes),
		Metrics:      p.Metrics,
		UserAgent:    p.UserAgent(),
	})
	if p.Router, err = p.newRouter(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// UserAgent is what Airlock sends upstream.
func (p *Parts) UserAgent() string { return "airlock/" + p.Version }

// Close flushes the webhooks and closes the store (releasing its lock).
func (p *Parts) Close() {
	if p.Hooks != nil {
		p.Hooks.Close()
	}
	p.Store.Close()
}

// newRouter builds the index router: the public upstream and each private
// index with its credentials (read once here, never logged).
func (p *Parts) newRouter(ctx context.Context) (*route.Router, error) {
	cfg := p.Config
	var private []*route.Index
	for _, ixc := range cfg.Indexes {
		user, password, token, err := ixc.Credentials(os.Getenv)
		if err != nil {
			return nil, err
		}
		client := upstream.New(upstream.Options{
			BaseURL: ixc.BaseURL(), FileHosts: ixc.FileHosts, Timeout: time.Duration(cfg.Upstream.Timeout),
			MaxPageBytes: int64(cfg.Upstream.MaxPageBytes), Metrics: p.Metrics, UserAgent: p.UserAgent(),
			Username: user, Password: password, Token: token,
		})
		patterns := ixc.Patterns()
		private = append(private, &route.Index{Name: ixc.Name, Client: client, Patterns: patterns, ListEvery: time.Duration(ixc.ListRefresh)})
		p.Log.Info().Str("index", ixc.Name).Str("url", upstream.RedactURL(ixc.URL)).Strs("projects", patterns).
			Bool("authenticated", user != "" || token != "").Msg("private index")
	}
	return route.NewRouter(ctx, &route.Index{Client: p.Upstream}, private, p.Store, p.Quarantine, p.Log), nil
}

// OpenStore opens the store the config names: bbolt and a blob folder in
// data_dir, or PostgreSQL (whose schema `airlock migrate` made) and an
// S3-compatible bucket.
func OpenStore(cfg config.Config, log zerolog.Logger) (*storage.Store, error) {
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
