package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

// TestApprovalReleasesOnlyWhatWasReviewed: approv 1.1 is held for its
// cooldown and a content finding (a .pth that runs a payload). A plain
// `airlock quarantine approve` refuses and lists the content reason; one
// that waives the cooldown only refuses too; pip never gets the payload.
// The reviewer reads `quarantine show` (holds and fingerprint); a
// vulnerability advisory arrives; the approval with the fingerprint read
// before is refused with the new evidence (409 from the API). Waiving
// every hold of the evidence now shown approves it.
func TestApprovalReleasesOnlyWhatWasReviewed(t *testing.T) {
	requireVenv(t)
	pip := pipClient("pinned-pip", filepath.Join(venv, "bin", "python"))
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	fake.AddWheel(fakepypi.WheelSpec{Name: "approv", Version: "1.0"}, uploaded)
	bad := fake.AddWheel(fakepypi.WheelSpec{Name: "approv", Version: "1.1", Extra: poisonPth}, time.Now().Add(-time.Hour))
	feedDir := t.TempDir()
	const token = "approve-scope-token-0123456789abcd"
	cfg := filepath.Join(t.TempDir(), "airlock.yaml")
	os.WriteFile(cfg, []byte("policy:\n  vulnerabilities: {critical: hold}\n"), 0o600)
	dataDir := t.TempDir()
	a, err := launchArgs(t, dataDir, []string{"--config", cfg}, append(airlockEnv(fake, "AIRLOCK_ADMIN_TOKEN="+token, "AIRLOCK_SIGNALS_ENABLED=false", "AIRLOCK_FEEDS_OSV="+feedDir), backendEnv(t, dataDir)...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.stop)
	cli := func(args ...string) (string, error) {
		cmd := exec.Command(airlockBin, append([]string{"quarantine"}, args...)...)
		cmd.Env = append(cleanEnv(), "AIRLOCK_ADMIN_TOKEN="+token, "AIRLOCK_SERVER="+a.URL)
		return run(t, cmd)
	}
	run(t, pip.install(a.URL+"/simple/", t.TempDir(), "approv==1.1")) // the metadata request queues its inspection
	waitForBackground(t, a.URL)
	if out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), "approv==1.1")); err == nil || !strings.Contains(out, "pth-exec") {
		t.Fatalf("approv 1.1 must be held for its content: %v\n%s", err, out)
	}
	out, err := cli("approve", "--reason", "we need it today", "approv==1.1")
	if err == nil || !strings.Contains(out, "also held for content") || !strings.Contains(out, "pth-exec in litellm_init.pth") || !strings.Contains(out, "--waive cooldown,content") {
		t.Errorf("a plain approval of a content hold: %v\n%s", err, out)
	}
	if out, err := cli("approve", "--waive", "cooldown", "--reason", "only the cooldown", "approv==1.1"); err == nil || !strings.Contains(out, "also held for content") {
		t.Errorf("waiving the cooldown alone: %v\n%s", err, out)
	}
	if out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), "approv==1.1")); err == nil {
		t.Fatalf("pip got the payload after refused approvals:\n%s", out)
	}

	show, err := cli("show", "--json", bad.SHA256()[:12])
	var shown []struct {
		Holding     []string `json:"holding_checks"`
		Fingerprint string   `json:"evidence_fingerprint"`
	}
	if err != nil || json.Unmarshal([]byte(show), &shown) != nil || len(shown) != 1 || len(shown[0].Fingerprint) != 16 ||
		strings.Join(shown[0].Holding, ",") != "cooldown,content" {
		t.Fatalf("quarantine show --json: %v\n%s", err, show)
	}
	if text, _ := cli("show", bad.SHA256()[:12]); !strings.Contains(text, "--evidence "+shown[0].Fingerprint) {
		t.Errorf("quarantine show does not print how to approve what it shows:\n%s", text)
	}

	// The news arrives between reading and approving.
	os.MkdirAll(filepath.Join(feedDir, "vulns"), 0o755)
	os.WriteFile(filepath.Join(feedDir, "vulns", "GHSA-appr-0001.json"), []byte(`{"id":"GHSA-appr-0001","summary":"Remote code execution",
"database_specific":{"severity":"CRITICAL"},"affected":[{"package":{"ecosystem":"PyPI","name":"approv"},"versions":["1.1"]}]}`), 0o644)
	if status, out := adminCall(t, a.URL, token, http.MethodPost, "/feeds/refresh", ""); status != http.StatusOK {
		t.Fatalf("refresh: %d %s", status, out)
	}
	body := `{"reason":"the .pth is the vendor's updater","waive":["cooldown","content"],"evidence":"` + shown[0].Fingerprint + `"}`
	status, answer := adminCall(t, a.URL, token, http.MethodPost, "/quarantine/"+bad.SHA256()[:12]+"/approve", body)
	if status != http.StatusConflict || !strings.Contains(string(answer), "evidence changed") || !strings.Contains(string(answer), "GHSA-appr-0001") {
		t.Errorf("an approval of evidence that changed: %d\n%s", status, answer)
	}
	if out, err := cli("approve", "--waive", "cooldown,content", "--evidence", shown[0].Fingerprint, "--reason", "x", "approv==1.1"); err == nil || !strings.Contains(out, "evidence changed") {
		t.Errorf("the CLI's approval of evidence that changed: %v\n%s", err, out)
	}
	if out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), "approv==1.1")); err == nil {
		t.Fatalf("pip got the payload:\n%s", out)
	}

	// Everything now shown, waived by name: approved.
	if out, err := cli("approve", "--waive", "cooldown,content,vulnerability", "--reason", "reviewed the diff and GHSA-appr-0001 with the maintainers", "approv==1.1"); err != nil || !strings.Contains(out, "held -> approved") {
		t.Fatalf("an approval of every hold shown: %v\n%s", err, out)
	}
	if out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), "approv==1.1")); err != nil {
		t.Errorf("pip after the approval: %v\n%s", err, out)
	}
}

// TestReviewerIdentityRecorded: with admin.reviewers_file, a reviewer's
// own token names them: an approval from the CLI with Alice's token and a
// rejection on the review page signed in with Bob's are recorded as
// reviewer:alice and reviewer:bob, in the audit log and the webhooks (they
// were admin:root and ui:127.0.0.1).
func TestReviewerIdentityRecorded(t *testing.T) {
	requireVenv(t)
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	first := fake.AddWheel(fakepypi.WheelSpec{Name: "idpkg", Version: "1.0"}, time.Now().Add(-time.Hour))
	second := fake.AddWheel(fakepypi.WheelSpec{Name: "idpkg2", Version: "1.0"}, time.Now().Add(-time.Hour))
	const admin = "identity-admin-token-0123456789abcd"
	alice, bob := "alice-own-token-0123456789", "bob-own-token-0123456789"
	dir := t.TempDir()
	reviewers := filepath.Join(dir, "reviewers")
	os.WriteFile(reviewers, []byte("alice:"+sha256hex(alice)+"\nbob:"+sha256hex(bob)+"\n"), 0o600)
	hookURL, hooks := webhookRecorder(t)
	a := startAirlock(t, filepath.Join(dir, "data"), airlockEnv(fake, "AIRLOCK_ADMIN_TOKEN="+admin, "AIRLOCK_ADMIN_REVIEWERS_FILE="+reviewers,
		"AIRLOCK_SIGNALS_ENABLED=false", "AIRLOCK_NOTIFY_WEBHOOKS="+hookURL)...)
	pip := pipClient("pinned-pip", filepath.Join(venv, "bin", "python"))
	for _, req := range []string{"idpkg==1.0", "idpkg2==1.0"} {
		run(t, pip.install(a.URL+"/simple/", t.TempDir(), req)) // held: cooldown
	}
	cmd := exec.Command(airlockBin, "quarantine", "approve", "--server", a.URL, "--reason", "needed today", "idpkg==1.0")
	cmd.Env = append(cleanEnv(), "AIRLOCK_ADMIN_TOKEN="+alice)
	if out, err := run(t, cmd); err != nil || !strings.Contains(out, "held -> approved") {
		t.Fatalf("approve with alice's token: %v\n%s", err, out)
	}
	// Bob signs in to the review page with his own token (no name asked).
	csrfCookie, session := signIn(t, a.URL, bob)
	_ = csrfCookie
	page, _ := http.NewRequest(http.MethodGet, a.URL+"/ui/file/"+second.SHA256(), nil)
	page.AddCookie(session)
	resp, err := http.DefaultClient.Do(page)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(resp.Body)
	resp.Body.Close()
	_, rest, _ := strings.Cut(body, `name="csrf" value="`)
	csrf, _, _ := strings.Cut(rest, `"`)
	form := strings.NewReader("csrf=" + csrf + "&reason=typosquat")
	post, _ := http.NewRequest(http.MethodPost, a.URL+"/ui/file/"+second.SHA256()+"/reject", form)
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	post.AddCookie(session)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := client.Do(post); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reject on the review page: %v %v", resp, err)
	}

	_, raw := adminCall(t, a.URL, admin, http.MethodGet, "/audit?limit=50", "")
	var audit struct {
		Events []struct{ SHA256, To, Actor string }
	}
	json.Unmarshal(raw, &audit)
	want := map[string]string{first.SHA256(): "reviewer:alice", second.SHA256(): "reviewer:bob"}
	for _, e := range audit.Events {
		if w, ok := want[e.SHA256]; ok && (e.To == "approved" || e.To == "rejected") {
			if e.Actor != w {
				t.Errorf("%s recorded as %q, want %q", e.To, e.Actor, w)
			}
			delete(want, e.SHA256)
		}
	}
	if len(want) > 0 {
		t.Errorf("decisions missing from the audit log: %v (%+v)", want, audit)
	}
	seen := map[string]bool{}
	for deadline := time.Now().Add(10 * time.Second); len(seen) < 2 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, h := range hooks() {
			if actor, _ := h["actor"].(string); actor == "reviewer:alice" || actor == "reviewer:bob" {
				seen[actor] = true
			}
		}
	}
	if len(seen) != 2 {
		t.Errorf("webhooks name %v, want both reviewers", seen)
	}
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
