package gate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"airlock/index"
	"airlock/quarantine"
	"airlock/storage"
)

// FileRequest is a client asking for a distribution, or for its PEP 658
// metadata (Filename ends in MetadataSuffix). Project is normalized.
type FileRequest struct {
	Project  string
	Filename string
	// UserAgent is the client's (its platform is learned: ClientSeen).
	UserAgent string
}

// FileAnswer is the gate's answer to a file request: serve Record's
// verified bytes when View.Serve, refuse with View's reasons otherwise.
type FileAnswer struct {
	View   quarantine.View
	Record storage.FileRecord // the requested file's (the metadata's own, for metadata)
	Meta   bool
}

// ErrNoDecision: the checks could not decide; nothing is served.
var ErrNoDecision = errors.New("could not decide on this file")

// File answers a file request: from the store when it holds a verified
// copy, after a verified download otherwise, and never before the file's
// decision serves it. An error is a fault (upstream, store) or, wrapping
// ErrNoDecision, a decision that could not be made: both serve nothing.
func (g *Gate) File(ctx context.Context, req FileRequest) (FileAnswer, error) {
	g.ClientSeen(req.UserAgent)
	key := req.Filename
	distName, isMeta := strings.CutSuffix(key, MetadataSuffix)
	ans := FileAnswer{Meta: isMeta}
	decided := func(v quarantine.View, err error, rec storage.FileRecord) (FileAnswer, error) {
		if err != nil {
			return ans, fmt.Errorf("%w: %w", ErrNoDecision, err) // fail closed: no decision, no bytes
		}
		ans.View, ans.Record = v, rec
		return ans, nil
	}
	rec, recErr := g.opt.Store.GetFile(ctx, req.Project, key)
	if recErr != nil && !errors.Is(recErr, storage.ErrNotFound) {
		return ans, recErr
	}
	haveRec := recErr == nil && g.opt.Store.HasBlob(ctx, rec.SHA256)

	entry, pageErr := g.Page(ctx, req.Project)
	if pageErr != nil {
		// The upstream cannot tell us anything new: a file verified
		// earlier is still what was published.
		if !haveRec || errors.Is(pageErr, context.Canceled) {
			return ans, pageErr
		}
		zerolog.Ctx(ctx).Debug().Err(pageErr).Str("file", key).Msg("upstream failed; serving stored file")
		dist := rec
		if isMeta {
			var err error
			if dist, err = g.opt.Store.GetFile(ctx, req.Project, distName); err != nil {
				return ans, pageErr
			}
		}
		v, err := g.DecideFromRecord(ctx, dist)
		return decided(v, err, rec)
	}
	page := &entry.Cached.Page
	t, err := g.cache.TargetFor(page, distName, isMeta)
	if errors.Is(err, ErrNotListed) && haveRec && !isMeta {
		// Stored, but the upstream no longer lists it: removed upstream
		// (policy.on_upstream_removed decides whether it is still served).
		v, err := g.DecideRemoved(ctx, rec)
		return decided(v, err, rec)
	}
	if err != nil {
		return ans, err
	}
	if haveRec && rec.SHA256 == t.SHA256 {
		g.opt.Metrics.Cache.WithLabelValues(kindOf(isMeta), "hit").Inc()
		v, err := g.decide(ctx, page, t.File, !isMeta, &rec)
		if isMeta && err == nil && v.Serve {
			g.prefetch(page, t.File)
		}
		return decided(v, err, rec)
	}
	if haveRec && !isMeta {
		g.opt.Log.Error().Str("event", "security").Str("file", key).
			Str("stored_sha256", rec.SHA256).Str("listed_sha256", t.SHA256).
			Msg("upstream now lists a different sha256 for a stored file")
		// Decide before downloading anything: the reuse alone holds it.
		if v, err := g.decide(ctx, page, t.File, false, &rec); err != nil || !v.Serve {
			return decided(v, err, rec)
		}
	}
	g.opt.Metrics.Cache.WithLabelValues(kindOf(isMeta), "miss").Inc()
	g.foreground.Add(1)
	defer g.foreground.Add(-1)
	if rec, err = g.cache.Fill(ctx, t); err != nil {
		return ans, err
	}
	// The attestation is verified against the listed sha256, which the
	// stored bytes were just checked to have.
	v, err := g.decide(ctx, page, t.File, !isMeta, nil)
	if isMeta && err == nil && v.Serve {
		g.prefetch(page, t.File)
	}
	return decided(v, err, rec)
}

// prefetchSlots bounds the distributions fetched ahead of their request
// at once; past it, the request itself fetches.
const prefetchSlots = 4

// prefetch fetches, verifies and checks the distribution a served
// metadata request names, while the resolver works: pip and uv read the
// metadata of what they will install before they download it, so the
// file is stored, inspected and decided by the time it is asked for
// (nothing is served from it before its own request is decided).
func (g *Gate) prefetch(page *index.Page, f index.File) {
	if _, stored := g.storedFile(context.Background(), page.Name, f); stored {
		return
	}
	select {
	case g.prefetching <- struct{}{}:
	default:
		return
	}
	g.foreground.Add(1)
	go func() {
		defer func() { <-g.prefetching; g.foreground.Add(-1) }()
		ctx, cancel := context.WithTimeout(g.opt.Log.WithContext(context.Background()), g.opt.FillTimeout+g.opt.PageTimeout)
		defer cancel()
		if _, err := g.cache.Ensure(ctx, page, f); err != nil {
			g.opt.Log.Debug().Err(err).Str("file", f.Filename).Msg("prefetch: not fetched (the request will)")
			return
		}
		if _, err := g.decide(ctx, page, f, true, nil); err != nil {
			g.opt.Log.Debug().Err(err).Str("file", f.Filename).Msg("prefetch: not decided (the request will)")
		}
	}()
}

func kindOf(isMeta bool) string {
	if isMeta {
		return "metadata"
	}
	return "file"
}
