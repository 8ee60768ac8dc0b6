package gate

import (
	"context"
	"fmt"
	"sync"
	"time"

	"airlock/index"
	"airlock/policy"
)

// DownloadsServed counts whole files served to clients since a time (by
// the hour), for the overview.
func (g *Gate) DownloadsServed(ctx context.Context, since time.Time) (int, error) {
	return g.opt.Store.DownloadsServed(ctx, since)
}

// ReasonNoProvenance is the warning reason of an upstream without PEP 740.
const ReasonNoProvenance = "no_provenance_upstream"

// health tracks what the checks depend on from outside: whether the
// upstream publishes PEP 740 provenance, and which signal sources fail.
type health struct {
	mu sync.Mutex
	// Pages seen since start, and how many spoke PEP 740 (API 1.3+).
	pages, pagesWithProvenance int
	firstPage                  time.Time
	logged                     map[string]time.Time // warning key -> last logged
	// forgeFailing is when the source forge stopped answering (zero while
	// it does), for the source comparison.
	forgeFailing time.Time
	forgeError   string
}

// forgeAnswered records whether the source forge could be read, for the
// inert-check warning.
func (g *Gate) forgeAnswered(err error) {
	h := &g.health
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil:
		h.forgeFailing, h.forgeError = time.Time{}, ""
	case h.forgeFailing.IsZero():
		h.forgeFailing, h.forgeError = g.opt.Now(), err.Error()
	default:
		h.forgeError = err.Error()
	}
}

// warnLogEvery is how often a standing warning is logged again.
const warnLogEvery = time.Hour

// sawPage records a page as it is used, from the upstream or the store.
func (g *Gate) sawPage(p *index.Page) {
	h := &g.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if p.Source != "" {
		return // a private index's provenance is not what the warning is about
	}
	if h.pages == 0 {
		h.firstPage = g.opt.Now()
	}
	h.pages++
	if p.ProvenanceKnown {
		h.pagesWithProvenance++
	}
}

// inertChecks are the (check, reason) pairs of Warnings, for the metric.
func (g *Gate) inertChecks() [][2]string {
	var out [][2]string
	for _, w := range g.Warnings() {
		out = append(out, [2]string{w.Check, w.Reason})
	}
	return out
}

// Warnings lists the checks that cannot act now, in a stable order.
func (g *Gate) Warnings() []policy.Warning {
	h := &g.health
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []policy.Warning
	provenanceServed := int64(0)
	if g.opt.Attest != nil {
		provenanceServed = g.opt.Attest.ProvenanceServed()
	}
	if g.opt.Attest != nil && h.pages > 0 && h.pagesWithProvenance == 0 && provenanceServed == 0 {
		out = append(out, policy.Warning{Check: "attestation", Reason: ReasonNoProvenance, Since: h.firstPage,
			Message: fmt.Sprintf("PEP 740 attestation checks cannot act: the upstream publishes no provenance "+
				"(none of the %d pages read since start speaks PEP 740, and its Integrity API has served nothing)", h.pages)})
	}
	if g.opt.Signals != nil {
		out = append(out, g.opt.Signals.Warnings()...)
	}
	if !h.forgeFailing.IsZero() {
		out = append(out, policy.Warning{Check: "content", Reason: "forge_unreachable", Since: h.forgeFailing,
			Message: fmt.Sprintf("the source comparison cannot run: the forge's source archives cannot be read (%s)", h.forgeError)})
	}
	return append(out, g.advisoryWarnings()...)
}

// advisoryWarnings names each advisory source whose records in force are
// not a fresh read.
func (g *Gate) advisoryWarnings() []policy.Warning {
	if g.opt.Advisories == nil {
		return nil
	}
	return g.opt.Advisories.Warnings()
}

// AttestationUnavailable reports whether the upstream has shown no sign of
// publishing PEP 740 provenance, so a "missing" attestation means nothing.
func (g *Gate) AttestationUnavailable() bool {
	for _, w := range g.Warnings() {
		if w.Reason == ReasonNoProvenance {
			return true
		}
	}
	return false
}

// ReportWarnings logs each standing warning once per warnLogEvery (the
// command calls it every minute)
// (airlock_check_inert is worked out when scraped: inertChecks).
func (g *Gate) ReportWarnings() {
	ws := g.Warnings()
	now := g.opt.Now()
	h := &g.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.logged == nil {
		h.logged = map[string]time.Time{}
	}
	for _, w := range ws {
		key := w.Check + "/" + w.Reason
		if t, ok := h.logged[key]; ok && now.Sub(t) < warnLogEvery {
			continue
		}
		h.logged[key] = now
		g.opt.Log.Warn().Str("check", w.Check).Str("reason", w.Reason).Time("since", w.Since).
			Msg(w.Message + " (logged once an hour while it lasts)")
	}
}
