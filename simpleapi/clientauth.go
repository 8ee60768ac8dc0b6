package simpleapi

import (
	"context"
	"errors"
	"net/http"

	"airlock/authlimit"
)

// Clients authenticate index clients (clientauth.Authenticator); an
// address that guessed too often gets an authlimit.ErrThrottled.
type Clients interface {
	Identify(r *http.Request) (name string, err error)
}

type identityKey struct{}

// requireClient answers 401 unless the request authenticates (when
// client authentication is on), and records who it is for the access log
// and the download records.
func (s *Server) requireClient(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opt.ClientAuth == nil {
			next(w, r)
			return
		}
		name, err := s.opt.ClientAuth.Identify(r)
		if errors.Is(err, authlimit.ErrThrottled) {
			logFrom(r.Context()).Warn().Str("remote", r.RemoteAddr).Msg("client credentials throttled")
			w.Header().Set("Retry-After", "60")
			writeText(w, http.StatusTooManyRequests, "429 Airlock: "+err.Error())
			return
		}
		if err != nil {
			logFrom(r.Context()).Warn().Str("remote", r.RemoteAddr).Str("reason", err.Error()).Msg("client not authenticated")
			w.Header().Set("WWW-Authenticate", `Basic realm="Airlock package index", charset="UTF-8"`)
			writeText(w, http.StatusUnauthorized, "401 Airlock: "+err.Error())
			return
		}
		if info, ok := r.Context().Value(ctxKey{}).(*reqInfo); ok {
			info.identity = name
		}
		next(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, name)))
	}
}

// identityOf is the authenticated client of a request, or "".
func identityOf(r *http.Request) string {
	name, _ := r.Context().Value(identityKey{}).(string)
	return name
}
