package gate

import (
	"context"
	"time"

	"airlock/index"
	"airlock/quarantine"
	"airlock/storage"
)

// queueIfCooling queues a listed file for the background checks when the
// listing holds it until a time (its cooldown) that is within the lead,
// it has not been checked yet, and a client of this deployment could
// install it. A file the page already offers is checked when it is asked
// for; the background fetches nothing for it (a release past its
// cooldown, however young). Earlier than the lead it returns when the
// file is due: the listing is made again then.
func (g *Gate) queueIfCooling(ctx context.Context, p *index.Page, f index.File, l quarantine.Listing, lc listingContext, pending *[]index.File) (due time.Time) {
	if !g.queue.Enabled() || f.SHA256() == "" || f.Yanked || f.UploadTime.IsZero() || f.Size < 0 {
		return
	}
	if lc.now.Sub(f.UploadTime) >= max(lc.rules.Cooldown, lc.rules.CooldownBelow) {
		return
	}
	if offered := l.Show && !l.Yank; offered && !g.opt.Quarantine.Audit() {
		return
	}
	if !l.Until.IsZero() && !l.Until.After(lc.now) {
		return
	}
	if rec, ok := lc.stored[f.Filename]; ok && rec.SHA256 == f.SHA256() && g.opt.Store.HasBlob(ctx, rec.SHA256) {
		if _, err := g.opt.Store.GetDecision(ctx, f.SHA256()); err == nil {
			return // downloaded and decided: checked
		}
	}
	if g.opt.Platforms != nil && !g.opt.Platforms.Fits(f.Filename) {
		g.opt.Metrics.BackgroundSkipped.WithLabelValues("platform").Inc()
		return
	}
	if lead := g.opt.Background.Lead; lead > 0 && !l.Until.IsZero() {
		if due = l.Until.Add(-lead); due.After(lc.now) {
			g.opt.Metrics.BackgroundSkipped.WithLabelValues("not_due").Inc()
			return due
		}
	}
	*pending = append(*pending, f)
	return time.Time{}
}

// ClientSeen learns a request's platform from its User-Agent; a platform
// seen for the first time renders pages anew, so their cooling files for
// it are queued.
func (g *Gate) ClientSeen(userAgent string) {
	if g.opt.Platforms != nil && g.opt.Platforms.Saw(userAgent) {
		g.opt.Quarantine.Invalidate()
	}
}

// checker is the gate as the work queue's Checker.
type checker struct{ g *Gate }

// Check checks one file: download (within the budget), verify, attest,
// inspect, score and decide, exactly as a client's request would.
func (c checker) Check(ctx context.Context, it storage.WorkItem, budget func(project string, size int64) bool) (string, error) {
	g := c.g
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
		if !budget(it.Project, f.Size) {
			logFrom(ctx).Info().Str("project", it.Project).Str("file", it.Filename).Int64("size", f.Size).Msg("background check skipped: byte budget spent (the file is checked when a client asks)")
			g.opt.Metrics.BackgroundSkipped.WithLabelValues("budget").Inc()
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

// RunPending runs every background item that is due now, one after
// another, and returns how many ran: for tools and tests that want the
// background checks done before they look.
func (g *Gate) RunPending(ctx context.Context) int { return g.queue.RunPending(ctx, checker{g}) }
