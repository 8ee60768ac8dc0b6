// Package verifycmd is `airlock verify`: a local distribution checked
// against its PEP 740 provenance or attestation.
package verifycmd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"airlock/cmd/proxy/internal/cli"
	"airlock/policy"
	"airlock/verify"
)

var Help = &cli.Command{Name: "verify", Summary: "Verify a local distribution against its PEP 740 provenance or attestation.",
	Usage:   "airlock verify [--provenance FILE] [--trusted-root FILE] [--publisher SPEC] DIST",
	Details: "Exit 0: verified; 1: not verified (the reason is printed); 2: bad usage.",
	Examples: []string{
		"airlock verify sampleproject-4.0.0-py3-none-any.whl",
		"airlock verify --publisher github:pypa/sampleproject:release.yml --provenance att.json sampleproject-4.0.0.tar.gz",
	}}

// Run verifies a local distribution against a PEP 740 Provenance
// object or a bare Attestation. Exit 0: verified; 1: not (with the reason);
// 2: bad usage.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlags(Help, stderr)
	provPath := fs.String("provenance", "", "Provenance object or bare Attestation `file` (default: DIST.provenance, then DIST.publish.attestation)")
	rootPath := fs.String("trusted-root", "", "trusted_root.json `file` (default: the embedded Sigstore public-good root)")
	pubSpec := fs.String("publisher", "", "expected publisher `SPEC`: github:OWNER/REPO:WORKFLOW, gitlab:PATH:WORKFLOW_FILEPATH, google:EMAIL or email:ADDRESS:ISSUER (required for a bare attestation)")
	if code, done := cli.ParseArgs(Help, fs, args, 1, stdout, stderr); done {
		return code
	}
	dist := fs.Arg(0)
	sha, err := hashFile(ctx, dist) // streamed: a distribution can be gigabytes
	if err != nil {
		fmt.Fprintf(stderr, "airlock verify: %v\n", err)
		return 2
	}
	if *provPath == "" {
		for _, cand := range []string{dist + ".provenance", dist + ".publish.attestation"} {
			if _, err := os.Stat(cand); err == nil {
				*provPath = cand
				break
			}
		}
		if *provPath == "" {
			fmt.Fprintf(stderr, "airlock verify: no --provenance given and no %s.provenance beside the file\n", dist)
			return 2
		}
	}
	prov, err := readCapped(*provPath, maxProvenanceBytes)
	if err != nil {
		fmt.Fprintf(stderr, "airlock verify: %v\n", err)
		return 2
	}
	var pub *verify.Publisher
	if *pubSpec != "" {
		p, err := verify.ParsePublisherSpec(*pubSpec)
		if err != nil {
			fmt.Fprintf(stderr, "airlock verify: --publisher: %v\n", err)
			return 2
		}
		pub = &p
	}
	rootJSON := verify.PublicGoodTrustedRoot()
	if *rootPath != "" {
		if rootJSON, err = readCapped(*rootPath, maxProvenanceBytes); err != nil {
			fmt.Fprintf(stderr, "airlock verify: %v\n", err)
			return 2
		}
	}
	v, err := verify.NewVerifierFromJSON(rootJSON)
	if err != nil {
		fmt.Fprintf(stderr, "airlock verify: %v\n", err)
		return 2
	}
	name := filepath.Base(dist)

	var shape struct {
		Bundles  json.RawMessage `json:"attestation_bundles"`
		Envelope json.RawMessage `json:"envelope"`
	}
	json.Unmarshal(prov, &shape)
	var res *verify.Result
	switch {
	case shape.Envelope != nil:
		if pub == nil {
			fmt.Fprintln(stderr, "airlock verify: a bare attestation names no publisher: give --publisher")
			return 2
		}
		res, err = v.VerifyAttestation(name, sha, prov, *pub)
	default:
		res, err = v.VerifyProvenance(name, sha, prov)
		if err == nil && pub != nil && !policy.SamePublisher(pub.Spec(), res.PublisherSpec) {
			err = fmt.Errorf("%w: attested by %s, not %s", verify.ErrInvalid, res.PublisherSpec, pub.Spec())
		}
	}
	if err != nil {
		fmt.Fprintf(stdout, "FAIL %s\n  %v\n", name, err)
		if !errors.Is(err, verify.ErrInvalid) {
			return 2
		}
		return 1
	}
	fmt.Fprintf(stdout, "OK   %s\n", name)
	fmt.Fprintf(stdout, "  sha256:          %s\n", sha)
	fmt.Fprintf(stdout, "  publisher:       %s\n", res.PublisherSpec)
	if res.Publisher.Environment != "" {
		fmt.Fprintf(stdout, "  environment:     %s\n", res.Publisher.Environment)
	}
	fmt.Fprintf(stdout, "  predicate types: %s\n", strings.Join(res.PredicateTypes, ", "))
	fmt.Fprintf(stdout, "  log time:        %s\n", res.LogTime.Format(time.RFC3339))
	fmt.Fprintf(stdout, "  certificate:     %s (issuer %s)\n", cli.FirstNonEmpty(res.Identity.BuildConfigURI, res.Identity.SubjectAltName), res.Identity.Issuer)
	return 0
}

// maxProvenanceBytes caps a provenance file or trusted root read by verify
// (the server caps provenance at 1 MiB; roots are tens of KiB).
const maxProvenanceBytes = 4 << 20

// readCapped reads a file of at most max bytes; more is an error, found
// without reading past the cap (a path like /dev/zero never ends).
func readCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, max>>20)
	}
	return data, nil
}

func hashFile(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, f}); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader stops a long read when ctx ends (Ctrl-C).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
