package fakepypi

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ProjectMeta is what the fake JSON API says about a project's owners and
// links.
type ProjectMeta struct {
	Maintainers  []string
	Organization string
	ProjectURLs  map[string]string
}

// Repo is a fake GitHub repository.
type Repo struct {
	Archived  bool
	CreatedAt time.Time
	PushedAt  time.Time
	Tags      []FakeTag
}

// FakeTag is a tag, with a GitHub release when Released is set.
type FakeTag struct {
	Name       string
	CommitTime time.Time
	Released   time.Time
	// Files are the repository's files at the tag (path -> content), served
	// as GitHub serves a tag's source archive (/repos/o/r/tarball/TAG).
	Files map[string]string
}

// SetMeta sets a project's ownership and project_urls in the JSON API.
func (s *Server) SetMeta(project string, m ProjectMeta) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.meta == nil {
		s.meta = map[string]ProjectMeta{}
	}
	s.meta[project] = m
}

// SetDownloads sets pypistats' recent downloads of a project.
func (s *Server) SetDownloads(project string, day, week, month int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.downloads == nil {
		s.downloads = map[string][3]int64{}
	}
	s.downloads[project] = [3]int64{day, week, month}
}

// SetRepo creates or replaces a GitHub repository ("owner/repo").
func (s *Server) SetRepo(ownerRepo string, r Repo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repos == nil {
		s.repos = map[string]*Repo{}
	}
	s.repos[ownerRepo] = &r
}

// AddTag adds a tag to a repository.
func (s *Server) AddTag(ownerRepo string, t FakeTag) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[ownerRepo].Tags = append(s.repos[ownerRepo].Tags, t)
}

// PerPage is the fake GitHub's page size (it ignores per_page, so tests
// can paginate with few tags).
const PerPage = 30

func (s *Server) startSources() {
	s.Stats = httptest.NewServer(s.handler(s.serveStats))
	s.GitHub = httptest.NewServer(s.handler(s.serveGitHub))
}

func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	project, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/api/packages/"), "/recent")
	s.mu.Lock()
	d, known := s.downloads[project]
	s.mu.Unlock()
	if !ok || !known {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"data":{"last_day":%d,"last_week":%d,"last_month":%d},"package":%q,"type":"recent_downloads"}`, d[0], d[1], d[2], project)
}

func (s *Server) serveGitHub(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/repos/"), "/")
	if len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	repo := s.repos[parts[0]+"/"+parts[1]]
	var tags []FakeTag
	if repo != nil {
		tags = append(tags, repo.Tags...)
	}
	s.mu.Unlock()
	if repo == nil {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"message":"Not Found"}`))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-RateLimit-Remaining", "4999")
	enc := json.NewEncoder(w)
	switch {
	case len(parts) == 2:
		enc.Encode(map[string]any{"full_name": parts[0] + "/" + parts[1], "archived": repo.Archived,
			"created_at": repo.CreatedAt.UTC().Format(time.RFC3339), "pushed_at": repo.PushedAt.UTC().Format(time.RFC3339)})
	case len(parts) == 3 && (parts[2] == "tags" || parts[2] == "releases"):
		var items []map[string]any
		for i, t := range tags {
			sha := fmt.Sprintf("%040d", i+1)
			if parts[2] == "tags" {
				items = append(items, map[string]any{"name": t.Name, "commit": map[string]string{"sha": sha}})
			} else if !t.Released.IsZero() {
				ts := t.Released.UTC().Format(time.RFC3339)
				items = append(items, map[string]any{"tag_name": t.Name, "created_at": ts, "published_at": ts, "draft": false})
			}
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		lo, hi := min((page-1)*PerPage, len(items)), min(page*PerPage, len(items))
		if hi < len(items) {
			next := *r.URL
			q := next.Query()
			q.Set("page", strconv.Itoa(page+1))
			next.RawQuery = q.Encode()
			w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next", <%s>; rel="last"`, s.GitHub.URL, next.RequestURI(), "x"))
		}
		out := items[lo:hi]
		if out == nil {
			out = []map[string]any{}
		}
		enc.Encode(out)
	case len(parts) == 4 && parts[2] == "tarball":
		for i, t := range tags {
			if t.Name != parts[3] {
				continue
			}
			var buf bytes.Buffer
			gz := gzip.NewWriter(&buf)
			tw := tar.NewWriter(gz)
			root := fmt.Sprintf("%s-%s-%07d/", parts[0], parts[1], i+1) // GitHub's owner-repo-sha/
			tw.WriteHeader(&tar.Header{Name: "pax_global_header", Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": fmt.Sprintf("%040d", i+1)}})
			for _, p := range slices.Sorted(maps.Keys(t.Files)) {
				tw.WriteHeader(&tar.Header{Name: root + p, Mode: 0o644, Size: int64(len(t.Files[p])), Typeflag: tar.TypeReg})
				tw.Write([]byte(t.Files[p]))
			}
			tw.Close()
			gz.Close()
			w.Header().Set("Content-Type", "application/x-gzip")
			w.Write(buf.Bytes())
			return
		}
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"message":"Not Found"}`))
	case len(parts) == 4 && parts[2] == "commits":
		n, _ := strconv.Atoi(strings.TrimLeft(parts[3], "0"))
		if n < 1 || n > len(tags) {
			http.NotFound(w, r)
			return
		}
		enc.Encode(map[string]any{"sha": parts[3], "commit": map[string]any{"committer": map[string]string{"date": tags[n-1].CommitTime.UTC().Format(time.RFC3339)}}})
	default:
		http.NotFound(w, r)
	}
}
