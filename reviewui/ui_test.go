package reviewui

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"airlock/internal/storetest"
	"airlock/reviewauth"

	"github.com/gorilla/mux"
	"github.com/rs/zerolog"

	"airlock/advisories"
	"airlock/gate"
	"airlock/policy"
	"airlock/quarantine"
	"airlock/storage"
)

// applier stands in for the gate: decisions go straight to the quarantine.
type applier struct{ q *quarantine.Service }

func (a applier) Review(ctx context.Context, sha string, t quarantine.Transition, actor, remote, reason string, scope quarantine.Scope) (quarantine.View, error) {
	return a.q.Apply(ctx, sha, t, actor, remote, reason, scope)
}

func (applier) Checks(quarantine.View) []gate.CheckStatus { return nil }

// warnings is what the stand-in gate reports as checks that cannot act.
var warnings []policy.Warning

func (applier) Warnings() []policy.Warning { return warnings }

func (applier) DownloadsServed(context.Context, time.Time) (int, error) { return 42, nil }

func (applier) DownloadsFor(_ context.Context, target string, _ time.Time) ([]storage.DownloadRecord, error) {
	return []storage.DownloadRecord{{Time: time.Now(), SHA256: target, Client: "10.1.2.3", UserAgent: "pip/26.3", Filename: "p-1.tar.gz", Status: 200}}, nil
}

// feeds is one advisory source's status.
type feeds struct{}

func (feeds) Records() int { return 15000 }
func (feeds) Status() []advisories.SourceStatus {
	return []advisories.SourceStatus{{Source: "/srv/malicious-packages", Records: 15000, LastOK: time.Now()}}
}

func (applier) Confusions(context.Context) ([]storage.Confusion, error) {
	return []storage.Confusion{{Project: "torchtriton", Index: "internal", PublicVersions: []string{"3.0"}, FirstSeen: time.Now(), LastSeen: time.Now()}}, nil
}

func server(t *testing.T, token string, useTLS bool) *httptest.Server {
	ctx := t.Context()
	store, err := storetest.Open(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e, _ := policy.NewEngine(policy.DefaultRules())
	q := quarantine.New(store, e, nil, nil, zerolog.Nop())
	q.Decide(ctx, policy.Input{Project: "p", Version: "1", Filename: "p-1.tar.gz", SHA256: strings.Repeat("a", 64), UploadTime: time.Now()})
	q.Decide(ctx, policy.Input{Project: "q", Version: "1", Filename: "q-1.tar.gz", SHA256: strings.Repeat("b", 64), UploadTime: time.Now().Add(-30 * 24 * time.Hour),
		Attestation: &policy.Attestation{Status: policy.AttestationMissing}})
	r := mux.NewRouter()
	New(q, applier{q}, Options{Auth: reviewauth.New(reviewauth.Options{Token: token}), Feeds: feeds{}, Upstream: "https://pypi.org"}).Register(r)
	var srv *httptest.Server
	if useTLS {
		srv = httptest.NewTLSServer(r)
	} else {
		srv = httptest.NewServer(r)
	}
	t.Cleanup(srv.Close)
	return srv
}

func client(srv *httptest.Server) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if c.Transport == nil {
		c.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	}
	return c
}

func TestSessionCookie(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		srv := server(t, "tok", useTLS)
		c := client(srv)
		resp, _ := c.Get(srv.URL + "/ui/login")
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		csrf := between(string(body), `name="csrf" value="`, `"`)
		if csrf == "" {
			t.Fatal("no CSRF field on the sign-in form")
		}
		// Without the CSRF token the sign-in is refused even with the right token.
		resp, _ = c.PostForm(srv.URL+"/ui/login", url.Values{"token": {"tok"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("sign-in without CSRF: %d", resp.StatusCode)
		}
		resp, _ = c.PostForm(srv.URL+"/ui/login", url.Values{"token": {"tok"}, "name": {"alice"}, "csrf": {csrf}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in: %d", resp.StatusCode)
		}
		var session *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == sessionCookie {
				session = ck
			}
		}
		if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure != useTLS {
			t.Errorf("tls=%v: session cookie %+v", useTLS, session)
		}
		resp, _ = c.Get(srv.URL + "/ui/queue")
		body, _ = io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(body), "p-1.tar.gz") {
			t.Errorf("queue: %d", resp.StatusCode)
		}
		// The check filter offers every check of the registry, the ones
		// that matter in an incident among them.
		for _, c := range []string{"malicious", "vulnerability", "filename_reused", "upstream_removed", "content", "single-maintainer"} {
			if !strings.Contains(string(body), `<option value="`+c+`"`) {
				t.Errorf("the check filter does not offer %s", c)
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("CSP: %q", csp)
		}
	}
}

func TestSignedOutAndOff(t *testing.T) {
	srv := server(t, "tok", false)
	resp, _ := client(srv).Get(srv.URL + "/ui/queue")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login" {
		t.Errorf("signed out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	off := server(t, "", false)
	resp, _ = client(off).Get(off.URL + "/ui/login")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "review page is off") {
		t.Errorf("off: %d %s", resp.StatusCode, body)
	}
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}

// signInPage starts a UI with token "tok" and loads its sign-in page: the
// server, a client with the page's cookies, and the form's CSRF token.
func signInPage(t *testing.T) (*httptest.Server, *http.Client, string) {
	srv := server(t, "tok", false)
	c := client(srv)
	resp, _ := c.Get(srv.URL + "/ui/login")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return srv, c, between(string(body), `name="csrf" value="`, `"`)
}

// TestNoticeOnlyFromServer: the status box never shows text from the URL.
func TestNoticeOnlyFromServer(t *testing.T) {
	srv, c, csrf := signInPage(t)
	c.PostForm(srv.URL+"/ui/login", url.Values{"token": {"tok"}, "name": {"alice"}, "csrf": {csrf}})
	var resp *http.Response
	var body []byte
	for _, path := range []string{"/ui/file/" + strings.Repeat("a", 64) + "?notice=Approved+by+security%2C+safe+to+install", "/ui/queue?notice=Approved+by+security%2C+safe+to+install"} {
		resp, _ = c.Get(srv.URL + path)
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.Contains(string(body), "safe to install") {
			t.Errorf("%s: %d, shows the URL's notice", path, resp.StatusCode)
		}
	}
	resp, _ = c.Get(srv.URL + "/ui/file/" + strings.Repeat("a", 64) + "?decided=1")
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "p-1.tar.gz is now held") {
		t.Errorf("server's own notice missing")
	}
}

// TestRightTokenAfterGuessing: wrong sign-ins from one address are
// throttled; the right token still signs in.
func TestRightTokenAfterGuessing(t *testing.T) {
	srv, c, csrf := signInPage(t)
	for i := 0; i < 10; i++ {
		c.PostForm(srv.URL+"/ui/login", url.Values{"token": {"guess"}, "csrf": {csrf}})
	}
	if resp, _ := c.PostForm(srv.URL+"/ui/login", url.Values{"token": {"guess"}, "csrf": {csrf}}); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("eleventh wrong token: %d", resp.StatusCode)
	}
	if resp, _ := c.PostForm(srv.URL+"/ui/login", url.Values{"token": {"tok"}, "name": {"alice"}, "csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("right token after guessing: %d", resp.StatusCode)
	}
}

// When the upstream publishes no provenance, every page says the check
// cannot act, and a file's attestation reads "not available from this
// upstream" rather than "missing", which would suggest it was checked.
func TestInertCheckBannerAndAttestationPanel(t *testing.T) {
	srv, c, csrf := signInPage(t)
	c.PostForm(srv.URL+"/ui/login", url.Values{"token": {"tok"}, "name": {"alice"}, "csrf": {csrf}})
	get := func(path string) string {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	detail := "/ui/file/" + strings.Repeat("b", 64)
	if body := get(detail); !strings.Contains(body, ">missing<") || strings.Contains(body, "cannot act") {
		t.Errorf("with provenance available: want status missing and no banner")
	}
	warnings = []policy.Warning{{Check: "attestation", Reason: gate.ReasonNoProvenance, Since: time.Now(),
		Message: "PEP 740 attestation checks cannot act: the upstream publishes no provenance"}}
	defer func() { warnings = nil }()
	for _, path := range []string{"/ui/queue", "/ui/overview", detail} {
		if body := get(path); !strings.Contains(body, `class="warning"`) || !strings.Contains(body, "attestation checks cannot act") {
			t.Errorf("%s: no banner", path)
		}
	}
	body := get(detail)
	if !strings.Contains(body, "not available from this upstream") || strings.Contains(body, ">missing<") ||
		strings.Contains(body, "No earlier release of the project was attested") {
		t.Errorf("attestation panel still reads as checked:\n%s", between(body, "<h2>Attestation</h2>", "<h2>Behaviour</h2>"))
	}
}

// The overview counts downloads served, and labels files decided as such.
func TestOverviewCountsDownloads(t *testing.T) {
	srv, c, csrf := signInPage(t)
	c.PostForm(srv.URL+"/ui/login", url.Values{"token": {"tok"}, "name": {"alice"}, "csrf": {csrf}})
	resp, err := c.Get(srv.URL + "/ui/overview")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"<strong>42</strong> downloads served", "Files decided: 2", "Dependency confusion", "<td>torchtriton</td><td>internal</td><td>3.0</td>",
		"15000 OSV records in force", "/srv/malicious-packages"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("overview lacks %q", want)
		}
	}
}
