package signals

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

// world: project "busy" with 300 releases (the last 12 within a month), one
// maintainer, heavy downloads, a GitHub repository with 75 tags (three
// pages), releases for the last few.
func world(t *testing.T) (*fakepypi.Server, *Client, *clock) {
	t.Helper()
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	for i := 0; i < 300; i++ {
		up := now.Add(-time.Duration(300-i) * 48 * time.Hour)
		if i >= 288 {
			up = now.Add(-time.Duration(300-i) * 24 * time.Hour)
		}
		fake.Add(&fakepypi.Dist{Project: "busy", Version: fmt.Sprintf("1.%d", i), Filename: fmt.Sprintf("busy-1.%d.tar.gz", i), Data: []byte{byte(i)}, UploadTime: up})
	}
	fake.SetMeta("busy", fakepypi.ProjectMeta{Maintainers: []string{"solo"}, ProjectURLs: map[string]string{"Homepage": "https://busy.example", "Source": "https://github.com/Busy/busy.git"}})
	fake.SetDownloads("busy", 100_000, 700_000, 3_000_000)
	repo := fakepypi.Repo{CreatedAt: now.Add(-3 * 365 * 24 * time.Hour), PushedAt: now.Add(-time.Hour)}
	for i := 225; i < 300; i++ {
		tag := fakepypi.FakeTag{Name: fmt.Sprintf("v1.%d", i), CommitTime: now.Add(-time.Duration(300-i) * 24 * time.Hour)}
		if i >= 295 {
			tag.Released = tag.CommitTime
		}
		repo.Tags = append(repo.Tags, tag)
	}
	fake.SetRepo("Busy/busy", repo)
	c := &clock{now}
	client := New(Options{PyPIURL: fake.Index.URL, PyPIStatsURL: fake.Stats.URL, GitHubAPIURL: fake.GitHub.URL,
		Timeout: 2 * time.Second, TTL: time.Hour, Now: c.Now})
	return fake, client, c
}

func TestGatherAndAssess(t *testing.T) {
	fake, client, _ := world(t)
	f := client.Gather(context.Background(), "busy")
	if len(f.Unknown) != 0 {
		t.Fatalf("unknown: %v", f.Unknown)
	}
	if f.PyPI.Releases != 300 || len(f.PyPI.Maintainers) != 1 || f.RepoLink != "Busy/busy" || f.Downloads.LastMonth != 3_000_000 {
		t.Errorf("facts: %+v %+v", f.PyPI, f.Downloads)
	}
	if len(f.Repo.Tags) != 75 || !f.Repo.TagsComplete || fake.Hits("/repos/Busy/busy/tags") != 3 {
		t.Errorf("tags: %d complete=%v pages=%d", len(f.Repo.Tags), f.Repo.TagsComplete, fake.Hits("/repos/Busy/busy/tags"))
	}
	r := Assess(f, DefaultWeights(), DefaultThresholds(), now)
	want := []string{FlagHighBlastRadius, FlagRapidReleases, FlagSingleMaintainer}
	if strings.Join(r.Flags, ",") != strings.Join(want, ",") {
		t.Errorf("flags %v, want %v", r.Flags, want)
	}
	if r.Score == nil || r.Cadence.Last30 != 15 || r.Cadence.MaxIn24h != 1 || r.Cadence.MedianInterval != 48*time.Hour {
		t.Errorf("report: score %v cadence %+v", r.Score, r.Cadence)
	}
	tag, tagsReleases := TagFor(f, "1.299")
	if tag == nil || tag.Name != "v1.299" || !tagsReleases {
		t.Errorf("tag for 1.299: %+v %v", tag, tagsReleases)
	}
	if tag, _ := TagFor(f, "1.300"); tag != nil {
		t.Errorf("tag for an untagged version: %+v", tag)
	}
	// Within the TTL, nothing is asked again.
	fake.ResetHits()
	client.Gather(context.Background(), "busy")
	if n := fake.Hits("/pypi/busy/json") + fake.Hits("/repos/Busy/busy"); n != 0 {
		t.Errorf("%d requests within the TTL", n)
	}
}

func TestConditionalRevalidation(t *testing.T) {
	fake, client, c := world(t)
	client.Gather(context.Background(), "busy")
	c.t = c.t.Add(2 * time.Hour)
	fake.ResetHits()
	f := client.Gather(context.Background(), "busy")
	if fake.Hits("/pypi/busy/json") != 1 || f.PyPI == nil || f.PyPI.Releases != 300 {
		t.Errorf("revalidation: %d hits, %+v", fake.Hits("/pypi/busy/json"), f.PyPI)
	}
}

func TestSourceFaults(t *testing.T) {
	for name, fault := range map[string]fakepypi.Fault{
		"5xx":       {Status: 502},
		"slow":      {Delay: 3 * time.Second},
		"malformed": {WrongBody: []byte(`{"data": [`)},
		"reset":     {Reset: true},
	} {
		t.Run(name, func(t *testing.T) {
			fake, client, _ := world(t)
			fake.SetFault("/api/packages/busy/recent", fault)
			f := client.Gather(context.Background(), "busy")
			if f.Downloads != nil || f.Unknown[SourcePyPIStats] == "" {
				t.Fatalf("a failing source gave a value: %+v %v", f.Downloads, f.Unknown)
			}
			r := Assess(f, DefaultWeights(), DefaultThresholds(), now)
			if _, ok := r.Breakdown["downloads"]; ok || r.Score == nil {
				t.Errorf("unknown downloads scored: %v", r.Breakdown)
			}
			for _, fl := range r.Flags {
				if fl == FlagHighBlastRadius {
					t.Error("high-blast-radius raised without download numbers")
				}
			}
		})
	}
}

func TestRateLimits(t *testing.T) {
	fake, client, c := world(t)
	fake.SetFault("/repos/Busy/busy", fakepypi.Fault{Status: 403, Header: map[string]string{"Retry-After": "120", "X-RateLimit-Remaining": "0"}})
	f := client.Gather(context.Background(), "busy")
	if f.Repo != nil || !strings.Contains(f.Unknown[SourceGitHub], "rate limited") {
		t.Fatalf("rate limit: %+v %v", f.Repo, f.Unknown)
	}
	fake.SetFault("/repos/Busy/busy", fakepypi.Fault{})
	before := fake.Hits("/repos/Busy/busy")
	c.t = c.t.Add(time.Minute)
	client.Gather(context.Background(), "busy")
	if fake.Hits("/repos/Busy/busy") != before {
		t.Error("GitHub asked again before Retry-After passed")
	}
	c.t = c.t.Add(2 * time.Minute)
	if f := client.Gather(context.Background(), "busy"); f.Repo == nil {
		t.Errorf("after Retry-After: %v", f.Unknown)
	}
	// 429 with a cached answer: the stale answer is used.
	c.t = c.t.Add(2 * time.Hour)
	fake.SetFault("/repos/Busy/busy", fakepypi.Fault{Status: 429, Header: map[string]string{"Retry-After": "60"}})
	if f := client.Gather(context.Background(), "busy"); f.Repo == nil || f.Unknown[SourceGitHub] != "" {
		t.Errorf("429 with a cache: %+v", f.Unknown)
	}
}

func TestNoRepositoryAndMissingRepo(t *testing.T) {
	fake, client, _ := world(t)
	fake.SetMeta("busy", fakepypi.ProjectMeta{Maintainers: []string{"a", "b"}, Organization: "busyorg"})
	f := client.Gather(context.Background(), "busy")
	r := Assess(f, DefaultWeights(), DefaultThresholds(), now)
	if f.RepoLink != "" || !contains(r.Flags, FlagNoRepository) || r.Breakdown["repository"] != 0 || r.Breakdown["organization"] != 1 {
		t.Errorf("no repository: %+v %v", r.Flags, r.Breakdown)
	}
	fake.SetMeta("busy", fakepypi.ProjectMeta{Maintainers: []string{"a"}, ProjectURLs: map[string]string{"Source": "https://github.com/gone/away"}})
	_, client2, _ := world(t)
	client2.opt.PyPIURL = fake.Index.URL
	f = client2.Gather(context.Background(), "busy")
	if f.RepoLink != "gone/away" || f.Repo == nil || f.Repo.Exists {
		t.Errorf("missing repository: %+v", f.Repo)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestScoreMonotonic: more of a good thing never lowers the score.
func TestScoreMonotonic(t *testing.T) {
	base := func() *Facts {
		return &Facts{Project: "p", PyPI: &PyPI{FirstRelease: now.Add(-200 * 24 * time.Hour), Releases: 3,
			ReleaseTimes: map[string]time.Time{"1": now.Add(-200 * 24 * time.Hour), "2": now.Add(-100 * 24 * time.Hour), "3": now.Add(-24 * time.Hour)},
			Maintainers:  []string{"a"}}, Downloads: &Downloads{LastMonth: 1000}, RepoLink: "o/p",
			Repo: &Repo{Exists: true, PushedAt: now.Add(-400 * 24 * time.Hour)}}
	}
	score := func(f *Facts) int { return *Assess(f, DefaultWeights(), DefaultThresholds(), now).Score }
	for name, improve := range map[string]func(*Facts){
		"more maintainers": func(f *Facts) { f.PyPI.Maintainers = append(f.PyPI.Maintainers, "b", "c") },
		"organization":     func(f *Facts) { f.PyPI.Organization = "org" },
		"more downloads":   func(f *Facts) { f.Downloads.LastMonth = 5_000_000 },
		"older":            func(f *Facts) { f.PyPI.FirstRelease = now.Add(-5 * 365 * 24 * time.Hour) },
		"recent push":      func(f *Facts) { f.Repo.PushedAt = now.Add(-time.Hour) },
		"calmer cadence": func(f *Facts) {
			f.PyPI.ReleaseTimes = map[string]time.Time{"1": now.Add(-300 * 24 * time.Hour), "2": now.Add(-150 * 24 * time.Hour), "3": now.Add(-24 * time.Hour)}
		},
	} {
		for n := 1; n <= 4; n++ {
			f := base()
			f.PyPI.Maintainers = f.PyPI.Maintainers[:1]
			before := score(f)
			improve(f)
			if after := score(f); after < before {
				t.Errorf("%s lowered the score: %d -> %d", name, before, after)
			}
		}
	}
	a := base()
	a.PyPI.Maintainers = []string{"a", "b"}
	b := base()
	b.PyPI.Maintainers = []string{"a", "b", "c", "d"}
	if score(b) <= score(a) {
		t.Error("four maintainers do not score above two")
	}
}

func TestTagForms(t *testing.T) {
	for _, tag := range []string{"1.2.3", "v1.2.3", "litellm-1.2.3", "litellm/v1.2.3", "litellm_1.2.3", "V1.2.3"} {
		v, ok := tagVersion("litellm", tag)
		if !ok || v.String() != "1.2.3" {
			t.Errorf("tag %q: %v %v", tag, v, ok)
		}
	}
	for _, tag := range []string{"latest", "other-1.2.3x", "nightly"} {
		if _, ok := tagVersion("litellm", tag); ok {
			t.Errorf("tag %q read as a version", tag)
		}
	}
}

func TestGitHubLinkForms(t *testing.T) {
	for urls, want := range map[string]string{
		"https://github.com/BerriAI/litellm":     "BerriAI/litellm",
		"https://github.com/BerriAI/litellm.git": "BerriAI/litellm",
		"http://www.github.com/a/b/":             "a/b",
		"https://gitlab.com/a/b":                 "",
		"https://github.com/a":                   "",
		// A monorepo's package links into its tree: the repository is
		// still owner/repo (it was "no repository linked", a known 0).
		"https://github.com/a/b/tree/main/subproject":                        "a/b",
		"https://github.com/langchain-ai/langgraph/tree/main/libs/langgraph": "langchain-ai/langgraph",
		"https://github.com/a/b#readme":                                      "a/b",
		"https://github.com/sponsors/someone":                                "",
		"https://github.com/orgs/acme/projects":                              "",
	} {
		if got := githubRepo(map[string]string{"Source": urls}); got != want {
			t.Errorf("%s: %q, want %q", urls, got, want)
		}
	}
}

// An organisation's project whose JSON API lists no roles (litellm,
// anthropic) has unknown maintainers, not zero: the component is left out
// (and named missing), so the score is not pushed down by what PyPI does
// not say.
func TestNoRolesIsUnknownNotZero(t *testing.T) {
	f := &Facts{Project: "p", PyPI: &PyPI{FirstRelease: now.Add(-800 * 24 * time.Hour), Releases: 3, Organization: "acme",
		ReleaseTimes: map[string]time.Time{"1": now.Add(-800 * 24 * time.Hour), "2": now.Add(-400 * 24 * time.Hour), "3": now.Add(-24 * time.Hour)}},
		Downloads: &Downloads{LastMonth: 5_000_000}, RepoLink: "acme/p", Repo: &Repo{Exists: true, PushedAt: now.Add(-time.Hour)}}
	r := Assess(f, DefaultWeights(), DefaultThresholds(), now)
	if _, scored := r.Breakdown["maintainers"]; scored || !slices.Contains(r.Missing, "maintainers") || r.Confidence >= 1 {
		t.Errorf("no roles: breakdown %v, missing %v, confidence %v", r.Breakdown, r.Missing, r.Confidence)
	}
	if *r.Score < 80 {
		t.Errorf("an old, busy, organisation-owned project with an active repository scores %d", *r.Score)
	}
}
