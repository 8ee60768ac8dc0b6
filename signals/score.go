package signals

import (
	"math"
	"sort"
	"time"

	"airlock/pep440"
)

// Weights are the score's configurable weights; a weight of 0 drops its
// component. The score is 100 × Σ weight·component / Σ weight over the
// components whose source answered.
type Weights struct {
	Age          float64 `yaml:"age" json:"age"`
	Cadence      float64 `yaml:"cadence" json:"cadence"`
	Maintainers  float64 `yaml:"maintainers" json:"maintainers"`
	Organization float64 `yaml:"organization" json:"organization"`
	Downloads    float64 `yaml:"downloads" json:"downloads"`
	Repository   float64 `yaml:"repository" json:"repository"`
}

// DefaultWeights sum to 100.
func DefaultWeights() Weights {
	return Weights{Age: 20, Cadence: 15, Maintainers: 20, Organization: 10, Downloads: 15, Repository: 20}
}

func (w Weights) byName() map[string]float64 {
	return map[string]float64{"age": w.Age, "cadence": w.Cadence, "maintainers": w.Maintainers,
		"organization": w.Organization, "downloads": w.Downloads, "repository": w.Repository}
}

// Thresholds tune the flags.
type Thresholds struct {
	RapidReleases  int   // more than this many releases in 30 days
	HeavyDownloads int64 // downloads in the last month
	NewProjectDays int
	DormantDays    int
}

// DefaultThresholds are the documented defaults.
func DefaultThresholds() Thresholds {
	return Thresholds{RapidReleases: 10, HeavyDownloads: 1_000_000, NewProjectDays: 90, DormantDays: 365}
}

// Flags.
const (
	FlagSingleMaintainer   = "single-maintainer"
	FlagRapidReleases      = "rapid-releases"
	FlagHighBlastRadius    = "high-blast-radius"
	FlagNewProject         = "new-project"
	FlagDormantThenRelease = "dormant-then-release"
	FlagNoRepository       = "no-repository"
)

// AllFlags lists every flag.
var AllFlags = []string{FlagSingleMaintainer, FlagRapidReleases, FlagHighBlastRadius, FlagNewProject, FlagDormantThenRelease, FlagNoRepository}

// Cadence is the release rhythm derived from PyPI's release times.
type Cadence struct {
	Last30         int           `json:"last_30_days"`
	Last90         int           `json:"last_90_days"`
	MedianInterval time.Duration `json:"median_interval"`
	MaxIn24h       int           `json:"max_in_24h"` // the largest burst
	// LatestGap is the silence before the newest release.
	LatestGap time.Duration `json:"latest_gap"`
}

// CadenceOf computes the rhythm at time now.
func CadenceOf(p *PyPI, now time.Time) Cadence {
	times := make([]time.Time, 0, len(p.ReleaseTimes))
	for _, t := range p.ReleaseTimes {
		times = append(times, t)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	var c Cadence
	var gaps []time.Duration
	for i, t := range times {
		if now.Sub(t) <= 30*24*time.Hour {
			c.Last30++
		}
		if now.Sub(t) <= 90*24*time.Hour {
			c.Last90++
		}
		if i > 0 {
			gaps = append(gaps, t.Sub(times[i-1]))
		}
		n := 1
		for j := i + 1; j < len(times) && times[j].Sub(t) < 24*time.Hour; j++ {
			n++
		}
		c.MaxIn24h = max(c.MaxIn24h, n)
	}
	if len(gaps) > 0 {
		c.LatestGap = gaps[len(gaps)-1]
		sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
		c.MedianInterval = gaps[len(gaps)/2]
	}
	return c
}

// Report is the score with everything behind it.
type Report struct {
	Facts     *Facts             `json:"facts"`
	Cadence   *Cadence           `json:"cadence,omitempty"`
	Score     *int               `json:"score"`
	Breakdown map[string]float64 `json:"breakdown"` // component -> 0..1
	Flags     []string           `json:"flags"`
	// Confidence is the share of the weights whose sources answered (0-1);
	// Missing names the components left out because their source did not.
	Confidence float64  `json:"confidence"`
	Missing    []string `json:"missing,omitempty"`
}

// Assess scores facts at time now. Each component is in [0, 1]:
//
//	age          = min(1, project age / 2 years)
//	cadence      = min(1, median interval between releases / 14 days)
//	               (0.5 with fewer than two releases)
//	maintainers  = 1 - 0.5^n (n maintainers and owners: 1 → 0.5, 2 → 0.75, 3 → 0.875);
//	               unknown when PyPI lists no roles (an organisation's project)
//	organization = 1 if an organization owns the project, else 0
//	downloads    = min(1, log10(1 + downloads last month) / 7)
//	repository   = 0 without a linked repository; 0.25 if it does not
//	               exist or is archived; else 0.5, + 0.5 if pushed within a year
//
// A component whose source did not answer is left out of the sum and its
// weight out of the total, never guessed.
func Assess(f *Facts, w Weights, th Thresholds, now time.Time) Report {
	r := Report{Facts: f, Breakdown: map[string]float64{}}
	var sum, total float64
	add := func(name string, weight, value float64) {
		if weight <= 0 {
			return
		}
		value = math.Max(0, math.Min(1, value))
		r.Breakdown[name] = math.Round(value*1000) / 1000
		sum += weight * value
		total += weight
	}
	if p := f.PyPI; p != nil {
		c := CadenceOf(p, now)
		r.Cadence = &c
		age := now.Sub(p.FirstRelease)
		add("age", w.Age, age.Hours()/(2*365*24))
		cad := 0.5
		if p.Releases >= 2 {
			cad = c.MedianInterval.Hours() / (14 * 24)
		}
		add("cadence", w.Cadence, cad)
		// An organisation's project may list no personal roles (PyPI's
		// JSON API shows roles: [] for litellm, anthropic): that says
		// nothing about its maintainers, so the component is unknown,
		// not 0.
		if len(p.Maintainers) > 0 {
			add("maintainers", w.Maintainers, 1-math.Pow(0.5, float64(len(p.Maintainers))))
		}
		org := 0.0
		if p.Organization != "" {
			org = 1
		}
		add("organization", w.Organization, org)
		if len(p.Maintainers) == 1 {
			r.Flags = append(r.Flags, FlagSingleMaintainer)
		}
		if c.Last30 > th.RapidReleases {
			r.Flags = append(r.Flags, FlagRapidReleases)
		}
		if age < time.Duration(th.NewProjectDays)*24*time.Hour {
			r.Flags = append(r.Flags, FlagNewProject)
		}
		if c.LatestGap > time.Duration(th.DormantDays)*24*time.Hour {
			r.Flags = append(r.Flags, FlagDormantThenRelease)
		}
		if f.RepoLink == "" {
			r.Flags = append(r.Flags, FlagNoRepository)
			add("repository", w.Repository, 0)
		}
		if len(p.Maintainers) == 1 && c.Last30 > th.RapidReleases && f.Downloads != nil && f.Downloads.LastMonth >= th.HeavyDownloads {
			r.Flags = append(r.Flags, FlagHighBlastRadius)
		}
	}
	if d := f.Downloads; d != nil {
		add("downloads", w.Downloads, math.Log10(1+float64(d.LastMonth))/7)
	}
	if f.RepoLink != "" && f.Repo != nil {
		repo := 0.25
		if f.Repo.Exists && !f.Repo.Archived {
			repo = 0.5
			if now.Sub(f.Repo.PushedAt) < 365*24*time.Hour {
				repo = 1
			}
		}
		add("repository", w.Repository, repo)
	}
	if total > 0 {
		s := int(math.Round(100 * sum / total))
		r.Score = &s
	}
	all := 0.0
	for name, weight := range w.byName() {
		if weight <= 0 {
			continue
		}
		all += weight
		if _, ok := r.Breakdown[name]; !ok {
			r.Missing = append(r.Missing, name)
		}
	}
	sort.Strings(r.Missing)
	if all > 0 {
		r.Confidence = math.Round(1000*total/all) / 1000
	}
	sort.Strings(r.Flags)
	return r
}

// TagFor finds the repository tag matching version (compared as PEP 440
// versions) and reports whether the repository tags its releases: whether
// any earlier release of the project has a matching tag.
func TagFor(f *Facts, version string) (tag *Tag, tagsReleases bool) {
	if f.Repo == nil || f.PyPI == nil {
		return nil, false
	}
	want, err := pep440.Parse(version)
	if err != nil {
		return nil, false
	}
	tagged := map[string]*Tag{}
	for i := range f.Repo.Tags {
		if v, ok := tagVersion(f.Project, f.Repo.Tags[i].Name); ok {
			key := v.String()
			if tagged[key] == nil || f.Repo.Tags[i].Released.After(time.Time{}) {
				tagged[key] = &f.Repo.Tags[i]
			}
		}
	}
	for rel := range f.PyPI.ReleaseTimes {
		v, err := pep440.Parse(rel)
		if err != nil || pep440.Compare(v, want) >= 0 {
			continue
		}
		if tagged[v.String()] != nil {
			tagsReleases = true
			break
		}
	}
	return tagged[want.String()], tagsReleases
}
