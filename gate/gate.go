// Package gate owns Airlock's decisions: for every file a page lists or a
// client asks for, it gathers the inputs (the page, PEP 740 provenance,
// behavioural signals, content inspection and the comparison with the
// source), runs the policy through the quarantine, and keeps the
// background work that makes those inputs complete before they are needed.
//
// When each check runs:
//
//   - Listing (a page render): every file of every release is decided from
//     what the page and the stored state say, without downloading anything:
//     cooldown (risk-adaptive when a confident score is known), not_after,
//     missing upload time, attestation missing where the page says so,
//     stored decisions and reviews. A file listed as installable is served
//     when requested unless its download brings new evidence.
//   - Background (the work queue): releases still inside their cooldown are
//     downloaded, verified, attested, inspected and scored, so their files
//     are checked by the time the cooldown ends.
//   - Download (a file request): every check runs before the first byte is
//     served.
//
// Pages, verified fills and routing are the pull-through cache's
// (package pullthrough), which the gate observes: a page changed upstream
// may have removed files, a private name listed publicly is a security
// event. The gate has no HTTP in it: simpleapi, the admin API, the review
// UI and `airlock check` call it, one call per endpoint (File, Listing,
// Provenance, Evaluate, Review).
package gate

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"

	"airlock/inspect"
	"airlock/pullthrough"
	"airlock/quarantine"
	"airlock/work"
)

// CacheOptions are the pull-through cache's options, as the gate's.
type CacheOptions = pullthrough.Options

// Options configure a Gate.
type Options struct {
	Store Store
	// The pull-through cache's options (upstreams, page and fill bounds,
	// metrics, log, clock); its Store is Store.
	pullthrough.Options
	// Advisories are the OSV records in force (nil: none).
	Advisories Advisories
	// Quarantine stores decisions and applies the lifecycle.
	Quarantine *quarantine.Service
	// Attest gathers attestation inputs; nil leaves attestations unchecked.
	Attest Attestations
	// Signals gathers behavioural inputs; nil leaves them unchecked.
	Signals Behaviour
	// Inspect turns content inspection on, within InspectLimits.
	Inspect       bool
	InspectLimits inspect.Limits
	// Sources compares a wheel's Python files with its repository at the
	// release's tag (needs Signals for the repository and tag); nil: off.
	Sources SourceTrees
	// Background bounds the work queue; zero Workers turns it off.
	Background Background
	// Platforms limits the background checks to the files clients could
	// install; nil: every file of a cooling release.
	Platforms Platforms
	// SignalsWait bounds how long a listing waits for the signal sources
	// when the project's signals are not known yet.
	SignalsWait time.Duration
	// RetryBase is the first back-off after an error while gathering (it
	// doubles per attempt, up to RetryMax).
	RetryBase time.Duration
	RetryMax  time.Duration
}

// Background bounds the persistent work queue.
type Background struct {
	Workers int
	// ProjectBytes and TotalBytes bound what background work downloads per
	// project and in all, per day.
	ProjectBytes int64
	TotalBytes   int64
	// Lead is how long before its cooldown ends a cooling file is checked
	// (zero: as soon as a listing shows it).
	Lead time.Duration
}

// Gate is safe for concurrent use.
type Gate struct {
	opt     Options
	cache   *pullthrough.Cache
	content contentMemo
	// inspections shares one inspection of a file among its concurrent
	// deciders (a prefetch and the request it ran ahead of).
	inspections singleflight.Group
	prefetching chan struct{} // slots of work ahead of clients in flight
	ahead       chan aheadJob // work ahead waiting for a slot
	queue       *work.Queue
	// foreground counts clients' cold files being fetched and checked
	// (and prefetches for them): the background yields to them.
	foreground atomic.Int64

	retryMu sync.Mutex
	retries map[string]int // sha256 -> consecutive gather failures

	health health
}

// New builds a Gate. Run starts its background work.
func New(opt Options) *Gate {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.RetryBase <= 0 {
		opt.RetryBase = time.Minute // a listing's retry time uses it as it is
	}
	if opt.SignalsWait <= 0 {
		opt.SignalsWait = 3 * time.Second
	}
	opt.Options.Store = opt.Store
	cache := pullthrough.New(opt.Options)
	g := &Gate{opt: opt, cache: cache, retries: map[string]int{}, prefetching: make(chan struct{}, prefetchSlots), ahead: make(chan aheadJob, aheadQueue)}
	cache.Subscribe(cacheObserver{g})
	g.queue = work.New(work.Options{Store: opt.Store, Metrics: opt.Metrics, Log: opt.Log, Now: opt.Now, Workers: opt.Background.Workers,
		ProjectBytes: opt.Background.ProjectBytes, TotalBytes: opt.Background.TotalBytes, Retry: g.backoff(),
		Busy: func() bool { return g.foreground.Load() > 0 }})
	opt.Metrics.CheckInert.From(g.inertChecks)
	return g
}

// Run works the background queue and sweeps held files every sweepEvery,
// until ctx ends.
func (g *Gate) Run(ctx context.Context, sweepEvery time.Duration) {
	g.queue.Run(ctx, checker{g}, g, sweepEvery)
}

// Sweep re-evaluates what can change on its own and logs what moved.
func (g *Gate) Sweep(ctx context.Context) (int, error) {
	n, err := g.opt.Quarantine.Sweep(ctx, g.refresh)
	if err != nil {
		g.opt.Log.Error().Err(err).Msg("quarantine sweep")
	}
	if n > 0 {
		g.opt.Log.Info().Int("changed", n).Msg("quarantine sweep")
	}
	return n, err
}

func logFrom(ctx context.Context) *zerolog.Logger { return zerolog.Ctx(ctx) }

// backoff is the wait after an error while gathering or checking.
func (g *Gate) backoff() work.Backoff {
	return work.Backoff{Base: g.opt.RetryBase, Max: g.opt.RetryMax}
}
