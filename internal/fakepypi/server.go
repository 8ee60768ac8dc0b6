// Package fakepypi is a local stand-in for PyPI used by tests and benchmarks:
// the simple API in JSON and HTML, the JSON API, the Integrity API and a
// separate file host, serving generated wheels and sdists and real fixtures,
// with per-path hit counters and injectable faults.
package fakepypi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Dist is one file the fake serves.
type Dist struct {
	Project        string // normalized
	Version        string
	Filename       string
	Data           []byte
	Metadata       []byte // PEP 658 metadata; nil when not offered
	UploadTime     time.Time
	RequiresPython string
	Yanked         string // reason; "-" for yanked without reason; "" not yanked
	Provenance     []byte // PEP 740 provenance object; nil when none
	// NoHash lists the file without any hash.
	NoHash bool
}

// SHA256 is the hex digest of the file's bytes, remembered per Dist while
// its bytes stay the same (pages of hundreds of 1 MiB files are served in
// benchmarks).
func (d *Dist) SHA256() string {
	key := sumKey{n: len(d.Data)}
	if len(d.Data) > 0 {
		key.first = &d.Data[0]
	}
	if v, ok := sums.Load(d); ok && v.(sumEntry).key == key {
		return v.(sumEntry).sum
	}
	sum := hexSum(d.Data)
	sums.Store(d, sumEntry{key, sum})
	return sum
}

type sumKey struct {
	n     int
	first *byte
}

type sumEntry struct {
	key sumKey
	sum string
}

var sums sync.Map // *Dist -> sumEntry

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Fault is injected on requests whose path matches.
type Fault struct {
	Status    int           // answer with this status
	Delay     time.Duration // sleep before answering
	Truncate  bool          // send half the body, then close the connection
	Reset     bool          // close the connection without answering
	Garbage   bool          // answer 200 with a malformed body
	WrongBody []byte        // serve these bytes instead of the real ones
	// Throttle sends the body in 64 KiB chunks with this pause between them.
	Throttle time.Duration
	// Header is added to the answer (with Status: rate-limit headers).
	Header map[string]string
}

// Server is the fake. Index serves /simple/, /pypi/ and /integrity/; Files
// serves the distribution files from another host.
type Server struct {
	Index  *httptest.Server
	Files  *httptest.Server
	Stats  *httptest.Server // pypistats
	GitHub *httptest.Server // GitHub REST API

	mu       sync.Mutex
	dists    map[string][]*Dist // project -> files
	faults   map[string]Fault   // path (or "*") -> fault
	hits     map[string]int
	htmlOnly bool
	stopped  bool
	// user and password, when set, are required on the index (basic auth).
	user, password string
	noJSONAPI      bool

	meta      map[string]ProjectMeta
	downloads map[string][3]int64
	repos     map[string]*Repo

	pace      Pace
	fileBytes atomic.Int64
}

// New starts both servers on loopback.
func New() *Server {
	s := &Server{dists: map[string][]*Dist{}, faults: map[string]Fault{}, hits: map[string]int{}}
	s.Index = httptest.NewServer(s.handler(s.authenticated(s.paced(s.serveIndex, nil))))
	s.Files = httptest.NewServer(s.handler(s.paced(s.serveFile, &s.fileBytes)))
	s.startSources()
	return s
}

// FileHost is the origin (http://host:port) of the file server, for upstream.file_hosts.
func (s *Server) FileHost() string { return s.Files.URL }

// Close stops both servers: the upstream is down from now on.
func (s *Server) Close() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	for _, srv := range []*httptest.Server{s.Index, s.Files, s.Stats, s.GitHub} {
		srv.CloseClientConnections()
		srv.Close()
	}
}

// SetHTMLOnly makes the index answer every page in PEP 503 HTML, as many
// private indexes do.
func (s *Server) SetHTMLOnly(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.htmlOnly = v
}

// SetProvenance replaces what the Integrity API serves for d (nil: none).
func (s *Server) SetProvenance(d *Dist, provenance []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d.Provenance = provenance
}

// SetBasicAuth makes the index (not the file host) require these
// credentials, as a private index does.
func (s *Server) SetBasicAuth(user, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.password = user, password
}

// SetNoJSONAPI makes /pypi/<project>/json answer 404, as many private
// indexes do: their pages then carry no upload times at all.
func (s *Server) SetNoJSONAPI(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noJSONAPI = v
}

// SetFault injects f on requests to path ("*" for every path); a zero Fault
// clears it.
func (s *Server) SetFault(path string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.WrongBody == nil && f.Status == 0 && f.Delay == 0 && f.Throttle == 0 && !f.Truncate && !f.Reset && !f.Garbage {
		delete(s.faults, path)
		return
	}
	s.faults[path] = f
}

// Hits returns how many requests reached path.
func (s *Server) Hits(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// ResetHits zeroes every counter.
func (s *Server) ResetHits() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits = map[string]int{}
}

// Add registers a file.
func (s *Server) Add(d *Dist) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dists[d.Project] = append(s.dists[d.Project], d)
}

// SetYanked yanks a file with a reason ("-": none), as a maintainer does.
func (s *Server) SetYanked(d *Dist, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d.Yanked = reason
}

// Remove deletes a file from the index (and the file host), as PyPI does
// with a malicious release.
func (s *Server) Remove(d *Dist) {
	s.mu.Lock()
	defer s.mu.Unlock()
	files := s.dists[d.Project]
	for i, x := range files {
		if x == d {
			s.dists[d.Project] = append(files[:i:i], files[i+1:]...)
			return
		}
	}
}

// Replace swaps the bytes of a listed file (index hash updated too), as a
// compromised mirror would.
func (s *Server) Replace(filename string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, files := range s.dists {
		for _, d := range files {
			if d.Filename == filename {
				d.Data = data
			}
		}
	}
}

// AddWheel generates and registers a wheel; it returns the Dist.
func (s *Server) AddWheel(spec WheelSpec, uploaded time.Time) *Dist {
	fn, data, meta := BuildWheel(spec)
	d := &Dist{Project: normalize(spec.Name), Version: spec.Version, Filename: fn, Data: data,
		Metadata: meta, UploadTime: uploaded, RequiresPython: spec.RequiresPython}
	s.Add(d)
	return d
}

// AddSdist generates and registers an sdist.
func (s *Server) AddSdist(name, version string, uploaded time.Time) *Dist {
	fn, data := BuildSdist(name, version)
	d := &Dist{Project: normalize(name), Version: version, Filename: fn, Data: data, UploadTime: uploaded}
	s.Add(d)
	return d
}

// AddSdistWith registers an sdist of the given files (paths under its
// root folder).
func (s *Server) AddSdistWith(name, version string, files map[string]string, uploaded time.Time) *Dist {
	fn, data := BuildSdistWith(name, version, files)
	d := &Dist{Project: normalize(name), Version: version, Filename: fn, Data: data, UploadTime: uploaded}
	s.Add(d)
	return d
}

// AddFixture registers a real file from disk, with its provenance when
// provenancePath is not empty.
func (s *Server) AddFixture(project, version, path, provenancePath string, uploaded time.Time) (*Dist, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d := &Dist{Project: project, Version: version, Filename: filepath.Base(path), Data: data, UploadTime: uploaded}
	if provenancePath != "" {
		if d.Provenance, err = os.ReadFile(provenancePath); err != nil {
			return nil, err
		}
	}
	s.Add(d)
	return d, nil
}

// normalize is PEP 503 normalization written independently of
// index.Normalize on purpose: a fake that shared the code under test would
// mirror its bugs instead of catching them.
func normalize(name string) string {
	var b strings.Builder
	sep := false
	for _, c := range strings.ToLower(name) {
		if c == '-' || c == '_' || c == '.' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteRune(c)
	}
	return b.String()
}

// handler counts hits and applies faults before calling next.
func (s *Server) handler(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		f, ok := s.faults[r.URL.Path]
		if !ok {
			f, ok = s.faults["*"]
		}
		s.mu.Unlock()
		if ok {
			if f.Delay > 0 {
				select {
				case <-time.After(f.Delay):
				case <-r.Context().Done():
					return
				}
			}
			switch {
			case f.Reset:
				resetConn(w)
				return
			case f.Status != 0:
				for k, v := range f.Header {
					w.Header().Set(k, v)
				}
				http.Error(w, http.StatusText(f.Status), f.Status)
				return
			case f.Garbage:
				w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
				w.Write([]byte(`{"meta": {"api-version": "1.1"}, "files": [{"filename": 42`))
				return
			}
		}
		if ok && (f.Truncate || f.WrongBody != nil || f.Throttle > 0) {
			rec := httptest.NewRecorder()
			r.Header.Del("If-None-Match") // always a full body to damage
			next(rec, r)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			body := rec.Body.Bytes()
			if f.WrongBody != nil {
				body = f.WrongBody
			}
			if f.Truncate {
				w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				w.WriteHeader(rec.Code)
				w.Write(body[:len(body)/2])
				resetConn(w)
				return
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.WriteHeader(rec.Code)
			for len(body) > 0 {
				n := min(len(body), 64<<10)
				if _, err := w.Write(body[:n]); err != nil {
					return
				}
				body = body[n:]
				if f.Throttle > 0 {
					http.NewResponseController(w).Flush()
					select {
					case <-time.After(f.Throttle):
					case <-r.Context().Done():
						return
					}
				}
			}
			return
		}
		next(w, r)
	})
}

// paced answers at the server's pace, counting bytes into count.
func (s *Server) paced(next http.HandlerFunc, count *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pw, ok := s.withPace(w, r, count)
		if !ok {
			return
		}
		next(pw, r)
	}
}

// resetConn closes the underlying connection abruptly.
func resetConn(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0) // RST, not FIN
	}
	conn.Close()
}

func (s *Server) project(name string) []*Dist {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Dist(nil), s.dists[name]...)
}

func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/simple/":
		s.serveList(w, r)
	case strings.HasPrefix(p, "/simple/") && strings.HasSuffix(p, "/"):
		name := strings.TrimSuffix(strings.TrimPrefix(p, "/simple/"), "/")
		if n := normalize(name); n != name {
			http.Redirect(w, r, "/simple/"+n+"/", http.StatusMovedPermanently)
			return
		}
		s.serveProject(w, r, name)
	case strings.HasPrefix(p, "/pypi/") && strings.HasSuffix(p, "/json") && s.jsonAPI():
		s.serveJSONAPI(w, r, strings.TrimSuffix(strings.TrimPrefix(p, "/pypi/"), "/json"))
	case strings.HasPrefix(p, "/integrity/") && strings.HasSuffix(p, "/provenance"):
		parts := strings.Split(strings.TrimPrefix(p, "/integrity/"), "/")
		if len(parts) != 4 {
			http.NotFound(w, r)
			return
		}
		for _, d := range s.project(parts[0]) {
			if d.Version == parts[1] && d.Filename == parts[2] && d.Provenance != nil {
				w.Header().Set("Content-Type", "application/vnd.pypi.integrity.v1+json")
				w.Write(d.Provenance)
				return
			}
		}
		http.NotFound(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) jsonAPI() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.noJSONAPI
}

// authenticated requires the basic-auth credentials, when set.
func (s *Server) authenticated(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		user, password := s.user, s.password
		s.mu.Unlock()
		if user != "" {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="private"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		next(w, r)
	}
}

func (s *Server) wantsJSON(r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.htmlOnly && strings.Contains(r.Header.Get("Accept"), "application/vnd.pypi.simple.v1+json")
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	names := make([]string, 0, len(s.dists))
	for n, files := range s.dists {
		if len(files) > 0 { // a project whose files were all removed is gone
			names = append(names, n)
		}
	}
	s.mu.Unlock()
	sort.Strings(names)
	var buf bytes.Buffer
	if s.wantsJSON(r) {
		type proj struct {
			Name string `json:"name"`
		}
		out := struct {
			Meta     map[string]string `json:"meta"`
			Projects []proj            `json:"projects"`
		}{Meta: map[string]string{"api-version": "1.1"}}
		for _, n := range names {
			out.Projects = append(out.Projects, proj{n})
		}
		json.NewEncoder(&buf).Encode(out)
		writeConditional(w, r, "application/vnd.pypi.simple.v1+json", buf.Bytes())
		return
	}
	buf.WriteString("<!DOCTYPE html><html><body>\n")
	for _, n := range names {
		fmt.Fprintf(&buf, "<a href=\"/simple/%s/\">%s</a>\n", n, n)
	}
	buf.WriteString("</body></html>\n")
	writeConditional(w, r, "text/html", buf.Bytes())
}

// FileURL is where the file host serves d.
func (s *Server) FileURL(d *Dist) string { return s.fileURL(d) }

func (s *Server) fileURL(d *Dist) string {
	return s.Files.URL + "/packages/" + d.SHA256()[:8] + "/" + d.Filename
}

func (s *Server) serveProject(w http.ResponseWriter, r *http.Request, name string) {
	dists := s.project(name)
	if len(dists) == 0 {
		http.NotFound(w, r)
		return
	}
	var buf bytes.Buffer
	if s.wantsJSON(r) {
		type file struct {
			Filename       string            `json:"filename"`
			URL            string            `json:"url"`
			Hashes         map[string]string `json:"hashes"`
			RequiresPython *string           `json:"requires-python"`
			CoreMetadata   any               `json:"core-metadata"`
			Yanked         any               `json:"yanked"`
			Size           int               `json:"size"`
			UploadTime     string            `json:"upload-time"`
			Provenance     *string           `json:"provenance"`
		}
		out := struct {
			Meta     map[string]string `json:"meta"`
			Name     string            `json:"name"`
			Files    []file            `json:"files"`
			Versions []string          `json:"versions"`
		}{Meta: map[string]string{"api-version": "1.3"}, Name: name}
		seen := map[string]bool{}
		for _, d := range dists {
			f := file{Filename: d.Filename, URL: s.fileURL(d), Hashes: map[string]string{"sha256": d.SHA256()},
				CoreMetadata: false, Yanked: false, Size: len(d.Data),
				// PyPI writes microseconds; the fake drops them on whole
				// seconds to exercise parsers that must accept both.
				UploadTime: d.UploadTime.UTC().Format(time.RFC3339Nano)}
			if d.NoHash {
				f.Hashes = map[string]string{}
			}
			if d.RequiresPython != "" {
				rp := d.RequiresPython
				f.RequiresPython = &rp
			}
			if d.Metadata != nil {
				f.CoreMetadata = map[string]string{"sha256": hexSum(d.Metadata)}
			}
			switch d.Yanked {
			case "":
			case "-":
				f.Yanked = true
			default:
				f.Yanked = d.Yanked
			}
			if d.Provenance != nil {
				u := s.Index.URL + "/integrity/" + name + "/" + d.Version + "/" + d.Filename + "/provenance"
				f.Provenance = &u
			}
			out.Files = append(out.Files, f)
			if !seen[d.Version] {
				seen[d.Version] = true
				out.Versions = append(out.Versions, d.Version)
			}
		}
		json.NewEncoder(&buf).Encode(out)
		writeConditional(w, r, "application/vnd.pypi.simple.v1+json", buf.Bytes())
		return
	}
	fmt.Fprintf(&buf, "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"><title>Links for %s</title></head><body>\n", name)
	for _, d := range dists {
		href := s.fileURL(d)
		if !d.NoHash {
			href += "#sha256=" + d.SHA256()
		}
		fmt.Fprintf(&buf, "<a href=\"%s\"", html.EscapeString(href))
		if d.RequiresPython != "" {
			fmt.Fprintf(&buf, " data-requires-python=\"%s\"", html.EscapeString(d.RequiresPython))
		}
		if d.Metadata != nil {
			fmt.Fprintf(&buf, " data-dist-info-metadata=\"sha256=%s\" data-core-metadata=\"sha256=%s\"", hexSum(d.Metadata), hexSum(d.Metadata))
		}
		switch d.Yanked {
		case "":
		case "-":
			buf.WriteString(" data-yanked")
		default:
			fmt.Fprintf(&buf, " data-yanked=\"%s\"", html.EscapeString(d.Yanked))
		}
		fmt.Fprintf(&buf, ">%s</a><br/>\n", d.Filename)
	}
	buf.WriteString("</body></html>\n")
	writeConditional(w, r, "text/html", buf.Bytes())
}

// writeConditional answers with an ETag and honours If-None-Match.
func writeConditional(w http.ResponseWriter, r *http.Request, ct string, body []byte) {
	etag := `"` + hexSum(body)[:16] + `"`
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Write(body)
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/packages/"), "/")
	if len(parts) != 2 {
		http.NotFound(w, r)
		return
	}
	filename, isMeta := strings.CutSuffix(parts[1], ".metadata")
	s.mu.Lock()
	var found *Dist
	for _, files := range s.dists {
		for _, d := range files {
			if d.Filename == filename {
				found = d
			}
		}
	}
	s.mu.Unlock()
	if found == nil || (isMeta && found.Metadata == nil) {
		http.NotFound(w, r)
		return
	}
	body := found.Data
	if isMeta {
		body = found.Metadata
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.Write(body)
}

func (s *Server) serveJSONAPI(w http.ResponseWriter, r *http.Request, name string) {
	name, version, _ := strings.Cut(name, "/") // /pypi/<project>/<version>/json
	dists := s.project(name)
	if len(dists) == 0 {
		http.NotFound(w, r)
		return
	}
	type file struct {
		Filename    string            `json:"filename"`
		URL         string            `json:"url"`
		Digests     map[string]string `json:"digests"`
		Size        int               `json:"size"`
		UploadTime  string            `json:"upload_time_iso_8601"`
		Yanked      bool              `json:"yanked"`
		YankedWhy   *string           `json:"yanked_reason"`
		PackageType string            `json:"packagetype"`
	}
	releases := map[string][]file{}
	latest := ""
	for _, d := range dists {
		pt := "sdist"
		if strings.HasSuffix(d.Filename, ".whl") {
			pt = "bdist_wheel"
		}
		f := file{Filename: d.Filename, URL: s.fileURL(d), Digests: map[string]string{"sha256": d.SHA256()},
			Size: len(d.Data), UploadTime: d.UploadTime.UTC().Format(time.RFC3339Nano), Yanked: d.Yanked != "", PackageType: pt}
		releases[d.Version] = append(releases[d.Version], f)
		latest = d.Version
	}
	s.mu.Lock()
	meta, ok := s.meta[name]
	s.mu.Unlock()
	if !ok {
		meta = ProjectMeta{Maintainers: []string{"fake"}}
	}
	roles := []map[string]string{}
	for i, m := range meta.Maintainers {
		role := "Maintainer"
		if i == 0 {
			role = "Owner"
		}
		roles = append(roles, map[string]string{"role": role, "user": m})
	}
	var org any
	if meta.Organization != "" {
		org = meta.Organization
	}
	var urls any
	if meta.ProjectURLs != nil {
		urls = meta.ProjectURLs
	}
	out := map[string]any{
		"info":      map[string]any{"name": name, "version": latest, "project_urls": urls},
		"releases":  releases,
		"urls":      releases[latest],
		"ownership": map[string]any{"roles": roles, "organization": org},
	}
	if version != "" {
		if _, ok := releases[version]; !ok {
			http.NotFound(w, r)
			return
		}
		out = map[string]any{"info": map[string]any{"name": name, "version": version}, "urls": releases[version]}
	}
	body, _ := json.Marshal(out)
	writeConditional(w, r, "application/json", body)
}
