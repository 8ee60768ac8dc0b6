package simpleapi

import (
	"errors"
	"net/http"
	"net/url"
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
	page, err := s.getPage(r.Context(), project)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := &page.entry.cp.Page
	f, ok := p.Lookup(vars["filename"])
	if v, _ := index.VersionFromFilename(project, f.Filename); !ok || v != vars["version"] || f.SHA256() == "" || s.opt.Attest == nil {
		s.fail(w, r, storage.ErrNotFound)
		return
	}
	rec, err := s.opt.Attest.Provenance(r.Context(), p, f)
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
