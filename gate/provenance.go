package gate

import (
	"context"
	"errors"

	"airlock/index"
	"airlock/policy"
	"airlock/storage"
)

// ErrProvenanceInvalid: the upstream's provenance for a file does not
// verify, so it is not served.
var ErrProvenanceInvalid = errors.New("the upstream's provenance for this file did not verify")

// Provenance returns a listed file's PEP 740 provenance, verified (fetched
// and verified first if needed): clients never need another host for it.
// storage.ErrNotFound when the page does not list the file at version,
// the file has none, or attestations are off.
func (g *Gate) Provenance(ctx context.Context, project, version, filename string) ([]byte, error) {
	entry, err := g.Page(ctx, project)
	if err != nil {
		return nil, err
	}
	p := &entry.Cached.Page
	f, ok := p.Lookup(filename)
	if v, _ := index.VersionFromFilename(project, f.Filename); !ok || v != version || f.SHA256() == "" || g.opt.Attest == nil {
		return nil, storage.ErrNotFound
	}
	rec, err := g.opt.Attest.Provenance(ctx, p, f)
	if err != nil {
		return nil, err
	}
	switch rec.Status {
	case policy.AttestationMissing:
		return nil, storage.ErrNotFound
	case policy.AttestationInvalid:
		return nil, ErrProvenanceInvalid
	}
	return rec.Raw, nil
}
