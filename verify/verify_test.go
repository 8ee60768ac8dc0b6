package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/testing/ca"
)

// fixtures is ../shared/fixtures/pep740 beside the repository (or
// PEP740_FIXTURES_DIR): real distributions and attestations, used as they
// are.
func fixtures(t *testing.T, name string) []byte {
	t.Helper()
	dir := os.Getenv("PEP740_FIXTURES_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "fixtures", "pep740")
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var (
	prodOnce sync.Once
	prod     *Verifier
	prodErr  error
)

func production(t *testing.T) *Verifier {
	prodOnce.Do(func() { prod, prodErr = NewVerifierFromJSON(PublicGoodTrustedRoot()) })
	if prodErr != nil {
		t.Fatal(prodErr)
	}
	return prod
}

func mustPublisher(t *testing.T, spec string) Publisher {
	p, err := ParsePublisherSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEmbeddedRootIsTheFixture(t *testing.T) {
	if string(PublicGoodTrustedRoot()) != string(fixtures(t, "trusted_root.production.json")) {
		t.Error("embedded trusted root differs from the shared production root")
	}
}

func TestFixturesVerify(t *testing.T) {
	v := production(t)
	for _, tt := range []struct{ dist, publisher string }{
		{"abi3info-2024.10.3-py3-none-any.whl", "github:woodruffw/abi3info:release.yml"},
		{"abi3info-2024.10.8-py3-none-any.whl", "github:woodruffw/abi3info:release.yml"},
		{"pypi_attestations-0.0.19.tar.gz", "github:trailofbits/pypi-attestations:release.yml"},
	} {
		t.Run(tt.dist, func(t *testing.T) {
			res, err := v.VerifyProvenance(tt.dist, digest(fixtures(t, tt.dist)), fixtures(t, tt.dist+".provenance"))
			if err != nil {
				t.Fatal(err)
			}
			if res.PublisherSpec != tt.publisher || res.PredicateTypes[0] != PredicatePublish || res.LogTime.IsZero() ||
				!strings.HasPrefix(res.Identity.BuildConfigURI, "https://github.com/") {
				t.Errorf("result: %+v", res)
			}
		})
	}
	t.Run("bare attestation, GitHub", func(t *testing.T) {
		dist := "pypi_attestations-0.0.19.tar.gz"
		res, err := v.VerifyAttestation(dist, digest(fixtures(t, dist)), fixtures(t, dist+".publish.attestation"),
			mustPublisher(t, "github:trailofbits/pypi-attestations:release.yml"))
		if err != nil || res.Identity.Issuer != issuerGitHub {
			t.Fatalf("%v %+v", err, res)
		}
	})
	t.Run("bare attestation, GitLab", func(t *testing.T) {
		dist := "gitlab_oidc_project-0.0.3.tar.gz"
		res, err := v.VerifyAttestation(dist, digest(fixtures(t, dist)), fixtures(t, dist+".publish.attestation"),
			mustPublisher(t, "gitlab:facutuesca/gitlab-oidc-project:.gitlab-ci.yml"))
		if err != nil || !strings.Contains(res.Identity.BuildConfigURI, "//.gitlab-ci.yml@") {
			t.Fatalf("%v %+v", err, res)
		}
	})
	t.Run("staging attestation against the staging root", func(t *testing.T) {
		staging, err := NewVerifierFromJSON(fixtures(t, "trusted_root.staging.json"))
		if err != nil {
			t.Fatal(err)
		}
		dist := "rfc8785-0.1.2-py3-none-any.whl"
		if _, err := staging.VerifyAttestation(dist, digest(fixtures(t, dist)), fixtures(t, dist+".publish.attestation"),
			mustPublisher(t, "email:william@yossarian.net:https://github.com/login/oauth")); err != nil {
			t.Fatal(err)
		}
	})
}

func TestNegatives(t *testing.T) {
	v := production(t)
	whl := "abi3info-2024.10.3-py3-none-any.whl"
	data, prov := fixtures(t, whl), fixtures(t, whl+".provenance")
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)/2] ^= 1

	truncated := prov[:len(prov)/2]
	oversized := append(append([]byte(nil), prov[:len(prov)-1]...), []byte(`,"pad":"`+strings.Repeat("x", MaxProvenanceBytes)+`"}`)...)
	withPublisher := func(key, value string) []byte {
		var m map[string]any
		if err := json.Unmarshal(prov, &m); err != nil {
			t.Fatal(err)
		}
		m["attestation_bundles"].([]any)[0].(map[string]any)["publisher"].(map[string]any)[key] = value
		b, _ := json.Marshal(m)
		return b
	}
	wrongPublisher, wrongWorkflow := withPublisher("repository", "attacker/abi3info"), withPublisher("workflow", "other.yml")
	staging := "rfc8785-0.1.2-py3-none-any.whl"

	for _, tt := range []struct {
		name, dist, sha string
		prov            []byte
		want            string
	}{
		{"one flipped byte in the distribution", whl, digest(flipped), prov, "digest"},
		{"provenance of another release", "abi3info-2024.10.8-py3-none-any.whl", digest(fixtures(t, "abi3info-2024.10.8-py3-none-any.whl")), prov, ""},
		{"wrong publisher repository", whl, digest(data), wrongPublisher, "source repository"},
		{"wrong publisher workflow", whl, digest(data), wrongWorkflow, "build config"},
		{"truncated provenance", whl, digest(data), truncated, "not valid JSON"},
		{"oversized provenance", whl, digest(data), oversized, "more than"},
		{"empty provenance", whl, digest(data), []byte(`{"version":1,"attestation_bundles":[]}`), "no attestation bundles"},
		{"renamed file", "abi3info-2024.10.3-py3-none-manylinux1_x86_64.whl", digest(data), prov, "does not name the distribution"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.VerifyProvenance(tt.dist, tt.sha, tt.prov)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrInvalid containing %q", err, tt.want)
			}
		})
	}
	t.Run("staging-signed attestation against the production root", func(t *testing.T) {
		_, err := v.VerifyAttestation(staging, digest(fixtures(t, staging)), fixtures(t, staging+".publish.attestation"),
			mustPublisher(t, "email:william@yossarian.net:https://github.com/login/oauth"))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "log") {
			t.Errorf("err = %v, want an unknown-log failure", err)
		}
	})
}

func TestWheelTagsInAnyOrder(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		same bool
	}{
		{"foo-1.0-py2.py3-none-any.whl", "foo-1.0-py3.py2-none-any.whl", true},
		{"Foo_Bar-1.0-py3-none-any.whl", "foo.bar-1.0-py3-none-any.whl", true},
		{"foo-1.0-py3-none-any.whl", "foo-1.0.0-py3-none-any.whl", false},
		{"foo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "foo-1.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl", true},
		{"foo-1.0-py3-none-any.whl", "foo-1.0.tar.gz", false},
		{"foo-1.0-1-py3-none-any.whl", "foo-1.0-py3-none-any.whl", false},
		{"foo-1.0rc1.tar.gz", "foo-1.0RC1.tar.gz", true},
	} {
		got, _ := sameDistribution(tt.a, tt.b)
		if got != tt.same {
			t.Errorf("sameDistribution(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

func TestPublisherSpecs(t *testing.T) {
	for _, s := range []string{"github:woodruffw/abi3info:release.yml", "gitlab:group/sub/proj:ci/release.yml", "google:me@example.com", "email:a@b.c:https://issuer.example"} {
		p, err := ParsePublisherSpec(s)
		if err != nil || p.Spec() != s {
			t.Errorf("%q: %v %q", s, err, p.Spec())
		}
	}
	for _, s := range []string{"", "github:norepo", "svn:x:y", "google:nobody", "github: a/b:w.yml"} {
		if _, err := ParsePublisherSpec(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

// minted signs statements with sigstore-go's offline test CA, for shapes no
// real fixture has.
func TestMintedStatements(t *testing.T) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(vs, WithoutSCTsUnsafe())
	if err != nil {
		t.Fatal(err)
	}
	file := "demo-1.0-py3-none-any.whl"
	sha := strings.Repeat("ab", 32)
	other := strings.Repeat("cd", 32)
	subject := func(name, d string) string { return `{"name":"` + name + `","digest":{"sha256":"` + d + `"}}` }
	statement := func(subjects, predicate string) []byte {
		return []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[` + subjects + `],"predicateType":"` + predicate + `","predicate":{}}`)
	}
	const iss = "https://token.actions.githubusercontent.com"
	pub := Publisher{Kind: "Google", Email: "release@example.com"}
	for _, tt := range []struct {
		name string
		st   []byte
		want string // "" means it verifies
		pub  Publisher
		iss  string
		san  string
	}{
		{"valid", statement(subject(file, sha), PredicatePublish), "", pub, issuerGoogle, pub.Email},
		{"slsa predicate", statement(subject(file, sha), PredicateSLSA), "", pub, issuerGoogle, pub.Email},
		{"zero subjects", statement("", PredicatePublish), "digest", pub, issuerGoogle, pub.Email},
		{"two subjects", statement(subject(file, sha)+","+subject("demo-1.0.tar.gz", other), PredicatePublish), "2 subjects", pub, issuerGoogle, pub.Email},
		{"wrong predicate type", statement(subject(file, sha), "https://example.com/custom/v1"), "predicate type", pub, issuerGoogle, pub.Email},
		{"other distribution's name", statement(subject("evil-1.0-py3-none-any.whl", sha), PredicatePublish), "does not name", pub, issuerGoogle, pub.Email},
		{"wrong e-mail", statement(subject(file, sha), PredicatePublish), "e-mail", pub, issuerGoogle, "attacker@example.com"},
		{"wrong issuer", statement(subject(file, sha), PredicatePublish), "issuer", pub, iss, pub.Email},
	} {
		t.Run(tt.name, func(t *testing.T) {
			entity, err := vs.Attest(tt.san, tt.iss, tt.st)
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.verifyEntity(entity, file, sha, tt.pub)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("valid statement failed: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrInvalid containing %q", err, tt.want)
			}
		})
	}
}

// TestRekorV2Entry: sigstore-go v1.3.0 verifies Rekor v2 (tiles) entries,
// so such attestations are verified, not refused.
func TestRekorV2Entry(t *testing.T) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(vs, WithoutSCTsUnsafe())
	if err != nil {
		t.Fatal(err)
	}
	file, sha := "demo-1.0.tar.gz", strings.Repeat("ef", 32)
	st := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"` + file + `","digest":{"sha256":"` + sha + `"}}],"predicateType":"` + PredicatePublish + `","predicate":{}}`)
	entity, err := vs.AttestHashedRekordV2("release@example.com", issuerGoogle, st)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := entity.TlogEntries()
	if len(entries) != 1 || !entries[0].IsRekorV2() {
		t.Fatal("test CA did not make a Rekor v2 entry")
	}
	if _, err := v.verifyEntity(entity, file, sha, Publisher{Kind: "Google", Email: "release@example.com"}); err != nil {
		t.Errorf("Rekor v2 entry: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	v := production(t)
	whl := "abi3info-2024.10.3-py3-none-any.whl"
	data, prov := fixtures(t, whl), fixtures(t, whl+".provenance")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.VerifyProvenance(whl, digest(data), prov); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// FuzzVerifyAttestation: whatever the upstream sends as an attestation, the
// verifier returns an error or a result, never a panic, and a changed
// statement never verifies for the original file.
func FuzzVerifyAttestation(f *testing.F) {
	dir := os.Getenv("PEP740_FIXTURES_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "fixtures", "pep740")
	}
	seed, err := os.ReadFile(filepath.Join(dir, "pypi_attestations-0.0.19.tar.gz.publish.attestation"))
	if err != nil {
		f.Fatal(err)
	}
	dist, _ := os.ReadFile(filepath.Join(dir, "pypi_attestations-0.0.19.tar.gz"))
	f.Add(seed)
	f.Add([]byte(`{"version":1,"verification_material":{"certificate":"AA==","transparency_entries":[{}]},"envelope":{"statement":"e30=","signature":"AA=="}}`))
	v, err := NewVerifierFromJSON(PublicGoodTrustedRoot())
	if err != nil {
		f.Fatal(err)
	}
	pub := Publisher{Kind: "GitHub", Repository: "trailofbits/pypi-attestations", Workflow: "release.yml"}
	f.Fuzz(func(t *testing.T, raw []byte) {
		res, err := v.VerifyAttestation("pypi_attestations-0.0.19.tar.gz", digest(dist), raw, pub)
		if err == nil && res == nil {
			t.Fatal("no error and no result")
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error not classified as invalid: %v", err)
		}
	})
}

func FuzzParseProvenance(f *testing.F) {
	f.Add([]byte(`{"version":1,"attestation_bundles":[{"publisher":{"kind":"GitHub","repository":"a/b","workflow":"w.yml"},"attestations":[{}]}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := ParseProvenance(raw)
		if err != nil {
			return
		}
		if len(p.Bundles) == 0 {
			t.Fatal("accepted a provenance without bundles")
		}
		for _, b := range p.Bundles {
			if b.Publisher.validate() != nil || len(b.Attestations) == 0 {
				t.Fatalf("accepted a bad bundle: %+v", b)
			}
		}
	})
}
