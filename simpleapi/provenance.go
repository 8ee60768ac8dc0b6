package simpleapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"airlock/index"
	"airlock/policy"
	"airlock/storage"
)

const routeProvenance = "/integrity/{project}/{version}/{filename}/provenance"

var errProvenanceInvalid = errors.New("the upstream's provenance for this file did not verify")

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
	entry, err := s.opt.Gate.Page(r.Context(), project)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := &entry.Cached.Page
	f, ok := p.Lookup(vars["filename"])
	att := s.opt.Gate.Attest()
	if v, _ := index.VersionFromFilename(project, f.Filename); !ok || v != vars["version"] || f.SHA256() == "" || att == nil {
		s.fail(w, r, storage.ErrNotFound)
		return
	}
	rec, err := att.Provenance(r.Context(), p, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch rec.Status {
	case policy.AttestationMissing:
		s.fail(w, r, storage.ErrNotFound)
		return
	case policy.AttestationInvalid:
		s.fail(w, r, errProvenanceInvalid)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.pypi.integrity.v1+json")
	w.Header().Set("Content-Length", strconv.Itoa(len(rec.Raw)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(rec.Raw)
	}
}
