package gate

import (
	"context"
	"strings"
	"time"

	"airlock/index"
	"airlock/policy"
	"airlock/quarantine"
	"airlock/storage"
)

// noteRemovals compares a freshly fetched page with the files Airlock
// stored for the project: a stored file the upstream no longer lists was
// removed (PyPI deletes malicious releases), one listed again is back.
// Each change is recorded on the file and its decision re-made, so a
// removed file that was served is blocked (with its download count in the
// webhook) before anyone asks for it again. A yanked file is still listed:
// a yank is not a removal.
func (g *Gate) noteRemovals(ctx context.Context, page *index.Page) {
	recs, err := g.opt.Store.ProjectFiles(ctx, page.Name)
	if err != nil || len(recs) == 0 {
		return
	}
	listed := make(map[string]bool, len(page.Files))
	for _, f := range page.Files {
		listed[f.Filename] = true
	}
	now := g.opt.Now().UTC()
	for name, rec := range recs {
		if strings.HasSuffix(name, MetadataSuffix) || rec.Index != page.Source {
			continue
		}
		removed := !listed[name]
		if removed == !rec.RemovedAt.IsZero() {
			continue
		}
		if removed {
			rec.RemovedAt = now
			logFrom(ctx).Warn().Str("event", "security").Str("project", page.Name).Str("file", name).
				Str("sha256", rec.SHA256).Msg("the upstream no longer lists a stored file; its bytes are kept")
		} else {
			rec.RemovedAt = time.Time{}
		}
		if err := g.opt.Store.PutFile(ctx, rec); err != nil {
			logFrom(ctx).Error().Err(err).Str("file", name).Msg("recording a removal")
			continue
		}
		if v, err := g.opt.Quarantine.Get(ctx, rec.SHA256); err == nil {
			in := v.Inputs
			in.RemovedUpstream = rec.RemovedAt
			if _, err := g.opt.Quarantine.Decide(ctx, in); err != nil {
				logFrom(ctx).Error().Err(err).Str("file", name).Msg("re-deciding a removed file")
			}
		}
	}
}

// DecideRemoved decides a stored file that its upstream page no longer
// lists, recording when the removal was found.
func (g *Gate) DecideRemoved(ctx context.Context, rec storage.FileRecord) (quarantine.View, error) {
	if rec.RemovedAt.IsZero() {
		rec.RemovedAt = g.opt.Now().UTC()
		if err := g.opt.Store.PutFile(ctx, rec); err != nil {
			return quarantine.View{}, err
		}
	}
	var in policy.Input
	if v, err := g.opt.Quarantine.Get(ctx, rec.SHA256); err == nil {
		in = v.Inputs
	} else {
		in = g.inputFor(rec.Project, rec.Index, index.File{Filename: rec.Filename, Hashes: index.Sha256(rec.SHA256), UploadTime: rec.UploadTime})
	}
	in.RemovedUpstream = rec.RemovedAt
	return g.opt.Quarantine.Decide(ctx, in)
}
