package gate

import (
	"context"
	"time"

	"airlock/index"
	"airlock/policy"
	"airlock/quarantine"
	"airlock/storage"
	"airlock/work"
)

// Listing applies the gate to a page before it is rendered, deciding every
// file of every release from what the page and the stored state say,
// without downloading anything: held files are marked yanked with the
// reason (or left out when hideHeld), blocked and rejected files are left
// out, and a version whose every file was left out is no longer offered.
// Files of releases still inside their cooldown are queued for the
// background checks. It returns when the result may change on its own.
// The view marks the page's files rather than copying them.
func (g *Gate) Listing(ctx context.Context, p *index.Page, hideHeld bool) (*index.View, time.Time) {
	view := index.ViewOf(p)
	// Every wheel offers its metadata: where the upstream has none, the
	// gate makes it from the verified wheel (metadataFromWheel).
	view.WheelMetadata = true
	var until time.Time
	// What each version's files came to: listed (some file names it) and
	// shown (some file is offered). One map, not two: a page can list
	// 199,000 versions.
	const listed, shown = 1, 2
	versions := make(map[string]uint8, len(p.Versions))
	sctx, cancel := context.WithTimeout(ctx, g.opt.SignalsWait)
	defer cancel()
	sig := g.listingSignals(sctx, p)
	// Asked once per render, not per file: a page can list 200,000 files.
	lc := listingContext{rules: g.rulesFor(p.Name), now: g.opt.Now()}
	if recs, err := g.opt.Store.ProjectFiles(ctx, p.Name); err == nil {
		lc.stored = recs
	} else {
		lc.storedErr = err
	}
	shas := make([]string, 0, len(p.Files))
	for _, f := range p.Files {
		if sha := f.SHA256(); sha != "" {
			shas = append(shas, sha)
		}
	}
	stored, storedErr := g.opt.Quarantine.StoredFor(ctx, shas)
	var cooling []index.File
	for i, f := range p.Files {
		in := g.listingInput(ctx, p, f, sig, lc)
		versions[in.Version] |= listed
		l, err := g.opt.Quarantine.ListingFrom(stored, in)
		if storedErr != nil {
			err = storedErr
		}
		if err != nil {
			// Fail closed: a file whose state cannot be read is not offered.
			l = quarantine.Listing{Show: true, Yank: true, Reason: "held by Airlock: could not evaluate the policy"}
		}
		if !l.Until.IsZero() && (until.IsZero() || l.Until.Before(until)) {
			until = l.Until
		}
		if due := g.queueIfCooling(ctx, p, f, l, lc, &cooling); !due.IsZero() && (until.IsZero() || due.Before(until)) {
			until = due // listed again then, to queue it
		}
		switch {
		case !l.Show || (l.Yank && hideHeld):
			view.Hide(i)
			continue
		case l.Yank:
			view.Yank(i, l.Reason)
		}
		versions[in.Version] |= shown
	}
	g.queue.Add(ctx, p.Name, cooling, work.PriorityCooling)
	view.Versions = make([]string, 0, len(p.Versions))
	for _, v := range p.Versions {
		if versions[v] != listed { // shown, or no file of it on the page
			view.Versions = append(view.Versions, v)
		}
	}
	return view, until
}

// listingInput is what a listing can know without downloading: the page's
// facts, a missing attestation where the page says so (and then the
// earlier releases, when the rules use them), and the project's signals
// for releases they can affect.
func (g *Gate) listingInput(ctx context.Context, page *index.Page, f index.File, sig func(version string) *policy.Signals, lc listingContext) policy.Input {
	in := g.inputFor(page.Name, page.Source, f)
	if lc.storedErr != nil {
		in.GatherErrors = append(in.GatherErrors, "stored files: "+lc.storedErr.Error())
	} else if rec, ok := lc.stored[f.Filename]; ok {
		in.ReusedFilename = reusedIn(rec, f)
	}
	if in.Version != "" && signalsMatter(lc.rules, f, lc.now) {
		in.Signals = sig(in.Version)
	}
	a := g.attestFor(page.Source)
	if a == nil || !page.SaysNoProvenance(f) || in.SHA256 == "" {
		return in
	}
	in.Attestation = &policy.Attestation{Status: policy.AttestationMissing}
	if !needsPrior(lc.rules) {
		return in
	}
	prior, err := a.Prior(ctx, page, in.Version)
	if err != nil {
		in.GatherErrors = append(in.GatherErrors, "earlier attestations: "+err.Error())
		in.RetryAt = g.opt.Now().Add(g.opt.RetryBase).UTC().Truncate(time.Second)
	}
	in.Prior = prior
	return in
}

// listingContext is what one render asks once for all files: the project's
// rules, the clock, and the file records Airlock stored for the project.
type listingContext struct {
	rules     policy.ProjectRules
	now       time.Time
	stored    map[string]storage.FileRecord
	storedErr error
}

// signalsMatter reports whether behavioural signals can change a file's
// listing: its upload is within the new-release window (behavioural
// checks) or within the risk-adaptive cooldown.
func signalsMatter(r policy.ProjectRules, f index.File, now time.Time) bool {
	if f.UploadTime.IsZero() {
		return false // held or allowed by the upload-time rule alone
	}
	age := now.Sub(f.UploadTime)
	return age <= r.NewReleaseWindow || (r.CooldownBelowScore > 0 && age < r.CooldownBelow)
}

// listingSignals returns the signals lookup for one render: each version is
// asked once, and the sources get ctx's deadline (SignalsWait) in all (what
// they have not said by then is unknown, which never lengthens a
// cooldown). The assessor remembers the project's report, so the file
// request that follows sees the same signals the listing did.
func (g *Gate) listingSignals(ctx context.Context, p *index.Page) func(string) *policy.Signals {
	memo := map[string]*policy.Signals{}
	return func(version string) *policy.Signals {
		assessor := g.signalsFor(p.Source)
		if assessor == nil {
			return nil
		}
		if s, ok := memo[version]; ok {
			return s
		}
		s := assessor.ForRelease(ctx, p.Name, version)
		memo[version] = s
		return s
	}
}
