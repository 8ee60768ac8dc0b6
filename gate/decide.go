package gate

import (
	"context"
	"fmt"

	"airlock/index"
	"airlock/pullthrough"
	"airlock/quarantine"
	"airlock/storage"
	"airlock/work"
)

// Decide runs every check for a file a client asked for and stores the
// decision. stored says whether the file's verified bytes are in the store
// (a metadata request may come first; then the distribution is queued with
// priority, so its content is inspected before anyone can approve it).
func (g *Gate) Decide(ctx context.Context, page *index.Page, f index.File, stored bool) (quarantine.View, error) {
	return g.decide(ctx, page, f, stored, nil)
}

// decide is Decide with the file's stored record when the caller read it
// already (nil: read it if needed).
func (g *Gate) decide(ctx context.Context, page *index.Page, f index.File, stored bool, known *storage.FileRecord) (quarantine.View, error) {
	in := g.withRetry(g.gather(ctx, page, f, stored, known))
	v, err := g.opt.Quarantine.Decide(ctx, in)
	if err == nil && !stored && g.opt.Inspect && v.Inputs.Content == nil && !v.Serve {
		g.queue.Add(ctx, page.Name, []index.File{f}, work.PriorityAsked)
	}
	return v, err
}

// DecideFromRecord decides a stored file when the upstream page cannot be
// had: with the inputs of its last full decision, or, failing that, what the
// file record says, marked as incomplete (which holds it).
func (g *Gate) DecideFromRecord(ctx context.Context, rec storage.FileRecord) (quarantine.View, error) {
	if v, err := g.opt.Quarantine.Get(ctx, rec.SHA256); err == nil {
		return g.opt.Quarantine.Decide(ctx, v.Inputs)
	}
	in := g.inputFor(rec.Project, rec.Index, index.File{Filename: rec.Filename, Hashes: index.Sha256(rec.SHA256), UploadTime: rec.UploadTime})
	if g.attestFor(rec.Index) != nil {
		in.GatherErrors = append(in.GatherErrors, "upstream: unavailable, attestation unknown")
		in = g.withRetry(in)
	}
	return g.opt.Quarantine.Decide(ctx, in)
}

// decideListed decides a listed file as a client's request would, without
// serving it: with download, the file is fetched, verified and stored first
// so its content is inspected too (a failed download is a gather error,
// which holds it until its retry).
func (g *Gate) decideListed(ctx context.Context, page *index.Page, f index.File, download bool) (quarantine.View, error) {
	var fillErr error
	if download {
		_, fillErr = g.ensureStored(ctx, page, f)
	}
	_, stored := g.storedFile(ctx, page.Name, f)
	in := g.gather(ctx, page, f, stored, nil)
	if fillErr != nil {
		in.GatherErrors = append(in.GatherErrors, "download: "+fillErr.Error())
	}
	return g.opt.Quarantine.Decide(ctx, g.withRetry(in))
}

// Evaluate runs the gate now for every file of name==version, storing the
// decisions (so a reviewer can see and approve them before anyone installs).
func (g *Gate) Evaluate(ctx context.Context, project, version string) ([]quarantine.View, error) {
	return g.evaluate(ctx, project, version, false)
}

// EvaluateDownloaded is Evaluate with every file of the release downloaded,
// verified and inspected first, exactly as a client's request would: what
// `airlock check` runs, on a scratch data directory.
func (g *Gate) EvaluateDownloaded(ctx context.Context, project, version string) ([]quarantine.View, error) {
	return g.evaluate(ctx, project, version, true)
}

func (g *Gate) evaluate(ctx context.Context, project, version string, download bool) ([]quarantine.View, error) {
	entry, err := g.Page(ctx, project)
	if err != nil {
		return nil, err
	}
	var out []quarantine.View
	page := &entry.Cached.Page
	for _, f := range page.Files {
		if v, _ := index.VersionFromFilename(project, f.Filename); v != version || f.SHA256() == "" {
			continue // another release, or never served
		}
		v, err := g.decideListed(ctx, page, f, download)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no files for %s==%s", pullthrough.ErrNotFound, project, version)
	}
	return out, nil
}
