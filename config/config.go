// Package config loads Airlock's configuration: embedded defaults, then a
// YAML file read strictly (an unknown key is an error naming it), then
// environment overrides named AIRLOCK_<SECTION>_<KEY>, then one validation
// pass that names the bad key.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"airlock/inspect"
	"airlock/platforms"
	"airlock/storage"
	"airlock/upstream"
)

// DefaultListen is the loopback address Airlock listens on when nothing else
// is configured. Loopback so that a laptop install is not an open mirror.
const DefaultListen = "127.0.0.1:3180"

// Config is the whole configuration. The yaml tags are the documented keys;
// config.example.yaml lists every one of them with its default.
type Config struct {
	Listen string `yaml:"listen"`
	// TLS serves HTTPS with this certificate and key (both or neither).
	TLS      TLS      `yaml:"tls"`
	DataDir  string   `yaml:"data_dir"`
	Upstream Upstream `yaml:"upstream"`
	Index    Index    `yaml:"index"`
	Policy   Policy   `yaml:"policy"`
	Admin    Admin    `yaml:"admin"`
	Notify   Notify   `yaml:"notify"`
	Sigstore Sigstore `yaml:"sigstore"`
	Signals  Signals  `yaml:"signals"`
	Inspect  Inspect  `yaml:"inspect"`
	// MemoryLimit is a soft limit for the Go runtime (debug.SetMemoryLimit):
	// the collector works harder near it, so huge project pages do not
	// leave the process holding a gigabyte. 0 leaves the runtime's default;
	// the GOMEMLIMIT environment variable wins when set.
	MemoryLimit ByteSize `yaml:"memory_limit"`
	// Store is the `store:` section.
	Store Store `yaml:"store"`
	// Server bounds what one client can hold.
	Server Server `yaml:"server"`
	// TrustedProxies are the addresses (IPs or CIDRs) of reverse proxies in
	// front of Airlock whose X-Forwarded-For is believed for the client's
	// address (the login throttle, the audit log, the logs).
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Background is the work queue that checks releases inside their
	// cooldown before anyone needs them.
	Background Background `yaml:"background"`
	// Indexes are private upstreams, each answering alone for the
	// projects it owns (no dependency confusion).
	Indexes []PrivateIndex `yaml:"indexes"`
	// Auth is who may use the index.
	Auth Auth `yaml:"auth"`
	// Feeds are the sources of advisories.
	Feeds Feeds `yaml:"feeds"`
	// Downloads is the record of files served.
	Downloads Downloads `yaml:"downloads"`
	// Blobs is where verified files are kept.
	Blobs Blobs `yaml:"blobs"`
	// Database is where the records are kept.
	Database Database `yaml:"database"`
	Log      Log      `yaml:"log"`
}

// Blobs is the `blobs:` section: where verified files are kept. Empty URL:
// data_dir/blobs. s3://BUCKET/PREFIX: an S3-compatible bucket, with
// credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the shared
// credentials file.
type Blobs struct {
	URL string `yaml:"url"`
	// Endpoint is the S3 server, e.g. http://127.0.0.1:7070; empty: AWS.
	Endpoint  string `yaml:"endpoint"`
	Region    string `yaml:"region"`
	PathStyle bool   `yaml:"path_style"`
	// CacheBytes bounds the local copies of hot blobs kept in
	// data_dir/blob-cache (0: none); the bucket stays the truth.
	CacheBytes ByteSize `yaml:"cache_bytes"`
}

// Database is the `database:` section. Empty URL: bbolt in data_dir (one
// process). postgres://…: PostgreSQL, shared by every replica (run
// `airlock migrate` first).
type Database struct {
	URL string `yaml:"url"`
}

// Feeds is the `feeds:` section.
type Feeds struct {
	// OSV lists sources of OSV records for PyPI: directories (the layout
	// of OpenSSF's malicious-packages repository), zip files, or http(s)
	// URLs of zips.
	OSV []string `yaml:"osv"`
	// Interval is how often they are read again.
	Interval Duration `yaml:"interval"`
}

// Downloads is the `downloads:` section.
type Downloads struct {
	// Retention is how long download records are kept.
	Retention Duration `yaml:"retention"`
}

// Auth is the `auth:` section.
type Auth struct {
	Clients ClientAuth `yaml:"clients"`
}

// ClientAuth makes the index (pages, files, the JSON API) answer only
// authenticated clients when either file is set. Both files are read again
// when they change.
type ClientAuth struct {
	// UsersFile holds HTTP basic users, one "name:bcrypt-hash" per line
	// (htpasswd -B format).
	UsersFile string `yaml:"users_file"`
	// TokensFile holds bearer tokens, one "name:sha256-hex-of-token" per
	// line.
	TokensFile string `yaml:"tokens_file"`
}

// Server is the `server:` section: what a slow or greedy client can hold.
type Server struct {
	// ReadTimeout bounds reading one request, headers and body.
	ReadTimeout Duration `yaml:"read_timeout"`
	// WriteTimeout bounds answering a page or API request (a file download
	// gets its own deadline from MinDownloadRate).
	WriteTimeout Duration `yaml:"write_timeout"`
	// MinDownloadRate: a file download may take as long as its size at
	// this rate, plus write_timeout; a slower client is cut off.
	MinDownloadRate ByteSize `yaml:"min_download_rate"`
	// MaxConnsPerClient caps one address's open connections (0: no cap;
	// trusted_proxies are not capped).
	MaxConnsPerClient int `yaml:"max_conns_per_client"`
	// PublicURL is the address clients reach Airlock at (behind a proxy or
	// a load balancer, its URL there). It is shown on the landing page and
	// at start, and a 403 links to the file's review page under it.
	PublicURL string `yaml:"public_url"`
}

// Store is the `store:` section.
type Store struct {
	// MinFreeBytes: /readyz fails (so a balancer sends clients elsewhere)
	// when the data directory's file system has less free space; 0 turns
	// the check off.
	MinFreeBytes ByteSize `yaml:"min_free_bytes"`
}

// Background is the `background:` section.
type Background struct {
	// Workers run queued checks at once; 0 turns background checks off
	// (files are then checked when a client asks for them).
	Workers int `yaml:"workers"`
	// ProjectBytes and TotalBytes bound what background checks download
	// per project and in all, per day; the rest is checked on request.
	ProjectBytes ByteSize `yaml:"project_bytes"`
	TotalBytes   ByteSize `yaml:"total_bytes"`
	// Lead is how long before its cooldown ends a cooling release is
	// checked: early enough that it is decided when clients may have it,
	// late enough that a release yanked or removed in its cooldown, or
	// replaced by the next one, is never downloaded. A lead as long as the
	// cooldown checks releases as soon as they appear.
	Lead Duration `yaml:"lead"`
	// SignalsWait bounds how long a page waits for the behavioural signal
	// sources when a project's signals are not known yet.
	SignalsWait Duration `yaml:"signals_wait"`
	// Retry is the first wait before a file whose checks failed with an
	// error is checked again; it doubles per failure up to RetryMax.
	Retry    Duration `yaml:"retry"`
	RetryMax Duration `yaml:"retry_max"`
	// Platforms are checked ahead besides those clients named in their
	// User-Agent in the last 30 days (os-arch[-libc]-implX.Y, e.g.
	// linux-x86_64-glibc-cp3.12): for a deployment whose clients send none
	// (poetry) or before they first ask.
	Platforms []string `yaml:"platforms"`
}

// PlatformList is Platforms read (Validate has checked them).
func (b Background) PlatformList() []platforms.Client {
	var out []platforms.Client
	for _, p := range b.Platforms {
		if c, err := platforms.Parse(p); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// Inspect is the `inspect:` section: content inspection and its limits.
type Inspect struct {
	Enabled       bool     `yaml:"enabled"`
	MaxTotalBytes ByteSize `yaml:"max_total_bytes"`
	// MaxMemberBytes bounds one member, uncompressed.
	MaxMemberBytes ByteSize `yaml:"max_member_bytes"`
	// RatioMinBytes: the compression ratio limit applies to members larger
	// than this (small shared libraries compress very well).
	RatioMinBytes ByteSize `yaml:"ratio_min_bytes"`
	MaxMembers    int      `yaml:"max_members"`
	MaxRatio      int64    `yaml:"max_ratio"`
	MaxPathLength int      `yaml:"max_path_length"`
	MaxDepth      int      `yaml:"max_depth"`
	MaxScanBytes  ByteSize `yaml:"max_scan_bytes"`
	// CompareSource compares a wheel's Python files with the repository
	// at the release's tag (GitHub's source archive, through
	// signals.github_api_url); it needs the signals on.
	CompareSource bool `yaml:"compare_source"`
	// MaxSourceBytes bounds one source archive.
	MaxSourceBytes ByteSize `yaml:"max_source_bytes"`
}

// Signals is the `signals:` section: the behavioural sources.
type Signals struct {
	// Enabled turns the behavioural signals on (they query PyPI's JSON
	// API, pypistats and GitHub).
	Enabled      bool   `yaml:"enabled"`
	PyPIStatsURL string `yaml:"pypistats_url"`
	GitHubAPIURL string `yaml:"github_api_url"`
	// GitHubToken raises GitHub's rate limit; AIRLOCK_GITHUB_TOKEN sets it.
	GitHubToken string   `yaml:"github_token"`
	Timeout     Duration `yaml:"timeout"`
	// TTL is how long a source's answer is reused before it is revalidated.
	TTL     Duration `yaml:"ttl"`
	Weights Weights  `yaml:"weights"`
	// RapidReleases: more than this many releases in 30 days raises
	// rapid-releases.
	RapidReleases int `yaml:"rapid_releases"`
	// HeavyDownloads: downloads in the last month that count as heavy (for
	// high-blast-radius).
	HeavyDownloads int64 `yaml:"heavy_downloads"`
}

// Weights are the commitment score's weights.
type Weights struct {
	Age          float64 `yaml:"age"`
	Cadence      float64 `yaml:"cadence"`
	Maintainers  float64 `yaml:"maintainers"`
	Organization float64 `yaml:"organization"`
	Downloads    float64 `yaml:"downloads"`
	Repository   float64 `yaml:"repository"`
}

// TLS is the `tls:` section.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Upstream describes the index Airlock proxies.
type Upstream struct {
	// URL is the base under which /simple/, /pypi/ and /integrity/ live.
	URL string `yaml:"url"`
	// FileHosts are hosts (host or host:port) files may be downloaded from
	// besides the upstream's own host.
	FileHosts []string `yaml:"file_hosts"`
	// Timeout bounds one upstream request for an index page.
	Timeout Duration `yaml:"timeout"`
	// FillTimeout bounds one file download into the store; it keeps going
	// when the client that asked for it hangs up.
	FillTimeout Duration `yaml:"fill_timeout"`
	// MaxPageBytes caps the size of a project page read from upstream.
	MaxPageBytes ByteSize `yaml:"max_page_bytes"`
	// MaxFileBytes caps the size of one distribution file.
	MaxFileBytes ByteSize `yaml:"max_file_bytes"`
}

// Index controls how project pages are cached.
type Index struct {
	// TTL is how long a fetched project page is fresh before it is
	// revalidated with the upstream.
	TTL Duration `yaml:"ttl"`
	// PageCacheBytes bounds the decoded pages kept in memory (an estimate
	// per file entry); the least recently used go first.
	PageCacheBytes ByteSize `yaml:"page_cache_bytes"`
	// HeldFiles is how pages show held files: "yank" keeps them listed,
	// marked yanked with the reason; "hide" leaves them out.
	HeldFiles string `yaml:"held_files"`
}

// Log controls logging.
type Log struct {
	Level string `yaml:"level"`
}

// Default returns the embedded defaults: PyPI upstream, ./airlock-data,
// loopback listener.
func Default() Config {
	return Config{
		Listen:  DefaultListen,
		DataDir: "./airlock-data",
		Upstream: Upstream{
			URL:          "https://pypi.org",
			FileHosts:    []string{"files.pythonhosted.org"},
			Timeout:      Duration(30 * time.Second),
			FillTimeout:  Duration(10 * time.Minute),
			MaxPageBytes: 64 << 20,
			MaxFileBytes: 8 << 30,
		},
		Index:  Index{TTL: Duration(10 * time.Minute), HeldFiles: "yank", PageCacheBytes: 128 << 20},
		Policy: defaultPolicy(),
		Notify: Notify{Timeout: Duration(5 * time.Second), Retries: 3},
		Inspect: Inspect{Enabled: true, MaxTotalBytes: 8 << 30, MaxMemberBytes: 4 << 30, RatioMinBytes: 64 << 20, MaxMembers: 100_000, MaxRatio: 200, MaxPathLength: 1024, MaxDepth: 48, MaxScanBytes: 4 << 20,
			CompareSource: true, MaxSourceBytes: 256 << 20},
		Store:       Store{MinFreeBytes: 1 << 30},
		MemoryLimit: 256 << 20,
		Server: Server{ReadTimeout: Duration(30 * time.Second), WriteTimeout: Duration(2 * time.Minute),
			MinDownloadRate: 16 << 10, MaxConnsPerClient: 128},
		Feeds:     Feeds{Interval: Duration(time.Hour)},
		Downloads: Downloads{Retention: Duration(90 * 24 * time.Hour)},
		Blobs:     Blobs{CacheBytes: 1 << 30},
		Background: Background{Workers: 2, ProjectBytes: 256 << 20, TotalBytes: 4 << 30, Lead: Duration(24 * time.Hour), SignalsWait: Duration(3 * time.Second),
			Retry: Duration(time.Minute), RetryMax: Duration(time.Hour)},
		Signals: Signals{Enabled: true, PyPIStatsURL: "https://pypistats.org", GitHubAPIURL: "https://api.github.com",
			Timeout: Duration(10 * time.Second), TTL: Duration(time.Hour), RapidReleases: 10, HeavyDownloads: 1_000_000,
			Weights: Weights{Age: 20, Cadence: 15, Maintainers: 20, Organization: 10, Downloads: 15, Repository: 20}},
		Log: Log{Level: "info"},
	}
}

// LoadProcess is Load with this process's environment, which it first
// checks for AIRLOCK_* variables that name no key.
func LoadProcess(path string) (Config, error) {
	if err := CheckEnvironment(os.Environ()); err != nil {
		return Config{}, err
	}
	return Load(path, os.Getenv)
}

// Load builds a Config from the defaults, the YAML file at path (skipped when
// path is empty) and the environment, then validates it.
func Load(path string, getenv func(string) string) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := decodeYAML(data, &cfg); err != nil {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, getenv); err != nil {
		return Config{}, err
	}
	if getenv != nil && getenv("AIRLOCK_GITHUB_TOKEN") != "" {
		cfg.Signals.GitHubToken = getenv("AIRLOCK_GITHUB_TOKEN")
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func decodeYAML(data []byte, cfg *Config) error {
	if err := checkKeys(data); err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file keeps the defaults
		}
		return err
	}
	return nil
}

// Validate checks every key once and names the first bad one.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("config: listen: %q is not host:port", c.Listen)
	}
	if t := c.Admin.Token; t != "" && len(t) < MinAdminToken {
		return fmt.Errorf("config: admin.token: %d characters; use at least %d (e.g. openssl rand -hex 32)", len(t), MinAdminToken)
	}
	if c.Admin.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Admin.Listen); err != nil {
			return fmt.Errorf("config: admin.listen: %q is not host:port", c.Admin.Listen)
		}
	}
	if _, err := c.TrustedProxyPrefixes(); err != nil {
		return err
	}
	if c.Index.PageCacheBytes <= 0 {
		return errors.New("config: index.page_cache_bytes: must be positive")
	}
	if s := c.Server; s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.MinDownloadRate <= 0 || s.MaxConnsPerClient < 0 {
		return errors.New("config: server: read_timeout, write_timeout and min_download_rate must be positive, max_conns_per_client not negative")
	}
	if p := c.Server.PublicURL; p != "" {
		u, err := url.Parse(p)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("config: server.public_url: %q is not an http(s) URL without query (e.g. https://pypi.example.com)", p)
		}
	}
	if err := c.validateIndexes(); err != nil {
		return err
	}
	if u := c.Database.URL; u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		return fmt.Errorf("config: database.url: %s is not a postgres:// URL (or empty for bbolt in data_dir)", upstream.RedactURL(u))
	}
	if c.Blobs.URL != "" {
		if err := storage.ValidateBlobURL(c.Blobs.URL); err != nil {
			return fmt.Errorf("config: blobs.url: %v (or empty for data_dir/blobs)", err)
		}
	}
	if c.Feeds.Interval < Duration(time.Minute) || c.Downloads.Retention < Duration(24*time.Hour) {
		return errors.New("config: feeds.interval must be at least 1m and downloads.retention at least 1d")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("config: tls: cert_file and key_file go together")
	}
	if strings.TrimSpace(c.DataDir) == "" {
		return errors.New("config: data_dir: must not be empty")
	}
	u, err := url.Parse(c.Upstream.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("config: upstream.url: %q is not an http(s) URL", c.Upstream.URL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("config: upstream.url: %q must not have a query or fragment", c.Upstream.URL)
	}
	for _, h := range c.Upstream.FileHosts {
		if _, err := upstream.ParseOrigin(h); err != nil {
			return fmt.Errorf("config: upstream.file_hosts: %v", err)
		}
	}
	for key, d := range map[string]Duration{
		"upstream.timeout":      c.Upstream.Timeout,
		"upstream.fill_timeout": c.Upstream.FillTimeout,
		"index.ttl":             c.Index.TTL,
	} {
		if d <= 0 {
			return fmt.Errorf("config: %s: must be positive", key)
		}
	}
	if c.Upstream.MaxPageBytes <= 0 {
		return errors.New("config: upstream.max_page_bytes: must be positive")
	}
	if c.Upstream.MaxFileBytes <= 0 {
		return errors.New("config: upstream.max_file_bytes: must be positive")
	}
	if c.Index.HeldFiles != "yank" && c.Index.HeldFiles != "hide" {
		return fmt.Errorf("config: index.held_files: %q is not yank or hide", c.Index.HeldFiles)
	}
	if _, err := c.Policy.Rules(); err != nil {
		return err
	}
	if c.Policy.SweepInterval <= 0 {
		return errors.New("config: policy.sweep_interval: must be positive")
	}
	for _, w := range c.Notify.Webhooks {
		if u, err := url.Parse(w); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("config: notify.webhooks: %q is not an http(s) URL", w)
		}
	}
	if c.Notify.Timeout <= 0 || c.Notify.Retries < 0 {
		return errors.New("config: notify.timeout must be positive and notify.retries not negative")
	}
	for key, raw := range map[string]string{"signals.pypistats_url": c.Signals.PyPIStatsURL, "signals.github_api_url": c.Signals.GitHubAPIURL} {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("config: %s: %q is not an http(s) URL", key, raw)
		}
	}
	w := c.Signals.Weights
	if w.Age < 0 || w.Cadence < 0 || w.Maintainers < 0 || w.Organization < 0 || w.Downloads < 0 || w.Repository < 0 ||
		w.Age+w.Cadence+w.Maintainers+w.Organization+w.Downloads+w.Repository == 0 {
		return errors.New("config: signals.weights: must not be negative, nor all zero")
	}
	if c.Signals.Timeout <= 0 || c.Signals.TTL <= 0 || c.Signals.RapidReleases < 0 || c.Signals.HeavyDownloads < 0 {
		return errors.New("config: signals: timeout and ttl must be positive, thresholds not negative")
	}
	if b := c.Background; b.Workers < 0 || b.Workers > 64 || b.ProjectBytes < 0 || b.TotalBytes < 0 || b.Lead <= 0 || b.SignalsWait <= 0 || b.Retry <= 0 || b.RetryMax < b.Retry {
		return errors.New("config: background: workers must be 0-64, budgets not negative, lead, signals_wait and retry positive, retry_max at least retry")
	}
	for _, p := range c.Background.Platforms {
		if _, err := platforms.Parse(p); err != nil {
			return fmt.Errorf("config: background.platforms: %w", err)
		}
	}
	if i := c.Inspect; i.MaxTotalBytes <= 0 || i.MaxMembers <= 0 || i.MaxRatio <= 0 || i.MaxPathLength <= 0 || i.MaxDepth <= 0 || i.MaxScanBytes <= 0 || i.MaxMemberBytes <= 0 || i.RatioMinBytes < 0 {
		return errors.New("config: inspect: every limit must be positive")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	return nil
}

// UpstreamURL returns the parsed upstream base without a trailing slash.
func (c Config) UpstreamURL() *url.URL {
	u, _ := url.Parse(strings.TrimRight(c.Upstream.URL, "/"))
	return u
}

// TrustedProxyPrefixes parses trusted_proxies (single addresses become /32
// or /128 prefixes).
func (c Config) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("config: trusted_proxies: %q is not an IP address or CIDR", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// WideProxyRanges lists the trusted_proxies ranges of more than 256
// addresses: balancers are a few addresses, and a client inside a trusted
// range chooses the address it is recorded under.
func (c Config) WideProxyRanges() []string {
	prefixes, _ := c.TrustedProxyPrefixes()
	var out []string
	for _, p := range prefixes {
		if p.Addr().BitLen()-p.Bits() > 8 {
			out = append(out, p.String())
		}
	}
	return out
}

// Limits are content inspection's bounds.
func (i Inspect) Limits() inspect.Limits {
	return inspect.Limits{MaxTotalBytes: int64(i.MaxTotalBytes), MaxMemberBytes: int64(i.MaxMemberBytes), MaxMembers: i.MaxMembers,
		MaxRatio: i.MaxRatio, MaxPathLength: i.MaxPathLength, MaxDepth: i.MaxDepth,
		MaxScanBytes: int64(i.MaxScanBytes), MinRatioSizeLen: int64(i.RatioMinBytes)}
}
