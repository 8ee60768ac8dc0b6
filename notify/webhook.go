// Package notify delivers quarantine events to webhooks: a JSON POST with a
// Slack-compatible "text" line and structured fields. Delivery runs on its
// own goroutine with a timeout and retries; a failing webhook is logged and
// never slows serving (events beyond the queue are dropped and logged).
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"airlock/quarantine"
	"airlock/textsafe"
)

// Payload is what a webhook receives.
type Payload struct {
	Text     string          `json:"text"`
	Event    string          `json:"event"` // hold, release or reject
	Project  string          `json:"project"`
	Version  string          `json:"version"`
	Filename string          `json:"filename"`
	SHA256   string          `json:"sha256"`
	ReviewID string          `json:"review_id"`
	State    string          `json:"state"`
	Action   string          `json:"action"`
	Checks   []string        `json:"checks,omitempty"`
	Reasons  []reasonPayload `json:"reasons"`
	Until    string          `json:"until,omitempty"`
	Actor    string          `json:"actor"`
	Note     string          `json:"note"`
	Time     string          `json:"time"`
	// Details describe an event about a project (dependency_confusion).
	Details map[string]any `json:"details,omitempty"`
	// Downloads and DownloadClients: how often, and to how many addresses,
	// a file now blocked was served before.
	Downloads       int `json:"downloads,omitempty"`
	DownloadClients int `json:"download_clients,omitempty"`
}

type reasonPayload struct {
	Check   string `json:"check"`
	Action  string `json:"action"`
	Message string `json:"message"`
}

// Webhooks sends events to every configured URL.
type Webhooks struct {
	urls    []string
	client  *http.Client
	retries int
	backoff time.Duration
	log     zerolog.Logger
	queue   chan quarantine.Event
	wg      sync.WaitGroup
	once    sync.Once
}

// New starts the delivery goroutine. Call Close to drain and stop it.
func New(urls []string, timeout time.Duration, retries int, log zerolog.Logger) *Webhooks {
	w := &Webhooks{urls: urls, client: &http.Client{Timeout: timeout}, retries: retries,
		backoff: 500 * time.Millisecond, log: log, queue: make(chan quarantine.Event, 1024)}
	w.wg.Add(1)
	go w.run()
	return w
}

// Notify queues an event without blocking.
func (w *Webhooks) Notify(e quarantine.Event) {
	if len(w.urls) == 0 {
		return
	}
	select {
	case w.queue <- e:
	default:
		w.log.Error().Str("sha256", e.Record.SHA256).Str("event", e.Kind).Msg("webhook queue full; event dropped")
	}
}

// Close delivers what is queued and stops.
func (w *Webhooks) Close() {
	w.once.Do(func() { close(w.queue) })
	w.wg.Wait()
}

func (w *Webhooks) run() {
	defer w.wg.Done()
	for e := range w.queue {
		body, err := json.Marshal(payloadOf(e))
		if err != nil {
			w.log.Error().Err(err).Msg("webhook payload")
			continue
		}
		for _, u := range w.urls {
			w.deliver(u, body, e)
		}
	}
}

func (w *Webhooks) deliver(url string, body []byte, e quarantine.Event) {
	var err error
	for attempt := 0; attempt <= w.retries; attempt++ {
		if attempt > 0 {
			time.Sleep(w.backoff << (attempt - 1))
		}
		var retry bool
		if retry, err = w.post(url, body); err == nil || !retry {
			break
		}
	}
	if err != nil {
		w.log.Error().Err(err).Str("webhook", redact(url)).Str("sha256", e.Record.SHA256).Str("event", e.Kind).Msg("webhook delivery failed")
	}
}

func (w *Webhooks) post(url string, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "airlock-webhook")
	resp, err := w.client.Do(req)
	if err != nil {
		return true, err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("webhook answered %s", resp.Status)
	}
	return false, fmt.Errorf("webhook answered %s", resp.Status)
}

func payloadOf(e quarantine.Event) Payload {
	r := e.Record
	p := Payload{Event: e.Kind, Project: r.Project, Version: r.Version, Filename: r.Filename, SHA256: r.SHA256,
		ReviewID: r.ReviewID, State: r.State, Action: string(r.Decision.Action), Checks: r.Decision.Checks(),
		Actor: e.Actor, Note: e.Reason, Time: time.Now().UTC().Format(time.RFC3339)}
	for _, reason := range r.Decision.Reasons {
		p.Reasons = append(p.Reasons, reasonPayload{reason.Check, string(reason.Action), reason.Message})
	}
	if !r.Decision.Until.IsZero() {
		p.Until = r.Decision.Until.UTC().Format(time.RFC3339)
	}
	// The chat line carries names and reasons from upstreams and archives:
	// escaped, so they cannot ping a channel or disguise a link.
	esc := textsafe.Slack
	if e.Details != nil {
		p.Details = e.Details
		msg, _ := e.Details["message"].(string)
		p.Text = fmt.Sprintf(":warning: Airlock %s: %s", esc(e.Kind), esc(msg))
		return p
	}
	p.Downloads, p.DownloadClients = e.Downloads, e.DownloadClients
	if e.Kind == "hold" {
		p.Text = fmt.Sprintf(":lock: Airlock %s %s (%s %s): %s (review %s)", verbFor(r.State), esc(r.Filename), esc(r.Project), esc(r.Version), esc(r.Decision.Summary()), r.ReviewID)
		if e.Downloads > 0 {
			p.Text += fmt.Sprintf(". It was downloaded %d times by %d addresses before: see airlock downloads %s", e.Downloads, e.DownloadClients, r.ReviewID)
		}
	} else if e.Kind == "reject" {
		p.Text = fmt.Sprintf(":no_entry: Airlock: %s rejected %s (%s %s): %s (review %s)", esc(e.Actor), esc(r.Filename), esc(r.Project), esc(r.Version), esc(e.Reason), r.ReviewID)
	} else {
		p.Text = fmt.Sprintf(":unlock: Airlock released %s (%s %s), %s by %s: %s (review %s)", esc(r.Filename), esc(r.Project), esc(r.Version), r.State, esc(e.Actor), esc(e.Reason), r.ReviewID)
	}
	return p
}

func verbFor(state string) string {
	if state == string(quarantine.Blocked) {
		return "blocked"
	}
	return "held"
}

// redact keeps a webhook's host but not its secret path (Slack puts the
// token there).
func redact(u string) string {
	if len(u) > 32 {
		return u[:32] + "…"
	}
	return u
}
