package simpleapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"airlock/gate"
	"airlock/index"
)

const (
	routeSimpleNoSlash  = "/simple"
	routeProjectList    = "/simple/"
	routeProjectPage    = "/simple/{project}/"
	routeProjectNoSlash = "/simple/{project}"
)

// projectList serves the root index in the negotiated format.
func (s *Server) projectList(w http.ResponseWriter, r *http.Request) {
	media := Negotiate(r.Header.Get("Accept"))
	l, err := s.opt.Gate.ProjectList(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := renderList(l, media)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writePage(w, r, media, body)
}

// projectRedirect sends /simple/<name> to /simple/<normalized>/.
func (s *Server) projectRedirect(w http.ResponseWriter, r *http.Request) {
	name, err := index.Normalize(mux.Vars(r)["project"])
	if err != nil {
		s.fail(w, r, errBadName)
		return
	}
	http.Redirect(w, r, "/simple/"+name+"/", http.StatusMovedPermanently)
}

// projectPage serves one project's page in the negotiated format, with every
// URL pointing back at Airlock.
func (s *Server) projectPage(w http.ResponseWriter, r *http.Request) {
	raw := mux.Vars(r)["project"]
	name, err := index.Normalize(raw)
	if err != nil {
		s.fail(w, r, errBadName)
		return
	}
	if name != raw {
		http.Redirect(w, r, "/simple/"+name+"/", http.StatusMovedPermanently)
		return
	}
	media := Negotiate(r.Header.Get("Accept"))
	s.opt.Gate.ClientSeen(r.UserAgent()) // before the render queues what is cooling
	entry, err := s.opt.Gate.Page(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := s.render(r.Context(), entry, media, acceptsGzip(r.Header.Get("Accept-Encoding")))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if entry.Stale {
		w.Header().Set("X-Airlock-Stale", staleHeader(entry.Cached.FetchedAt))
	}
	writePage(w, r, media, body)
}

// writePage answers with a rendered page: 304 when the client's
// If-None-Match names it, gzip when the client accepts it (pip and uv do).
func writePage(w http.ResponseWriter, r *http.Request, media string, page gate.RenderedBody) {
	h := w.Header()
	h.Set("Content-Type", contentType(media))
	h.Set("Vary", "Accept, Accept-Encoding")
	h.Set("Cache-Control", "no-cache") // a page shows decisions, which change
	body, etag := page.Body, page.ETag
	gz := acceptsGzip(r.Header.Get("Accept-Encoding")) && len(page.Gzip) > 0
	if gz {
		body, etag = page.Gzip, strings.TrimSuffix(page.ETag, `"`)+`-gz"`
	}
	h.Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if gz {
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// acceptsGzip reads Accept-Encoding: gzip listed without q=0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.TrimSpace(name) != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// etagMatches implements If-None-Match's list (and *), weak or strong.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || (t != "" && t == etag) {
			return true
		}
	}
	return false
}
