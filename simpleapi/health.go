package simpleapi

import (
	"fmt"
	"net/http"
	"time"

	"airlock/textsafe"
)

const (
	routeHealthz = "/healthz"
	routeReadyz  = "/readyz"
	routeMetrics = "/metrics"
)

// healthz answers while the process runs.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeText(w, http.StatusOK, "ok")
}

// readyz answers 200 while the store answers and the server is not draining.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if s.draining.Load() {
		writeText(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	if err := s.opt.Store.Ping(ctx); err != nil {
		writeText(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	if min := s.opt.MinFreeBytes; min > 0 {
		if free, err := s.opt.Store.FreeBytes(ctx); err == nil && free < min {
			writeText(w, http.StatusServiceUnavailable, fmt.Sprintf("store nearly full: %d MiB free, below store.min_free_bytes (%d MiB)", free>>20, min>>20))
			return
		}
	}
	// Ready, but say which checks cannot act: they are not protecting anyone.
	msg := "ready"
	for _, warn := range s.opt.Gate.Warnings() {
		msg += "\nwarning: " + warn.Message + " (since " + warn.Since.UTC().Format(time.RFC3339) + ")"
	}
	writeText(w, http.StatusOK, textsafe.Terminal(msg))
}
