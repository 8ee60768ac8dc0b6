// Package metrics defines Airlock's Prometheus metrics on a registry of its
// own, so tests can build as many servers as they like.
package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds every collector Airlock exports at /metrics.
type Metrics struct {
	Registry        *prometheus.Registry
	Requests        *prometheus.CounterVec   // route, code
	Cache           *prometheus.CounterVec   // kind (page, list, file, metadata), result (hit, miss, stale)
	UpstreamLatency *prometheus.HistogramVec // kind (page, list, file, provenance)
	UpstreamErrors  *prometheus.CounterVec   // kind
	BytesServed     prometheus.Counter
	HashMismatches  prometheus.Counter
	RefusedHosts    prometheus.Counter
	Gate            *prometheus.CounterVec // outcome (served, refused), action
	// UpstreamBytes counts verified bytes downloaded from the upstream;
	// BackgroundBytes the part of them the work queue fetched.
	UpstreamBytes   prometheus.Counter
	BackgroundBytes prometheus.Counter
	// BackgroundSkipped counts cooling files the background did not check
	// ahead, by reason: platform (no client of this deployment could
	// install it; counted per page render), budget (the byte budget was
	// spent; checked when a client asks for it) or not_due (its cooldown
	// ends later than the lead; counted per page render, queued later).
	BackgroundSkipped *prometheus.CounterVec
	QueueDepth        prometheus.Gauge
	QueueOldest       prometheus.Gauge       // age in seconds of the oldest queued item
	QueueDone         *prometheus.CounterVec // outcome (done, failed, skipped)
	SignalErrors      *prometheus.CounterVec // source
	// CheckInert is 1 for a check that cannot act (check, reason), e.g.
	// attestation/no_provenance_upstream or signals/source_github.
	CheckInert *InertChecks
	// AdvisoryRecords counts the advisories in force; AdvisoryRefreshed
	// is each source's last successful read (unix seconds) and
	// AdvisoryFailing 1 while its last read failed.
	AdvisoryRecords   prometheus.Gauge
	AdvisoryRefreshed *prometheus.GaugeVec
	AdvisoryFailing   *prometheus.GaugeVec
}

// New registers Airlock's collectors and the Go runtime's on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_http_requests_total", Help: "HTTP requests served, by route and status code.",
		}, []string{"route", "code"}),
		Cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_cache_requests_total", Help: "Cache lookups by kind and result (hit, miss, stale).",
		}, []string{"kind", "result"}),
		UpstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "airlock_upstream_request_duration_seconds", Help: "Upstream request latency by kind.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"kind"}),
		UpstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_upstream_errors_total", Help: "Failed upstream requests by kind.",
		}, []string{"kind"}),
		BytesServed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "airlock_served_bytes_total", Help: "Bytes of files and metadata served to clients.",
		}),
		HashMismatches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "airlock_hash_mismatches_total", Help: "Upstream files that did not match their published sha256.",
		}),
		RefusedHosts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "airlock_refused_file_hosts_total", Help: "File downloads refused because the host is not allowed.",
		}),
		Gate: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_gate_decisions_total", Help: "File requests by gate outcome (served, refused) and policy action.",
		}, []string{"outcome", "action"}),
		UpstreamBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "airlock_upstream_fetched_bytes_total", Help: "Verified bytes downloaded from the upstream (client requests and background work).",
		}),
		BackgroundBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "airlock_background_fetched_bytes_total", Help: "Verified bytes the background work queue downloaded.",
		}),
		QueueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "airlock_queue_depth", Help: "Items waiting in the background work queue.",
		}),
		QueueOldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "airlock_queue_oldest_seconds", Help: "Age of the oldest item in the background work queue.",
		}),
		QueueDone: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_queue_items_total", Help: "Background work items by outcome (done, failed, skipped).",
		}, []string{"outcome"}),
		SignalErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airlock_signal_source_errors_total", Help: "Failed reads of a behavioural signal source.",
		}, []string{"source"}),
	}
	m.CheckInert = &InertChecks{desc: prometheus.NewDesc("airlock_check_inert",
		"1 while a check cannot act, by check and reason (see /readyz and the logs).", []string{"check", "reason"}, nil)}
	m.AdvisoryRecords = prometheus.NewGauge(prometheus.GaugeOpts{Name: "airlock_advisories_records", Help: "OSV advisories in force."})
	m.AdvisoryRefreshed = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "airlock_advisories_last_refresh_timestamp_seconds", Help: "When each advisory source was last read successfully.",
	}, []string{"source"})
	m.AdvisoryFailing = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "airlock_advisories_source_failing", Help: "1 while an advisory source's last read failed (its last good records stay in force).",
	}, []string{"source"})
	m.Registry.MustRegister(m.CheckInert, m.AdvisoryRecords, m.AdvisoryRefreshed, m.AdvisoryFailing)
	m.BackgroundSkipped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airlock_background_skipped_total",
		Help: "Cooling files the background did not check ahead, by reason (platform: no client uses it; budget: the byte budget was spent; not_due: its cooldown ends later than background.lead)."}, []string{"reason"})
	m.Registry.MustRegister(m.UpstreamBytes, m.BackgroundBytes, m.BackgroundSkipped, m.QueueDepth, m.QueueOldest, m.QueueDone, m.SignalErrors)
	m.Registry.MustRegister(m.Requests, m.Cache, m.UpstreamLatency, m.UpstreamErrors,
		m.BytesServed, m.HashMismatches, m.RefusedHosts, m.Gate,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// InertChecks is airlock_check_inert, worked out when scraped (as /readyz
// is when asked): a scrape in the first minute after start sees what the
// server already knows, not what a timer last wrote.
type InertChecks struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	list func() [][2]string // (check, reason) pairs
}

// From sets what lists the checks that cannot act now.
func (c *InertChecks) From(list func() [][2]string) {
	c.mu.Lock()
	c.list = list
	c.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (c *InertChecks) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *InertChecks) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	list := c.list
	c.mu.Unlock()
	if list == nil {
		return
	}
	seen := map[[2]string]bool{}
	for _, p := range list() {
		if !seen[p] {
			seen[p] = true
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, 1, p[0], p[1])
		}
	}
}

// CountSignalErrors counts each signal source that could not be read at an
// ask (signals.Assessor's OnGathered).
func (m *Metrics) CountSignalErrors(_ []string, unknown map[string]string) {
	for src := range unknown {
		m.SignalErrors.WithLabelValues(src).Inc()
	}
}
