package gate

import (
	"context"
	"sync"
	"time"

	"airlock/index"
	"airlock/policy"
	"airlock/storage"
)

// inputFor is what the page itself says about a file.
func inputFor(project, source string, f index.File) policy.Input {
	in := policy.Input{Project: project, Index: source, Filename: f.Filename, SHA256: f.SHA256(), UploadTime: f.UploadTime}
	if v, ok := index.VersionFromFilename(project, f.Filename); ok {
		in.Version = v
	} else {
		in.GatherErrors = append(in.GatherErrors, "cannot tell the version from the filename")
	}
	return in
}

// inputFor is inputFor with the advisories that name the file. A private
// index's file is matched by its sha256 only: a public advisory about the
// same name describes other bytes.
func (g *Gate) inputFor(project, source string, f index.File) policy.Input {
	in := inputFor(project, source, f)
	in.Advisories, in.AdvisoriesPartial = g.advisoriesFor(project, source, in.Version, in.SHA256)
	return in
}

// advisoriesFor lists the advisories that name a file, and whether that
// list may be incomplete (a source has no records in force yet).
func (g *Gate) advisoriesFor(project, source, version, sha string) ([]policy.Advisory, bool) {
	if g.opt.Advisories == nil {
		return nil, false
	}
	if source != "" {
		project, version = "", ""
	}
	return g.opt.Advisories.For(project, version, sha)
}

// reusedFrom returns the sha256 of other bytes stored earlier under f's
// name, if the upstream changed them (now, or at the download that
// replaced them); known is the file's record when the caller read it.
func (g *Gate) reusedFrom(ctx context.Context, project string, f index.File, known *storage.FileRecord) string {
	if known != nil && known.Project == project && known.Filename == f.Filename {
		return reusedIn(*known, f) // read by the request already
	}
	rec, err := g.opt.Store.GetFile(ctx, project, f.Filename)
	if err != nil {
		return ""
	}
	return reusedIn(rec, f)
}

// reusedIn is reusedFrom for a record already read.
func reusedIn(rec storage.FileRecord, f index.File) string {
	if rec.SHA256 != f.SHA256() {
		return rec.SHA256
	}
	return rec.Replaces
}

// rulesFor are the project's policy rules.
func (g *Gate) rulesFor(project string) policy.ProjectRules {
	r, _ := g.opt.Quarantine.Engine().Rules().For(project)
	return r
}

// gather collects every input of a file: what the page says, what
// inspecting the stored file found (when stored: a metadata request has no
// file to look into), its attestation (verified once, remembered per
// sha256) with the newest earlier attested release, and the project's
// behaviour. A failure is recorded in the input, where it holds the file
// until the retry time it is given.
func (g *Gate) gather(ctx context.Context, page *index.Page, f index.File, stored bool, known *storage.FileRecord) policy.Input {
	in := g.inputFor(page.Name, page.Source, f)
	in.ReusedFilename = g.reusedFrom(ctx, page.Name, f, known)
	// The attestation and the project's behaviour are asked of the
	// network while the content is inspected on the CPU.
	var wg sync.WaitGroup
	att := policy.Input{Version: in.Version} // what fillAttestation reads
	wg.Go(func() { g.fillAttestation(ctx, page, f, &att) })
	var signals *policy.Signals
	if s := g.signalsFor(page.Source); s != nil && in.Version != "" {
		wg.Go(func() { signals = s.ForRelease(ctx, page.Name, in.Version) })
	}
	if g.opt.Inspect {
		if stored {
			in.Content = g.contentFor(ctx, page, f)
		} else if v, err := g.opt.Quarantine.Get(ctx, in.SHA256); err == nil {
			in.Content = v.Inputs.Content // what the file's own download found
		}
	}
	wg.Wait()
	in.Attestation, in.Prior = att.Attestation, att.Prior
	in.GatherErrors = append(in.GatherErrors, att.GatherErrors...)
	if signals != nil {
		in.Signals = signals
		if len(signals.Unknown) > 0 {
			g.ReportWarnings() // a source failing says so at once, once an hour
		}
	}
	return in
}

// fillAttestation adds the file's attestation and, when the rules can use
// it, the newest earlier attested release.
func (g *Gate) fillAttestation(ctx context.Context, page *index.Page, f index.File, in *policy.Input) {
	a := g.attestFor(page.Source)
	if a == nil {
		return
	}
	att, err := a.ForFile(ctx, page, f)
	if err != nil {
		in.GatherErrors = append(in.GatherErrors, "attestation: "+err.Error())
	}
	in.Attestation = att
	if !g.needsPrior(page.Name) {
		return
	}
	prior, err := a.Prior(ctx, page, in.Version)
	if err != nil {
		in.GatherErrors = append(in.GatherErrors, "earlier attestations: "+err.Error())
	}
	in.Prior = prior
}

// attestFor is the attestation gatherer for files from a source: the
// public upstream's, or none for a private index (its names are never sent
// to the public Integrity API).
func (g *Gate) attestFor(source string) Attestations {
	if source != "" {
		return nil
	}
	return g.opt.Attest
}

// signalsFor is the behavioural assessor for a source: none for a private
// index (public signal sources are never asked about its names).
func (g *Gate) signalsFor(source string) Behaviour {
	if source != "" {
		return nil
	}
	return g.opt.Signals
}

// needsPrior reports whether earlier releases' attestations matter to the
// project's rules: with require: never and no pinned publisher they do
// not, and a failure to read them must not hold anything.
func (g *Gate) needsPrior(project string) bool { return needsPrior(g.rulesFor(project)) }

func needsPrior(r policy.ProjectRules) bool {
	return r.RequireAttestation != policy.RequireNever || r.Publisher != ""
}

// withRetry gives an input whose gathering failed the time it is gathered
// again: a back-off doubling per consecutive failure of the same file. An
// input gathered cleanly resets the count.
func (g *Gate) withRetry(in policy.Input) policy.Input {
	g.retryMu.Lock()
	defer g.retryMu.Unlock()
	if len(in.GatherErrors) == 0 {
		delete(g.retries, in.SHA256)
		return in
	}
	n := g.retries[in.SHA256]
	g.retries[in.SHA256] = n + 1
	in.RetryAt = g.opt.Now().Add(g.backoff().Wait(n)).UTC().Truncate(time.Second)
	return in
}

// refresh re-gathers a stored input for the sweep: sources that change with
// time (a tag pushed within the grace, a signal source that was down) and
// inputs whose gathering failed.
func (g *Gate) refresh(in policy.Input) policy.Input {
	ctx, cancel := context.WithTimeout(g.opt.Log.WithContext(context.Background()), g.opt.PageTimeout+g.opt.FillTimeout)
	defer cancel()
	if len(in.GatherErrors) > 0 {
		entry, err := g.Page(ctx, in.Project)
		if err != nil {
			in.GatherErrors = []string{"page: " + err.Error()}
			return g.withRetry(in)
		}
		page := &entry.Cached.Page
		f, ok := page.Lookup(in.Filename)
		if !ok || f.SHA256() != in.SHA256 {
			return in // no longer listed as it was: nothing to gather
		}
		_, stored := g.storedFile(ctx, page.Name, f)
		if s := g.signalsFor(page.Source); s != nil && in.Version != "" {
			s.Reassess(ctx, page.Name, in.Version) // gather reads the fresh answers
		}
		return g.withRetry(g.gather(ctx, page, f, stored, nil))
	}
	if s := g.signalsFor(in.Index); in.Signals != nil && in.Version != "" && s != nil {
		in.Signals = s.Reassess(ctx, in.Project, in.Version)
	}
	return in
}
