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
	if isMeta && errors.Is(err, ErrNoMetadata) && strings.HasSuffix(distName, ".whl") {
		return g.metadataFromWheel(ctx, page, distName, req.UserAgent, decided)
	}
	if err != nil {
		return ans, err
	}
	if haveRec && rec.SHA256 == t.SHA256 {
		g.opt.Metrics.Cache.WithLabelValues(kindOf(isMeta), "hit").Inc()
		v, err := g.decide(ctx, page, t.File, !isMeta, &rec)
		if isMeta && err == nil && v.Serve {
			g.prefetch(page, t.File, req.UserAgent)
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
		g.prefetch(page, t.File, req.UserAgent)
	}
	if !isMeta && err == nil && v.Serve {
		g.dependenciesAhead(t.File, rec, req.UserAgent)
	}
	return decided(v, err, rec)
}

// metadataFromWheel answers a metadata request the upstream cannot: the
// listing offered it for every wheel (index.View.WheelMetadata). The
// wheel is filled and verified, its METADATA served under the decision
// a metadata request gets, and the wheel's own checks start at once, so
// its download, which usually follows, finds them done or under way.
func (g *Gate) metadataFromWheel(ctx context.Context, page *index.Page, distName, userAgent string,
	decided func(quarantine.View, error, storage.FileRecord) (FileAnswer, error)) (FileAnswer, error) {
	f, _ := page.Lookup(distName)
	g.foreground.Add(1)
	defer g.foreground.Add(-1)
	rec, err := g.cache.MetadataFromWheel(ctx, page, distName)
	if errors.Is(err, ErrNoWheelMetadata) {
		// Not a wheel an installer takes: new evidence, which the wheel's
		// own checks hold (invalid-wheel), so this answer says why and the
		// next page lists it held.
		if v, derr := g.decide(ctx, page, f, true, nil); derr == nil && !v.Serve {
			return decided(v, nil, storage.FileRecord{})
		}
	}
	if err != nil {
		return FileAnswer{Meta: true}, err
	}
	v, err := g.decide(ctx, page, f, false, nil)
	if err == nil && v.Serve && v.Inputs.Content == nil {
		g.submitAhead(aheadJob{page: page, file: f, userAgent: userAgent}) // its content not yet checked
	}
	return decided(v, err, rec)
}

func kindOf(isMeta bool) string {
	if isMeta {
		return "metadata"
	}
	return "file"
}
