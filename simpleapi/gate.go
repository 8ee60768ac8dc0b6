package simpleapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"airlock/index"
	"airlock/policy"
	"airlock/quarantine"
	"airlock/signals"
	"airlock/storage"
	"airlock/upstream"
)

// inputFor gathers the policy inputs for a listed file.
func inputFor(project string, f index.File) policy.Input {
	in := policy.Input{Project: project, Filename: f.Filename, SHA256: f.SHA256(), UploadTime: f.UploadTime}
	if v, ok := index.VersionFromFilename(project, f.Filename); ok {
		in.Version = v
	} else {
		in.GatherErrors = append(in.GatherErrors, "cannot tell the version from the filename")
	}
	return in
}

// gather collects every input of a file a client asked for: what the page
// says, what inspecting the stored file found (when stored: a metadata
// request has no file to look into), its attestation (verified once,
// remembered per sha256) with the newest earlier attested release, and the
// project's behaviour. A failure is recorded in the input, where
// it holds the file.
func (s *Server) gather(ctx context.Context, page *index.Page, f index.File, stored bool) policy.Input {
	in := inputFor(page.Name, f)
	if s.opt.Inspect {
		if stored {
			in.Content = s.contentFor(ctx, page, f)
		} else if v, err := s.opt.Quarantine.Get(in.SHA256); err == nil {
			in.Content = v.Inputs.Content // what the file's own request found
		}
	}
	if s.opt.Attest != nil {
		s.opt.Attest.Fill(ctx, page, f, &in)
	}
	if s.opt.Signals != nil && in.Version != "" {
		in.Signals = s.opt.Signals.ForRelease(ctx, page.Name, in.Version)
	}
	return in
}

// refreshSignals re-asks the signal sources for a stored input, bypassing
// their cache, so that the sweep sees a tag pushed within the grace.
func (s *Server) refreshSignals(in policy.Input) policy.Input {
	if in.Signals == nil || in.Version == "" {
		return in
	}
	ctx, cancel := context.WithTimeout(signals.Fresh(context.Background()), s.opt.PageTimeout)
	defer cancel()
	in.Signals = s.opt.Signals.ForRelease(ctx, in.Project, in.Version)
	return in
}

// listingInput is what a page listing can know without fetching every
// file's provenance: a file the index says has none is "missing", and then
// the earlier releases are looked at.
func (s *Server) listingInput(ctx context.Context, page *index.Page, f index.File) policy.Input {
	in := inputFor(page.Name, f)
	if s.opt.Attest == nil || !page.SaysNoProvenance(f) || in.SHA256 == "" {
		return in
	}
	in.Attestation = &policy.Attestation{Status: policy.AttestationMissing}
	prior, err := s.opt.Attest.Prior(ctx, page, in.Version)
	if err != nil {
		in.GatherErrors = append(in.GatherErrors, "earlier attestations: "+err.Error())
	}
	in.Prior = prior
	return in
}

// inputFromRecord gives the inputs for a stored file when the upstream page
// cannot be had: the inputs of its last full decision, or, failing that,
// what the file record says, marked as incomplete (which holds it).
func (s *Server) inputFromRecord(rec storage.FileRecord) policy.Input {
	if v, err := s.opt.Quarantine.Get(rec.SHA256); err == nil {
		return v.Inputs
	}
	in := policy.Input{Project: rec.Project, Version: rec.Version, Filename: rec.Filename, SHA256: rec.SHA256, UploadTime: rec.UploadTime}
	if s.opt.Attest != nil {
		in.GatherErrors = append(in.GatherErrors, "upstream unavailable: attestation unknown")
	}
	return in
}

// gatePage applies the quarantine to a page before it is rendered: held
// files are marked yanked with the reason (or left out with
// index.held_files: hide), blocked and rejected files are left out. It
// returns when the result may change on its own.
func (s *Server) gatePage(ctx context.Context, p *index.Page) (*index.Page, time.Time) {
	out := *p
	out.Files = make([]index.File, 0, len(p.Files))
	var until time.Time
	shown := map[string]bool{}
	listed := map[string]bool{}
	for _, f := range p.Files {
		in := s.listingInput(ctx, p, f)
		listed[in.Version] = true
		l, err := s.opt.Quarantine.Listing(in)
		if err != nil {
			// Fail closed: a file whose state cannot be read is not offered.
			l = quarantine.Listing{Show: true, Yank: true, Reason: "held by Airlock: could not evaluate the policy"}
		}
		if !l.Until.IsZero() && (until.IsZero() || l.Until.Before(until)) {
			until = l.Until
		}
		if !l.Show || (l.Yank && s.opt.HideHeld) {
			continue
		}
		if l.Yank {
			if f.Yanked && f.YankedReason != "" {
				l.Reason += "; yanked upstream: " + f.YankedReason
			}
			f.Yanked, f.YankedReason = true, l.Reason
		}
		shown[in.Version] = true
		out.Files = append(out.Files, f)
	}
	// A version whose every file was left out is no longer offered.
	out.Versions = nil
	for _, v := range p.Versions {
		if shown[v] || !listed[v] {
			out.Versions = append(out.Versions, v)
		}
	}
	return &out, until
}

// decideAndServe runs the gate for a stored file and serves it, or answers
// 403 with the reasons.
func (s *Server) decideAndServe(w http.ResponseWriter, r *http.Request, in policy.Input, rec storage.FileRecord, isMeta bool) {
	v, err := s.opt.Quarantine.Decide(in)
	if err != nil {
		// Fail closed: no decision, no bytes.
		s.fail(w, r, fmt.Errorf("%w: %v", errNoDecision, err))
		return
	}
	if !v.Serve {
		s.opt.Metrics.Gate.WithLabelValues("refused", string(v.Decision.Action)).Inc()
		s.refuse(w, r, v)
		return
	}
	s.opt.Metrics.Gate.WithLabelValues("served", string(v.Decision.Action)).Inc()
	if v.Decision.Action != policy.Allow {
		w.Header().Set("X-Airlock-Decision", string(v.Decision.Action))
	}
	s.serveBlob(w, r, rec, isMeta)
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
		if reason.Action != policy.Allow {
			fmt.Fprintf(&body, "- %s (%s): %s\n", reason.Check, reason.Action, reason.Message)
		}
	}
	if v.DecidedBy != "" {
		fmt.Fprintf(&body, "- decided by %s: %s\n", v.DecidedBy, v.Note)
	}
	if !v.Decision.Until.IsZero() && quarantine.State(v.State) == quarantine.Held && v.DecidedBy == "" {
		fmt.Fprintf(&body, "Releases on its own at %s.\n", v.Decision.Until.UTC().Format(time.RFC3339))
		w.Header().Set("X-Airlock-Release-At", v.Decision.Until.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&body, "Review id: %s (airlock quarantine show %s)\n", v.ReviewID, v.ReviewID)

	h := w.Header()
	h.Set("X-Airlock-Decision", action)
	h.Set("X-Airlock-Review", v.ReviewID)
	h.Set("X-Airlock-Reason", headerSafe(what))
	logFrom(r.Context()).Info().Str("file", v.Filename).Str("state", v.State).Str("reason", what).Msg("file refused")
	writeWithReason(w, r, http.StatusForbidden, headerSafe(phrase), body.String())
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

// headerSafe keeps a value to printable ASCII on one line, at most 400 bytes.
func headerSafe(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == '\r' || c == '\n' || c == '\t':
			b.WriteByte(' ')
		case c < 0x20 || c > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteRune(c)
		}
		if b.Len() >= 400 {
			break
		}
	}
	return b.String()
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

var errNoDecision = errors.New("could not decide on this file")

// Evaluate runs the gate now for every file of name==version, storing the
// decisions (so a reviewer can see and approve them before anyone installs).
func (s *Server) Evaluate(ctx context.Context, project, version string) ([]quarantine.View, error) {
	return s.evaluate(ctx, project, version, false)
}

// EvaluateDownloaded is Evaluate with every file of the release downloaded,
// verified and inspected first, exactly as a client's request would: what
// `airlock check` runs, on a scratch data directory.
func (s *Server) EvaluateDownloaded(ctx context.Context, project, version string) ([]quarantine.View, error) {
	return s.evaluate(ctx, project, version, true)
}

// decideListed decides a listed file as a client's request would, without
// serving it: with download, the file is fetched, verified and stored first
// so its content is inspected too (a failed download is a gather error,
// which holds it).
func (s *Server) decideListed(ctx context.Context, page *index.Page, f index.File, download bool) (quarantine.View, error) {
	var fillErr error
	if download {
		_, fillErr = s.ensureStored(ctx, page, f)
	}
	in := s.gather(ctx, page, f, download && fillErr == nil)
	if fillErr != nil {
		in.GatherErrors = append(in.GatherErrors, "download: "+fillErr.Error())
	}
	return s.opt.Quarantine.Decide(in)
}

func (s *Server) evaluate(ctx context.Context, project, version string, download bool) ([]quarantine.View, error) {
	res, err := s.getPage(ctx, project)
	if err != nil {
		return nil, err
	}
	var out []quarantine.View
	page := &res.entry.cp.Page
	for _, f := range page.Files {
		if v, _ := index.VersionFromFilename(project, f.Filename); v != version || f.SHA256() == "" {
			continue // another release, or never served
		}
		v, err := s.decideListed(ctx, page, f, download)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no files for %s==%s", upstream.ErrNotFound, project, version)
	}
	return out, nil
}
