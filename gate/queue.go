package gate

import (
	"context"
	"sync"
	"time"

	"airlock/index"
	"airlock/storage"
)

// Queue priorities: what a client asked for runs before releases that are
// merely cooling down.
const (
	priorityAsked   byte = 0
	priorityCooling byte = 1
)

// queue is the background work queue. Items live in the store, so they
// survive a restart; budgets and what is in flight are per process.
type queue struct {
	g    *Gate
	wake chan struct{}

	mu       sync.Mutex
	inflight map[string]bool
	day      time.Time        // start of the budget window
	used     map[string]int64 // project -> bytes fetched in the window
	total    int64
}

const budgetWindow = 24 * time.Hour

func newQueue(g *Gate) *queue {
	return &queue{g: g, wake: make(chan struct{}, 1), inflight: map[string]bool{}, used: map[string]int64{}}
}

func (q *queue) enabled() bool { return q.g.opt.Background.Workers > 0 }

// add queues one listed file.
func (q *queue) add(ctx context.Context, page *index.Page, f index.File, priority byte) {
	q.addMany(ctx, page.Name, []index.File{f}, priority)
}

func (q *queue) addMany(ctx context.Context, project string, files []index.File, priority byte) {
	if !q.enabled() || len(files) == 0 {
		return
	}
	now := q.g.opt.Now().UTC()
	items := make([]storage.WorkItem, 0, len(files))
	for _, f := range files {
		items = append(items, storage.WorkItem{SHA256: f.SHA256(), Project: project, Filename: f.Filename, Size: f.Size, EnqueuedAt: now})
	}
	n, err := q.g.opt.Store.AddWork(ctx, priority, items)
	if err != nil {
		q.g.opt.Log.Error().Err(err).Str("project", project).Msg("background queue: could not add work")
		return
	}
	if n > 0 {
		q.signal()
		q.observe(ctx)
	}
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// queueIfCooling queues a listed file for the background checks when its
// release is inside its cooldown and it has not been checked yet.
func (g *Gate) queueIfCooling(ctx context.Context, p *index.Page, f index.File, lc listingContext, pending *[]index.File) {
	if !g.queue.enabled() || f.SHA256() == "" || f.Yanked || f.UploadTime.IsZero() || f.Size < 0 {
		return
	}
	if lc.now.Sub(f.UploadTime) >= max(lc.rules.Cooldown, lc.rules.CooldownBelow) {
		return
	}
	if rec, ok := lc.stored[f.Filename]; ok && rec.SHA256 == f.SHA256() && g.opt.Store.HasBlob(ctx, rec.SHA256) {
		if _, err := g.opt.Store.GetDecision(ctx, f.SHA256()); err == nil {
			return // downloaded and decided: checked
		}
	}
	*pending = append(*pending, f)
}

// work takes items until ctx ends.
func (q *queue) work(ctx context.Context) {
	idle := time.NewTimer(0)
	defer idle.Stop()
	for ctx.Err() == nil {
		if q.step(ctx) {
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

// step runs one due item and reports whether there was one.
func (q *queue) step(ctx context.Context) bool {
	g := q.g
	q.mu.Lock()
	key, it, ok, err := g.opt.Store.NextWork(ctx, g.opt.Now(), func(sha string) bool { return q.inflight[sha] })
	if ok {
		q.inflight[it.SHA256] = true
	}
	q.mu.Unlock()
	if err != nil {
		g.opt.Log.Error().Err(err).Msg("background queue")
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
	log := g.opt.Log.With().Str("project", it.Project).Str("file", it.Filename).Logger()
	outcome, err := q.run(g.opt.Log.WithContext(ctx), it) // the fill adds project and file itself
	if err != nil && ctx.Err() == nil {
		it.Attempts++
		it.LastError = err.Error()
		wait := g.opt.RetryBase << min(it.Attempts-1, 16)
		if wait > g.opt.RetryMax || wait <= 0 {
			wait = g.opt.RetryMax
		}
		it.NotBefore = g.opt.Now().Add(wait).UTC()
		log.Warn().Err(err).Int("attempts", it.Attempts).Time("retry_at", it.NotBefore).Msg("background check failed; will retry")
		if rerr := g.opt.Store.RetryWork(ctx, key, it); rerr != nil {
			log.Error().Err(rerr).Msg("background queue")
		}
		g.opt.Metrics.QueueDone.WithLabelValues("failed").Inc()
		return true
	}
	if ctx.Err() != nil {
		return false // stopped: the item stays queued for the next start
	}
	g.opt.Metrics.QueueDone.WithLabelValues(outcome).Inc()
	if err := g.opt.Store.FinishWork(ctx, key, it.SHA256); err != nil {
		log.Error().Err(err).Msg("background queue")
	}
	return true
}

// run checks one file: download (within the budgets), verify, attest,
// inspect, score and decide, exactly as a client's request would.
func (q *queue) run(ctx context.Context, it storage.WorkItem) (string, error) {
	g := q.g
	entry, err := g.Page(ctx, it.Project)
	if err != nil {
		return "", err
	}
	page := &entry.Cached.Page
	f, ok := page.Lookup(it.Filename)
	if !ok || f.SHA256() != it.SHA256 {
		return "skipped", nil // no longer listed as it was
	}
	if _, stored := g.storedFile(ctx, page.Name, f); !stored {
		if !q.spend(it.Project, f.Size) {
			logFrom(ctx).Info().Str("project", it.Project).Str("file", it.Filename).Int64("size", f.Size).Msg("background check skipped: byte budget spent (the file is checked when a client asks)")
			return "skipped", nil
		}
		if _, err := g.ensureStored(ctx, page, f); err != nil {
			return "", err
		}
		g.opt.Metrics.BackgroundBytes.Add(float64(f.Size))
	}
	if _, err := g.decideListed(ctx, page, f, false); err != nil {
		return "", err
	}
	return "done", nil
}

// spend takes size bytes from the project's and the total daily budget,
// reporting false (and taking nothing) when either would be exceeded.
func (q *queue) spend(project string, size int64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.g.opt.Now()
	if now.Sub(q.day) >= budgetWindow {
		q.day, q.used, q.total = now, map[string]int64{}, 0
	}
	b := q.g.opt.Background
	if (b.ProjectBytes > 0 && q.used[project]+size > b.ProjectBytes) || (b.TotalBytes > 0 && q.total+size > b.TotalBytes) {
		return false
	}
	q.used[project] += size
	q.total += size
	return true
}

// observe publishes the queue's depth and oldest item.
func (q *queue) observe(ctx context.Context) {
	depth, oldest, err := q.g.opt.Store.WorkStats(ctx)
	if err != nil {
		return
	}
	q.g.opt.Metrics.QueueDepth.Set(float64(depth))
	age := 0.0
	if !oldest.IsZero() {
		age = q.g.opt.Now().Sub(oldest).Seconds()
	}
	q.g.opt.Metrics.QueueOldest.Set(age)
}

// RunPending runs every item that is due now, one after another, and
// returns how many ran: for tools and tests that want the background
// checks done before they look.
func (g *Gate) RunPending(ctx context.Context) int {
	n := 0
	for ctx.Err() == nil && g.queue.step(ctx) {
		n++
	}
	return n
}
