// Package evidence builds, from the config, the gatherers of what the
// gate's checks read besides the page and the file: PEP 740 attestations
// (with the Sigstore trusted root that verifies them), the project's
// behavioural signals, the advisory records in force, and the repository
// trees the source comparison reads.
package evidence

import (
	"context"
	"errors"
	"net/http"
	"time"

	"airlock/advisories"
	"airlock/config"
	"airlock/provenance"
	"airlock/server/parts"
	"airlock/signals"
	"airlock/sourcecmp"
	"airlock/storage"
)

// Gatherers are the evidence sources; a nil one is a check turned off.
type Gatherers struct {
	Attest  *provenance.Gatherer
	Signals *signals.Assessor
	Sources *sourcecmp.Fetcher
	// Feed is the advisory sources, restored from the store's last good
	// reads (refreshed by its Run).
	Feed *advisories.Feed
}

// Build makes the gatherers for the parts' config.
func Build(p *parts.Parts) (Gatherers, error) {
	cfg := p.Config
	verifier, err := Verifier(cfg.Sigstore, cfg.DataDir, p.Log)
	if err != nil {
		return Gatherers{}, err
	}
	g := Gatherers{
		Attest:  provenance.New(p.Upstream, cfg.UpstreamURL(), verifier, p.Store),
		Signals: Assessor(cfg, p.Store),
		Sources: sourceFetcher(cfg, p.Store),
		Feed:    feed(p),
	}
	if g.Signals != nil {
		g.Signals.OnGathered = p.Metrics.CountSignalErrors
	}
	return g, nil
}

// Assessor builds the behavioural signal sources from the config; nil
// when signals are off.
func Assessor(cfg config.Config, cache signals.Cache) *signals.Assessor {
	if !cfg.Signals.Enabled {
		return nil
	}
	w := cfg.Signals.Weights
	th := signals.DefaultThresholds()
	th.RapidReleases, th.HeavyDownloads = cfg.Signals.RapidReleases, cfg.Signals.HeavyDownloads
	return &signals.Assessor{
		Client: signals.New(signals.Options{
			PyPIURL: cfg.Upstream.URL, PyPIStatsURL: cfg.Signals.PyPIStatsURL, GitHubAPIURL: cfg.Signals.GitHubAPIURL,
			GitHubToken: cfg.Signals.GitHubToken, Timeout: time.Duration(cfg.Signals.Timeout), TTL: time.Duration(cfg.Signals.TTL),
			Cache: cache,
		}),
		Weights:    signals.Weights{Age: w.Age, Cadence: w.Cadence, Maintainers: w.Maintainers, Organization: w.Organization, Downloads: w.Downloads, Repository: w.Repository},
		Thresholds: th,
	}
}

// feed restores the advisory sources' last good records from the store
// and reports each refresh in the metrics.
func feed(p *parts.Parts) *advisories.Feed {
	m, log := p.Metrics, p.Log
	feed := advisories.NewFeed(p.Config.Feeds.OSV, p.Store, log)
	feed.IsNotFound = func(err error) bool { return errors.Is(err, storage.ErrNotFound) }
	feed.AfterRefresh = func(db *advisories.DB, sources []advisories.SourceStatus) {
		m.AdvisoryRecords.Set(float64(db.Records))
		for _, st := range sources {
			if !st.LastOK.IsZero() {
				m.AdvisoryRefreshed.WithLabelValues(st.Source).Set(float64(st.LastOK.Unix()))
			}
			failing := 0.0
			if st.LastError != "" {
				failing = 1
			}
			m.AdvisoryFailing.WithLabelValues(st.Source).Set(failing)
		}
		log.Info().Int("records", db.Records).Msg("advisories read")
	}
	// The records kept from the last good reads are in force before the
	// first client asks; the sources are read in the background (a feed
	// that never answers must not keep the server from listening).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	feed.Restore(ctx)
	cancel()
	return feed
}

// sourceFetcher reads repositories at a release's tag for the source
// comparison, through the signals' GitHub API, caching each tree with the
// signal documents; nil when the comparison or the signals are off.
func sourceFetcher(cfg config.Config, store *storage.Store) *sourcecmp.Fetcher {
	if !cfg.Inspect.Enabled || !cfg.Inspect.CompareSource || !cfg.Signals.Enabled {
		return nil
	}
	return &sourcecmp.Fetcher{APIURL: cfg.Signals.GitHubAPIURL, Token: cfg.Signals.GitHubToken,
		HTTP: &http.Client{Timeout: 2 * time.Minute}, MaxBytes: int64(cfg.Inspect.MaxSourceBytes), Cache: treeCache{store}}
}

// treeCache keeps source trees as signal documents in the store.
type treeCache struct{ store *storage.Store }

func (c treeCache) Get(ctx context.Context, key string) ([]byte, bool) {
	d, err := c.store.GetSignalDoc(ctx, key)
	return d.Body, err == nil && d.Status == http.StatusOK
}

func (c treeCache) Put(ctx context.Context, key string, body []byte) {
	c.store.PutSignalDoc(ctx, key, storage.SignalDoc{Body: body, Status: http.StatusOK, FetchedAt: time.Now().UTC()})
}
