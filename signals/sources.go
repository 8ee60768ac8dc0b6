// Package signals gathers a project's behaviour from PyPI's JSON API,
// pypistats and GitHub, scores its commitment (0-100, from documented,
// configurable weights), raises flags (single maintainer, rapid releases,
// high blast radius, new project, dormant then release, no repository) and
// matches a release against the tags of its source repository. A source
// that cannot be reached is "unknown", never a made-up value.
package signals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"airlock/pep440"
	"airlock/policy"
	"airlock/storage"
)

// Sources names, as they appear in Facts.Unknown.
const (
	SourcePyPI      = "pypi"
	SourcePyPIStats = "pypistats"
	SourceGitHub    = policy.SourceGitHub
)

// Options configure a Client.
type Options struct {
	PyPIURL      string // base under which /pypi/<project>/json lives
	PyPIStatsURL string
	GitHubAPIURL string
	GitHubToken  string
	Timeout      time.Duration
	TTL          time.Duration
	MaxBodyBytes int64
	MaxPages     int // of GitHub tags and releases
	Cache        Cache
	Now          func() time.Time
}

// Client gathers facts. It is safe for concurrent use.
type Client struct {
	opt Options
	f   *fetcher
}

// New builds a Client.
func New(opt Options) *Client {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Cache == nil {
		opt.Cache = &MemCache{}
	}
	if opt.MaxPages == 0 {
		opt.MaxPages = 10
	}
	if opt.MaxBodyBytes == 0 {
		opt.MaxBodyBytes = 32 << 20
	}
	gh, _ := url.Parse(opt.GitHubAPIURL)
	f := &fetcher{http: &http.Client{Timeout: opt.Timeout}, cache: opt.Cache, ttl: opt.TTL, maxBody: opt.MaxBodyBytes, now: opt.Now, limits: &rateLimits{}}
	f.headers = func(host string) http.Header {
		h := http.Header{"User-Agent": {"airlock-signals"}}
		if gh != nil && host == gh.Host {
			h.Set("Accept", "application/vnd.github+json")
			h.Set("X-GitHub-Api-Version", "2022-11-28")
			if opt.GitHubToken != "" {
				h.Set("Authorization", "Bearer "+opt.GitHubToken)
			}
		}
		return h
	}
	return &Client{opt: opt, f: f}
}

// Facts are what the sources said about a project.
type Facts struct {
	Project   string     `json:"project"`
	CheckedAt time.Time  `json:"checked_at"`
	PyPI      *PyPI      `json:"pypi,omitempty"`
	Downloads *Downloads `json:"downloads,omitempty"`
	// RepoLink is owner/repo of the github.com repository in project_urls.
	RepoLink string `json:"repository,omitempty"`
	Repo     *Repo  `json:"repo,omitempty"`
	// Unknown maps a source that could not be read to why.
	Unknown map[string]string `json:"unknown,omitempty"`
	// Asked lists the sources asked (GitHub only when a repository is linked).
	Asked []string `json:"-"`
}

// PyPI is what PyPI's JSON API says.
type PyPI struct {
	FirstRelease time.Time            `json:"first_release"`
	Releases     int                  `json:"releases"`
	ReleaseTimes map[string]time.Time `json:"release_times"` // version -> first upload
	Maintainers  []string             `json:"maintainers"`
	Organization string               `json:"organization,omitempty"`
	ProjectURLs  map[string]string    `json:"project_urls,omitempty"`
}

// Downloads are pypistats' recent counts.
type Downloads struct {
	LastDay   int64 `json:"last_day"`
	LastWeek  int64 `json:"last_week"`
	LastMonth int64 `json:"last_month"`
}

// Repo is what GitHub says about the linked repository.
type Repo struct {
	Exists    bool      `json:"exists"`
	Archived  bool      `json:"archived"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	PushedAt  time.Time `json:"pushed_at,omitzero"`
	Tags      []Tag     `json:"tags,omitempty"`
	// TagsComplete is false when pagination stopped at the page limit.
	TagsComplete bool `json:"tags_complete"`
	// ObservedAt is when GitHub answered for the tags.
	ObservedAt time.Time `json:"observed_at,omitzero"`
}

// Tag is a tag or release of the repository.
type Tag struct {
	Name      string    `json:"name"`
	CommitSHA string    `json:"commit_sha,omitempty"`
	Released  time.Time `json:"released,omitzero"` // GitHub release's publication, if any
}

// Gather asks every source; one that fails is recorded in Unknown.
func (c *Client) Gather(ctx context.Context, project string) *Facts {
	f := &Facts{Project: project, CheckedAt: c.opt.Now().UTC(), Unknown: map[string]string{}, Asked: []string{SourcePyPI, SourcePyPIStats}}
	if p, err := c.pypi(ctx, project); err != nil {
		f.Unknown[SourcePyPI] = err.Error()
	} else {
		f.PyPI = p
		f.RepoLink = githubRepo(p.ProjectURLs)
	}
	if d, err := c.downloads(ctx, project); err != nil {
		f.Unknown[SourcePyPIStats] = err.Error()
	} else {
		f.Downloads = d
	}
	if f.RepoLink != "" {
		f.Asked = append(f.Asked, SourceGitHub)
		if r, err := c.repo(ctx, f.RepoLink); err != nil {
			f.Unknown[SourceGitHub] = err.Error()
		} else {
			f.Repo = r
		}
	}
	return f
}

func (c *Client) getJSON(ctx context.Context, rawURL string, out any) (storage.SignalDoc, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	doc, err := c.f.get(ctx, rawURL)
	if err != nil {
		return doc, err
	}
	if err := json.Unmarshal(doc.Body, out); err != nil {
		return doc, fmt.Errorf("malformed JSON from %s: %v", hostOf(rawURL), err)
	}
	return doc, nil
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "?"
	}
	return u.Host
}

func (c *Client) pypi(ctx context.Context, project string) (*PyPI, error) {
	var doc struct {
		Info struct {
			ProjectURLs map[string]string `json:"project_urls"`
			HomePage    string            `json:"home_page"`
		} `json:"info"`
		Releases map[string][]struct {
			UploadTime string `json:"upload_time_iso_8601"`
			Yanked     bool   `json:"yanked"`
		} `json:"releases"`
		Ownership *struct {
			Roles []struct {
				Role string `json:"role"`
				User string `json:"user"`
			} `json:"roles"`
			Organization *string `json:"organization"`
		} `json:"ownership"`
	}
	u := strings.TrimRight(c.opt.PyPIURL, "/") + "/pypi/" + url.PathEscape(project) + "/json"
	if _, err := c.getJSON(ctx, u, &doc); err != nil {
		if errors.Is(err, errNotFound) {
			return nil, fmt.Errorf("PyPI has no project %s", project)
		}
		return nil, err
	}
	p := &PyPI{ReleaseTimes: map[string]time.Time{}, ProjectURLs: doc.Info.ProjectURLs}
	if p.ProjectURLs == nil {
		p.ProjectURLs = map[string]string{}
	}
	if doc.Info.HomePage != "" {
		p.ProjectURLs["Homepage (home_page)"] = doc.Info.HomePage
	}
	for version, files := range doc.Releases {
		var first time.Time
		for _, f := range files {
			t, err := time.Parse(time.RFC3339Nano, f.UploadTime)
			if err != nil {
				continue
			}
			if first.IsZero() || t.Before(first) {
				first = t
			}
		}
		if first.IsZero() {
			continue // a release with no files says nothing about cadence
		}
		p.ReleaseTimes[version] = first.UTC()
		if p.FirstRelease.IsZero() || first.Before(p.FirstRelease) {
			p.FirstRelease = first.UTC()
		}
	}
	p.Releases = len(p.ReleaseTimes)
	if doc.Ownership == nil {
		return nil, errors.New("PyPI JSON has no ownership (maintainers unknown)")
	}
	for _, r := range doc.Ownership.Roles {
		p.Maintainers = append(p.Maintainers, r.User)
	}
	sort.Strings(p.Maintainers)
	if doc.Ownership.Organization != nil {
		p.Organization = *doc.Ownership.Organization
	}
	return p, nil
}

func (c *Client) downloads(ctx context.Context, project string) (*Downloads, error) {
	var doc struct {
		Data *Downloads `json:"data"`
	}
	u := strings.TrimRight(c.opt.PyPIStatsURL, "/") + "/api/packages/" + url.PathEscape(project) + "/recent"
	if _, err := c.getJSON(ctx, u, &doc); err != nil {
		if errors.Is(err, errNotFound) {
			return &Downloads{}, nil // pypistats knows no downloads of it
		}
		return nil, err
	}
	if doc.Data == nil {
		return nil, fmt.Errorf("malformed JSON from %s: no data", hostOf(u))
	}
	return doc.Data, nil
}

// githubURL reads owner/repo from a repository link, also one into a
// monorepo's tree (github.com/langchain-ai/langgraph/tree/main/libs/…).
var githubURL = regexp.MustCompile(`^https?://(?:www\.)?github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?(?:/[^#?]*)?(?:[#?].*)?$`)

// notRepoOwners are GitHub paths that are not an owner/repo pair.
var notRepoOwners = map[string]bool{"sponsors": true, "orgs": true, "apps": true, "marketplace": true, "settings": true, "topics": true, "features": true, "users": true}

// githubRepo finds owner/repo in project_urls, preferring the keys that name
// the source.
func githubRepo(urls map[string]string) string {
	keys := make([]string, 0, len(urls))
	for k := range urls {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		k = strings.ToLower(k)
		for i, want := range []string{"source", "repository", "code", "github", "homepage"} {
			if strings.Contains(k, want) {
				return i
			}
		}
		return 9
	}
	sort.Slice(keys, func(i, j int) bool {
		if rank(keys[i]) != rank(keys[j]) {
			return rank(keys[i]) < rank(keys[j])
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		if m := githubURL.FindStringSubmatch(strings.TrimSpace(urls[k])); m != nil && !notRepoOwners[strings.ToLower(m[1])] {
			return m[1] + "/" + m[2]
		}
	}
	return ""
}

func (c *Client) repo(ctx context.Context, ownerRepo string) (*Repo, error) {
	base := strings.TrimRight(c.opt.GitHubAPIURL, "/") + "/repos/" + ownerRepo
	var info struct {
		Archived  bool      `json:"archived"`
		CreatedAt time.Time `json:"created_at"`
		PushedAt  time.Time `json:"pushed_at"`
	}
	if _, err := c.getJSON(ctx, base, &info); err != nil {
		if errors.Is(err, errNotFound) {
			return &Repo{Exists: false, TagsComplete: true}, nil
		}
		return nil, err
	}
	r := &Repo{Exists: true, Archived: info.Archived, CreatedAt: info.CreatedAt, PushedAt: info.PushedAt, TagsComplete: true}
	released := map[string]time.Time{}
	complete, err := c.pages(ctx, base+"/releases?per_page=100", nil, func(body []byte) error {
		var rels []struct {
			TagName     string    `json:"tag_name"`
			CreatedAt   time.Time `json:"created_at"`
			PublishedAt time.Time `json:"published_at"`
			Draft       bool      `json:"draft"`
		}
		if err := json.Unmarshal(body, &rels); err != nil {
			return err
		}
		for _, rel := range rels {
			if rel.Draft {
				continue
			}
			t := rel.PublishedAt
			if t.IsZero() || (!rel.CreatedAt.IsZero() && rel.CreatedAt.Before(t)) {
				t = rel.CreatedAt
			}
			released[rel.TagName] = t
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.TagsComplete = complete
	seen := map[string]bool{}
	complete, err = c.pages(ctx, base+"/tags?per_page=100", &r.ObservedAt, func(body []byte) error {
		var tags []struct {
			Name   string `json:"name"`
			Commit struct {
				SHA string `json:"sha"`
			} `json:"commit"`
		}
		if err := json.Unmarshal(body, &tags); err != nil {
			return err
		}
		for _, t := range tags {
			seen[t.Name] = true
			r.Tags = append(r.Tags, Tag{Name: t.Name, CommitSHA: t.Commit.SHA, Released: released[t.Name]})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.TagsComplete = r.TagsComplete && complete
	for name, t := range released { // releases whose tag is beyond the tag pages
		if !seen[name] {
			r.Tags = append(r.Tags, Tag{Name: name, Released: t})
		}
	}
	return r, nil
}

// pages walks Link rel="next" pagination up to MaxPages; it reports whether
// it reached the last page.
func (c *Client) pages(ctx context.Context, first string, fetchedAt *time.Time, each func([]byte) error) (bool, error) {
	next := first
	for i := 0; i < c.opt.MaxPages && next != ""; i++ {
		ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
		doc, err := c.f.get(ctx, next)
		cancel()
		if err != nil {
			if errors.Is(err, errNotFound) {
				return true, nil
			}
			return false, err
		}
		if fetchedAt != nil && i == 0 {
			*fetchedAt = doc.FetchedAt
		}
		if err := each(doc.Body); err != nil {
			return false, fmt.Errorf("malformed JSON from %s: %v", hostOf(next), err)
		}
		next = nextLink(doc.Link)
	}
	return next == "", nil
}

// CommitTime returns when a tagged commit was committed (GitHub's committer
// date), for tags that have no release.
func (c *Client) CommitTime(ctx context.Context, ownerRepo, sha string) (time.Time, error) {
	var doc struct {
		Commit struct {
			Committer struct {
				Date time.Time `json:"date"`
			} `json:"committer"`
		} `json:"commit"`
	}
	u := strings.TrimRight(c.opt.GitHubAPIURL, "/") + "/repos/" + ownerRepo + "/commits/" + url.PathEscape(sha)
	if _, err := c.getJSON(ctx, u, &doc); err != nil {
		return time.Time{}, err
	}
	return doc.Commit.Committer.Date.UTC(), nil
}

// tagVersion reads a tag as a version of project: "1.2.3", "v1.2.3",
// "<name>-1.2.3", "<name>/v1.2.3" (and "_" or "." separators).
func tagVersion(project, tag string) (pep440.Version, bool) {
	t := tag
	lower := strings.ToLower(t)
	for _, prefix := range []string{project, strings.ReplaceAll(project, "-", "_"), strings.ReplaceAll(project, "-", ".")} {
		for _, sep := range []string{"-", "/", "_", "@"} {
			if strings.HasPrefix(lower, prefix+sep) {
				t = t[len(prefix)+1:]
				lower = strings.ToLower(t)
			}
		}
	}
	t = strings.TrimPrefix(strings.TrimPrefix(t, "v"), "V")
	v, err := pep440.Parse(t)
	return v, err == nil
}
