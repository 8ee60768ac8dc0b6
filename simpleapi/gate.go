package simpleapi

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"airlock/gate"
	"airlock/quarantine"
	"airlock/textsafe"
)

// serveAnswer serves the stored file the gate decided to serve, or
// answers 403 with the reasons.
func (s *Server) serveAnswer(w http.ResponseWriter, r *http.Request, ans gate.FileAnswer) {
	v := ans.View
	if !v.Serve {
		s.opt.Metrics.Gate.WithLabelValues("refused", string(v.Decision.Action)).Inc()
		s.refuse(w, r, v)
		return
	}
	s.opt.Metrics.Gate.WithLabelValues("served", string(v.Decision.Action)).Inc()
	if !v.Decision.Action.Allows() {
		w.Header().Set("X-Airlock-Decision", string(v.Decision.Action))
	}
	s.serveBlob(w, r, ans.Record, ans.Meta)
}

// refuse answers 403 for a held, blocked or rejected file. The reason
// phrase names the check (pip prints it); uv prints only the status, so the
// reasons also go in headers and the body.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, v quarantine.View) {
	action := string(v.Decision.Action)
	what := v.Decision.Summary()
	checks := strings.Join(v.Decision.Checks(), ", ")
	switch quarantine.State(v.State) {
	case quarantine.Rejected:
		action, what, checks = "reject", "rejected by "+v.DecidedBy+": "+v.Note, "review"
	case quarantine.Held:
		if v.DecidedBy != "" {
			what, checks = "reopened for review by "+v.DecidedBy+": "+v.Note, "review"
		}
	}
	if checks == "" {
		checks = action
	}
	phrase := fmt.Sprintf("%s by Airlock (%s): %s (review %s)", pastTense(action), checks, what, v.ReviewID)

	var body strings.Builder
	fmt.Fprintf(&body, "Airlock did not serve %s (sha256 %s).\n", v.Filename, v.SHA256)
	fmt.Fprintf(&body, "State: %s. Decision: %s.\n", v.State, action)
	for _, reason := range v.Decision.Reasons {
		if !reason.Action.Allows() {
			fmt.Fprintf(&body, "- %s (%s): %s\n", reason.Check, reason.Action, textsafe.Line(reason.Message))
		}
	}
	if v.DecidedBy != "" {
		fmt.Fprintf(&body, "- decided by %s: %s\n", textsafe.Line(v.DecidedBy), textsafe.Line(v.Note))
	}
	if !v.Decision.Until.IsZero() && quarantine.State(v.State) == quarantine.Held && v.DecidedBy == "" {
		fmt.Fprintf(&body, "Releases on its own at %s.\n", v.Decision.Until.UTC().Format(time.RFC3339))
		w.Header().Set("X-Airlock-Release-At", v.Decision.Until.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&body, "Review id: %s (airlock quarantine show %s)\n", v.ReviewID, v.ReviewID)
	if s.opt.PublicURL != "" {
		fmt.Fprintf(&body, "Review page: %s/ui/file/%s\n", strings.TrimRight(s.opt.PublicURL, "/"), v.SHA256)
	}

	h := w.Header()
	h.Set("X-Airlock-Decision", action)
	h.Set("X-Airlock-Review", v.ReviewID)
	h.Set("X-Airlock-Reason", textsafe.Header(what))
	logFrom(r.Context()).Info().Str("file", v.Filename).Str("state", v.State).Str("reason", what).Msg("file refused")
	writeWithReason(w, r, http.StatusForbidden, textsafe.Header(phrase), textsafe.Terminal(body.String()))
}

func pastTense(action string) string {
	switch action {
	case "hold":
		return "Held"
	case "block":
		return "Blocked"
	case "reject":
		return "Rejected"
	}
	return "Refused"
}

// writeWithReason writes a response with a custom reason phrase. net/http
// always writes the standard phrase, so on HTTP/1.x the connection is
// hijacked and the response written by hand (then closed); on HTTP/2, which
// has no reason phrases, it is a normal response.
func writeWithReason(w http.ResponseWriter, r *http.Request, code int, phrase, body string) {
	if info, ok := r.Context().Value(ctxKey{}).(*reqInfo); ok {
		info.status = code
		info.bytes = int64(len(body))
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Connection", "close")
	if r.ProtoMajor == 1 {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err == nil {
			defer conn.Close()
			writeRaw(buf.Writer, r, code, phrase, h, body)
			return
		}
	}
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write([]byte(body))
	}
}

func writeRaw(bw *bufio.Writer, r *http.Request, code int, phrase string, h http.Header, body string) {
	fmt.Fprintf(bw, "HTTP/1.1 %03d %s\r\n", code, phrase)
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	h.Write(bw)
	bw.WriteString("\r\n")
	if r.Method != http.MethodHead {
		bw.WriteString(body)
	}
	bw.Flush()
}
