package simpleapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"time"

	"airlock/forwarded"

	"github.com/gorilla/mux"
	"github.com/rs/zerolog"
)

type ctxKey struct{}

// reqInfo is filled in by inner layers and read by the access log.
type reqInfo struct {
	route string
	// status and bytes are set by handlers that hijack the connection
	// (custom reason phrases), which the recorder cannot see.
	status int
	bytes  int64
	// identity is the authenticated client, when auth.clients is on.
	identity string
}

// recorder captures the status and size of a response. It passes
// io.ReaderFrom through, so a file served from the store still goes out
// with sendfile (net/http's writer does that only when it is called
// directly); http.Flusher and the rest stay reachable through Unwrap.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 && code >= 200 { // a 1xx (keeping a client waiting) is not the answer
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += int64(n)
	return n, err
}

// ReadFrom hands the copy to the underlying writer (sendfile for files).
func (rec *recorder) ReadFrom(r io.Reader) (int64, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := rec.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(writerOnly{rec.ResponseWriter}, r)
	}
	rec.bytes += n
	return n, err
}

// writerOnly hides every method but Write, so io.Copy cannot loop back
// into ReadFrom.
type writerOnly struct{ io.Writer }

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// accessLog gives each request an id (echoing a sane X-Request-Id), a
// request-scoped logger, one access line and its metrics.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		r = forwarded.Proxies(s.opt.TrustedProxies).Apply(r) // the client behind a trusted proxy
		info := &reqInfo{route: "none"}
		logger := s.opt.Log.With().Str("request_id", id).Logger()
		ctx := logger.WithContext(context.WithValue(r.Context(), ctxKey{}, info))
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
		if info.status != 0 {
			rec.status, rec.bytes = info.status, info.bytes
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		s.opt.Metrics.Requests.WithLabelValues(info.route, strconv.Itoa(rec.status)).Inc()
		logger.Info().
			Str("method", r.Method).
			Str("path", r.URL.Path).
			Str("route", info.route).
			Int("status", rec.status).
			Int64("bytes", rec.bytes).
			Float64("duration_ms", float64(time.Since(start).Microseconds())/1000).
			Str("remote", r.RemoteAddr).
			Str("user_agent", r.UserAgent()).
			Str("client", info.identity).
			Msg("request")
	})
}

// nameRoute records the matched route's name for the access log and metrics.
func nameRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info, ok := r.Context().Value(ctxKey{}).(*reqInfo); ok {
			if rt := mux.CurrentRoute(r); rt != nil && rt.GetName() != "" {
				info.route = rt.GetName()
			}
		}
		next.ServeHTTP(w, r)
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// logFrom returns the request-scoped logger.
func logFrom(ctx context.Context) *zerolog.Logger { return zerolog.Ctx(ctx) }
