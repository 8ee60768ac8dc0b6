package adminapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"airlock/internal/storetest"
	"airlock/reviewauth"

	"github.com/gorilla/mux"
	"github.com/rs/zerolog"

	"airlock/gate"
	"airlock/policy"
	"airlock/quarantine"
	"airlock/storage"
	"airlock/upstream"
)

const token = "s3cret-token"

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

type fakeEvaluator struct{ q *quarantine.Service }

func (f fakeEvaluator) Review(ctx context.Context, sha string, t quarantine.Transition, actor, remote, reason string, scope quarantine.Scope) (quarantine.View, error) {
	return f.q.Apply(ctx, sha, t, actor, remote, reason, scope)
}

func (f fakeEvaluator) Checks(quarantine.View) []gate.CheckStatus {
	return []gate.CheckStatus{{Check: "content", Status: "not yet run"}}
}

// Evaluate decides two files of young==1.0 (held) and nothing else.
func (f fakeEvaluator) Evaluate(ctx context.Context, project, version string) ([]quarantine.View, error) {
	if project != "young" || version != "1.0" {
		return nil, upstream.ErrNotFound
	}
	var out []quarantine.View
	for _, sha := range []string{strings.Repeat("a", 64), strings.Repeat("b", 64)} {
		v, err := f.q.Decide(ctx, policy.Input{Project: "young", Version: "1.0", Filename: "young-1.0-" + sha[:1] + ".tar.gz", SHA256: sha, UploadTime: now.Add(-time.Hour)})
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func setup(t *testing.T, tok string) (*httptest.Server, *quarantine.Service) {
	store, err := storetest.Open(t, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	engine, _ := policy.NewEngine(policy.DefaultRules())
	q := quarantine.New(store, engine, nil, func() time.Time { return now }, zerolog.Nop())
	r := mux.NewRouter()
	New(q, fakeEvaluator{q}, nil, Options{Auth: reviewauth.New(reviewauth.Options{Token: tok})}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, q
}

func call(t *testing.T, srv *httptest.Server, method, path, tok, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, path, data)
		}
	}
	return resp.StatusCode
}

func TestAuth(t *testing.T) {
	srv, _ := setup(t, token)
	for _, tok := range []string{"", "wrong", token + "x", strings.ToUpper(token)} {
		var e map[string]string
		if code := call(t, srv, "GET", "/api/v1/quarantine", tok, "", &e); code != http.StatusUnauthorized || e["error"] == "" {
			t.Errorf("token %q: %d %v", tok, code, e)
		}
	}
	if code := call(t, srv, "POST", "/api/v1/quarantine/"+strings.Repeat("a", 64)+"/approve", "wrong", `{"reason":"x"}`, nil); code != http.StatusUnauthorized {
		t.Errorf("approve with a wrong token: %d", code)
	}
	if code := call(t, srv, "GET", "/api/v1/quarantine", token, "", nil); code != 200 {
		t.Errorf("right token: %d", code)
	}

	// Guessing is slowed down: after ten failures a minute, further wrong
	// attempts wait; the right token is never refused (behind a proxy,
	// every client shares an address, and anyone could lock the admin out).
	for i := 0; i < 10; i++ {
		call(t, srv, "GET", "/api/v1/quarantine", "guess", "", nil)
	}
	if code := call(t, srv, "GET", "/api/v1/quarantine", "guess", "", nil); code != http.StatusTooManyRequests {
		t.Errorf("wrong token after repeated failures: %d, want 429", code)
	}
	if code := call(t, srv, "GET", "/api/v1/quarantine", token, "", nil); code != 200 {
		t.Errorf("right token after others' failures: %d, want 200", code)
	}

	off, _ := setup(t, "")
	var e map[string]string
	if code := call(t, off, "GET", "/api/v1/quarantine", "anything", "", &e); code != http.StatusServiceUnavailable || !strings.Contains(e["error"], "admin API is off") {
		t.Errorf("no token configured: %d %v", code, e)
	}
}

func TestReviewFlow(t *testing.T) {
	srv, _ := setup(t, token)
	var ev struct{ Files []quarantine.View }
	if code := call(t, srv, "POST", "/api/v1/evaluate", token, `{"target":"Young==1.0"}`, &ev); code != 200 || len(ev.Files) != 2 {
		t.Fatalf("evaluate: %d %+v", code, ev)
	}
	if code := call(t, srv, "POST", "/api/v1/evaluate", token, `{"target":"nosuch==1"}`, nil); code != 404 {
		t.Errorf("evaluate unknown: %d", code)
	}
	if code := call(t, srv, "POST", "/api/v1/evaluate", token, `{"target":"young"}`, nil); code != 400 {
		t.Errorf("evaluate without version: %d", code)
	}

	var list ListResponse
	call(t, srv, "GET", "/api/v1/quarantine?project=young&check=cooldown", token, "", &list)
	if len(list.Files) != 2 || list.Counts[quarantine.Held] != 2 {
		t.Fatalf("list: %+v", list)
	}
	call(t, srv, "GET", "/api/v1/quarantine?check=not_after", token, "", &list)
	if len(list.Files) != 0 {
		t.Errorf("check filter: %d files", len(list.Files))
	}

	a := strings.Repeat("a", 64)
	var v quarantine.View
	if code := call(t, srv, "GET", "/api/v1/quarantine/"+a[:12], token, "", &v); code != 200 || v.SHA256 != a || len(v.Decision.Reasons) == 0 || v.Decision.Reasons[0].Evidence["upload_time"] == nil {
		t.Errorf("show by review id: %d %+v", code, v)
	}
	if code := call(t, srv, "GET", "/api/v1/quarantine/"+strings.Repeat("c", 64), token, "", nil); code != 404 {
		t.Errorf("show unknown: %d", code)
	}
	if code := call(t, srv, "POST", "/api/v1/quarantine/"+a+"/approve", token, `{"reason":"  "}`, nil); code != 400 {
		t.Errorf("approve without reason: %d", code)
	}
	if code := call(t, srv, "POST", "/api/v1/quarantine/"+a+"/approve", token, `{"reason":"checked the diff","actor":"alice"}`, &v); code != 200 || v.State != "approved" || !v.Serve {
		t.Errorf("approve: %d %+v", code, v)
	}
	if code := call(t, srv, "POST", "/api/v1/quarantine/"+a+"/approve", token, `{"reason":"again"}`, nil); code != http.StatusConflict {
		t.Errorf("approve twice: %d", code)
	}
	b := strings.Repeat("b", 64)
	if code := call(t, srv, "POST", "/api/v1/quarantine/"+b+"/reject", token, `{"reason":"typosquat"}`, &v); code != 200 || v.State != "rejected" {
		t.Errorf("reject: %d %+v", code, v)
	}
	if code := call(t, srv, "POST", "/api/v1/quarantine/"+b+"/reopen", token, `{"reason":"second look"}`, &v); code != 200 || v.State != "held" {
		t.Errorf("reopen: %d %+v", code, v)
	}

	var audit struct{ Events []storage.AuditEvent }
	call(t, srv, "GET", "/api/v1/audit?sha256="+b[:12], token, "", &audit)
	if len(audit.Events) != 3 || audit.Events[0].To != "held" || audit.Events[1].To != "rejected" || audit.Events[0].Remote != "127.0.0.1" {
		t.Errorf("audit: %+v", audit.Events)
	}
	call(t, srv, "GET", "/api/v1/audit?sha256="+a, token, "", &audit)
	if len(audit.Events) != 2 || audit.Events[0].Actor != "admin:alice" || audit.Events[0].Reason != "checked the diff (waived: cooldown)" {
		t.Errorf("audit of a: %+v", audit.Events)
	}
}

func (f fakeEvaluator) DownloadsFor(ctx context.Context, target string, since time.Time) ([]storage.DownloadRecord, error) {
	if target != "x==1" {
		return nil, gate.ErrUnknownTarget
	}
	return []storage.DownloadRecord{{Time: since.Add(time.Hour), SHA256: "s", Client: "10.0.0.1"}, {Time: since.Add(2 * time.Hour), SHA256: "s", Client: "10.0.0.2"}}, nil
}
