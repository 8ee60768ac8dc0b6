package gate

import (
	"context"

	"airlock/index"
	"airlock/policy"
	"airlock/storage"
)

// The gate's collaborators that gather evidence, each behind what the
// decisions need of it; the command hands in the real ones.

// Attestations gathers PEP 740 inputs (provenance.Gatherer).
type Attestations interface {
	// ForFile is the file's attestation, verified once and remembered.
	ForFile(ctx context.Context, page *index.Page, f index.File) (*policy.Attestation, error)
	// Prior is the newest release before version that was attested.
	Prior(ctx context.Context, page *index.Page, version string) (*policy.PriorAttestation, error)
	// Provenance is the file's provenance as served to clients (PEP 740).
	Provenance(ctx context.Context, page *index.Page, f index.File) (storage.ProvenanceRecord, error)
	// ProvenanceServed counts provenance the upstream has answered with.
	ProvenanceServed() int64
}

// Behaviour gathers a project's behavioural inputs (signals.Assessor).
type Behaviour interface {
	ForRelease(ctx context.Context, project, version string) *policy.Signals
	// Reassess asks the sources again instead of using recent answers.
	Reassess(ctx context.Context, project, version string) *policy.Signals
	// Warnings names the sources that are failing.
	Warnings() []policy.Warning
}

// Advisories are the advisory records in force (advisories.Feed).
type Advisories interface {
	// For lists the records naming a file (by sha256 only when project
	// and version are empty) and whether the list may be incomplete.
	For(project, version, sha string) (matched []policy.Advisory, partial bool)
	// Targets are the releases and sha256s a record names.
	Targets(id string) (releases [][2]string, sha256s []string, ok bool)
	// Warnings names the sources whose records are not a fresh read.
	Warnings() []policy.Warning
}

// SourceTrees read a repository's files at a tag (sourcecmp.Fetcher), as
// inspect.CompareSources reads them; an error that is an
// inspect.ErrNoSource means the forge answered that it has none.
type SourceTrees interface {
	Tree(ctx context.Context, ownerRepo, tag string) (map[string]string, error)
}

// Platforms are the platforms this deployment's clients install for
// (platforms.Seen): the background checks a cooling release's files that
// fit one of them only.
type Platforms interface {
	// Saw records a request's User-Agent; true when its platform is new.
	Saw(userAgent string) bool
	// Fits reports whether some known client could install the file.
	Fits(filename string) bool
	// Choose is the file of a release the client would install (-1: none).
	Choose(userAgent string, filenames []string) int
}
