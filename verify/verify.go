// Package verify checks PEP 740 attestations of Python distributions with
// sigstore-go: each attestation is turned into a Sigstore bundle and verified
// against a trusted root (the transparency log's time, not the clock, judges
// the short-lived certificates), then Airlock checks what sigstore-go does
// not: exactly one subject naming the same distribution as the file, an
// allowed predicate type, and a certificate identity that matches the
// Trusted Publisher the index names. It knows nothing of HTTP or storage.
package verify

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/encoding/protojson"

	_ "embed"
)

// ErrInvalid wraps every reason an attestation or provenance does not
// verify. An invalid attestation is never the same as a missing one.
var ErrInvalid = errors.New("attestation invalid")

// MaxProvenanceBytes caps a provenance object; real ones are ~10 KiB each.
const MaxProvenanceBytes = 1 << 20

// Predicate types PyPI accepts.
const (
	PredicatePublish = "https://docs.pypi.org/attestations/publish/v1"
	PredicateSLSA    = "https://slsa.dev/provenance/v1"
)

// OIDC issuers of the Trusted Publisher kinds.
const (
	issuerGitHub = "https://token.actions.githubusercontent.com"
	issuerGitLab = "https://gitlab.com"
	issuerGoogle = "https://accounts.google.com"
)

//go:embed trusted_root.production.json
var publicGoodRoot []byte

// PublicGoodTrustedRoot is the Sigstore public-good trusted root embedded in
// the binary.
func PublicGoodTrustedRoot() []byte { return publicGoodRoot }

// Verifier verifies attestations. Build it once; it is safe for concurrent
// use.
type Verifier struct {
	sg *sgverify.Verifier
}

// Option changes how a Verifier is built.
type Option func(*[]sgverify.VerifierOption)

// WithoutSCTsUnsafe drops the requirement for a signed certificate
// timestamp. Only for test certificate authorities that issue none.
func WithoutSCTsUnsafe() Option {
	return func(opts *[]sgverify.VerifierOption) {
		*opts = (*opts)[1:] // the SCT option is first
	}
}

// NewVerifier builds a verifier for trusted material (a parsed trusted root,
// or a test CA): one SCT, one transparency log entry and one observer
// timestamp are required.
func NewVerifier(tm root.TrustedMaterial, opts ...Option) (*Verifier, error) {
	vopts := []sgverify.VerifierOption{
		sgverify.WithSignedCertificateTimestamps(1),
		sgverify.WithTransparencyLog(1),
		sgverify.WithObserverTimestamps(1),
	}
	for _, o := range opts {
		o(&vopts)
	}
	v, err := sgverify.NewVerifier(tm, vopts...)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return &Verifier{sg: v}, nil
}

// NewVerifierFromJSON builds a verifier from a trusted_root.json.
func NewVerifierFromJSON(trustedRoot []byte) (*Verifier, error) {
	tr, err := root.NewTrustedRootFromJSON(trustedRoot)
	if err != nil {
		return nil, fmt.Errorf("verify: trusted root: %w", err)
	}
	return NewVerifier(tr)
}

// Provenance is a PEP 740 provenance object.
type Provenance struct {
	Version int                 `json:"version"`
	Bundles []AttestationBundle `json:"attestation_bundles"`
}

// AttestationBundle is the attestations of one publisher.
type AttestationBundle struct {
	Publisher    Publisher         `json:"publisher"`
	Attestations []json.RawMessage `json:"attestations"`
}

// attestation is a PEP 740 attestation object.
type attestation struct {
	Version              int `json:"version"`
	VerificationMaterial struct {
		Certificate         string            `json:"certificate"`
		TransparencyEntries []json.RawMessage `json:"transparency_entries"`
		Timestamps          []string          `json:"timestamps"`
	} `json:"verification_material"`
	Envelope struct {
		Statement string `json:"statement"`
		Signature string `json:"signature"`
	} `json:"envelope"`
}

// Result is what a verified provenance says.
type Result struct {
	Publisher      Publisher `json:"publisher"`
	PublisherSpec  string    `json:"publisher_spec"`
	PredicateTypes []string  `json:"predicate_types"`
	// LogTime is the transparency log's time for the first attestation.
	LogTime time.Time `json:"log_time"`
	// Identity is what the certificate says.
	Identity Identity `json:"identity"`
}

// Identity is the verified certificate identity.
type Identity struct {
	Issuer              string `json:"issuer"`
	SubjectAltName      string `json:"san"`
	SourceRepositoryURI string `json:"source_repository_uri,omitempty"`
	BuildConfigURI      string `json:"build_config_uri,omitempty"`
	SourceRef           string `json:"source_ref,omitempty"`
	SourceDigest        string `json:"source_digest,omitempty"`
}

// ParseProvenance reads a provenance object, capped at MaxProvenanceBytes.
func ParseProvenance(data []byte) (*Provenance, error) {
	if len(data) > MaxProvenanceBytes {
		return nil, fmt.Errorf("%w: provenance is %d bytes, more than %d", ErrInvalid, len(data), MaxProvenanceBytes)
	}
	var p Provenance
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%w: provenance is not valid JSON: %v", ErrInvalid, err)
	}
	if p.Version != 1 {
		return nil, fmt.Errorf("%w: provenance version %d, want 1", ErrInvalid, p.Version)
	}
	if len(p.Bundles) == 0 {
		return nil, fmt.Errorf("%w: provenance has no attestation bundles", ErrInvalid)
	}
	for _, b := range p.Bundles {
		if err := b.Publisher.validate(); err != nil {
			return nil, fmt.Errorf("%w: attestation bundle publisher: %v", ErrInvalid, err)
		}
		if len(b.Attestations) == 0 {
			return nil, fmt.Errorf("%w: attestation bundle of %s has no attestations", ErrInvalid, b.Publisher.Spec())
		}
	}
	return &p, nil
}

// VerifyProvenance verifies every attestation in a provenance object for
// the file filename whose sha256 Airlock computed. All must verify; the
// result describes the first bundle's publisher.
func (v *Verifier) VerifyProvenance(filename, sha256hex string, data []byte) (*Result, error) {
	p, err := ParseProvenance(data)
	if err != nil {
		return nil, err
	}
	var res *Result
	for _, b := range p.Bundles {
		for i, raw := range b.Attestations {
			r, err := v.VerifyAttestation(filename, sha256hex, raw, b.Publisher)
			if err != nil {
				return nil, fmt.Errorf("attestation %d of %s: %w", i+1, b.Publisher.Spec(), err)
			}
			if res == nil {
				res = r
			} else {
				res.PredicateTypes = append(res.PredicateTypes, r.PredicateTypes...)
			}
		}
	}
	return res, nil
}

// VerifyAttestation verifies one PEP 740 attestation object against the
// file and the publisher that must have made it.
func (v *Verifier) VerifyAttestation(filename, sha256hex string, raw []byte, pub Publisher) (*Result, error) {
	if len(raw) > MaxProvenanceBytes {
		return nil, fmt.Errorf("%w: attestation larger than %d bytes", ErrInvalid, MaxProvenanceBytes)
	}
	b, err := toBundle(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return v.verifyEntity(b, filename, sha256hex, pub)
}

// toBundle turns a PEP 740 attestation into a Sigstore bundle v0.3: the leaf
// certificate, the transparency log entries (protojson, as PyPI stores
// them), RFC 3161 timestamps, and a DSSE envelope whose payload is the
// statement bytes unchanged.
func toBundle(raw []byte) (*bundle.Bundle, error) {
	var a attestation
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("attestation is not valid JSON: %v", err)
	}
	if a.Version != 1 {
		return nil, fmt.Errorf("attestation version %d, want 1", a.Version)
	}
	cert, err := base64.StdEncoding.DecodeString(a.VerificationMaterial.Certificate)
	if err != nil || len(cert) == 0 {
		return nil, errors.New("certificate is not base64 DER")
	}
	statement, err := base64.StdEncoding.DecodeString(a.Envelope.Statement)
	if err != nil || len(statement) == 0 {
		return nil, errors.New("envelope statement is not base64")
	}
	sig, err := base64.StdEncoding.DecodeString(a.Envelope.Signature)
	if err != nil || len(sig) == 0 {
		return nil, errors.New("envelope signature is not base64")
	}
	if len(a.VerificationMaterial.TransparencyEntries) == 0 {
		return nil, errors.New("no transparency log entries")
	}
	vm := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: cert}},
	}
	for i, te := range a.VerificationMaterial.TransparencyEntries {
		var entry protorekor.TransparencyLogEntry
		if err := protojson.Unmarshal(te, &entry); err != nil {
			return nil, fmt.Errorf("transparency entry %d: %v", i+1, err)
		}
		vm.TlogEntries = append(vm.TlogEntries, &entry)
	}
	if len(a.VerificationMaterial.Timestamps) > 0 {
		vm.TimestampVerificationData = &protobundle.TimestampVerificationData{}
		for _, ts := range a.VerificationMaterial.Timestamps {
			der, err := base64.StdEncoding.DecodeString(ts)
			if err != nil {
				return nil, errors.New("timestamp is not base64")
			}
			vm.TimestampVerificationData.Rfc3161Timestamps = append(vm.TimestampVerificationData.Rfc3161Timestamps,
				&protocommon.RFC3161SignedTimestamp{SignedTimestamp: der})
		}
	}
	pb := &protobundle.Bundle{
		MediaType:            "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload:     statement,
			PayloadType: "application/vnd.in-toto+json",
			Signatures:  []*protodsse.Signature{{Sig: sig}},
		}},
	}
	return bundle.NewBundle(pb)
}

// verifyEntity runs sigstore-go and then the checks it leaves to callers.
func (v *Verifier) verifyEntity(entity sgverify.SignedEntity, filename, sha256hex string, pub Publisher) (*Result, error) {
	digest, err := hex.DecodeString(sha256hex)
	if err != nil || len(digest) != 32 {
		return nil, fmt.Errorf("%w: bad sha256 %q", ErrInvalid, sha256hex)
	}
	if err := pub.validate(); err != nil {
		return nil, fmt.Errorf("%w: publisher: %v", ErrInvalid, err)
	}
	// The identity is checked below, against the publisher, with rules
	// sigstore-go's matchers cannot express (a Build Config URI at any ref).
	policy := sgverify.NewPolicy(sgverify.WithArtifactDigest("sha256", digest), sgverify.WithoutIdentitiesUnsafe())
	res, err := v.sg.Verify(entity, policy)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	st := res.Statement
	if st == nil {
		return nil, fmt.Errorf("%w: no in-toto statement", ErrInvalid)
	}
	// sigstore-go only asks whether the digest is in some subject.
	subjects := st.GetSubject()
	if len(subjects) != 1 {
		return nil, fmt.Errorf("%w: statement has %d subjects, want exactly 1", ErrInvalid, len(subjects))
	}
	if got := subjects[0].GetDigest()["sha256"]; !strings.EqualFold(got, sha256hex) {
		return nil, fmt.Errorf("%w: subject digest %s is not the file's %s", ErrInvalid, got, sha256hex)
	}
	same, err := sameDistribution(subjects[0].GetName(), filename)
	if err != nil || !same {
		return nil, fmt.Errorf("%w: subject %q does not name the distribution %q", ErrInvalid, subjects[0].GetName(), filename)
	}
	pt := st.GetPredicateType()
	if pt != PredicatePublish && pt != PredicateSLSA {
		return nil, fmt.Errorf("%w: predicate type %q is not %s or %s", ErrInvalid, pt, PredicatePublish, PredicateSLSA)
	}
	if res.Signature == nil || res.Signature.Certificate == nil {
		return nil, fmt.Errorf("%w: not signed with a certificate", ErrInvalid)
	}
	id, err := checkIdentity(*res.Signature.Certificate, pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	out := &Result{Publisher: pub, PublisherSpec: pub.Spec(), PredicateTypes: []string{pt}, Identity: id}
	for _, ts := range res.VerifiedTimestamps {
		if ts.Type == "Tlog" || out.LogTime.IsZero() {
			out.LogTime = ts.Timestamp.UTC()
		}
	}
	return out, nil
}

// checkIdentity matches the certificate to the publisher as PyPI does. The
// SAN names a reusable workflow when one is used, so GitHub is matched on
// the Build Config URI, not the SAN.
func checkIdentity(c certificate.Summary, pub Publisher) (Identity, error) {
	id := Identity{Issuer: c.Extensions.Issuer, SubjectAltName: c.SubjectAlternativeName,
		SourceRepositoryURI: c.Extensions.SourceRepositoryURI, BuildConfigURI: c.Extensions.BuildConfigURI,
		SourceRef: c.Extensions.SourceRepositoryRef, SourceDigest: c.Extensions.SourceRepositoryDigest}
	switch pub.Kind {
	case "GitHub":
		return id, checkRepoIdentity(id, issuerGitHub, "https://github.com/"+pub.Repository, "/.github/workflows/"+pub.Workflow)
	case "GitLab":
		return id, checkRepoIdentity(id, issuerGitLab, "https://gitlab.com/"+pub.Repository, "//"+pub.Workflow)
	case "Google":
		if id.Issuer != issuerGoogle {
			return id, fmt.Errorf("certificate issuer %q is not %s", id.Issuer, issuerGoogle)
		}
		if !strings.EqualFold(id.SubjectAltName, pub.Email) {
			return id, fmt.Errorf("certificate e-mail %q is not the publisher's %q", id.SubjectAltName, pub.Email)
		}
		return id, nil
	case "Email":
		if id.Issuer != pub.Issuer || !strings.EqualFold(id.SubjectAltName, pub.Email) {
			return id, fmt.Errorf("certificate identity %s from %s is not %s from %s", id.SubjectAltName, id.Issuer, pub.Email, pub.Issuer)
		}
		return id, nil
	}
	return id, fmt.Errorf("unknown publisher kind %q", pub.Kind)
}

func checkRepoIdentity(id Identity, issuer, repoURI, workflowPath string) error {
	if id.Issuer != issuer {
		return fmt.Errorf("certificate issuer %q is not %s", id.Issuer, issuer)
	}
	if !strings.EqualFold(id.SourceRepositoryURI, repoURI) {
		return fmt.Errorf("certificate source repository %q is not the publisher's %q", id.SourceRepositoryURI, repoURI)
	}
	// Build Config URI: <repo><workflow path>@<ref or digest>.
	base, ref, ok := strings.Cut(id.BuildConfigURI, "@")
	if !ok || ref == "" || !strings.EqualFold(base[:min(len(base), len(repoURI))], repoURI) || base[min(len(base), len(repoURI)):] != workflowPath {
		return fmt.Errorf("certificate build config %q is not %s%s@<ref>", id.BuildConfigURI, repoURI, workflowPath)
	}
	return nil
}
