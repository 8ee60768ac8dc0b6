// Package provenance gathers the attestation inputs of the policy: it finds a
// file's PEP 740 provenance (the page's provenance URL, or PyPI's Integrity
// API), verifies it once with the verifier built at start-up, remembers the
// outcome per file sha256, and finds the newest earlier release that was
// attested. Fetch failures are errors (the gate then holds the file);
// a 404 is "missing"; a provenance that does not verify is "invalid".
package provenance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"golang.org/x/sync/singleflight"

	"airlock/index"
	"airlock/pep440"
	"airlock/policy"
	"airlock/storage"
	"airlock/upstream"
	"airlock/verify"
)

// Cache remembers verification outcomes. *storage.Store is one; nil is
// allowed (the check command has no store).
type Cache interface {
	GetProvenance(ctx context.Context, sha string) (storage.ProvenanceRecord, error)
	PutProvenance(ctx context.Context, rec storage.ProvenanceRecord) error
}

var _ Cache = (*storage.Store)(nil)

// Fetcher gets provenance bytes; *upstream.Client is one.
type Fetcher interface {
	FetchProvenance(ctx context.Context, rawURL string, max int64) ([]byte, error)
}

// Gatherer is safe for concurrent use.
type Gatherer struct {
	fetch    Fetcher
	base     *url.URL // upstream base, for the Integrity API
	verifier *verify.Verifier
	cache    Cache
	now      func() time.Time
	group    singleflight.Group

	// Outcomes are immutable per sha256, and a prior lookup per page and
	// version: memos spare warm requests the decoding.
	mu   sync.Mutex
	memo map[string]*policy.Attestation
	// pages holds each live page's release index. The keys are weak and an
	// index is dropped when its page is collected, so an index never keeps
	// a page alive: a 200,000-file page lives only as long as the page
	// cache or a request holds it.
	pages map[weak.Pointer[index.Page]]*pageIndex
	// answered counts provenance documents the upstream served: proof
	// that it publishes PEP 740 provenance at all.
	answered atomic.Int64
}

// pageIndex is a page's releases in PEP 440 order, built once per page and
// kept for the most recent pages, with the prior found for each version.
type pageIndex struct {
	releases []release // ascending
	// files are the releases' files as positions in the page's Files,
	// release by release: one slice for the page rather than one per
	// release, and no copies of the files (a huge page would cost twice).
	files  []int32
	priors map[string]*policy.PriorAttestation
	// withProv[i] is the nearest release at or before i with a file that
	// may have provenance (-1: none), so walking back over a long history
	// of unattested releases costs nothing per release.
	withProv []int32
}

// release is one version's files: files[first : first+n] of its index.
type release struct {
	v        pep440.Version
	first, n int32
}

func (idx *pageIndex) filesOf(r release) []int32 { return idx.files[r.first : r.first+r.n] }

const memoMax = 8192

// New builds a Gatherer. cache may be nil.
func New(fetch Fetcher, base *url.URL, verifier *verify.Verifier, cache Cache) *Gatherer {
	return &Gatherer{fetch: fetch, base: base, verifier: verifier, cache: cache, now: time.Now}
}

// maxPriorLookups bounds how many earlier releases are fetched when the
// index does not say which files have provenance.
const maxPriorLookups = 3

// ForFile returns what is known of the attestation of a file whose bytes
// hash to sha256 (as Airlock computed them).
func (g *Gatherer) ForFile(ctx context.Context, page *index.Page, f index.File) (*policy.Attestation, error) {
	g.mu.Lock()
	a, ok := g.memo[f.SHA256()]
	g.mu.Unlock()
	if ok {
		return a, nil
	}
	rec, err := g.record(ctx, page, f)
	if err != nil {
		return nil, err
	}
	a = toPolicy(rec)
	g.mu.Lock()
	if g.memo == nil || len(g.memo) >= memoMax {
		g.memo = map[string]*policy.Attestation{}
	}
	g.memo[f.SHA256()] = a
	g.mu.Unlock()
	return a, nil
}

// Provenance returns the stored provenance record of a file, gathering it
// first if needed.
func (g *Gatherer) Provenance(ctx context.Context, page *index.Page, f index.File) (storage.ProvenanceRecord, error) {
	return g.record(ctx, page, f)
}

func (g *Gatherer) record(ctx context.Context, page *index.Page, f index.File) (storage.ProvenanceRecord, error) {
	sha := f.SHA256()
	if sha == "" {
		return storage.ProvenanceRecord{}, errors.New("file lists no sha256")
	}
	if page.SaysNoProvenance(f) {
		// The index speaks PEP 740 and lists none: nothing to fetch.
		return storage.ProvenanceRecord{SHA256: sha, Status: policy.AttestationMissing, CheckedAt: g.now().UTC()}, nil
	}
	if g.cache != nil {
		if rec, err := g.cache.GetProvenance(ctx, sha); err == nil {
			return rec, nil
		} else if !errors.Is(err, storage.ErrNotFound) {
			return storage.ProvenanceRecord{}, err
		}
	}
	// One fetch per file however many ask; it outlives a caller hanging up.
	v, err, _ := g.group.Do(sha, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return g.fetchAndVerify(fctx, page.Name, f)
	})
	if err != nil {
		return storage.ProvenanceRecord{}, err
	}
	return v.(storage.ProvenanceRecord), nil
}

func (g *Gatherer) fetchAndVerify(ctx context.Context, project string, f index.File) (storage.ProvenanceRecord, error) {
	src := f.Provenance
	if src == "" {
		version, ok := index.VersionFromFilename(project, f.Filename)
		if !ok {
			return storage.ProvenanceRecord{}, fmt.Errorf("cannot tell the version of %s", f.Filename)
		}
		src = g.base.JoinPath("integrity", project, version, f.Filename, "provenance").String()
	}
	rec := storage.ProvenanceRecord{SHA256: f.SHA256(), SourceURL: src, CheckedAt: g.now().UTC()}
	raw, err := g.fetch.FetchProvenance(ctx, src, verify.MaxProvenanceBytes)
	if err == nil {
		g.answered.Add(1)
	}
	switch {
	case errors.Is(err, upstream.ErrNotFound):
		rec.Status = policy.AttestationMissing
	case errors.Is(err, upstream.ErrTooLarge):
		rec.Status, rec.Error = policy.AttestationInvalid, "provenance larger than the size limit"
	case err != nil:
		return storage.ProvenanceRecord{}, fmt.Errorf("fetching provenance: %w", err)
	default:
		rec.Raw = raw
		res, verr := g.verifier.VerifyProvenance(f.Filename, f.SHA256(), raw)
		if verr != nil {
			rec.Status, rec.Error = policy.AttestationInvalid, verr.Error()
		} else {
			rec.Status = policy.AttestationVerified
			rec.Result, _ = json.Marshal(res)
		}
	}
	if g.cache != nil {
		if err := g.cache.PutProvenance(ctx, rec); err != nil {
			return storage.ProvenanceRecord{}, err
		}
	}
	return rec, nil
}

func toPolicy(rec storage.ProvenanceRecord) *policy.Attestation {
	a := &policy.Attestation{Status: rec.Status, Error: rec.Error}
	if rec.Status == policy.AttestationVerified {
		var res verify.Result
		if err := json.Unmarshal(rec.Result, &res); err != nil {
			return &policy.Attestation{Status: policy.AttestationInvalid, Error: "stored verification result unreadable"}
		}
		a.Publisher, a.Environment, a.PredicateTypes, a.LogTime = res.PublisherSpec, res.Publisher.Environment, res.PredicateTypes, res.LogTime
		a.Identity = map[string]string{"issuer": res.Identity.Issuer, "san": res.Identity.SubjectAltName}
		if res.Identity.BuildConfigURI != "" {
			a.Identity["build_config_uri"] = res.Identity.BuildConfigURI
			a.Identity["source_repository_uri"] = res.Identity.SourceRepositoryURI
		}
	}
	return a
}

// Prior finds the newest release before version whose files were attested,
// and by whom. Releases whose files are all yanked upstream are skipped.
func (g *Gatherer) Prior(ctx context.Context, page *index.Page, version string) (*policy.PriorAttestation, error) {
	cur, err := pep440.Parse(version)
	if err != nil {
		return nil, nil // an unparseable version has no "before"
	}
	idx := g.indexOf(page)
	g.mu.Lock()
	p, ok := idx.priors[version]
	g.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err = g.walk(ctx, page, idx, cur)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	idx.priors[version] = p
	g.mu.Unlock()
	return p, nil
}

// indexOf returns the page's release index, building it once per page.
func (g *Gatherer) indexOf(page *index.Page) *pageIndex {
	key := weak.Make(page)
	g.mu.Lock()
	idx, ok := g.pages[key]
	g.mu.Unlock()
	if ok {
		return idx
	}
	idx = buildIndex(page)
	g.mu.Lock()
	defer g.mu.Unlock()
	if prev, ok := g.pages[key]; ok {
		return prev // built concurrently
	}
	if g.pages == nil {
		g.pages = map[weak.Pointer[index.Page]]*pageIndex{}
	}
	g.pages[key] = idx
	runtime.AddCleanup(page, func(k weak.Pointer[index.Page]) {
		g.mu.Lock()
		delete(g.pages, k)
		g.mu.Unlock()
	}, key)
	return idx
}

// ProvenanceServed reports how many provenance documents the upstream has
// served since start.
func (g *Gatherer) ProvenanceServed() int64 { return g.answered.Load() }

// indexedPages reports how many page indexes are alive (for tests).
func (g *Gatherer) indexedPages() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pages)
}

func buildIndex(page *index.Page) *pageIndex {
	// Each file starts as a release of its own (first is then the file's
	// position); sorted by version, the files of one version are merged
	// in place. No map by version: a 199,000-version page's map and its
	// keys cost more than the index itself.
	rels := make([]release, 0, len(page.Files))
	for i, f := range page.Files {
		raw, ok := index.VersionFromFilename(page.Name, f.Filename)
		if !ok || f.Yanked || f.SHA256() == "" {
			continue
		}
		pv, err := pep440.Parse(raw)
		if err != nil {
			continue
		}
		rels = append(rels, release{v: pv, first: int32(i), n: 1})
	}
	slices.SortStableFunc(rels, func(a, b release) int { return pep440.Compare(a.v, b.v) }) // page order within a version
	idx := &pageIndex{priors: map[string]*policy.PriorAttestation{}, files: make([]int32, len(rels))}
	k := -1
	for i, r := range rels {
		idx.files[i] = r.first
		if k >= 0 && pep440.Compare(rels[k].v, r.v) == 0 {
			rels[k].n++
			continue
		}
		k++
		rels[k] = release{v: r.v, first: int32(i), n: 1}
	}
	idx.releases = rels[:k+1]
	if cap(idx.releases) > 2*len(idx.releases) {
		idx.releases = slices.Clone(idx.releases) // many files per release: drop the spare room
	}
	idx.withProv = make([]int32, len(idx.releases))
	last := int32(-1)
	for i, r := range idx.releases {
		for _, fi := range idx.filesOf(r) {
			if !page.SaysNoProvenance(page.Files[fi]) {
				last = int32(i)
				break
			}
		}
		idx.withProv[i] = last
	}
	return idx
}

// rawVersion is a release's version as its first file's name spells it.
func rawVersion(page *index.Page, idx *pageIndex, r release) string {
	raw, _ := index.VersionFromFilename(page.Name, page.Files[idx.files[r.first]].Filename)
	return raw
}

// walk goes back from the release before cur to the first attested one.
func (g *Gatherer) walk(ctx context.Context, page *index.Page, idx *pageIndex, cur pep440.Version) (*policy.PriorAttestation, error) {
	i := sort.Search(len(idx.releases), func(i int) bool { return pep440.Compare(idx.releases[i].v, cur) >= 0 })
	lookups := 0
	for i--; i >= 0; i-- {
		if i = int(idx.withProv[i]); i < 0 {
			break // no earlier release lists provenance
		}
		r := idx.releases[i]
		for _, fi := range idx.filesOf(r) {
			f := page.Files[fi]
			if page.SaysNoProvenance(f) {
				continue
			}
			if !page.ProvenanceKnown {
				if lookups >= maxPriorLookups {
					return nil, nil
				}
				lookups++
			}
			rec, err := g.record(ctx, page, f)
			if err != nil {
				return nil, fmt.Errorf("provenance of earlier release %s: %w", rawVersion(page, idx, r), err)
			}
			if rec.Status == policy.AttestationVerified {
				return &policy.PriorAttestation{Version: rawVersion(page, idx, r), Publisher: toPolicy(rec).Publisher}, nil
			}
			if !page.ProvenanceKnown {
				break // one file tells whether a release was attested
			}
		}
	}
	return nil, nil
}

// Fill adds a file's attestation and the newest earlier attested release
// to its policy inputs. A failure is recorded in the inputs, where it holds
// the file.
func (g *Gatherer) Fill(ctx context.Context, page *index.Page, f index.File, in *policy.Input) {
	att, err := g.ForFile(ctx, page, f)
	if err != nil {
		in.GatherErrors = append(in.GatherErrors, "attestation: "+err.Error())
	}
	in.Attestation = att
	prior, err := g.Prior(ctx, page, in.Version)
	if err != nil {
		in.GatherErrors = append(in.GatherErrors, "earlier attestations: "+err.Error())
	}
	in.Prior = prior
}
