package simpleapi

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"airlock/index"
	"airlock/inspect"
	"airlock/pep440"
	"airlock/policy"
	"airlock/storage"
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
// and compares it with the previous release's file of the same kind,
// downloading and verifying that one too if needed. Without a previous
// release to compare with, every finding counts as new.
func (s *Server) contentFor(ctx context.Context, page *index.Page, f index.File) *policy.Content {
	if c := s.content.get(f.SHA256()); c != nil {
		return c
	}
	rep, err := s.inspectStored(f.SHA256(), f.Filename)
	if err != nil {
		return &policy.Content{Error: err.Error()} // not remembered in memory: the store has it
	}
	version, _ := index.VersionFromFilename(page.Name, f.Filename)
	var prev *inspect.Report
	prevFile, prevVersion, ok := previousFile(page, f)
	if ok {
		if _, err := s.ensureStored(ctx, page, prevFile); err == nil {
			prev, err = s.inspectStored(prevFile.SHA256(), prevFile.Filename)
			if err != nil {
				prev = nil
			}
		}
		if prev == nil {
			prevVersion = ""
		}
	}
	d := inspect.Compare(page.Name, version, rep, prevVersion, prev)
	c := &policy.Content{PreviousVersion: d.PreviousVersion, FilesAdded: capList(d.Added), FilesRemoved: capList(d.Removed)}
	for _, fi := range d.New {
		c.New = append(c.New, toFinding(fi))
	}
	for _, ep := range d.EntryPointsNew {
		if prev != nil {
			c.New = append(c.New, policy.ContentFinding{Severity: inspect.Medium, Kind: "entry-point-added", Path: "entry_points.txt", Message: "new console script " + ep})
		}
	}
	for _, fi := range d.Known {
		c.Known = append(c.Known, toFinding(fi))
	}
	s.content.put(f.SHA256(), c)
	return c
}

func toFinding(f inspect.Finding) policy.ContentFinding {
	return policy.ContentFinding{Severity: f.Severity, Kind: f.Kind, Path: f.Path, Message: f.Message, Evidence: f.Evidence}
}

func capList(l []string) []string {
	if len(l) > maxDiffFiles {
		return append(l[:maxDiffFiles:maxDiffFiles], "…")
	}
	return l
}

// inspectStored inspects a stored blob once and remembers the outcome.
func (s *Server) inspectStored(sha, filename string) (*inspect.Report, error) {
	if rec, err := s.opt.Store.GetInspection(sha); err == nil {
		if rec.Error != "" {
			return nil, errors.New(rec.Error)
		}
		var rep inspect.Report
		if err := json.Unmarshal(rec.Report, &rep); err != nil {
			return nil, errors.New("could not inspect: stored report unreadable")
		}
		return &rep, nil
	}
	f, err := s.opt.Store.OpenBlob(sha)
	if err != nil {
		return nil, errors.New("could not inspect: file not in the store")
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, errors.New("could not inspect: " + err.Error())
	}
	rec := storage.InspectionRecord{SHA256: sha, InspectedAt: s.opt.Now().UTC()}
	rep, err := inspect.File(f, info.Size(), filename, s.opt.InspectLimits)
	if err != nil {
		if !errors.Is(err, inspect.ErrLimit) {
			err = errors.New("could not inspect: " + err.Error())
		}
		rec.Error = err.Error()
	} else {
		rec.Report, _ = json.Marshal(rep)
	}
	if perr := s.opt.Store.PutInspection(rec); perr != nil {
		return nil, errors.New("could not inspect: " + perr.Error())
	}
	return rep, err
}

// ensureStored makes sure a listed file is in the store (a verified fill).
func (s *Server) ensureStored(ctx context.Context, page *index.Page, f index.File) (storage.FileRecord, error) {
	if rec, err := s.opt.Store.GetFile(page.Name, f.Filename); err == nil && rec.SHA256 == f.SHA256() && s.opt.Store.HasBlob(rec.SHA256) {
		return rec, nil
	}
	t, err := s.targetFor(page, f.Filename, false)
	if err != nil {
		return storage.FileRecord{}, err
	}
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return s.fillShared(fctx, t)
}

// previousFile finds the newest earlier release's file of the same kind
// (wheel with the same tags if there is one, any wheel, or sdist).
func previousFile(page *index.Page, f index.File) (index.File, string, bool) {
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
	var best index.File
	var bestV pep440.Version
	bestVersion, bestSameTags := "", false
	for _, g := range page.Files {
		if g.Yanked || g.SHA256() == "" || strings.HasSuffix(g.Filename, ".whl") != wheel {
			continue
		}
		v, ok := index.VersionFromFilename(page.Name, g.Filename)
		if !ok {
			continue
		}
		pv, err := pep440.Parse(v)
		if err != nil || pep440.Compare(pv, cv) >= 0 {
			continue
		}
		same := wheelTags(g.Filename) == tags
		c := 1
		if bestVersion != "" {
			c = pep440.Compare(pv, bestV)
		}
		if c > 0 || (c == 0 && same && !bestSameTags) {
			best, bestV, bestVersion, bestSameTags = g, pv, v, same
		}
	}
	return best, bestVersion, bestVersion != ""
}

func wheelTags(filename string) string {
	parts := strings.Split(strings.TrimSuffix(filename, ".whl"), "-")
	if len(parts) < 3 {
		return ""
	}
	return strings.Join(parts[len(parts)-3:], "-")
}

// prefetchNewest decides the newest release's files before a page lists
// them, so that a resolver never picks a release the gate would refuse: a
// held release is then shown as yanked and `pip install pkg` gets the one
// before. Only files without a decision are fetched, within
// PrefetchMaxBytes for the release; errors leave the file undecided (its
// download decides it then).
func (s *Server) prefetchNewest(ctx context.Context, page *index.Page) {
	if s.opt.PrefetchMaxBytes <= 0 {
		return
	}
	var newest pep440.Version
	newestRaw := ""
	for _, f := range page.Files {
		v, ok := index.VersionFromFilename(page.Name, f.Filename)
		if !ok || f.Yanked || f.SHA256() == "" {
			continue
		}
		pv, err := pep440.Parse(v)
		if err != nil || pv.IsPrerelease() {
			continue
		}
		if newestRaw == "" || pep440.Compare(pv, newest) > 0 {
			newest, newestRaw = pv, v
		}
	}
	if newestRaw == "" {
		return
	}
	var todo []index.File
	var total int64
	for _, f := range page.Files {
		if v, _ := index.VersionFromFilename(page.Name, f.Filename); v != newestRaw || f.Yanked || f.SHA256() == "" {
			continue
		}
		if _, err := s.opt.Quarantine.Get(f.SHA256()); err == nil {
			continue // decided already
		}
		if f.Size < 0 {
			return // unknown sizes: do not risk an unbounded prefetch
		}
		total += f.Size
		todo = append(todo, f)
	}
	if len(todo) == 0 || total > s.opt.PrefetchMaxBytes {
		return
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	for _, f := range todo {
		if _, err := s.ensureStored(pctx, page, f); err != nil {
			// Left undecided: the file's own download decides it later.
			logFrom(ctx).Warn().Err(err).Str("file", f.Filename).Msg("prefetch of the newest release failed")
			continue
		}
		if _, err := s.decideListed(pctx, page, f, true); err != nil {
			logFrom(ctx).Warn().Err(err).Str("file", f.Filename).Msg("prefetch decision failed")
		}
	}
}
