package simpleapi

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/rs/zerolog"

	"airlock/gate"
	"airlock/index"
	"airlock/storage"
	"airlock/textsafe"
)

// Errors of the file endpoints, mapped to answers in statusOf.
var (
	errBadName = errors.New("invalid project name")
)

// statusOf maps an error to the status and the one-line message a client
// gets. The log gets the full error. Unknown errors are a bare 500.
func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, storage.ErrFull):
		return http.StatusInsufficientStorage, "the store is full: Airlock cannot keep this file; try again when an operator has made room"
	case errors.Is(err, storage.ErrUnavailable):
		return http.StatusServiceUnavailable, "the store is unavailable: nothing was served or kept; try again shortly"
	case errors.Is(err, errBadName):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, gate.ErrNotFound), errors.Is(err, storage.ErrNotFound):
		return http.StatusNotFound, "not found"
	case errors.Is(err, gate.ErrNotListed), errors.Is(err, gate.ErrNoMetadata):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, storage.ErrHashMismatch):
		return http.StatusBadGateway, "upstream file did not match its published sha256; nothing was stored or served"
	case errors.Is(err, gate.ErrNoDecision):
		return http.StatusServiceUnavailable, "could not decide on this file, so it is not served; try again later"
	case errors.Is(err, gate.ErrProvenanceInvalid):
		return http.StatusBadGateway, err.Error()
	case errors.Is(err, gate.ErrNoSHA256):
		return http.StatusBadGateway, err.Error()
	case errors.Is(err, gate.ErrHostNotAllowed):
		return http.StatusBadGateway, "refused: " + firstLine(err)
	case errors.Is(err, gate.ErrTruncated),
		errors.Is(err, gate.ErrNoWheelMetadata),
		errors.Is(err, gate.ErrUnavailable),
		errors.Is(err, gate.ErrUpstreamTooLarge),
		errors.Is(err, storage.ErrTooLarge),
		errors.Is(err, index.ErrMalformed),
		errors.Is(err, context.DeadlineExceeded):
		return http.StatusBadGateway, "upstream error: " + firstLine(err)
	}
	return http.StatusInternalServerError, "internal error"
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// fail writes the error answer and the request's one error line.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := statusOf(err)
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		code = 499 // client went away; nothing to tell it
	}
	lvl := zerolog.WarnLevel
	if code >= 500 {
		lvl = zerolog.ErrorLevel
	}
	zerolog.Ctx(r.Context()).WithLevel(lvl).Err(err).Int("status", code).Msg("request failed")
	if code == http.StatusServiceUnavailable {
		// pip and uv retry a 503 after this many seconds, so a short
		// outage of the store or of a check passes unnoticed.
		w.Header().Set("Retry-After", "5")
	}
	if code == http.StatusBadGateway {
		// The status line carries the short reason, as a 403's does: pip
		// otherwise says only "from versions: none".
		writeWithReason(w, r, code, textsafe.Header(gatewayPhrase(err)), msg+"\n")
		return
	}
	writeText(w, code, msg)
}

var answered = regexp.MustCompile(`answered (\d{3})`)

// gatewayPhrase is a 502's reason phrase: what went wrong upstream in a
// few words, without hosts, ports or URLs (which the log has).
func gatewayPhrase(err error) string {
	switch {
	case errors.Is(err, storage.ErrHashMismatch):
		return "Upstream file did not match its sha256"
	case errors.Is(err, gate.ErrProvenanceInvalid):
		return "Upstream provenance does not verify"
	case errors.Is(err, gate.ErrNoSHA256):
		return "Upstream lists no sha256"
	case errors.Is(err, gate.ErrHostNotAllowed):
		return "Upstream file host not allowed"
	case errors.Is(err, gate.ErrTruncated):
		return "Upstream unavailable: download cut short"
	case errors.Is(err, gate.ErrUpstreamTooLarge), errors.Is(err, storage.ErrTooLarge):
		return "Upstream answer too large"
	case errors.Is(err, index.ErrMalformed):
		return "Upstream answer malformed"
	case errors.Is(err, context.DeadlineExceeded):
		return "Upstream unavailable: timed out"
	}
	if m := answered.FindStringSubmatch(err.Error()); m != nil {
		return "Upstream unavailable: it answered " + m[1]
	}
	return "Upstream unavailable: unreachable"
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write([]byte(msg + "\n"))
}
