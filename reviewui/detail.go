package reviewui

import (
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/gorilla/mux"

	"airlock/advisories"
	"airlock/gate"
	"airlock/policy"
	"airlock/quarantine"
	"airlock/storage"
)

// detailView is one held file with everything a reviewer needs.
type detailView struct {
	quarantine.View
	Reasons []reasonView
	Checks  []gate.CheckStatus
	// AttestationUnavailable: the upstream publishes no provenance, so
	// "missing" says nothing about this file.
	AttestationUnavailable bool
	// Downloads are the file's recorded downloads (newest last, at most
	// the last 50); DownloadCount and DownloadClients count all of them.
	Downloads                      []storage.DownloadRecord
	DownloadCount, DownloadClients int
	UploadTime                     time.Time
	CooldownEnd                    time.Time
	Attestation                    *policy.Attestation
	Prior                          *policy.PriorAttestation
	Signals                        *policy.Signals
	Breakdown                      []kv
	Content                        *policy.Content
	ProjectURL                     string
	SimpleURL                      string
	Events                         []storage.AuditEvent
	CanApprove                     bool
	// Holding are the checks an approval must waive, each ticked by the
	// reviewer; Fingerprint names the evidence the page shows.
	Holding     []string
	Fingerprint string
	CanReject   bool
	CanReopen   bool
}

type reasonView struct {
	policy.Reason
	Evidence []kv
}

type kv struct {
	Key   string
	Value any
}

func (u *UI) detail(w http.ResponseWriter, r *http.Request, s *session) {
	u.showDetail(w, r, s, mux.Vars(r)["sha"], http.StatusOK, "")
}

func (u *UI) showDetail(w http.ResponseWriter, r *http.Request, s *session, sha string, code int, errMsg string) {
	ctx := r.Context()
	v, err := u.q.Get(ctx, sha)
	if errors.Is(err, quarantine.ErrNotFound) {
		u.render(w, r, http.StatusNotFound, "message", pageData{Title: "Not found", SignedIn: true, CSRF: s.csrf, Error: "No decision is recorded for this file."})
		return
	}
	if err != nil {
		u.render(w, r, http.StatusInternalServerError, "message", pageData{Title: "Error", SignedIn: true, CSRF: s.csrf, Error: "Could not read this file's decision."})
		return
	}
	d := &detailView{View: v, UploadTime: v.Inputs.UploadTime, Attestation: v.Inputs.Attestation, Prior: v.Inputs.Prior,
		Signals: v.Inputs.Signals, Content: v.Inputs.Content, Checks: u.gate.Checks(v)}
	for _, w := range u.gate.Warnings() {
		d.AttestationUnavailable = d.AttestationUnavailable || w.Reason == gate.ReasonNoProvenance
	}
	if recs, err := u.gate.DownloadsFor(ctx, v.SHA256, time.Time{}); err == nil {
		clients := map[string]bool{}
		for _, rec := range recs {
			clients[rec.Client] = true
		}
		d.DownloadCount, d.DownloadClients = len(recs), len(clients)
		d.Downloads = recs[max(0, len(recs)-50):]
	}
	for _, reason := range v.Decision.Reasons {
		rv := reasonView{Reason: reason}
		keys := make([]string, 0, len(reason.Evidence))
		for k := range reason.Evidence {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			rv.Evidence = append(rv.Evidence, kv{k, reason.Evidence[k]})
		}
		if reason.Check == policy.CheckCooldown && !reason.Until.IsZero() {
			d.CooldownEnd = reason.Until
		}
		d.Reasons = append(d.Reasons, rv)
	}
	if d.Signals != nil {
		keys := make([]string, 0, len(d.Signals.Breakdown))
		for k := range d.Signals.Breakdown {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			d.Breakdown = append(d.Breakdown, kv{k, d.Signals.Breakdown[k]})
		}
	}
	if u.upstream != "" {
		d.ProjectURL = u.upstream + "/project/" + v.Project + "/" + v.Version + "/"
	}
	d.SimpleURL = "/simple/" + v.Project + "/"
	d.Events, _ = u.q.AuditLog(ctx, 50, func(ev storage.AuditEvent) bool { return ev.SHA256 == v.SHA256 })
	st := quarantine.State(v.State)
	d.CanApprove = quarantine.CanApply(quarantine.Approve, st)
	d.Holding, d.Fingerprint = quarantine.HoldingChecks(v.Decision), quarantine.EvidenceFingerprint(v.Decision)
	d.CanReject = quarantine.CanApply(quarantine.Reject, st)
	d.CanReopen = quarantine.CanApply(quarantine.Reopen, st)
	notice := ""
	if r.URL.Query().Get("decided") == "1" && errMsg == "" {
		notice = v.Filename + " is now " + v.State
	}
	u.render(w, r, code, "detail", pageData{Title: v.Filename, SignedIn: true, CSRF: s.csrf, File: d, Error: errMsg, Notice: notice})
}

// window is one period of the overview.
type window struct {
	Name string
	// Downloads counts whole files served to clients in the period;
	// Decided the files first decided in it, by their state now.
	Downloads int
	Decided   int
	Serving   int
	Held      int
	Checks    []kv
}

func (u *UI) overview(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	now := u.now()
	wins := []struct {
		name string
		d    time.Duration
	}{{"Last 24 hours", 24 * time.Hour}, {"Last 7 days", 7 * 24 * time.Hour}}
	out := make([]window, len(wins))
	byCheck := make([]map[string]int, len(wins))
	for i, win := range wins {
		out[i].Name = win.name
		byCheck[i] = map[string]int{}
	}
	err := u.q.Records(ctx, func(rec storage.DecisionRecord) error {
		for i, win := range wins {
			if now.Sub(rec.CreatedAt) > win.d {
				continue
			}
			out[i].Decided++
			switch {
			case quarantine.State(rec.State).Serves():
				out[i].Serving++
			default:
				out[i].Held++
				checks := rec.Checks
				if len(checks) == 0 {
					checks = []string{"review"}
				}
				for _, c := range checks {
					byCheck[i][c]++
				}
			}
		}
		return nil
	})
	if err != nil {
		u.render(w, r, http.StatusInternalServerError, "message", pageData{Title: "Error", SignedIn: true, CSRF: s.csrf, Error: "Could not read the decisions."})
		return
	}
	for i, win := range wins {
		if out[i].Downloads, err = u.gate.DownloadsServed(ctx, now.Add(-win.d)); err != nil {
			u.render(w, r, http.StatusInternalServerError, "message", pageData{Title: "Error", SignedIn: true, CSRF: s.csrf, Error: "Could not read the download counts."})
			return
		}
		keys := make([]string, 0, len(byCheck[i]))
		for k := range byCheck[i] {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(a, b int) bool {
			if byCheck[i][keys[a]] != byCheck[i][keys[b]] {
				return byCheck[i][keys[a]] > byCheck[i][keys[b]]
			}
			return keys[a] < keys[b]
		})
		for _, k := range keys {
			out[i].Checks = append(out[i].Checks, kv{k, byCheck[i][k]})
		}
	}
	confusions, err := u.gate.Confusions(ctx)
	if err != nil {
		u.render(w, r, http.StatusInternalServerError, "message", pageData{Title: "Error", SignedIn: true, CSRF: s.csrf, Error: "Could not read the dependency confusion records."})
		return
	}
	records, sources := 0, []advisories.SourceStatus(nil)
	if u.feeds != nil {
		records, sources = u.feeds.Records(), u.feeds.Status()
	}
	u.render(w, r, http.StatusOK, "overview", pageData{Title: "Overview", SignedIn: true, CSRF: s.csrf, Windows: out, Confusions: confusions,
		AdvisoryRecords: records, AdvisorySources: sources})
}
