package simpleapi

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestLandingPageSaysWhatThisIsAndHowToUseIt(t *testing.T) {
	h := newHarness(t)
	resp, body := h.get("/")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	index := h.http.URL + "/simple/"
	for _, want := range []string{"verif", "index-url = " + index, `url = "` + index + `"`, "PIP_INDEX_URL=" + index,
		"UV_DEFAULT_INDEX=" + index, `href="/ui/"`, h.fake.Index.URL, "--extra-index-url"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("landing page lacks %q", want)
		}
	}
	// The host a client sends is shown back escaped.
	_, body = h.get("/", "Host", `x"><script>alert(1)</script>`)
	if strings.Contains(string(body), "<script>") {
		t.Errorf("request host not escaped:\n%s", body)
	}
	// Behind a balancer that terminates TLS (a trusted proxy saying
	// X-Forwarded-Proto: https), the address is https; anyone else's
	// header is ignored.
	host := strings.TrimPrefix(h.http.URL, "http://")
	if _, body := h.get("/", "X-Forwarded-Proto", "https"); !strings.Contains(string(body), "index-url = http://"+host+"/simple/") {
		t.Errorf("an untrusted X-Forwarded-Proto was believed:\n%s", body)
	}
	h.trusted = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	h.rebuild()
	if _, body := h.get("/", "X-Forwarded-Proto", "https"); !strings.Contains(string(body), "index-url = https://"+host+"/simple/") {
		t.Errorf("behind a trusted TLS proxy, the index is not https:\n%s", body)
	}
	// With server.public_url, that is the address shown.
	h.publicURL = "https://pypi.corp.example"
	h.rebuild()
	if _, body := h.get("/"); !strings.Contains(string(body), "index-url = https://pypi.corp.example/simple/") {
		t.Errorf("public_url not used:\n%s", body)
	}
}

func TestRefusalLinksToTheReviewPage(t *testing.T) {
	h, _, young := newGateHarness(t, nil)
	if _, body := h.get(fileURL(young)); strings.Contains(string(body), "Review page:") {
		t.Errorf("a review link without server.public_url:\n%s", body)
	}
	h.publicURL = "https://pypi.corp.example/"
	h.rebuild()
	resp, body := h.get(fileURL(young))
	want := "Review page: https://pypi.corp.example/ui/file/" + young.SHA256()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), want) {
		t.Errorf("403 body lacks %q:\n%s", want, body)
	}
}
