// Package upstream talks to the index Airlock proxies: project pages (JSON
// preferred, HTML accepted), the root list, provenance, and file downloads
// restricted to allowed hosts. Every body is size-capped; failures are
// classified so the caller can decide between a stale page and an error.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"airlock/index"
	"airlock/metrics"
)

// Errors a caller maps to its answer.
var (
	ErrNotFound       = errors.New("not found upstream")
	ErrUnavailable    = errors.New("upstream unavailable")
	ErrHostNotAllowed = errors.New("file host not allowed")
	ErrTooLarge       = errors.New("upstream response too large")
)

// accept is what Airlock asks the upstream for: JSON first, HTML accepted.
const accept = index.MediaJSON + ", " + index.MediaHTML + ";q=0.2, " + index.MediaTextHTML + ";q=0.01"

// Options configure a Client.
type Options struct {
	BaseURL      *url.URL
	FileHosts    []string
	Timeout      time.Duration // per page request
	MaxPageBytes int64
	Retries      int // extra tries for a page on 429, 5xx or a network error
	Metrics      *metrics.Metrics
	UserAgent    string
	// Username and Password (basic auth) or Token (bearer) authenticate
	// to the upstream. They go only to the upstream's own origin, never to
	// a file host, and never into a log.
	Username, Password, Token string
}

// Client is safe for concurrent use.
type Client struct {
	opt     Options
	http    *http.Client
	allowed map[string]bool
}

// New builds a client with its own transport (dial, TLS and header timeouts)
// that refuses redirects to hosts files may not come from.
func New(opt Options) *Client {
	if opt.Retries == 0 {
		opt.Retries = 2
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.ResponseHeaderTimeout = opt.Timeout
	tr.MaxIdleConnsPerHost = 32
	c := &Client{opt: opt, allowed: map[string]bool{}}
	c.allowed[originOf(opt.BaseURL)] = true
	for _, h := range opt.FileHosts {
		if o, err := ParseOrigin(h); err == nil {
			c.allowed[o] = true
		}
	}
	var rt http.RoundTripper = tr
	if opt.Username != "" || opt.Token != "" {
		rt = &authTransport{base: tr, origin: originOf(opt.BaseURL), user: opt.Username, password: opt.Password, token: opt.Token}
	}
	c.http = &http.Client{
		Transport: rt,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			if err := c.CheckHost(req.URL); err != nil {
				return err
			}
			return nil
		},
	}
	return c
}

// CheckHost reports whether Airlock may download from u: its scheme, host
// and port must be the upstream's own or a configured file host's. A bare
// host name allows https on port 443 only, so an upstream page cannot send
// Airlock to another port or scheme on an allowed host.
func (c *Client) CheckHost(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: scheme %q", ErrHostNotAllowed, u.Scheme)
	}
	if c.allowed[originOf(u)] {
		return nil
	}
	return fmt.Errorf("%w: %s://%s", ErrHostNotAllowed, u.Scheme, u.Host)
}

// ParseOrigin reads a file host entry: "host" (https on 443), "host:port"
// (https on that port) or "scheme://host[:port]". It returns the canonical
// origin "scheme://host:port".
func ParseOrigin(entry string) (string, error) {
	raw := strings.TrimSpace(entry)
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil ||
		(u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("%q is not a host, host:port or http(s)://host[:port]", entry)
	}
	return originOf(u), nil
}

func originOf(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// Validators are the HTTP cache validators of an upstream answer, sent back
// on the next request so an unchanged page costs a 304.
type Validators struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

// PageResult is a fetched page or list.
type PageResult struct {
	NotModified bool
	Validators  Validators
	Page        *index.Page // for FetchProject
	Names       []string    // for FetchList (as written upstream)
}

// FetchProject fetches /simple/<project>/ conditionally. A 304 gives
// NotModified; a 404 or 410 ErrNotFound; anything unusable ErrUnavailable or
// index.ErrMalformed.
func (c *Client) FetchProject(ctx context.Context, project string, v Validators) (*PageResult, error) {
	u := c.opt.BaseURL.JoinPath("simple", project) // JoinPath drops the trailing slash
	u.Path += "/"
	var page *index.Page
	// The page is parsed as it arrives, never held whole as a body: a
	// 200,000-file page is 78 MB of JSON.
	res, err := c.fetch(ctx, "page", u, v, accept, c.opt.MaxPageBytes, func(ct string, body io.Reader) (err error) {
		switch ct {
		case index.MediaJSON:
			page, err = index.ReadJSON(project, body, u)
		case index.MediaHTML, index.MediaTextHTML:
			page, err = index.ReadHTML(project, body, u)
		default:
			err = fmt.Errorf("%w: unexpected content type %q", index.ErrMalformed, ct)
		}
		return err
	})
	if err != nil || res.NotModified {
		return res, err
	}
	res.Page = page
	return res, nil
}

// FetchList fetches the root /simple/ list conditionally.
func (c *Client) FetchList(ctx context.Context, v Validators) (*PageResult, error) {
	u := c.opt.BaseURL.JoinPath("simple")
	u.Path += "/"
	res, body, ct, err := c.get(ctx, "list", u, v, accept)
	if err != nil || res.NotModified {
		return res, err
	}
	if ct != index.MediaJSON && ct != index.MediaHTML && ct != index.MediaTextHTML {
		return nil, fmt.Errorf("%w: unexpected content type %q", index.ErrMalformed, ct)
	}
	if res.Names, err = index.ParseProjectList(ct, body); err != nil {
		return nil, err
	}
	return res, nil
}

// FetchProvenance fetches a PEP 740 provenance object of at most max bytes
// (ErrTooLarge beyond). 404 is ErrNotFound.
func (c *Client) FetchProvenance(ctx context.Context, rawURL string, max int64) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: bad provenance url", index.ErrMalformed)
	}
	if err := c.CheckHost(u); err != nil {
		return nil, err
	}
	_, body, _, err := c.getCapped(ctx, "provenance", u, Validators{}, "application/vnd.pypi.integrity.v1+json", max)
	return body, err
}

// FetchUploadTimes reads the upload times of a project's files from the
// upstream's JSON API (/pypi/<project>/json), for pages that carry none.
func (c *Client) FetchUploadTimes(ctx context.Context, project string) (map[string]index.UploadInfo, error) {
	u := c.opt.BaseURL.JoinPath("pypi", project, "json")
	_, body, _, err := c.get(ctx, "json", u, Validators{}, "application/json")
	if err != nil {
		return nil, err
	}
	return index.ParseUploadTimes(body)
}

// get performs a capped GET of a whole body, with fetch's retries.
func (c *Client) get(ctx context.Context, kind string, u *url.URL, v Validators, acceptHeader string) (*PageResult, []byte, string, error) {
	return c.getCapped(ctx, kind, u, v, acceptHeader, c.opt.MaxPageBytes)
}

func (c *Client) getCapped(ctx context.Context, kind string, u *url.URL, v Validators, acceptHeader string, max int64) (*PageResult, []byte, string, error) {
	var body []byte
	var ct string
	res, err := c.fetch(ctx, kind, u, v, acceptHeader, max, func(t string, r io.Reader) (err error) {
		ct = t
		body, err = io.ReadAll(r)
		return err
	})
	return res, body, ct, err
}

// consumeFunc reads a 200 answer's body as it streams in; the reader fails
// with ErrTooLarge past the cap and ErrUnavailable when the connection does.
type consumeFunc func(contentType string, body io.Reader) error

// fetch performs a GET with bounded retries for 429, 5xx and network
// errors, including a body cut short. It never retries a cancelled
// context. consume is not called for a 304.
func (c *Client) fetch(ctx context.Context, kind string, u *url.URL, v Validators, acceptHeader string, max int64, consume consumeFunc) (*PageResult, error) {
	var lastErr error
	for attempt := 0; attempt <= c.opt.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %v", ErrUnavailable, ctx.Err())
			case <-time.After(time.Duration(attempt*attempt) * 100 * time.Millisecond):
			}
		}
		res, err := c.fetchOnce(ctx, kind, u, v, acceptHeader, max, consume)
		if err == nil || !errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			return res, err
		}
		lastErr = err
	}
	return nil, lastErr
}

func (c *Client) fetchOnce(ctx context.Context, kind string, u *url.URL, v Validators, acceptHeader string, max int64, consume consumeFunc) (*PageResult, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", acceptHeader)
	req.Header.Set("User-Agent", c.opt.UserAgent)
	if v.ETag != "" {
		req.Header.Set("If-None-Match", v.ETag)
	}
	if v.LastModified != "" {
		req.Header.Set("If-Modified-Since", v.LastModified)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	defer func() { c.observe(kind, start, err) }()
	if err != nil {
		if errors.Is(err, ErrHostNotAllowed) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s", ErrUnavailable, redact(err))
	}
	defer resp.Body.Close()
	res := &PageResult{Validators: Validators{
		ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"),
	}}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		res.NotModified = true
		res.Validators = v
		return res, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, ErrNotFound
	case resp.StatusCode != http.StatusOK: // 429, 5xx and anything unexpected
		err = fmt.Errorf("%w: %s answered %s", ErrUnavailable, u.Host, resp.Status)
		return nil, err
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	body := &cappedBody{r: resp.Body, left: max}
	err = consume(ct, body)
	if body.err != nil {
		err = body.err // the transfer failed, not the parse
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// cappedBody reads at most a cap of bytes from a response body and
// remembers why reading stopped, so a parse error caused by a cut
// connection or an oversized body is reported as that.
type cappedBody struct {
	r    io.Reader
	left int64
	err  error
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	switch {
	case b.left < 0:
		b.err = fmt.Errorf("%w: more than the cap of bytes", ErrTooLarge)
		return 0, b.err
	case err != nil && err != io.EOF:
		b.err = fmt.Errorf("%w: reading body: %s", ErrUnavailable, redact(err))
		return n, b.err
	}
	return n, err
}

func (c *Client) observe(kind string, start time.Time, err error) {
	if c.opt.Metrics == nil {
		return
	}
	c.opt.Metrics.UpstreamLatency.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	if err != nil {
		c.opt.Metrics.UpstreamErrors.WithLabelValues(kind).Inc()
	}
}

// RedactURL drops query strings and credentials before a URL is logged or
// stored.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable url)"
	}
	u.RawQuery, u.User = "", nil
	return u.String()
}

// redact drops a URL's query and user info from an error: signed file URLs
// and credentials in private index URLs must not reach logs or clients.
func redact(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery, u.User = "", nil
			return fmt.Sprintf("%s %s: %v", ue.Op, u.Redacted(), ue.Err)
		}
	}
	return err.Error()
}

// BaseURL is the upstream's base, with credentials removed, for display.
func (c *Client) BaseURL() string { return RedactURL(c.opt.BaseURL.String()) }

// authTransport adds the upstream's credentials to requests for its own
// origin only.
type authTransport struct {
	base                  http.RoundTripper
	origin                string
	user, password, token string
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if originOf(req.URL) != t.origin {
		return t.base.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	if t.token != "" {
		req.Header.Set("Authorization", "Bearer "+t.token)
	} else {
		req.SetBasicAuth(t.user, t.password)
	}
	return t.base.RoundTrip(req)
}

// FetchProjectJSON fetches the upstream's JSON API document of a project
// (/pypi/<project>/json) or of one release (/pypi/<project>/<version>/json).
func (c *Client) FetchProjectJSON(ctx context.Context, project, version string) ([]byte, error) {
	u := c.opt.BaseURL.JoinPath("pypi", project, "json")
	if version != "" {
		u = c.opt.BaseURL.JoinPath("pypi", project, version, "json")
	}
	_, body, _, err := c.get(ctx, "json", u, Validators{}, "application/json")
	return body, err
}
