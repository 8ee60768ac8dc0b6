// Package scorecmd is `airlock score`: a project's behaviour score with
// the points of each signal, for a person or as JSON.
package scorecmd

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"airlock/cmd/proxy/internal/cli"
	"airlock/config"
	"airlock/humantime"
	"airlock/index"
	"airlock/server/evidence"
	"airlock/signals"
)

var Help = &cli.Command{Name: "score", Summary: "Print a project's behaviour score with the points of each signal.",
	Usage:    "airlock score [--config FILE] [--json] PROJECT",
	Examples: []string{"airlock score requests", "airlock score --json ultralytics"}}

// ScoreJSON is `airlock score --json`.
type ScoreJSON struct {
	Project          string             `json:"project"`
	Score            *int               `json:"score"`
	Breakdown        map[string]float64 `json:"breakdown"`
	Flags            []string           `json:"flags"`
	Maintainers      *int               `json:"maintainers"`
	MaintainerNames  []string           `json:"maintainer_names,omitempty"`
	Organization     string             `json:"organization,omitempty"`
	Releases         *int               `json:"releases"`
	FirstRelease     *time.Time         `json:"first_release"`
	DownloadsLastDay *int64             `json:"downloads_last_day"`
	DownloadsLastMo  *int64             `json:"downloads_last_month"`
	Repository       string             `json:"repository"`
	Cadence          *CadenceJSON       `json:"cadence,omitempty"`
	Unknown          map[string]string  `json:"unknown,omitempty"`
}

// CadenceJSON is the release rhythm with its intervals in seconds.
type CadenceJSON struct {
	Last30                int   `json:"last_30_days"`
	Last90                int   `json:"last_90_days"`
	MedianIntervalSeconds int64 `json:"median_interval_seconds"`
	MaxIn24h              int   `json:"max_in_24h"`
	LatestGapSeconds      int64 `json:"latest_gap_seconds"`
}

func cadenceJSON(c *signals.Cadence) *CadenceJSON {
	if c == nil {
		return nil
	}
	return &CadenceJSON{Last30: c.Last30, Last90: c.Last90, MedianIntervalSeconds: int64(c.MedianInterval.Seconds()),
		MaxIn24h: c.MaxIn24h, LatestGapSeconds: int64(c.LatestGap.Seconds())}
}

// Run prints a project's commitment score with its breakdown, flags and
// facts. It opens no data directory, so it works while a server runs.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlags(Help, stderr)
	cfgPath := fs.String("config", "", "YAML config `file` (optional)")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, done := cli.ParseArgs(Help, fs, args, 1, stdout, stderr); done {
		return code
	}
	project, err := index.Normalize(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "airlock score: %q is not a project name\n", fs.Arg(0))
		return 2
	}
	cfg, err := config.LoadProcess(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "airlock: %v\n", err)
		return 2
	}
	cfg.Signals.Enabled = true
	a := evidence.Assessor(cfg, &signals.MemCache{})
	rctx, cancel := context.WithTimeout(ctx, 4*time.Duration(cfg.Signals.Timeout))
	defer cancel()
	r := a.Report(rctx, project)
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "airlock score: interrupted") // a score of sources cut short is no score
		return 1
	}
	f := r.Facts
	if f.PyPI == nil && f.Unknown[signals.SourcePyPI] != "" && strings.Contains(f.Unknown[signals.SourcePyPI], "has no project") {
		fmt.Fprintf(stderr, "airlock score: %s\n", f.Unknown[signals.SourcePyPI])
		return 2
	}
	out := ScoreJSON{Project: project, Score: r.Score, Breakdown: r.Breakdown, Flags: r.Flags, Repository: f.RepoLink, Cadence: cadenceJSON(r.Cadence), Unknown: f.Unknown}
	if out.Flags == nil {
		out.Flags = []string{}
	}
	if p := f.PyPI; p != nil {
		n, rel, first := len(p.Maintainers), p.Releases, p.FirstRelease
		out.Maintainers, out.MaintainerNames, out.Organization, out.Releases, out.FirstRelease = &n, p.Maintainers, p.Organization, &rel, &first
	}
	if d := f.Downloads; d != nil {
		out.DownloadsLastDay, out.DownloadsLastMo = &d.LastDay, &d.LastMonth
	}
	if *asJSON {
		if err := cli.PrintJSON(stdout, out); err != nil {
			return 2
		}
		return 0
	}
	printScore(stdout, out, cfg)
	return 0
}

func printScore(w io.Writer, s ScoreJSON, cfg config.Config) {
	score := "unknown"
	if s.Score != nil {
		score = fmt.Sprintf("%d/100", *s.Score)
	}
	fmt.Fprintf(w, "%s: commitment score %s\n\n", s.Project, score)
	weights := map[string]float64{"age": cfg.Signals.Weights.Age, "cadence": cfg.Signals.Weights.Cadence, "maintainers": cfg.Signals.Weights.Maintainers,
		"organization": cfg.Signals.Weights.Organization, "downloads": cfg.Signals.Weights.Downloads, "repository": cfg.Signals.Weights.Repository}
	names := []string{"age", "cadence", "maintainers", "organization", "downloads", "repository"}
	var known, all float64
	for _, n := range names {
		all += weights[n]
		if _, ok := s.Breakdown[n]; ok {
			known += weights[n]
		}
	}
	// A component whose source did not answer is left out, and the
	// others' weights grow to fill 100: the table shows the weights used,
	// so the points add up to the score.
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tVALUE\tWEIGHT\tPOINTS")
	var sum float64
	for _, n := range names {
		v, ok := s.Breakdown[n]
		if !ok || known == 0 {
			fmt.Fprintf(tw, "%s\tunknown\t0 (of %g)\t-\n", n, weights[n])
			continue
		}
		weight := 100 * weights[n] / known
		points := v * weight
		sum += points
		if known == all {
			fmt.Fprintf(tw, "%s\t%.2f\t%.0f\t%.1f\n", n, v, weight, points)
		} else {
			fmt.Fprintf(tw, "%s\t%.2f\t%.1f (of %g)\t%.1f\n", n, v, weight, weights[n], points)
		}
	}
	fmt.Fprintf(tw, "total\t\t100\t%.1f = %s\n", sum, score)
	tw.Flush()
	if known < all && known > 0 {
		fmt.Fprintf(w, "(unknown components' weight is shared out among the known ones: %.0f of %.0f weight known)\n", known, all)
	}
	fmt.Fprintf(w, "\nflags: %s\n", strings.Join(append([]string{}, s.Flags...), ", "))
	facts := []string{}
	add := func(k string, v any) { facts = append(facts, fmt.Sprintf("  %-20s %v", k+":", v)) }
	if s.Maintainers != nil {
		add("maintainers", fmt.Sprintf("%d (%s)", *s.Maintainers, strings.Join(s.MaintainerNames, ", ")))
		add("organization", cli.FirstNonEmpty(s.Organization, "none"))
		add("releases", *s.Releases)
		add("first release", s.FirstRelease.Format("2006-01-02"))
	}
	if c := s.Cadence; c != nil {
		add("releases 30d / 90d", fmt.Sprintf("%d / %d", c.Last30, c.Last90))
		add("median interval", humantime.Duration(time.Duration(c.MedianIntervalSeconds)*time.Second))
		add("largest 24h burst", c.MaxIn24h)
	}
	if s.DownloadsLastDay != nil {
		add("downloads (day/mo)", fmt.Sprintf("%d / %d", *s.DownloadsLastDay, *s.DownloadsLastMo))
	}
	add("repository", cli.FirstNonEmpty(s.Repository, "none linked"))
	fmt.Fprintf(w, "facts:\n%s\n", strings.Join(facts, "\n"))
	if len(s.Unknown) > 0 {
		var u []string
		for k, v := range s.Unknown {
			u = append(u, k+": "+v)
		}
		sort.Strings(u)
		fmt.Fprintf(w, "unknown (left out of the score):\n  %s\n", strings.Join(u, "\n  "))
	}
}
