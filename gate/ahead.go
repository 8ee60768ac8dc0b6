package gate

import (
	"context"
	"strings"

	"airlock/index"
	"airlock/pep440"
	"airlock/pullthrough"
	"airlock/storage"
)

// Working ahead of the client: a resolver's next download is often known
// before it asks. A served metadata request names the distribution it
// will fetch; where the upstream publishes no metadata (pip then
// downloads each wheel to read its dependencies), a served wheel's own
// Requires-Dist names the next ones. Those are fetched, verified and
// checked ahead, at most prefetchSlots at once, so the request finds them
// stored and decided. Nothing is served from them before their own
// request is decided.

// aheadJob is one file to have ready: a listed file, or a dependency to
// pick a file for (the release an installer would choose, for the
// platform the client named).
type aheadJob struct {
	page      *index.Page
	file      index.File
	project   string
	spec      pep440.Specifiers
	userAgent string
	// depsOf, when set, is a served wheel whose dependencies to queue.
	depsOf *storage.FileRecord
}

// prefetchSlots bounds the files fetched ahead at once; aheadQueue the
// ones waiting (past it, the request itself fetches).
const (
	prefetchSlots = 4
	aheadQueue    = 256
)

// prefetch has a listed distribution fetched and checked ahead.
func (g *Gate) prefetch(page *index.Page, f index.File, userAgent string) {
	if _, stored := g.storedFile(context.Background(), page.Name, f); stored {
		return
	}
	g.submitAhead(aheadJob{page: page, file: f, userAgent: userAgent})
}

func (g *Gate) submitAhead(j aheadJob) {
	select {
	case g.ahead <- j:
	default:
		return // full: the requests fetch for themselves
	}
	select {
	case g.prefetching <- struct{}{}:
		go g.aheadWorker()
	default: // the running workers take it
	}
}

func (g *Gate) aheadWorker() {
	defer func() { <-g.prefetching }()
	for {
		select {
		case j := <-g.ahead:
			g.runAhead(j)
		default:
			return
		}
	}
}

func (g *Gate) runAhead(j aheadJob) {
	g.foreground.Add(1)
	defer g.foreground.Add(-1)
	ctx, cancel := context.WithTimeout(g.opt.Log.WithContext(context.Background()), g.opt.FillTimeout+g.opt.PageTimeout)
	defer cancel()
	if j.depsOf != nil {
		g.queueDependencies(ctx, *j.depsOf, j.userAgent)
		return
	}
	page, f := j.page, j.file
	if page == nil {
		entry, err := g.Page(ctx, j.project)
		if err != nil {
			return
		}
		page = &entry.Cached.Page
		var ok bool
		if f, ok = g.pickFor(page, j.spec, j.userAgent); !ok {
			return
		}
		if _, stored := g.storedFile(ctx, page.Name, f); stored {
			return
		}
	}
	rec, err := g.cache.Ensure(ctx, page, f)
	if err != nil {
		g.opt.Log.Debug().Err(err).Str("file", f.Filename).Msg("ahead: not fetched (the request will)")
		return
	}
	v, err := g.decide(ctx, page, f, true, nil)
	if err != nil {
		g.opt.Log.Debug().Err(err).Str("file", f.Filename).Msg("ahead: not decided (the request will)")
		return
	}
	if v.Serve {
		g.dependenciesAhead(f, rec, j.userAgent)
	}
}

// dependenciesAhead queues what a served wheel depends on, when the
// upstream publishes no metadata (with it, the resolver's metadata
// requests say exactly what it will fetch). The wheel was served to a
// client, or checked ahead after the metadata made from it was: either
// way its dependencies' files are fetched while the resolver reads on.
// Requirements with an environment marker are left to the resolver.
// Reading them waits for a slot like the rest of the work ahead, so the
// wheel's own answer does not wait for it.
func (g *Gate) dependenciesAhead(f index.File, rec storage.FileRecord, userAgent string) {
	if f.CoreMetadata != nil || !strings.HasSuffix(f.Filename, ".whl") || g.opt.Platforms == nil {
		return
	}
	g.submitAhead(aheadJob{depsOf: &rec, userAgent: userAgent})
}

func (g *Gate) queueDependencies(ctx context.Context, rec storage.FileRecord, userAgent string) {
	reqs, err := g.requiresDist(ctx, rec)
	if err != nil {
		return
	}
	for _, r := range reqs {
		if r.Marker != "" || r.URL {
			continue
		}
		name, err := index.Normalize(r.Name)
		if err != nil {
			continue
		}
		g.submitAhead(aheadJob{project: name, spec: r.Specifiers, userAgent: userAgent})
	}
}

// requiresDist reads a stored wheel's Requires-Dist.
func (g *Gate) requiresDist(ctx context.Context, rec storage.FileRecord) ([]pep440.Requirement, error) {
	blob, err := g.opt.Store.OpenBlob(ctx, rec.SHA256)
	if err != nil {
		return nil, err
	}
	defer blob.Close()
	meta, err := pullthrough.WheelMetadata(blob, rec.Size, 1<<20)
	if err != nil {
		return nil, err
	}
	var out []pep440.Requirement
	for line := range strings.Lines(string(meta)) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break // the headers end; the description follows
		}
		if v, ok := strings.CutPrefix(line, "Requires-Dist:"); ok {
			if r, err := pep440.ParseRequirement(strings.TrimSpace(v)); err == nil {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// pickFor is the file of a dependency an installer would pick: the newest
// release the specifiers allow whose files the page offers by their age
// (past the project's cooldown, not yanked), its file for the client's
// platform.
func (g *Gate) pickFor(page *index.Page, spec pep440.Specifiers, userAgent string) (index.File, bool) {
	now := g.opt.Now()
	cooldown := g.rulesFor(page.Name).Cooldown
	var best pep440.Version
	bestVersion := ""
	for _, f := range page.Files {
		if f.Yanked || f.SHA256() == "" || f.UploadTime.IsZero() || now.Sub(f.UploadTime) < cooldown {
			continue
		}
		v, ok := index.VersionFromFilename(page.Name, f.Filename)
		if !ok {
			continue
		}
		pv, err := pep440.Parse(v)
		if err != nil || !spec.Allows(pv) {
			continue
		}
		if bestVersion == "" || pep440.Compare(pv, best) > 0 {
			best, bestVersion = pv, v
		}
	}
	if bestVersion == "" {
		return index.File{}, false
	}
	var files []index.File
	var names []string
	for _, f := range page.Files {
		if v, ok := index.VersionFromFilename(page.Name, f.Filename); ok && v == bestVersion && !f.Yanked {
			files, names = append(files, f), append(names, f.Filename)
		}
	}
	i := g.opt.Platforms.Choose(userAgent, names)
	if i < 0 {
		return index.File{}, false
	}
	return files[i], true
}
