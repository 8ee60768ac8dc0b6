package simpleapi

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"airlock/gate"
	"airlock/internal/fakepypi"
	"airlock/policy"
	"airlock/provenance"
	"airlock/verify"
)

var (
	verifierOnce sync.Once
	verifier     *verify.Verifier
)

func fixtureDir() string {
	if d := os.Getenv("PEP740_FIXTURES_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", "fixtures", "pep740")
}

// newAttestHarness serves abi3info 2024.10.3 (attested) and 2024.10.8
// (uploaded without provenance) through a server that checks attestations.
func newAttestHarness(t testing.TB, rules func(*policy.Rules)) (*harness, *fakepypi.Dist, *fakepypi.Dist) {
	t.Helper()
	verifierOnce.Do(func() {
		var err error
		if verifier, err = verify.NewVerifierFromJSON(verify.PublicGoodTrustedRoot()); err != nil {
			panic(err)
		}
	})
	h := newHarness(t)
	if rules != nil {
		rules(&h.rules)
	}
	h.http.Close()
	h.store.Close()
	h.open(func(o *gate.Options, fake *fakepypi.Server) {
		base, _ := url.Parse(fake.Index.URL)
		o.Attest = provenance.New(o.Upstream, base, verifier, o.Store.(provenance.Cache))
	})
	whl := filepath.Join(fixtureDir(), "abi3info-2024.10.3-py3-none-any.whl")
	attested, err := h.fake.AddFixture("abi3info", "2024.10.3", whl, whl+".provenance", uploaded)
	if err != nil {
		t.Fatal(err)
	}
	bare, err := h.fake.AddFixture("abi3info", "2024.10.8", filepath.Join(fixtureDir(), "abi3info-2024.10.8-py3-none-any.whl"), "", uploaded)
	if err != nil {
		t.Fatal(err)
	}
	return h, attested, bare
}

func TestMissingAttestationAfterAttestedReleases(t *testing.T) {
	ctx := t.Context()
	h, attested, bare := newAttestHarness(t, nil)
	_, page := h.jsonPage("abi3info")
	want := "held by Airlock: attestation missing; releases up to 2024.10.3 were attested by github:woodruffw/abi3info:release.yml (review " + bare.SHA256()[:12] + ")"
	if f := fileByName(page, bare.Filename); f == nil || f["yanked"] != want {
		t.Fatalf("unattested release: yanked = %v, want %q", f["yanked"], want)
	}
	a := fileByName(page, attested.Filename)
	if a["yanked"] != nil || a["provenance"] != "/integrity/abi3info/2024.10.3/"+attested.Filename+"/provenance" {
		t.Errorf("attested release: %v", a)
	}

	resp, body := h.get(fileURL(attested))
	if resp.StatusCode != 200 || !bytes.Equal(body, attested.Data) {
		t.Fatalf("attested release: %d", resp.StatusCode)
	}
	v, err := h.config.Quarantine.Get(ctx, attested.SHA256())
	if err != nil || v.Inputs.Attestation == nil || v.Inputs.Attestation.Publisher != "github:woodruffw/abi3info:release.yml" ||
		!strings.Contains(v.Decision.Summary(), "attested by github:woodruffw/abi3info:release.yml") ||
		v.Decision.Reasons[0].Evidence["cert_build_config_uri"] == nil {
		t.Errorf("verified identity not in the decision: %+v %v", v.Decision, err)
	}

	resp, body = h.get(fileURL(bare))
	if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Status, "403 Held by Airlock (attestation): attestation missing; releases up to 2024.10.3") {
		t.Errorf("unattested release: %s\n%s", resp.Status, body)
	}

	// The integrity endpoint serves the stored, verified provenance; the
	// upstream was asked once.
	for i := 0; i < 3; i++ {
		resp, body = h.get(a["provenance"].(string))
		prov, _ := os.ReadFile(filepath.Join(fixtureDir(), attested.Filename+".provenance"))
		if resp.StatusCode != 200 || !bytes.Equal(body, prov) || resp.Header.Get("Content-Type") != "application/vnd.pypi.integrity.v1+json" {
			t.Fatalf("integrity endpoint: %d", resp.StatusCode)
		}
	}
	if n := h.fake.Hits("/integrity/abi3info/2024.10.3/" + attested.Filename + "/provenance"); n != 1 {
		t.Errorf("provenance fetched %d times, want 1 (verification results are cached)", n)
	}
	if resp, _ := h.get("/integrity/abi3info/2024.10.8/" + bare.Filename + "/provenance"); resp.StatusCode != 404 {
		t.Errorf("provenance of an unattested file: %d", resp.StatusCode)
	}
}

func TestRequireNeverServesUnattested(t *testing.T) {
	h, _, bare := newAttestHarness(t, func(r *policy.Rules) { r.Default.RequireAttestation = policy.RequireNever })
	if resp, _ := h.get(fileURL(bare)); resp.StatusCode != 200 {
		t.Errorf("require: never: %d", resp.StatusCode)
	}
}

// TestCompromisedMirror: the upstream serves a changed file and changed the
// index hash to match. The hash check passes; the attestation does not.
func TestCompromisedMirror(t *testing.T) {
	h, attested, _ := newAttestHarness(t, nil)
	evil := append([]byte(nil), attested.Data...)
	evil[len(evil)-100] ^= 0x55
	h.fake.Replace(attested.Filename, evil)
	resp, body := h.get(fileURL(attested))
	if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Status, "403 Blocked by Airlock (attestation_invalid)") || !strings.Contains(string(body), "digest") {
		t.Fatalf("compromised mirror: %s\n%s", resp.Status, body)
	}
	_, page := h.jsonPage("abi3info")
	if fileByName(page, attested.Filename) != nil {
		t.Error("a blocked file is still listed")
	}
}

// TestIntegrityAPIFallback: an upstream whose pages do not advertise
// provenance is asked through PyPI's Integrity API path.
func TestIntegrityAPIFallback(t *testing.T) {
	h, attested, bare := newAttestHarness(t, func(r *policy.Rules) { r.Default.OnMissingUploadTime = policy.Allow })
	h.fake.SetHTMLOnly(true)
	if resp, _ := h.get(fileURL(attested)); resp.StatusCode != 200 {
		t.Fatalf("attested release: %d", resp.StatusCode)
	}
	if h.fake.Hits("/integrity/abi3info/2024.10.3/"+attested.Filename+"/provenance") != 1 {
		t.Error("the Integrity API was not asked")
	}
	resp, _ := h.get(fileURL(bare))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Status, "attestation missing") {
		t.Errorf("unattested release: %s", resp.Status)
	}
	// The page could not tell before; the stored decision now marks it.
	_, page := h.jsonPage("abi3info")
	if f := fileByName(page, bare.Filename); f == nil || !strings.Contains(f["yanked"].(string), "attestation missing") {
		t.Errorf("held file not marked after its decision: %v", f)
	}
}

// An upstream that publishes no provenance (HTML pages of API 1.0, an
// Integrity API that has nothing) leaves the attestation checks with
// nothing to act on: Airlock says so in /readyz and /metrics, and stops
// saying so once the upstream serves provenance.
func TestUpstreamWithoutProvenanceIsReported(t *testing.T) {
	h, attested, bare := newAttestHarness(t, nil)
	h.fake.SetHTMLOnly(true)
	prov := attested.Provenance
	h.fake.SetProvenance(attested, nil) // a mirror that never copied provenance
	if resp, _ := h.get(fileURL(bare)); resp.StatusCode != http.StatusOK {
		t.Fatalf("file from a provenance-less upstream: %s", resp.Status)
	}
	// The reviewer is told the check could not run, not that it passed.
	if v, err := h.config.Quarantine.Get(t.Context(), bare.SHA256()); err != nil || !hasCheck(h.gate.Checks(v), "attestation", gate.StatusCouldNotRun) {
		t.Errorf("attestation without provenance upstream reads as %+v", h.gate.Checks(v))
	}
	const warning = "warning: PEP 740 attestation checks cannot act: the upstream publishes no provenance"
	if _, body := h.get("/readyz"); !strings.Contains(string(body), warning) {
		t.Errorf("readyz does not say the check is inert:\n%s", body)
	}
	h.gate.ReportWarnings()
	if m := h.metrics(); !strings.Contains(m, `airlock_check_inert{check="attestation",reason="no_provenance_upstream"} 1`) {
		t.Errorf("metrics lack the inert check")
	}
	if n := strings.Count(h.logs.String(), "attestation checks cannot act"); n != 1 {
		t.Errorf("warned %d times, want once", n)
	}
	h.gate.ReportWarnings()
	if n := strings.Count(h.logs.String(), "attestation checks cannot act"); n != 1 {
		t.Errorf("warned %d times after a second report within the hour, want once", n)
	}

	// An upstream whose pages speak PEP 740 clears the warning.
	h.fake.SetHTMLOnly(false)
	h.fake.SetProvenance(attested, prov)
	h.advance(2 * time.Minute) // past the page's TTL
	if resp, _ := h.get("/simple/abi3info/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("page: %s", resp.Status)
	}
	if _, body := h.get("/readyz"); strings.Contains(string(body), "warning:") {
		t.Errorf("warning outlived the provenance:\n%s", body)
	}
	h.gate.ReportWarnings()
	if m := h.metrics(); strings.Contains(m, `reason="no_provenance_upstream"} 1`) {
		t.Errorf("gauge still set")
	}
}
