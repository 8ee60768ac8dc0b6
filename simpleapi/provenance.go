package simpleapi

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/mux"

	"airlock/index"
	"airlock/storage"
)

const routeProvenance = "/integrity/{project}/{version}/{filename}/provenance"

// provenance passes through the upstream's PEP 740 provenance for a listed
// file, so clients never need to contact another host.
func (s *Server) provenance(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	project, err := index.Normalize(vars["project"])
	if err != nil || project != vars["project"] {
		s.fail(w, r, errBadName)
		return
	}
	page, err := s.getPage(r.Context(), project)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, ok := page.entry.cp.Page.Lookup(vars["filename"])
	if v, _ := index.VersionFromFilename(project, f.Filename); !ok || v != vars["version"] || f.Provenance == "" {
		s.fail(w, r, storage.ErrNotFound)
		return
	}
	body, err := s.opt.Upstream.FetchProvenance(r.Context(), f.Provenance)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.pypi.integrity.v1+json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// redactURL drops query strings and credentials before a URL is logged or
// stored.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable url)"
	}
	u.RawQuery, u.User = "", nil
	return u.String()
}
