package pullthrough

import (
	"context"
	"errors"
	"time"

	"airlock/index"
	"airlock/upstream"
)

// SourceOf names the index that answers for a project: a private index's
// name, or "" for the public upstream.
func (c *Cache) SourceOf(project string) string {
	if ix := c.opt.Indexes.For(project); ix != nil {
		return ix.Name
	}
	return ""
}

// ClientFor is the upstream client of a source.
func (c *Cache) ClientFor(source string) *upstream.Client {
	if source != "" && c.opt.Indexes != nil {
		if ix := c.opt.Indexes.ByName(source); ix != nil {
			return ix.Client
		}
	}
	return c.opt.Upstream
}

// confusionCheckEvery bounds how often the public upstream is asked about
// one privately owned name.
const confusionCheckEvery = 10 * time.Minute

// checkConfusion asks the public upstream whether it lists a name a private
// index owns (dependency confusion: anyone can upload that name to PyPI).
// Its files are never served for the name; what the public upstream lists
// goes to the observers (the gate records it, logs it as a security event
// and sends it to the webhooks once).
func (c *Cache) checkConfusion(project, source string) {
	if source == "" || c.opt.Upstream == nil {
		return
	}
	c.confusionMu.Lock()
	if last, ok := c.confusionChecked[project]; ok && c.opt.Now().Sub(last) < confusionCheckEvery {
		c.confusionMu.Unlock()
		return
	}
	if c.confusionChecked == nil {
		c.confusionChecked = map[string]time.Time{}
	}
	c.confusionChecked[project] = c.opt.Now()
	c.confusionMu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.opt.PageTimeout)
		defer cancel()
		res, err := c.opt.Upstream.FetchProject(ctx, project, upstream.Validators{})
		if errors.Is(err, upstream.ErrNotFound) || (err == nil && len(res.Page.Files) == 0) {
			return
		}
		if err != nil {
			c.opt.Log.Debug().Err(err).Str("project", project).Msg("public upstream not asked about a private name")
			return
		}
		c.observe(func(o Observer) { o.Confusion(ctx, project, source, res.Page.Versions) })
	}()
}

// ProjectJSON is the JSON API document of a project (or one release) from
// the upstream that served its page.
func (c *Cache) ProjectJSON(ctx context.Context, page *index.Page, version string) ([]byte, error) {
	return c.ClientFor(page.Source).FetchProjectJSON(ctx, page.Name, version)
}
