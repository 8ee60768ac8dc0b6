package signals

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"airlock/policy"
	"airlock/storage"

	"golang.org/x/sync/singleflight"
)

// Assessor turns facts into policy inputs for one release. It keeps each
// project's report in memory for a minute, so warm file requests do not
// decode the sources' answers again.
type Assessor struct {
	Client     *Client
	Weights    Weights
	Thresholds Thresholds
	// OnGathered, if set, is told which sources were asked and which of
	// them could not be read (source -> why), each time the sources are
	// asked (not when a memoized report is reused): for metrics. Warnings
	// says which sources are failing.
	OnGathered func(asked []string, unknown map[string]string)

	mu      sync.Mutex
	memo    map[string]memoReport
	sources map[string]*sourceState
	// gathering shares one gathering of a project among the files of it
	// decided at once (a release's wheels, its sdist, a wheel's metadata).
	gathering singleflight.Group
}

// sourceState is a signal source's health as the last asks found it.
type sourceState struct {
	failingSince time.Time
	lastError    string
}

type memoReport struct {
	r  Report
	at time.Time
}

const memoTTL = time.Minute

// seenTags records, per repository, when Airlock looked at its tags and the
// last look before each tag appeared. A tag pushed after an upload but
// pointing at an old commit (a clean tag for a poisoned version appeared 16
// hours after the malicious upload in the Telnyx compromise) is then dated
// no earlier than the last look that did not see it.
type seenTags struct {
	LastCheck time.Time            `json:"last_check"`
	Absent    map[string]time.Time `json:"absent_until"` // tag -> last look without it
}

// Report gathers and scores a project.
func (a *Assessor) Report(ctx context.Context, project string) Report {
	return a.report(ctx, project, false)
}

func (a *Assessor) report(ctx context.Context, project string, fresh bool) Report {
	now := a.Client.opt.Now()
	a.mu.Lock()
	m, ok := a.memo[project]
	a.mu.Unlock()
	if ok && !fresh && now.Sub(m.at) < memoTTL {
		return m.r
	}
	if !fresh {
		v, _, _ := a.gathering.Do(project, func() (any, error) { return a.gather(ctx, project, false), nil })
		return v.(Report)
	}
	return a.gather(ctx, project, true)
}

func (a *Assessor) gather(ctx context.Context, project string, fresh bool) Report {
	now := a.Client.opt.Now()
	c := a.Client
	if fresh {
		c = &Client{opt: c.opt, f: c.f.fresh()}
	}
	f := c.Gather(ctx, project)
	a.gathered(f.Asked, f.Unknown)
	if f.Repo != nil && f.Repo.Exists {
		a.observe(ctx, f)
	}
	r := Assess(f, a.Weights, a.Thresholds, now)
	a.mu.Lock()
	if a.memo == nil {
		a.memo = map[string]memoReport{}
	}
	a.memo[project] = memoReport{r, now}
	a.mu.Unlock()
	return r
}

// observe records a look at the repository's tags (at the time GitHub
// answered, not when a cached answer is reused).
func (a *Assessor) observe(ctx context.Context, f *Facts) {
	key := "seen-tags:" + f.RepoLink
	var seen seenTags
	if doc, err := a.Client.opt.Cache.GetSignalDoc(ctx, key); err == nil {
		json.Unmarshal(doc.Body, &seen)
	}
	at := f.Repo.ObservedAt
	if !at.After(seen.LastCheck) {
		return // nothing new was looked at
	}
	if seen.Absent == nil {
		seen.Absent = map[string]time.Time{}
	}
	if !seen.LastCheck.IsZero() {
		for _, t := range f.Repo.Tags {
			if _, known := seen.Absent[t.Name]; !known {
				seen.Absent[t.Name] = seen.LastCheck // absent at the previous look
			}
		}
	} else {
		for _, t := range f.Repo.Tags {
			seen.Absent[t.Name] = time.Time{} // there before Airlock looked
		}
	}
	seen.LastCheck = at
	body, _ := json.Marshal(seen)
	a.Client.opt.Cache.PutSignalDoc(ctx, key, storage.SignalDoc{Body: body, Status: 200, FetchedAt: at})
}

func (a *Assessor) absentAt(ctx context.Context, repo, tag string) time.Time {
	var seen seenTags
	if doc, err := a.Client.opt.Cache.GetSignalDoc(ctx, "seen-tags:"+repo); err == nil {
		json.Unmarshal(doc.Body, &seen)
	}
	return seen.Absent[tag]
}

// gathered records which sources answered.
func (a *Assessor) gathered(asked []string, unknown map[string]string) {
	now := a.Client.opt.Now()
	a.mu.Lock()
	if a.sources == nil {
		a.sources = map[string]*sourceState{}
	}
	for _, src := range asked {
		st := a.sources[src]
		if st == nil {
			st = &sourceState{}
			a.sources[src] = st
		}
		why, failed := unknown[src]
		switch {
		case !failed:
			st.failingSince, st.lastError = time.Time{}, ""
		case st.failingSince.IsZero():
			st.failingSince, st.lastError = now, why
		default:
			st.lastError = why
		}
	}
	a.mu.Unlock()
	if a.OnGathered != nil {
		a.OnGathered(asked, unknown)
	}
}

// Warnings names each failing source, in a stable order.
func (a *Assessor) Warnings() []policy.Warning {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []policy.Warning
	for _, src := range slices.Sorted(maps.Keys(a.sources)) {
		st := a.sources[src]
		if st.failingSince.IsZero() {
			continue
		}
		out = append(out, policy.Warning{Check: "signals", Reason: "source_" + src, Since: st.failingSince,
			Message: fmt.Sprintf("signal source %s is failing (%s): the score components it feeds are unknown", src, st.lastError)})
	}
	return out
}

// ForRelease gives the policy inputs for project==version.
func (a *Assessor) ForRelease(ctx context.Context, project, version string) *policy.Signals {
	return a.forRelease(ctx, a.Report(ctx, project), version)
}

// Reassess is ForRelease asking the sources again (conditionally) instead
// of using answers younger than the TTL: for re-checking a tag within its
// grace, or sources that failed.
func (a *Assessor) Reassess(ctx context.Context, project, version string) *policy.Signals {
	return a.forRelease(ctx, a.report(ctx, project, true), version)
}

func (a *Assessor) forRelease(ctx context.Context, r Report, version string) *policy.Signals {
	f := r.Facts
	s := &policy.Signals{Score: r.Score, Confidence: r.Confidence, Missing: r.Missing, Breakdown: r.Breakdown, Flags: r.Flags, Repository: f.RepoLink}
	if len(f.Unknown) > 0 {
		s.Unknown = f.Unknown
	}
	if f.Repo == nil {
		return s
	}
	s.RepoKnown = f.Repo.Exists
	tag, tagsReleases := TagFor(f, version)
	s.TagsReleases = tagsReleases
	if tag == nil {
		return s
	}
	m := &policy.TagMatch{Name: tag.Name}
	switch {
	case !tag.Released.IsZero():
		m.Time, m.How = tag.Released, "release"
	case tag.CommitSHA != "":
		if t, err := a.Client.CommitTime(ctx, f.RepoLink, tag.CommitSHA); err == nil {
			m.Time, m.How = t, "commit"
		}
	}
	// A release's time is GitHub's; a commit's can be anything, so a tag
	// without a release is dated no earlier than the last look without it.
	if m.How != "release" {
		if absent := a.absentAt(ctx, f.RepoLink, tag.Name); absent.After(m.Time) {
			m.Time, m.How = absent, "absent-until"
		}
	}
	s.Tag = m
	return s
}
