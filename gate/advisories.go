package gate

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"airlock/index"
	"airlock/pep440"
	"airlock/policy"
	"airlock/storage"
)

// AdvisoriesChanged re-decides every file with a stored decision whose
// advisories changed, so that a file already approved, stored and served
// is blocked as soon as a known-malicious advisory names it (with the
// webhook saying how often it was downloaded), not at its next request.
// Pages are rendered anew.
func (g *Gate) AdvisoriesChanged(ctx context.Context) {
	g.opt.Quarantine.Invalidate()
	if g.opt.Advisories == nil {
		return
	}
	var redo []policy.Input
	err := g.opt.Quarantine.Records(ctx, func(rec storage.DecisionRecord) error {
		var in policy.Input
		if err := json.Unmarshal(rec.Inputs, &in); err != nil {
			return nil // an unreadable record is re-decided when asked for
		}
		adv, partial := g.advisoriesFor(in.Project, in.Index, in.Version, in.SHA256)
		same := slices.EqualFunc(in.Advisories, adv, func(a, b policy.Advisory) bool { return a.ID == b.ID })
		if partial {
			// Only additions count: what is missing may be unread.
			same = !slices.ContainsFunc(adv, func(a policy.Advisory) bool {
				return !slices.ContainsFunc(in.Advisories, func(b policy.Advisory) bool { return a.ID == b.ID })
			})
		}
		if !same {
			in.Advisories, in.AdvisoriesPartial = adv, partial
			redo = append(redo, in)
		}
		return nil
	})
	if err != nil {
		g.opt.Log.Error().Err(err).Msg("advisories: reading the decisions")
	}
	changed := 0
	for _, in := range redo {
		if _, err := g.opt.Quarantine.Decide(ctx, in); err != nil {
			g.opt.Log.Error().Err(err).Str("sha256", in.SHA256).Msg("advisories: re-deciding a file")
			continue
		}
		changed++
	}
	if changed > 0 {
		g.opt.Log.Info().Int("files", changed).Msg("advisories changed: files re-decided")
	}
}

// DownloadsFor lists the recorded downloads of a target: a sha256, a
// release (name==version: every file of it Airlock stored), or an advisory
// ID (every release and file it names). since bounds them (zero: all).
func (g *Gate) DownloadsFor(ctx context.Context, target string, since time.Time) ([]storage.DownloadRecord, error) {
	shas, err := g.targetSHAs(ctx, strings.TrimSpace(target))
	if err != nil {
		return nil, err
	}
	var out []storage.DownloadRecord
	for _, sha := range shas {
		recs, err := g.opt.Store.DownloadsOf(ctx, sha)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if !r.Time.Before(since) {
				out = append(out, r)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// ErrUnknownTarget: a target that is not a sha256, name==version or a
// known advisory ID.
var ErrUnknownTarget = errors.New("target is not a sha256, name==version or a known advisory ID")

func (g *Gate) targetSHAs(ctx context.Context, target string) ([]string, error) {
	if isSHA256(target) {
		return []string{strings.ToLower(target)}, nil
	}
	if name, version, ok := strings.Cut(target, "=="); ok {
		project, err := index.Normalize(strings.TrimSpace(name))
		if err != nil {
			return nil, ErrUnknownTarget
		}
		return g.releaseSHAs(ctx, project, strings.TrimSpace(version))
	}
	if g.opt.Advisories == nil {
		return nil, ErrUnknownTarget
	}
	releases, shas, ok := g.opt.Advisories.Targets(target)
	if !ok {
		return nil, ErrUnknownTarget
	}
	for _, rel := range releases {
		more, err := g.releaseSHAs(ctx, rel[0], rel[1])
		if err != nil {
			return nil, err
		}
		shas = append(shas, more...)
	}
	slices.Sort(shas)
	return slices.Compact(shas), nil
}

// releaseSHAs lists the sha256s of the stored files of a release.
func (g *Gate) releaseSHAs(ctx context.Context, project, version string) ([]string, error) {
	recs, err := g.opt.Store.ProjectFiles(ctx, project)
	if err != nil {
		return nil, err
	}
	want := version
	if v, err := pep440.Parse(version); err == nil {
		want = v.String()
	}
	var out []string
	for name, rec := range recs {
		if strings.HasSuffix(name, MetadataSuffix) {
			continue
		}
		got := rec.Version
		if v, err := pep440.Parse(rec.Version); err == nil {
			got = v.String()
		}
		if got == want {
			out = append(out, rec.SHA256)
		}
	}
	return out, nil
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range strings.ToLower(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
