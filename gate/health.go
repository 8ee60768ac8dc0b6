package gate

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"airlock/index"
	"airlock/internal/every"
)

// DownloadsServed counts whole files served to clients since a time (by
// the hour), for the overview.
func (g *Gate) DownloadsServed(ctx context.Context, since time.Time) (int, error) {
	return g.opt.Store.DownloadsServed(ctx, since)
}

// ReasonNoProvenance is the warning reason of an upstream without PEP 740.
const ReasonNoProvenance = "no_provenance_upstream"

// Warning is a check that cannot act, said in plain words: an operator
// must not believe a check protects them when it has nothing to work on.
type Warning struct {
	Check   string    `json:"check"`  // the check that cannot act
	Reason  string    `json:"reason"` // a stable word for metrics
	Message string    `json:"message"`
	Since   time.Time `json:"since"`
}

// health tracks what the checks depend on from outside: whether the
// upstream publishes PEP 740 provenance, and which signal sources fail.
type health struct {
	mu sync.Mutex
	// Pages seen since start, and how many spoke PEP 740 (API 1.3+).
	pages, pagesWithProvenance int
	firstPage                  time.Time
	sources                    map[string]*sourceState
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

type sourceState struct {
	failingSince time.Time // zero while the source answers
	lastError    string
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

// sourcesGathered records which signal sources answered.
func (g *Gate) sourcesGathered(asked []string, unknown map[string]string) {
	h := &g.health
	h.mu.Lock()
	if h.sources == nil {
		h.sources = map[string]*sourceState{}
	}
	now := g.opt.Now()
	for _, src := range asked {
		st := h.sources[src]
		if st == nil {
			st = &sourceState{}
			h.sources[src] = st
		}
		why, failed := unknown[src]
		switch {
		case !failed:
			st.failingSince, st.lastError = time.Time{}, ""
		case st.failingSince.IsZero():
			st.failingSince, st.lastError = now, why
		default:
			st.lastError = why
		}
	}
	h.mu.Unlock()
	for src := range unknown {
		g.opt.Metrics.SignalErrors.WithLabelValues(src).Inc()
	}
	g.ReportWarnings()
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
func (g *Gate) Warnings() []Warning {
	h := &g.health
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Warning
	provenanceServed := int64(0)
	if g.opt.Attest != nil {
		provenanceServed = g.opt.Attest.ProvenanceServed()
	}
	if g.opt.Attest != nil && h.pages > 0 && h.pagesWithProvenance == 0 && provenanceServed == 0 {
		out = append(out, Warning{Check: "attestation", Reason: ReasonNoProvenance, Since: h.firstPage,
			Message: fmt.Sprintf("PEP 740 attestation checks cannot act: the upstream publishes no provenance "+
				"(none of the %d pages read since start speaks PEP 740, and its Integrity API has served nothing)", h.pages)})
	}
	names := make([]string, 0, len(h.sources))
	for src := range h.sources {
		names = append(names, src)
	}
	sort.Strings(names)
	for _, src := range names {
		st := h.sources[src]
		if st.failingSince.IsZero() {
			continue
		}
		out = append(out, Warning{Check: "signals", Reason: "source_" + src, Since: st.failingSince,
			Message: fmt.Sprintf("signal source %s is failing (%s): the score components it feeds are unknown", src, st.lastError)})
	}
	if !h.forgeFailing.IsZero() {
		out = append(out, Warning{Check: "content", Reason: "forge_unreachable", Since: h.forgeFailing,
			Message: fmt.Sprintf("the source comparison cannot run: the forge's source archives cannot be read (%s)", h.forgeError)})
	}
	return append(out, g.advisoryWarnings()...)
}

// advisoryWarnings names each advisory source whose records in force are
// not a fresh read, and since when.
func (g *Gate) advisoryWarnings() []Warning {
	if g.opt.Advisories == nil {
		return nil
	}
	var out []Warning
	for _, st := range g.opt.Advisories.Status() {
		if !st.Stale() {
			continue
		}
		kept := "it has no records in force: blocks it made before stand, nothing new is blocked from it"
		if !st.LastOK.IsZero() {
			kept = fmt.Sprintf("its %d records read at %s stay in force", st.Records, st.LastOK.UTC().Format(time.RFC3339))
		}
		out = append(out, Warning{Check: "advisories", Reason: "source_stale", Since: st.StaleSince,
			Message: fmt.Sprintf("advisory source %s is stale since %s (%s); %s", st.Source, st.StaleSince.UTC().Format(time.RFC3339), st.LastError, kept)})
	}
	return out
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

func (g *Gate) reportWarningsEvery(ctx context.Context, interval time.Duration) {
	every.Run(ctx, interval, g.ReportWarnings)
}

// ReportWarnings logs each standing warning once per warnLogEvery
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
