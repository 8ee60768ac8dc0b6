package e2e

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"airlock/internal/fakepypi"
)

// chromium finds Debian's chromium (scripts/test.sh installs it); the test
// fails, never skips, without it.
func chromium(t *testing.T) string {
	for _, p := range []string{os.Getenv("E2E_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("chromium not found: run `bash scripts/test.sh` (it installs Debian's chromium) or set E2E_CHROMIUM")
	return ""
}

// TestReviewPageInChromium: sign in (a wrong token cannot), see the queue,
// open a held file and its reasons, approve it (then pip installs it),
// reject another; a form posted without its CSRF token is refused.
// Screenshots of the queue and the detail page go to test-artifacts/.
func TestReviewPageInChromium(t *testing.T) {
	requireVenv(t)
	browser := chromium(t)
	fake := newUpstream(t)
	fake.AddWheel(fakepypi.WheelSpec{Name: "gatepkg", Version: "1.0"}, uploaded)
	held := fake.AddWheel(fakepypi.WheelSpec{Name: "gatepkg", Version: "1.1"}, time.Now().Add(-time.Hour))
	fake.AddWheel(fakepypi.WheelSpec{Name: "rejpkg", Version: "1.0"}, uploaded)
	other := fake.AddWheel(fakepypi.WheelSpec{Name: "rejpkg", Version: "2.0", Extra: map[string]string{
		"rejpkg_init.pth": "import os; exec(__import__('base64').b64decode('cHJpbnQoMSk='))\n"}}, time.Now().Add(-2*time.Hour))
	a := startAirlock(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_ADMIN_TOKEN=ui-token-0123456789abcdefghijklmnop", "AIRLOCK_BACKGROUND_LEAD=14d")...)
	// Listing the projects queues their releases in cooldown; the
	// background checks decide them (content included).
	for _, p := range []string{"gatepkg", "rejpkg"} {
		resp, err := http.Get(a.URL + "/simple/" + p + "/")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("listing %s: %v %v", p, resp, err)
		}
		resp.Body.Close()
	}
	waitForBackground(t, a.URL)

	artifacts := filepath.Join(repoRoot, "test-artifacts")
	os.MkdirAll(artifacts, 0o755)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()

	var body, location string
	var png []byte
	var fits bool
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// A person who opens Airlock's address lands on a page that says what
	// it is and how to point pip and uv at it.
	run("landing page",
		chromedp.Navigate(a.URL+"/"),
		chromedp.WaitVisible("h1", chromedp.ByQuery),
		chromedp.Text("body", &body, chromedp.ByQuery),
		chromedp.Evaluate(`document.documentElement.scrollWidth <= window.innerWidth`, &fits),
		chromedp.FullScreenshot(&png, 100))
	os.WriteFile(filepath.Join(artifacts, "landing.png"), png, 0o644)
	for _, want := range []string{"Airlock", "index-url = " + a.URL + "/simple/", "UV_DEFAULT_INDEX=" + a.URL + "/simple/", "review page"} {
		if !strings.Contains(body, want) {
			t.Errorf("landing page lacks %q", want)
		}
	}
	if !fits {
		t.Error("the landing page scrolls horizontally at 1280 px")
	}
	run("wrong token",
		chromedp.Navigate(a.URL+"/ui/"),
		chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.SendKeys("#token", "not-the-token", chromedp.ByID),
		chromedp.Submit("#token", chromedp.ByID),
		chromedp.WaitVisible(".error", chromedp.ByQuery),
		chromedp.Text("main", &body, chromedp.ByQuery),
		chromedp.Location(&location))
	if !strings.Contains(body, "Wrong token") || !strings.HasSuffix(location, "/ui/login") {
		t.Fatalf("wrong token: %s at %s", body, location)
	}
	// Keyboard only from here: the token field has focus; Enter submits.
	run("sign in",
		chromedp.SendKeys("#token", "ui-token-0123456789abcdefghijklmnop", chromedp.ByID),
		chromedp.KeyEvent(kb.Tab),
		chromedp.SendKeys("#name", "Alice Reviewer"+kb.Enter, chromedp.ByID),
		chromedp.WaitVisible("table", chromedp.ByQuery),
		chromedp.Location(&location),
		chromedp.Text("main", &body, chromedp.ByQuery),
		chromedp.Evaluate(`document.documentElement.scrollWidth <= window.innerWidth`, &fits),
		chromedp.FullScreenshot(&png, 100))
	os.WriteFile(filepath.Join(artifacts, "ui-queue.png"), png, 0o644)
	if !strings.HasSuffix(location, "/ui/queue") || !strings.Contains(body, held.Filename) || !strings.Contains(body, other.Filename) {
		t.Fatalf("queue at %s:\n%s", location, body)
	}
	if !fits {
		t.Error("the queue scrolls horizontally at 1280 px")
	}

	run("open the held file",
		chromedp.Click(`a[href="/ui/file/`+held.SHA256()+`"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#approve-reason", chromedp.ByID),
		chromedp.Text("main", &body, chromedp.ByQuery),
		chromedp.Evaluate(`document.documentElement.scrollWidth <= window.innerWidth`, &fits),
		chromedp.FullScreenshot(&png, 100))
	os.WriteFile(filepath.Join(artifacts, "ui-detail.png"), png, 0o644)
	for _, want := range []string{"cooldown until", "Cooldown ends", "Uploaded", "Commitment score", "upstream project page", "History"} {
		if !strings.Contains(body, want) {
			t.Errorf("detail page lacks %q", want)
		}
	}
	if !fits {
		t.Error("the detail page scrolls horizontally at 1280 px")
	}
	// Tick the hold to waive (each is named: an approval releases nothing
	// the reviewer did not tick), type the reason, Tab to the Approve
	// button, press Enter.
	run("approve",
		chromedp.Click(`input[name="waive"][value="cooldown"]`, chromedp.ByQuery),
		chromedp.SendKeys("#approve-reason", "reviewed in the browser test", chromedp.ByID),
		chromedp.KeyEvent(kb.Tab),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(".notice", chromedp.ByQuery),
		chromedp.Text(".notice", &body, chromedp.ByQuery))
	if !strings.Contains(body, "is now approved") {
		t.Fatalf("approve: %s", body)
	}
	pip := pipClient("pinned-pip", filepath.Join(venv, "bin", "python"))
	target := t.TempDir()
	if out, err := runCmd(t, pip.install(a.URL+"/simple/", target, "gatepkg==1.1")); err != nil {
		t.Fatalf("pip after approval: %v\n%s", err, out)
	}
	assertInstalled(t, target, map[string]string{"gatepkg": "1.1"})

	run("reject another",
		chromedp.Navigate(a.URL+"/ui/file/"+other.SHA256()),
		chromedp.WaitVisible("#reject-reason", chromedp.ByID),
		chromedp.Text("main", &body, chromedp.ByQuery))
	if !strings.Contains(body, "critical") || !strings.Contains(body, "rejpkg_init.pth") {
		t.Errorf("content finding not shown:\n%s", body)
	}
	run("reject",
		chromedp.SendKeys("#reject-reason", "executable .pth added", chromedp.ByID),
		chromedp.Click(`form[action$="/reject"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(".notice", chromedp.ByQuery),
		chromedp.Text(".notice", &body, chromedp.ByQuery))
	if !strings.Contains(body, "is now rejected") {
		t.Fatalf("reject: %s", body)
	}

	// A form posted with the session but without its CSRF token is refused.
	var cookies []*network.Cookie
	run("cookies", chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().Do(ctx)
		return err
	}))
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/ui/file/"+other.SHA256()+"/reopen", strings.NewReader(url.Values{"reason": {"x"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		if c.Name == "airlock_session" {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST without CSRF token: %d, want 403", resp.StatusCode)
	}

	run("audit and overview",
		chromedp.Navigate(a.URL+"/ui/audit"),
		chromedp.Text("main", &body, chromedp.ByQuery))
	if !strings.Contains(body, "reviewed in the browser test") || !strings.Contains(body, "executable .pth added") || !strings.Contains(body, "ui:Alice Reviewer") {
		t.Errorf("audit log:\n%s", body)
	}
	run("overview", chromedp.Navigate(a.URL+"/ui/overview"), chromedp.Text("main", &body, chromedp.ByQuery))
	if !strings.Contains(body, "Last 24 hours") || !strings.Contains(body, "content") {
		t.Errorf("overview:\n%s", body)
	}
	run("sign out", chromedp.Click(`header button`, chromedp.ByQuery), chromedp.WaitVisible("#token", chromedp.ByID))
}

func runCmd(t *testing.T, cmd *exec.Cmd) (string, error) { return run(t, cmd) }
