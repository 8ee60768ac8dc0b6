package simpleapi

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

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
	e, err := s.getList(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := e.render(media)
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
	entry, err := s.opt.Gate.Page(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := s.render(r.Context(), entry, media)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if entry.Stale {
		w.Header().Set("X-Airlock-Stale", staleHeader(entry.Cached.FetchedAt))
	}
	writePage(w, r, media, body)
}

func writePage(w http.ResponseWriter, r *http.Request, media string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType(media))
	h.Set("Vary", "Accept")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
