package gate

import (
	"context"
	"errors"
	"time"

	"airlock/index"
	"airlock/storage"
	"airlock/upstream"
)

// sourceOf names the index that answers for a project: a private index's
// name, or "" for the public upstream.
func (g *Gate) sourceOf(project string) string {
	if ix := g.opt.Indexes.For(project); ix != nil {
		return ix.Name
	}
	return ""
}

// clientFor is the upstream client of a source.
func (g *Gate) clientFor(source string) *upstream.Client {
	if source != "" && g.opt.Indexes != nil {
		if ix := g.opt.Indexes.ByName(source); ix != nil {
			return ix.Client
		}
	}
	return g.opt.Upstream
}

// confusionCheckEvery bounds how often the public upstream is asked about
// one privately owned name.
const confusionCheckEvery = 10 * time.Minute

// checkConfusion asks the public upstream whether it lists a name a private
// index owns (dependency confusion: anyone can upload that name to PyPI).
// Its files are never served for the name; the finding is recorded, logged
// as a security event and sent to the webhooks once.
func (g *Gate) checkConfusion(project, source string) {
	if source == "" || g.opt.Upstream == nil {
		return
	}
	g.confusionMu.Lock()
	if last, ok := g.confusionChecked[project]; ok && g.opt.Now().Sub(last) < confusionCheckEvery {
		g.confusionMu.Unlock()
		return
	}
	if g.confusionChecked == nil {
		g.confusionChecked = map[string]time.Time{}
	}
	g.confusionChecked[project] = g.opt.Now()
	g.confusionMu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), g.opt.PageTimeout)
		defer cancel()
		res, err := g.opt.Upstream.FetchProject(ctx, project, upstream.Validators{})
		if errors.Is(err, upstream.ErrNotFound) || (err == nil && len(res.Page.Files) == 0) {
			return
		}
		if err != nil {
			g.opt.Log.Debug().Err(err).Str("project", project).Msg("public upstream not asked about a private name")
			return
		}
		g.recordConfusion(ctx, project, source, res.Page.Versions)
	}()
}

func (g *Gate) recordConfusion(ctx context.Context, project, source string, versions []string) {
	c := storage.Confusion{Project: project, Index: source, PublicVersions: versions, LastSeen: g.opt.Now().UTC()}
	first, err := g.opt.Store.PutConfusion(ctx, c)
	if err != nil {
		g.opt.Log.Error().Err(err).Str("project", project).Msg("recording a dependency confusion")
		return
	}
	g.opt.Log.Error().Str("event", "security").Str("kind", "dependency_confusion").Str("project", project).
		Str("index", source).Strs("public_versions", versions).
		Msg("the public upstream lists a name a private index owns; its files are never served")
	if first {
		g.opt.Quarantine.NotifyEvent("dependency_confusion", project, map[string]any{
			"project": project, "index": source, "public_versions": versions,
			"message": "the public upstream lists " + project + ", which the private index " + source + " owns; Airlock serves only the private index's files for it",
		})
	}
}

// Confusions lists the privately owned names the public upstream lists.
func (g *Gate) Confusions(ctx context.Context) ([]storage.Confusion, error) {
	return g.opt.Store.Confusions(ctx)
}

// ProjectJSON is the JSON API document of a project (or one release) from
// the upstream that served its page.
func (g *Gate) ProjectJSON(ctx context.Context, page *index.Page, version string) ([]byte, error) {
	return g.clientFor(page.Source).FetchProjectJSON(ctx, page.Name, version)
}
