package simpleapi

import (
	"net/http"
	"strings"
	"time"

	"airlock/authlimit"

	"github.com/gorilla/mux"

	"airlock/gate"
	"airlock/index"
	"airlock/storage"
)

const routeFile = "/files/{project}/{filename}"

// file serves a distribution or its metadata, from the store when it holds
// a verified copy and after a verified download otherwise. No byte reaches
// the client before its sha256 matched the published one, and none before
// the gate decided to serve it.
func (s *Server) file(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	project, err := index.Normalize(vars["project"])
	if err != nil || project != vars["project"] {
		s.fail(w, r, errBadName)
		return
	}
	key := vars["filename"]
	if distName, _ := strings.CutSuffix(key, gate.MetadataSuffix); !index.ValidFilename(distName) {
		s.fail(w, r, storage.ErrNotFound)
		return
	}
	// A cold file waits for the upstream and the checks: longer than the
	// server's write timeout for pages.
	if s.opt.FillTimeout > 0 {
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.opt.FillTimeout + s.opt.WriteTimeout))
	}
	ans, answered, err := s.fileWaiting(w, r, gate.FileRequest{Project: project, Filename: key, UserAgent: r.UserAgent()})
	if !answered {
		return // sent on to ask again, or gone
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.serveAnswer(w, r, ans)
}

// serveBlob serves stored bytes with http.ServeContent: Range, HEAD and
// conditional requests work (uv reads wheels with Range requests).
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, rec storage.FileRecord, isMeta bool) {
	ctx := r.Context()
	f, err := s.opt.Store.OpenBlob(ctx, rec.SHA256)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	h := w.Header()
	if isMeta {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		h.Set("Content-Type", "application/octet-stream")
	}
	// The bytes never change; the decision to serve them may (a block, a
	// rejection, a removal upstream). no-cache lets clients keep the bytes
	// but makes them ask every time: a 304 costs one round trip, and a
	// file no longer served answers 403 however warm the client's cache.
	h.Set("ETag", `"`+rec.SHA256+`"`)
	h.Set("X-Airlock-SHA256", rec.SHA256)
	h.Set("Cache-Control", "no-cache")
	// A slow but progressing client may take size/MinDownloadRate; one
	// that stops reading is cut off then, not held forever.
	if s.opt.MinDownloadRate > 0 {
		if info, err := f.Stat(); err == nil {
			d := s.opt.WriteTimeout + time.Duration(info.Size()/s.opt.MinDownloadRate)*time.Second
			http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
		}
	}
	cw := &recorder{ResponseWriter: w} // keeps sendfile, counts what went out
	http.ServeContent(cw, r, "", rec.FetchedAt, f)
	s.opt.Metrics.BytesServed.Add(float64(cw.bytes))
	if s.opt.Downloads != nil && !isMeta && r.Method == http.MethodGet && (cw.status == http.StatusOK || cw.status == http.StatusPartialContent) {
		s.opt.Downloads.Record(storage.DownloadRecord{Time: s.opt.Now().UTC(), SHA256: rec.SHA256, Project: rec.Project,
			Filename: rec.Filename, Client: authlimit.Remote(r), UserAgent: r.UserAgent(), Identity: identityOf(r), Status: cw.status, Bytes: cw.bytes})
	}
}
