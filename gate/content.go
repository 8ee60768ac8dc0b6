package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"airlock/index"
	"airlock/inspect"
	"airlock/pep440"
	"airlock/policy"
	"airlock/quarantine"
	"airlock/storage"

	"github.com/rs/zerolog"
)

// maxDiffFiles caps the file lists kept as evidence.
const maxDiffFiles = 50

// contentMemo remembers content inputs per file sha256, so warm requests
// do not decode inspection reports again.
type contentMemo struct {
	mu sync.Mutex
	m  map[string]*policy.Content
}

func (c *contentMemo) get(sha string) *policy.Content {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[sha]
}

func (c *contentMemo) put(sha string, v *policy.Content) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 4096 {
		c.m = map[string]*policy.Content{}
	}
	c.m[sha] = v
}

// contentFor inspects a stored distribution (once; remembered per sha256)
// and compares it with the baseline: the newest earlier release's file of
// the same kind that cleared the gate, downloading and verifying that one
// too if needed. A release that is held or rejected is never the baseline
// (a payload repeated in the next release must not count as "always had").
// Without a baseline, every finding counts as new.
func (g *Gate) contentFor(ctx context.Context, page *index.Page, f index.File) *policy.Content {
	if c := g.content.get(f.SHA256()); c != nil {
		return c
	}
	version, _ := index.VersionFromFilename(page.Name, f.Filename)
	ahead := g.sourceAhead(ctx, page, version, f.Filename)
	rep, err := g.inspectStored(ctx, f.SHA256(), f.Filename)
	if err != nil {
		if ahead != nil {
			<-ahead.done
		}
		return &policy.Content{Error: err.Error()} // not remembered in memory: the store has it
	}
	// Before the baseline is chosen: a file not in the source could hold
	// this one, which makes the comparison with the baseline worth its bytes.
	rep, srcNote := g.withSource(ctx, page, version, rep, ahead)
	var prev *inspect.Report
	budget := baselineChecks
	prevFile, prevVersion, ok := previousFile(page, f, func(p *index.Page, f index.File) bool {
		return g.clearedContent(ctx, p, f, g.couldHold(page.Name, rep), &budget)
	})
	note := ""
	if _, stored := g.storedFile(ctx, page.Name, prevFile); ok && !stored && !g.couldHold(page.Name, rep) {
		// The baseline only decides whether a finding is new; with none
		// that could hold the file, fetching it costs bytes and decides
		// nothing (a cold install would download every earlier release).
		ok, note = false, "not compared with "+prevVersion+": nothing found that could hold the file"
		prevVersion = "" // a finding is not "not in" a release nobody looked into
	}
	if ok {
		if _, err := g.ensureStored(ctx, page, prevFile); err == nil {
			prev, err = g.inspectStored(ctx, prevFile.SHA256(), prevFile.Filename)
			if err != nil {
				prev = nil
			}
		}
		if prev == nil {
			prevVersion = ""
		}
	}
	// Code in the wheel that is not in its repository at the tag is added
	// to the baseline's report too, so a file every release builds
	// differently is known, not new.
	if prev != nil {
		prev, _ = g.withSource(ctx, page, prevVersion, prev, nil)
	}
	if srcNote != "" {
		note = strings.TrimPrefix(note+"; "+srcNote, "; ")
	}
	d := inspect.Compare(page.Name, version, rep, prevVersion, prev)
	c := &policy.Content{PreviousVersion: d.PreviousVersion, FilesAdded: capList(d.Added), FilesRemoved: capList(d.Removed), Note: note}
	for _, fi := range d.New {
		cf := toFinding(fi)
		if prev != nil {
			g.markNewLines(ctx, page.Name, version, prevVersion, prevFile, prev, &cf)
		}
		c.New = append(c.New, cf)
	}
	for _, ep := range d.EntryPointsNew {
		if prev != nil {
			c.New = append(c.New, policy.ContentFinding{Severity: inspect.Medium, Kind: "entry-point-added", Path: "entry_points.txt", Message: "new console script " + ep})
		}
	}
	for _, ep := range d.EntryPointsChanged {
		c.New = append(c.New, policy.ContentFinding{Severity: inspect.Medium, Kind: "entry-point-changed", Path: "entry_points.txt", Message: "changed console script " + ep})
	}
	for _, fi := range d.Known {
		c.Known = append(c.Known, toFinding(fi))
	}
	if !strings.Contains(srcNote, sourceRetry) {
		g.content.put(f.SHA256(), c)
	}
	return c
}

// markNewLines tells a reviewer which lines of a new finding's code are new
// since the baseline: the lines of the excerpt that the baseline's copy of
// the file does not contain, or that the whole file is new.
func (g *Gate) markNewLines(ctx context.Context, project, version, prevVersion string, prevFile index.File, prev *inspect.Report, cf *policy.ContentFinding) {
	if cf.Line == 0 || cf.Evidence == "" || strings.Contains(cf.Path, "!/") {
		return
	}
	want := inspect.NormalizePath(cf.Path, project, version)
	member := ""
	for _, p := range prev.Files {
		if inspect.NormalizePath(p, project, prevVersion) == want {
			member = p
		}
	}
	if member == "" {
		cf.Message += " (the file is new since " + prevVersion + ")"
		return
	}
	f, err := g.opt.Store.OpenBlob(ctx, prevFile.SHA256())
	if err != nil {
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return
	}
	src, err := inspect.ReadMember(f, info.Size(), prevFile.Filename, member, g.opt.InspectLimits.MaxScanBytes)
	if err != nil {
		return
	}
	had := map[string]bool{}
	for _, l := range strings.Split(string(src), "\n") {
		had[strings.TrimSpace(l)] = true
	}
	var fresh []string
	for _, l := range strings.Split(cf.Evidence, "\n") {
		num, code, ok := strings.Cut(l, "| ")
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimLeft(num, "> ")))
		if !ok || err != nil || strings.TrimSpace(code) == "" || had[strings.TrimSpace(code)] {
			continue
		}
		fresh = append(fresh, strconv.Itoa(n))
		cf.NewLines = append(cf.NewLines, n)
	}
	if len(fresh) > 0 {
		cf.Message += " (lines new since " + prevVersion + ": " + strings.Join(fresh, ", ") + ")"
	}
}

// couldHold reports whether any finding in rep takes an action that keeps
// the file from clients under the project's rules.
func (g *Gate) couldHold(project string, rep *inspect.Report) bool {
	actions := g.rulesFor(project).ContentActions
	for _, f := range rep.Findings {
		a, ok := actions[f.Severity]
		if !ok {
			a = policy.DefaultContentActions[f.Severity]
		}
		if !a.Serves() {
			return true
		}
	}
	return false
}

func toFinding(f inspect.Finding) policy.ContentFinding {
	return policy.ContentFinding{Severity: f.Severity, Kind: f.Kind, Path: f.Path, Line: f.Line, Message: f.Message, Evidence: f.Evidence}
}

func capList(l []string) []string {
	if len(l) > maxDiffFiles {
		return append(l[:maxDiffFiles:maxDiffFiles], "…")
	}
	return l
}

// inspectStored inspects a stored blob once and remembers the outcome.
func (g *Gate) inspectStored(ctx context.Context, sha, filename string) (*inspect.Report, error) {
	// Shared, so not cut short by one caller hanging up.
	v, err, _ := g.inspections.Do(sha, func() (any, error) { return g.inspectStoredOnce(context.WithoutCancel(ctx), sha, filename) })
	if err != nil {
		return nil, err
	}
	return v.(*inspect.Report), nil
}

func (g *Gate) inspectStoredOnce(ctx context.Context, sha, filename string) (*inspect.Report, error) {
	rec, err := g.opt.Store.GetInspection(ctx, sha)
	if err == nil && rec.Rules != inspect.RulesVersion && g.opt.Store.HasBlob(ctx, sha) {
		err = storage.ErrNotFound // made by other rules: inspect again
	}
	if err == nil {
		if rec.Error != "" {
			return nil, errors.New(rec.Error)
		}
		var rep inspect.Report
		if err := json.Unmarshal(rec.Report, &rep); err != nil {
			return nil, errors.New("could not inspect: stored report unreadable")
		}
		return &rep, nil
	}
	f, err := g.opt.Store.OpenBlob(ctx, sha)
	if err != nil {
		return nil, errors.New("could not inspect: file not in the store")
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, errors.New("could not inspect: " + err.Error())
	}
	rec = storage.InspectionRecord{SHA256: sha, InspectedAt: g.opt.Now().UTC(), Rules: inspect.RulesVersion}
	lim := g.opt.InspectLimits
	memo := &analysisMemo{ctx: ctx, store: g.opt.Store, pending: map[string][]byte{}}
	lim.Memo = memo
	rep, err := inspect.File(f, info.Size(), filename, lim)
	memo.flush(g.opt.Log)
	if err != nil {
		if !errors.Is(err, inspect.ErrLimit) {
			err = errors.New("could not inspect: " + err.Error())
		}
		rec.Error = err.Error()
	} else {
		rec.Report, _ = json.Marshal(rep)
	}
	if perr := g.opt.Store.PutInspection(ctx, rec); perr != nil {
		return nil, errors.New("could not inspect: " + perr.Error())
	}
	return rep, err
}

// baselineChecks bounds how many recent releases no one decided one
// inspection downloads to look into for its baseline.
const baselineChecks = 3

// establishedAge is how long a release no one decided must have been
// public to be a baseline whatever it contains: what a project has
// shipped for three months is what it ships (setuptools'
// distutils-precedence.pth), while PyPI removes malware in days.
const establishedAge = 90 * 24 * time.Hour

// clearedContent reports whether a listed file may be a baseline: it
// cleared the gate with its content checked (a stored decision that
// serves it and had its content inspected), or, never decided so, its own
// inspection finds nothing that could hold it, or it is established
// (public for establishedAge). A page that merely lets a release through
// says nothing about its content: a payload repeated in a recent release
// no one decided must not count as "always had". fetch says whether an
// undecided release may be downloaded to look (only when the file
// compared has something that could hold it); budget bounds how many are.
// Past that, recent undecided releases are passed over for older ones.
func (g *Gate) clearedContent(ctx context.Context, page *index.Page, f index.File, fetch bool, budget *int) bool {
	v, err := g.opt.Quarantine.Get(ctx, f.SHA256())
	if err == nil {
		if !quarantine.State(v.State).Serves() {
			return false
		}
		if c := v.Inputs.Content; c != nil && c.Error == "" {
			return true
		}
	} else if l, err := g.opt.Quarantine.Listing(ctx, g.inputFor(page.Name, page.Source, f)); err != nil || !l.Show || l.Yank {
		return false
	}
	if !f.UploadTime.IsZero() && g.opt.Now().Sub(f.UploadTime) >= establishedAge {
		return true
	}
	if _, stored := g.storedFile(ctx, page.Name, f); !stored {
		if !fetch || *budget <= 0 {
			return false
		}
		*budget--
		if _, err := g.ensureStored(ctx, page, f); err != nil {
			return false
		}
	}
	rep, err := g.inspectStored(ctx, f.SHA256(), f.Filename)
	return err == nil && !g.couldHold(page.Name, rep)
}

// previousFile finds the baseline of f: the newest earlier release's file
// of the same kind (wheel with the same tags if there is one, any wheel, or
// sdist) for which cleared says yes. Candidates are asked newest first, so
// a costly cleared (an inspection) runs only until one passes.
func previousFile(page *index.Page, f index.File, cleared func(*index.Page, index.File) bool) (index.File, string, bool) {
	cur, ok := index.VersionFromFilename(page.Name, f.Filename)
	if !ok {
		return index.File{}, "", false
	}
	cv, err := pep440.Parse(cur)
	if err != nil {
		return index.File{}, "", false
	}
	wheel := strings.HasSuffix(f.Filename, ".whl")
	tags := wheelTags(f.Filename)
	type candidate struct {
		file    index.File
		v       pep440.Version
		version string
		same    bool // a wheel with the same tags
		kind    bool // the same kind (wheel or sdist)
	}
	var cands []candidate
	for _, other := range page.Files {
		if other.Yanked || other.SHA256() == "" {
			continue
		}
		v, ok := index.VersionFromFilename(page.Name, other.Filename)
		if !ok {
			continue
		}
		pv, err := pep440.Parse(v)
		if err != nil || pep440.Compare(pv, cv) >= 0 {
			continue
		}
		cands = append(cands, candidate{other, pv, v, wheelTags(other.Filename) == tags, strings.HasSuffix(other.Filename, ".whl") == wheel})
	}
	// Newest first; within a release, the same kind (a wheel with the same
	// tags first) before the other: a project whose earlier release has
	// only an sdist is compared with that sdist, by installed path.
	slices.SortStableFunc(cands, func(a, b candidate) int {
		if c := pep440.Compare(b.v, a.v); c != 0 {
			return c
		}
		if a.kind != b.kind {
			if a.kind {
				return -1
			}
			return 1
		}
		switch {
		case a.same && !b.same:
			return -1
		case b.same && !a.same:
			return 1
		}
		return 0
	})
	for _, c := range cands {
		if cleared(page, c.file) {
			return c.file, c.version, true
		}
	}
	return index.File{}, "", false
}

func wheelTags(filename string) string {
	parts := strings.Split(strings.TrimSuffix(filename, ".whl"), "-")
	if len(parts) < 3 {
		return ""
	}
	return strings.Join(parts[len(parts)-3:], "-")
}

// sourceRetry starts the note of a comparison the forge failed: the
// content is not remembered, so the next look compares again.
const sourceRetry = "source not compared (forge unreachable, tried again at the next look): "

// withSource adds to a copy of a distribution's report a finding for
// each of its Python files that the project's repository at the release's
// tag does not have with the same content. Where the repository cannot be
// read (none linked, no tag, the forge unreachable), a wheel is compared
// with its release's sdist instead: a wheel built from code that was not
// published is the same sign. The sdist stands in only then — with the
// repository at hand it adds nothing a payload could not also put in the
// sdist. note says what could not be compared, and with what instead.
func (g *Gate) withSource(ctx context.Context, page *index.Page, version string, rep *inspect.Report, ahead *sourceRead) (*inspect.Report, string) {
	if ahead != nil {
		<-ahead.done
	}
	if g.opt.Sources == nil || page.Source != "" || rep == nil || len(rep.Sources) == 0 {
		return rep, ""
	}
	var tree map[string]string
	var against, note string
	if ahead != nil {
		tree, against, note = ahead.tree, ahead.against, ahead.note
	} else {
		tree, against, note = g.sourceTree(ctx, page, version)
	}
	missing := inspect.High // a file nobody committed
	if tree == nil && rep.Kind == "wheel" {
		if sd, name := g.sdistSources(ctx, page, version); sd != nil {
			tree, against = sd, "the release's sdist "+name
			note += "; compared with " + name + " instead"
			// Builds write files no sdist has (numpy's __config__.py,
			// setuptools' .pth, meson's version files): one missing
			// from the sdist is worth a look. Code that runs must be
			// reached from a module the sdist has, which then differs.
			missing = inspect.Medium
		}
	}
	if tree == nil {
		return rep, note
	}
	out := *rep
	out.Findings = slices.Clone(rep.Findings)
	for _, d := range inspect.CompareSources(rep.Sources, tree) {
		f := inspect.Finding{Severity: inspect.High, Kind: "not-in-source", Path: d.Path,
			Message: fmt.Sprintf("differs from %s: this code is not what the source has", against)}
		if d.Missing {
			f.Severity, f.Message = missing, fmt.Sprintf("not in %s: code nobody published as source", against)
		}
		out.Findings = append(out.Findings, f)
	}
	return &out, note
}

// sourceRead is what a wheel is compared with, read while the wheel is
// inspected: the repository at the tag, or else the release's sdist,
// fetched (its inspection waits for the wheel's, whose analyses it then
// shares). The bytes are the ones the comparison needs anyway; reading
// them during the inspection takes them off the client's wait.
type sourceRead struct {
	done          chan struct{}
	tree          map[string]string
	against, note string
}

// sourceAhead starts reading what a distribution is compared with; nil
// when nothing is (an sdist is compared with the repository only, and
// read after its own inspection, which decides whether it needs to be).
func (g *Gate) sourceAhead(ctx context.Context, page *index.Page, version, filename string) *sourceRead {
	if g.opt.Sources == nil || page.Source != "" || !strings.HasSuffix(filename, ".whl") {
		return nil
	}
	r := &sourceRead{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.tree, r.against, r.note = g.sourceTree(ctx, page, version)
		if r.tree == nil {
			if sd, ok := sdistOf(page, version); ok {
				g.ensureStored(ctx, page, sd) // errors: sdistSources says so later
			}
		}
	}()
	return r
}

// sourceTree reads the repository at the release's tag; against names it
// for a finding's message, note says why it could not.
func (g *Gate) sourceTree(ctx context.Context, page *index.Page, version string) (map[string]string, string, string) {
	s := g.signalsFor(page.Source)
	if s == nil {
		return nil, "", ""
	}
	sig := s.ForRelease(ctx, page.Name, version)
	if sig != nil {
		if why, failed := sig.Unknown[policy.SourceGitHub]; failed {
			g.forgeAnswered(errors.New(why))
			return nil, "", sourceRetry + "GitHub could not be read: " + why
		}
	}
	switch {
	case sig == nil || sig.Repository == "":
		return nil, "", "source not compared: no repository linked"
	case sig.Tag == nil:
		return nil, "", "source not compared: the repository has no tag for " + version
	}
	tree, err := g.opt.Sources.Tree(ctx, sig.Repository, sig.Tag.Name)
	if errors.Is(err, inspect.ErrNoSource) {
		g.forgeAnswered(nil)
		return nil, "", "source not compared: " + err.Error()
	}
	g.forgeAnswered(err)
	if err != nil {
		return nil, "", sourceRetry + err.Error()
	}
	return tree, fmt.Sprintf("the source at %s (%s)", sig.Tag.Name, sig.Repository), ""
}

// sdistSources are the Python files of the release's sdist, downloaded
// (hash-verified like any fill) and inspected; nil when the release has
// none or it cannot be read.
func (g *Gate) sdistSources(ctx context.Context, page *index.Page, version string) (map[string]string, string) {
	f, ok := sdistOf(page, version)
	if !ok {
		return nil, ""
	}
	if _, err := g.ensureStored(ctx, page, f); err != nil {
		return nil, ""
	}
	rep, err := g.inspectStored(ctx, f.SHA256(), f.Filename)
	if err != nil || rep.Kind != "sdist" {
		return nil, ""
	}
	return rep.Sources, f.Filename
}

// sdistOf is the release's sdist on the page.
func sdistOf(page *index.Page, version string) (index.File, bool) {
	for _, f := range page.Files {
		if !strings.HasSuffix(f.Filename, ".tar.gz") && !strings.HasSuffix(f.Filename, ".zip") {
			continue
		}
		if v, ok := index.VersionFromFilename(page.Name, f.Filename); ok && v == version {
			return f, true
		}
	}
	return index.File{}, false
}

// analysisMemo keeps inspection's per-file analyses in the store, so a
// release whose files are mostly the previous one's parses only what
// changed, across restarts. Writes wait for the end of the inspection:
// one transaction, not one per file.
type analysisMemo struct {
	ctx     context.Context
	store   Store
	mu      sync.Mutex
	pending map[string][]byte
}

func (m *analysisMemo) Get(key string) ([]byte, bool) {
	v, err := m.store.GetAnalysis(m.ctx, key)
	return v, err == nil
}

func (m *analysisMemo) Put(key string, v []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending[key] = v
}

// flush writes what was remembered; a failure costs only a parse later.
func (m *analysisMemo) flush(log zerolog.Logger) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.store.PutAnalyses(m.ctx, m.pending); err != nil {
		log.Warn().Err(err).Int("analyses", len(m.pending)).Msg("inspection: could not keep the analyses (they are made again when needed)")
	}
	clear(m.pending)
}
