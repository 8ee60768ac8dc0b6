package notify

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"airlock/policy"
	"airlock/quarantine"
	"airlock/storage"
)

func holdEvent() quarantine.Event {
	sha := strings.Repeat("a", 64)
	return quarantine.Event{Kind: "hold", Actor: quarantine.Actor, Record: quarantine.View{
		DecisionRecord: storage.DecisionRecord{SHA256: sha, Project: "beta", Version: "2.0", Filename: "beta-2.0-py3-none-any.whl", State: "held"},
		ReviewID:       sha[:12],
		Decision: policy.Decision{Action: policy.Hold, Until: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC),
			Reasons: []policy.Reason{{Check: "cooldown", Action: policy.Hold, Message: "cooldown until 2026-11-30T08:00Z (7d cooldown)"}}},
	}}
}

type receiver struct {
	mu       sync.Mutex
	payloads []Payload
	attempts int
	fail     int // answer 500 to this many requests first
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.attempts++
	if rc.attempts <= rc.fail {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var p Payload
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &p) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.payloads = append(rc.payloads, p)
}

func TestDeliveryWithRetries(t *testing.T) {
	rc := &receiver{fail: 2}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	w := New([]string{srv.URL + "/hook"}, time.Second, 3, zerolog.Nop())
	w.backoff = time.Millisecond
	w.Notify(holdEvent())
	w.Close()
	if rc.attempts != 3 || len(rc.payloads) != 1 {
		t.Fatalf("attempts %d, delivered %d", rc.attempts, len(rc.payloads))
	}
	p := rc.payloads[0]
	if !strings.Contains(p.Text, "Airlock held beta-2.0-py3-none-any.whl") || !strings.Contains(p.Text, "cooldown until 2026-11-30T08:00Z") ||
		p.Event != "hold" || p.SHA256 != strings.Repeat("a", 64) || p.ReviewID != strings.Repeat("a", 12) ||
		p.Until != "2026-11-30T08:00:00Z" || len(p.Reasons) != 1 || p.Checks[0] != "cooldown" {
		t.Errorf("payload: %+v", p)
	}
}

func TestFailingWebhookIsLoggedAndNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer slow.Close()
	var logs bytes.Buffer
	w := New([]string{slow.URL}, 5*time.Second, 1, zerolog.New(&logs))
	w.backoff = time.Millisecond
	for i := 0; i < 2000; i++ { // more than the queue holds: Notify must not wait
		w.Notify(holdEvent())
	}
	close(release)
	w.Close()
	if !strings.Contains(logs.String(), "webhook delivery failed") || !strings.Contains(logs.String(), "webhook queue full") {
		t.Errorf("failures not logged:\n%.500s", logs.String())
	}
}

// TestChatTextEscaped: a member named to ping the channel and show a
// disguised link arrives as text.
func TestChatTextEscaped(t *testing.T) {
	e := holdEvent()
	e.Record.Decision.Reasons[0].Message = "critical pth-exec in <!channel> <https://evil.example/approve|Click here to approve>.pth"
	e.Record.Decision.Reasons[0].Check = "content"
	p := payloadOf(e)
	if strings.Contains(p.Text, "<!channel>") || strings.Contains(p.Text, "<https://") {
		t.Errorf("chat text not escaped: %s", p.Text)
	}
	if !strings.Contains(p.Text, "&lt;!channel&gt; &lt;https://evil.example/approve|Click here to approve&gt;") {
		t.Errorf("chat text: %s", p.Text)
	}
}
