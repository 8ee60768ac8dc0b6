package simpleapi

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"airlock/index"
)

const routeProvenance = "/integrity/{project}/{version}/{filename}/provenance"

// provenance serves a listed file's PEP 740 provenance from the store,
// fetching and verifying it first if needed. Only verified provenance is
// served: clients never need to contact another host for it.
func (s *Server) provenance(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	project, err := index.Normalize(vars["project"])
	if err != nil || project != vars["project"] {
		s.fail(w, r, errBadName)
		return
	}
	raw, err := s.opt.Gate.Provenance(r.Context(), project, vars["version"], vars["filename"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.pypi.integrity.v1+json")
	w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(raw)
	}
}
