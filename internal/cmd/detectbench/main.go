// Command detectbench measures content inspection on both sides, as
// bench/detection.sh runs it:
//
//   - false holds: for each project in a list, the newest release older
//     than 14 days is downloaded from PyPI (every file; cached, sha256
//     checked) and inspected as the gate would: a file is held when it has
//     a critical or high finding that the previous release's file of the
//     same kind did not have, or when a limit stops its inspection.
//   - recall: every synthetic malicious shape of internal/malcorpus, as a
//     wheel and an sdist, must be held.
//
// It needs the network for the first half (PyPI only); never in tests.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"airlock/index"
	"airlock/inspect"
	"airlock/internal/malcorpus"
	"airlock/internal/procstat"
	"airlock/pep440"
)

type pypiFile struct {
	Filename string            `json:"filename"`
	URL      string            `json:"url"`
	Digests  map[string]string `json:"digests"`
	Size     int64             `json:"size"`
	Upload   time.Time         `json:"upload_time_iso_8601"`
	Yanked   bool              `json:"yanked"`
}

type release struct {
	version string
	v       pep440.Version
	files   []pypiFile
}

func main() {
	projects := flag.String("projects", "bench/detection-projects.txt", "file with one project name a line")
	cache := flag.String("cache", "bench/cache/detection", "where downloads are kept (git-ignored)")
	base := flag.String("pypi", "https://pypi.org", "index base URL")
	maxRelease := flag.Int64("max-release-bytes", 1<<30, "skip releases larger than this in total")
	workers := flag.Int("download-workers", 6, "parallel downloads")
	only := flag.String("only", "", "run one part: recall, false-holds or sdist (the sdist part reads the cache only)")
	flag.Parse()
	if err := os.MkdirAll(*cache, 0o755); err != nil {
		fail(err)
	}
	names, err := readLines(*projects)
	if err != nil {
		fail(err)
	}
	if *only == "" || *only == "recall" {
		recall()
	}
	if *only == "" || *only == "false-holds" {
		falseHolds(names, *cache, *base, *maxRelease, *workers)
	}
	if *only == "" || *only == "sdist" {
		sdistComparison(*cache)
	}
}

// recall runs the synthetic corpus through inspection.
func recall() {
	total, held := 0, 0
	var missed []string
	for _, s := range malcorpus.Shapes {
		for _, build := range s.Variants() {
			fn, data := build()
			total++
			rep, err := inspect.File(strings.NewReader(string(data)), int64(len(data)), fn, inspect.DefaultLimits())
			if err != nil || holding(rep.Findings) != nil {
				held++
				continue
			}
			missed = append(missed, s.Name+" ("+fn+")")
		}
	}
	fmt.Printf("## recall: synthetic malicious shapes (internal/malcorpus)\n  %d of %d held by the content check\n", held, total)
	for _, m := range missed {
		fmt.Printf("  missed: %s\n", m)
	}
	fmt.Println()
}

// holding returns the findings the default content policy holds on.
func holding(fs []inspect.Finding) []inspect.Finding {
	var out []inspect.Finding
	for _, f := range fs {
		if f.Severity == inspect.Critical || f.Severity == inspect.High {
			out = append(out, f)
		}
	}
	return out
}

type fileResult struct {
	project, version, file string
	bytes, inflated        int64
	err                    error // a limit or a corrupt archive: held
	held                   []inspect.Finding
	secs                   float64
}

func falseHolds(names []string, cache, base string, maxRelease int64, workers int) {
	client := &http.Client{Timeout: 5 * time.Minute}
	cutoff := time.Now().Add(-14 * 24 * time.Hour)
	type job struct {
		project string
		rel     release
		prev    *release
	}
	var jobs []job
	var skipped []string
	for _, name := range names {
		rels, err := releases(client, base, name)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s (%v)", name, err))
			continue
		}
		cur, prev := pick(rels, cutoff)
		if cur == nil {
			skipped = append(skipped, name+" (no release older than 14 days)")
			continue
		}
		var size int64
		for _, f := range cur.files {
			size += f.Size
		}
		if size > maxRelease {
			skipped = append(skipped, fmt.Sprintf("%s %s (%d MiB in %d files, over the release size cap)", name, cur.version, size>>20, len(cur.files)))
			continue
		}
		jobs = append(jobs, job{name, *cur, prev})
	}
	// Download everything first (in parallel), then time inspection alone.
	var all []pypiFile
	for _, j := range jobs {
		all = append(all, j.rel.files...)
	}
	start := time.Now()
	if err := downloadAll(client, cache, all, workers); err != nil {
		fail(err)
	}
	fmt.Printf("## false holds: newest release older than 14 days of %d projects (list: bench/detection-projects.txt)\n", len(jobs))
	fmt.Printf("  downloads ready in %.0f s (cached in %s)\n", time.Since(start).Seconds(), cache)

	var results []fileResult
	var inflated, bytes int64
	inspectStart := time.Now()
	for _, j := range jobs {
		for _, f := range j.rel.files {
			r := inspectFile(cache, j.project, j.rel.version, f)
			if len(r.held) > 0 && j.prev != nil {
				r.held = newSince(client, cache, j.project, j.rel, *j.prev, f, r.held)
			}
			results = append(results, r)
			inflated += r.inflated
			bytes += r.bytes
		}
	}
	secs := time.Since(inspectStart).Seconds()
	heldFiles, limitFiles := 0, 0
	heldProjects := map[string]bool{}
	for _, r := range results {
		switch {
		case r.err != nil:
			limitFiles++
			heldProjects[r.project] = true
			fmt.Printf("  LIMIT %s %s %s: %v\n", r.project, r.version, r.file, r.err)
		case len(r.held) > 0:
			heldFiles++
			heldProjects[r.project] = true
			for _, f := range r.held {
				fmt.Printf("  HOLD  %s %s %s: %s %s in %s:%d: %s\n", r.project, r.version, r.file, f.Severity, f.Kind, f.Path, f.Line, f.Message)
			}
		}
	}
	fmt.Printf("  %d files (%d MiB on disk, %d MiB inflated) from %d projects: %d content holds, %d limit holds, %d projects held\n",
		len(results), bytes>>20, inflated>>20, len(jobs), heldFiles, limitFiles, len(heldProjects))
	fmt.Printf("  inspection: %.1f s, %.0f files/s, %.0f MiB/s inflated\n", secs, float64(len(results))/secs, float64(inflated)/(1<<20)/secs)
	fmt.Printf("  peak RSS of the benchmark process: %s\n", procstat.PeakRSS())
	slow := append([]fileResult(nil), results...)
	sort.Slice(slow, func(a, b int) bool { return slow[a].secs > slow[b].secs })
	for _, r := range slow[:min(3, len(slow))] {
		fmt.Printf("  slowest: %s (%.2f s, %d MiB inflated)\n", r.file, r.secs, r.inflated>>20)
	}
	for _, s := range skipped {
		fmt.Printf("  skipped: %s\n", s)
	}
}

func inspectFile(cache, project, version string, f pypiFile) fileResult {
	r := fileResult{project: project, version: version, file: f.Filename, bytes: f.Size}
	fh, err := os.Open(filepath.Join(cache, f.Filename))
	if err != nil {
		r.err = err
		return r
	}
	defer fh.Close()
	t := time.Now()
	rep, err := inspect.File(fh, f.Size, f.Filename, inspect.DefaultLimits())
	r.secs = time.Since(t).Seconds()
	if err != nil {
		r.err = err
		return r
	}
	r.inflated = rep.Bytes
	r.held = holding(rep.Findings)
	return r
}

// newSince keeps the holding findings the previous release's file of the
// same kind did not have, as the gate's baseline comparison does.
func newSince(client *http.Client, cache, project string, cur, prev release, f pypiFile, held []inspect.Finding) []inspect.Finding {
	base, ok := sameKind(prev, f.Filename)
	if !ok {
		return held
	}
	if err := download(client, cache, base); err != nil {
		return held
	}
	fh, err := os.Open(filepath.Join(cache, base.Filename))
	if err != nil {
		return held
	}
	defer fh.Close()
	prevRep, err := inspect.File(fh, base.Size, base.Filename, inspect.DefaultLimits())
	if err != nil {
		return held
	}
	curRep := &inspect.Report{Findings: held, Kind: "sdist"}
	if strings.HasSuffix(f.Filename, ".whl") {
		curRep.Kind = "wheel"
	}
	return holding(inspect.Compare(project, cur.version, curRep, prev.version, prevRep).New)
}

// sameKind finds the previous release's file to compare with: a wheel with
// the same tags, any wheel, or an sdist (for an sdist: an sdist); failing
// those, a file of the other kind.
func sameKind(prev release, filename string) (pypiFile, bool) {
	wheel := strings.HasSuffix(filename, ".whl")
	tags := wheelTags(filename)
	var anyKind *pypiFile
	for i, f := range prev.files {
		if strings.HasSuffix(f.Filename, ".whl") != wheel {
			continue
		}
		if wheelTags(f.Filename) == tags {
			return f, true
		}
		if anyKind == nil {
			anyKind = &prev.files[i]
		}
	}
	if anyKind != nil {
		return *anyKind, true
	}
	// A release of the other kind only (an sdist before the first wheel):
	// compared by installed path, as the gate does.
	if len(prev.files) > 0 {
		return prev.files[0], true
	}
	return pypiFile{}, false
}

func wheelTags(filename string) string {
	parts := strings.Split(strings.TrimSuffix(filename, ".whl"), "-")
	if len(parts) < 3 {
		return ""
	}
	return strings.Join(parts[len(parts)-3:], "-")
}

func releases(client *http.Client, base, name string) ([]release, error) {
	n, err := index.Normalize(name)
	if err != nil {
		return nil, err
	}
	u := strings.TrimRight(base, "/") + "/pypi/" + n + "/json"
	resp, err := client.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s: %s", u, resp.Status)
	}
	var doc struct {
		Releases map[string][]pypiFile `json:"releases"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(&doc); err != nil {
		return nil, err
	}
	ref, _ := url.Parse(u)
	var out []release
	for ver, files := range doc.Releases {
		v, err := pep440.Parse(ver)
		if err != nil || v.IsPrerelease() || len(files) == 0 {
			continue
		}
		var live []pypiFile
		for _, f := range files {
			if f.Yanked {
				continue
			}
			if fu, err := url.Parse(f.URL); err == nil {
				f.URL = ref.ResolveReference(fu).String()
			}
			live = append(live, f)
		}
		if len(live) > 0 {
			out = append(out, release{version: ver, v: v, files: live})
		}
	}
	sort.Slice(out, func(a, b int) bool { return pep440.Compare(out[a].v, out[b].v) > 0 })
	return out, nil
}

// pick returns the newest release whose first upload is older than cutoff,
// and the release before it.
func pick(rels []release, cutoff time.Time) (*release, *release) {
	for i := range rels {
		first := rels[i].files[0].Upload
		for _, f := range rels[i].files {
			if f.Upload.Before(first) {
				first = f.Upload
			}
		}
		if first.Before(cutoff) {
			if i+1 < len(rels) {
				return &rels[i], &rels[i+1]
			}
			return &rels[i], nil
		}
	}
	return nil, nil
}

func downloadAll(client *http.Client, cache string, files []pypiFile, workers int) error {
	ch := make(chan pypiFile)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range ch {
				if err := download(client, cache, f); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, f := range files {
		ch <- f
	}
	close(ch)
	wg.Wait()
	return errors.Join(errs...)
}

// download fetches a file into the cache unless it is there with the
// right sha256; a download that does not match is not kept.
func download(client *http.Client, cache string, f pypiFile) error {
	dst := filepath.Join(cache, f.Filename)
	if sum, err := fileSHA256(dst); err == nil && sum == f.Digests["sha256"] {
		return nil
	}
	resp, err := client.Get(f.URL)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", f.Filename, resp.Status)
	}
	tmp, err := os.CreateTemp(cache, ".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), resp.Body); err != nil {
		tmp.Close()
		return err
	}
	tmp.Close()
	if got := hex.EncodeToString(h.Sum(nil)); got != f.Digests["sha256"] {
		return fmt.Errorf("%s: sha256 %s, PyPI lists %s", f.Filename, got, f.Digests["sha256"])
	}
	return os.Rename(tmp.Name(), dst)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, bufio.NewReader(f)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func readLines(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "detectbench:", err)
	os.Exit(1)
}
