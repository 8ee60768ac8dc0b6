// Package work is Airlock's background work: the persistent queue of files
// to check before anyone asks for them (releases inside their cooldown, a
// held file's distribution when its metadata was asked for), worked by a
// few workers within daily byte budgets, retried with a doubling back-off,
// and the periodic sweep, which one replica runs for all. What checking a
// file means is the Checker's (the gate's); the queue knows only items,
// budgets and retries.
package work

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"airlock/index"
	"airlock/metrics"
	"airlock/storage"
)

// Priorities: what a client asked for runs before releases that are
// merely cooling down.
const (
	PriorityAsked   byte = 0
	PriorityCooling byte = 1
)

// Store keeps the queue (so it survives a restart) and says which replica
// sweeps. *storage.Store is one.
type Store interface {
	AddWork(ctx context.Context, priority byte, items []storage.WorkItem) (int, error)
	NextWork(ctx context.Context, now time.Time, skip func(sha string) bool) (key []byte, it storage.WorkItem, ok bool, err error)
	FinishWork(ctx context.Context, key []byte, sha string) error
	RetryWork(ctx context.Context, key []byte, it storage.WorkItem) error
	WorkStats(ctx context.Context) (depth int, oldest time.Time, err error)
	Leader(ctx context.Context) bool
}

var _ Store = (*storage.Store)(nil)

// Checker checks one queued file as a client's request would. It returns
// the outcome to count ("done", "skipped") or an error, which retries the
// item later. budget says whether a download of size bytes for project
// fits what background work may still fetch today (and takes it).
type Checker interface {
	Check(ctx context.Context, it storage.WorkItem, budget func(project string, size int64) bool) (outcome string, err error)
}

// Sweeper re-evaluates what can change on its own.
type Sweeper interface {
	Sweep(ctx context.Context) (int, error)
}

// Options configure a Queue.
type Options struct {
	Store   Store
	Metrics *metrics.Metrics
	Log     zerolog.Logger
	Now     func() time.Time
	// Workers work the queue; 0 turns background work off (files are
	// then checked when asked for).
	Workers int
	// ProjectBytes and TotalBytes bound what background work downloads
	// per project and in all, per day (0: unbounded).
	ProjectBytes, TotalBytes int64
	// Retry is the wait after a failed check.
	Retry Backoff
	// Busy reports that clients are waiting on checks now: workers let
	// them have the CPU and the upstream first (for at most maxYield per
	// item, so background work is never starved for good).
	Busy func() bool
}

// maxYield bounds how long a worker waits for clients' checks before it
// takes its item anyway.
const maxYield = 10 * time.Second

// Backoff is a wait that doubles per consecutive failure, from Base up to
// Max (zero values: a minute and an hour).
type Backoff struct{ Base, Max time.Duration }

// Wait is the wait after failure number n+1 (n failures before it).
func (b Backoff) Wait(n int) time.Duration {
	if b.Base <= 0 {
		b.Base = time.Minute
	}
	if b.Max <= 0 {
		b.Max = time.Hour
	}
	wait := b.Base << min(max(n, 0), 16)
	if wait > b.Max || wait <= 0 {
		wait = b.Max
	}
	return wait
}

// Queue is the background work queue. Items live in the store; budgets
// and what is in flight are per process.
type Queue struct {
	opt  Options
	wake chan struct{}

	mu       sync.Mutex
	inflight map[string]bool
	day      time.Time        // start of the budget window
	used     map[string]int64 // project -> bytes fetched in the window
	total    int64
}

const budgetWindow = 24 * time.Hour

// New builds a Queue.
func New(opt Options) *Queue {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Queue{opt: opt, wake: make(chan struct{}, 1), inflight: map[string]bool{}, used: map[string]int64{}}
}

// Enabled reports whether background work runs.
func (q *Queue) Enabled() bool { return q.opt.Workers > 0 }

// Add queues listed files of a project.
func (q *Queue) Add(ctx context.Context, project string, files []index.File, priority byte) {
	if !q.Enabled() || len(files) == 0 {
		return
	}
	now := q.opt.Now().UTC()
	items := make([]storage.WorkItem, 0, len(files))
	for _, f := range files {
		items = append(items, storage.WorkItem{SHA256: f.SHA256(), Project: project, Filename: f.Filename, Size: f.Size, EnqueuedAt: now})
	}
	n, err := q.opt.Store.AddWork(ctx, priority, items)
	if err != nil {
		q.opt.Log.Error().Err(err).Str("project", project).Msg("background queue: could not add work")
		return
	}
	if n > 0 {
		q.signal()
		q.observe(ctx)
	}
}

func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run works the queue with the configured workers and sweeps every
// sweepEvery (when this replica leads), until ctx ends.
func (q *Queue) Run(ctx context.Context, c Checker, s Sweeper, sweepEvery time.Duration) {
	var wg sync.WaitGroup
	for i := 0; i < q.opt.Workers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); q.work(ctx, c) }()
	}
	if sweepEvery > 0 {
		t := time.NewTicker(sweepEvery)
		defer t.Stop()
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-t.C:
				if q.opt.Store.Leader(ctx) { // one replica sweeps for all
					s.Sweep(ctx)
				}
			}
		}
	}
	wg.Wait()
}

// work takes items until ctx ends.
func (q *Queue) work(ctx context.Context, c Checker) {
	idle := time.NewTimer(0)
	defer idle.Stop()
	for ctx.Err() == nil {
		q.yield(ctx)
		if q.step(ctx, c) {
			continue
		}
		idle.Reset(5 * time.Second)
		select {
		case <-ctx.Done():
		case <-q.wake:
		case <-idle.C:
		}
	}
}

// yield waits while clients are waiting on checks, up to maxYield.
func (q *Queue) yield(ctx context.Context) {
	if q.opt.Busy == nil {
		return
	}
	deadline := time.Now().Add(maxYield)
	for q.opt.Busy() && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// RunPending runs every item that is due now, one after another, and
// returns how many ran: for tools and tests that want the background
// checks done before they look.
func (q *Queue) RunPending(ctx context.Context, c Checker) int {
	n := 0
	for ctx.Err() == nil && q.step(ctx, c) {
		n++
	}
	return n
}

// step runs one due item and reports whether there was one.
func (q *Queue) step(ctx context.Context, c Checker) bool {
	q.mu.Lock()
	key, it, ok, err := q.opt.Store.NextWork(ctx, q.opt.Now(), func(sha string) bool { return q.inflight[sha] })
	if ok {
		q.inflight[it.SHA256] = true
	}
	q.mu.Unlock()
	if err != nil {
		q.opt.Log.Error().Err(err).Msg("background queue")
		return false
	}
	if !ok {
		return false
	}
	defer func() {
		q.mu.Lock()
		delete(q.inflight, it.SHA256)
		q.mu.Unlock()
		q.observe(ctx)
	}()
	log := q.opt.Log.With().Str("project", it.Project).Str("file", it.Filename).Logger()
	outcome, err := c.Check(q.opt.Log.WithContext(ctx), it, q.spend) // the fill adds project and file itself
	if err != nil && ctx.Err() == nil {
		it.Attempts++
		it.LastError = err.Error()
		it.NotBefore = q.opt.Now().Add(q.opt.Retry.Wait(it.Attempts - 1)).UTC()
		log.Warn().Err(err).Int("attempts", it.Attempts).Time("retry_at", it.NotBefore).Msg("background check failed; will retry")
		if rerr := q.opt.Store.RetryWork(ctx, key, it); rerr != nil {
			log.Error().Err(rerr).Msg("background queue")
		}
		q.opt.Metrics.QueueDone.WithLabelValues("failed").Inc()
		return true
	}
	if ctx.Err() != nil {
		return false // stopped: the item stays queued for the next start
	}
	q.opt.Metrics.QueueDone.WithLabelValues(outcome).Inc()
	if err := q.opt.Store.FinishWork(ctx, key, it.SHA256); err != nil {
		log.Error().Err(err).Msg("background queue")
	}
	return true
}

// spend takes size bytes from the project's and the total daily budget,
// reporting false (and taking nothing) when either would be exceeded.
func (q *Queue) spend(project string, size int64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.opt.Now()
	if now.Sub(q.day) >= budgetWindow {
		q.day, q.used, q.total = now, map[string]int64{}, 0
	}
	if (q.opt.ProjectBytes > 0 && q.used[project]+size > q.opt.ProjectBytes) || (q.opt.TotalBytes > 0 && q.total+size > q.opt.TotalBytes) {
		return false
	}
	q.used[project] += size
	q.total += size
	return true
}

// observe publishes the queue's depth and oldest item.
func (q *Queue) observe(ctx context.Context) {
	depth, oldest, err := q.opt.Store.WorkStats(ctx)
	if err != nil {
		return
	}
	q.opt.Metrics.QueueDepth.Set(float64(depth))
	age := 0.0
	if !oldest.IsZero() {
		age = q.opt.Now().Sub(oldest).Seconds()
	}
	q.opt.Metrics.QueueOldest.Set(age)
}
