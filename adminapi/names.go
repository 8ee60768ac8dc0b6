package adminapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"airlock/authlimit"
)

const (
	routeNames       = "/names"
	routeNameRelease = "/names/{index}/release"
)

// Names are the names private indexes own by their lists (route.Router):
// kept until an operator releases one, so that a list that comes back
// empty never hands a name to the public upstream.
type Names interface {
	Owned() map[string][]string
	Release(ctx context.Context, index, project, actor, remote, reason string) error
}

// NamesResponse is the answer of GET /api/v1/names.
type NamesResponse struct {
	Indexes map[string][]string `json:"indexes"`
}

// ReleaseRequest is the body of POST /api/v1/names/{index}/release.
type ReleaseRequest struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
	Actor  string `json:"actor"`
}

func (a *API) names(w http.ResponseWriter, r *http.Request) {
	if a.owned == nil {
		writeJSON(w, http.StatusOK, NamesResponse{Indexes: map[string][]string{}})
		return
	}
	writeJSON(w, http.StatusOK, NamesResponse{Indexes: a.owned.Owned()})
}

func (a *API) releaseName(w http.ResponseWriter, r *http.Request) {
	var req ReleaseRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, `body must be JSON: {"name": "...", "reason": "..."}`)
		return
	}
	if strings.TrimSpace(req.Name) == "" || strings.TrimSpace(req.Reason) == "" {
		writeError(w, http.StatusBadRequest, "name and reason are required (the reason is recorded in the audit log)")
		return
	}
	if a.owned == nil {
		writeError(w, http.StatusNotFound, "no private indexes are configured")
		return
	}
	actor := actorOf(r, req.Actor)
	ix := mux.Vars(r)["index"]
	if err := a.owned.Release(r.Context(), ix, req.Name, actor, authlimit.Remote(r), req.Reason); err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"released": req.Name, "index": ix})
}
