package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"airlock/config"
	"airlock/internal/fakepypi"
	"airlock/server"
)

// cliWorld is a fake upstream and a running Airlock app in front of it.
type cliWorld struct {
	fake       *fakepypi.Server
	srv        *httptest.Server
	app        *server.Server
	old, young *fakepypi.Dist
	dataDir    string
	ctx        context.Context // the test's: commands stop with it
}

func newCLIWorld(t *testing.T) *cliWorld {
	ctx := t.Context()
	t.Helper()
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	w := &cliWorld{fake: fake, dataDir: filepath.Join(t.TempDir(), "data"), ctx: ctx}
	w.old = fake.AddWheel(fakepypi.WheelSpec{Name: "beta", Version: "1.0"}, time.Now().Add(-30*24*time.Hour))
	w.young = fake.AddWheel(fakepypi.WheelSpec{Name: "beta", Version: "2.0"}, time.Now().Add(-time.Hour))
	t.Setenv("AIRLOCK_UPSTREAM_URL", fake.Index.URL)
	t.Setenv("AIRLOCK_UPSTREAM_FILE_HOSTS", fake.FileHost())
	t.Setenv("AIRLOCK_ADMIN_TOKEN", "cli-test-token-0123456789abcdefghij")
	t.Setenv("AIRLOCK_SIGNALS_PYPISTATS_URL", fake.Stats.URL)
	t.Setenv("AIRLOCK_SIGNALS_GITHUB_API_URL", fake.GitHub.URL)
	cfg, err := config.Load("", os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = w.dataDir
	onTestBackend(t, &cfg)
	w.app, err = server.New(ctx, cfg, zerolog.Nop(), version)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.app.Close)
	w.srv = httptest.NewServer(w.app.Handler())
	t.Cleanup(w.srv.Close)
	return w
}

func (w *cliWorld) run(args ...string) (int, string) {
	var out bytes.Buffer
	code := run(w.ctx, args, &out, &out)
	return code, out.String()
}

func TestQuarantineCLI(t *testing.T) {
	w := newCLIWorld(t)
	resp, _ := http.Get(w.srv.URL + "/files/beta/" + w.young.Filename)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("young release: %d", resp.StatusCode)
	}

	code, out := w.run("quarantine", "list", "--server", w.srv.URL)
	if code != 0 || !strings.Contains(out, w.young.SHA256()[:12]) || !strings.Contains(out, "cooldown until") {
		t.Errorf("list: %d\n%s", code, out)
	}
	code, out = w.run("quarantine", "show", "--server", w.srv.URL, w.young.SHA256()[:12])
	if code != 0 || !strings.Contains(out, "cooldown [hold]") || !strings.Contains(out, "upload_time:") {
		t.Errorf("show: %d\n%s", code, out)
	}
	// Durations for people, not Go's 271h50m0s.
	if goDuration := regexp.MustCompile(`\d+h\d+m\d+(\.\d+)?s`); goDuration.MatchString(out) || !regexp.MustCompile(`cooldown: \d+d\n`).MatchString(out) || !strings.Contains(out, "age: 1h\n") {
		t.Errorf("show prints Go durations or lacks a human one:\n%s", out)
	}
	if code, out = w.run("quarantine", "approve", "--server", w.srv.URL, "beta==2.0"); code != 2 || !strings.Contains(out, "--reason is required") {
		t.Errorf("approve without reason: %d %s", code, out)
	}
	code, out = w.run("quarantine", "approve", "--server", w.srv.URL, "--reason", "reviewed the diff", "beta==2.0")
	if code != 0 || !strings.Contains(out, "held -> approved") {
		t.Fatalf("approve: %d\n%s", code, out)
	}
	if resp, _ := http.Get(w.srv.URL + "/files/beta/" + w.young.Filename); resp.StatusCode != 200 {
		t.Errorf("approved release: %d", resp.StatusCode)
	}
	code, out = w.run("quarantine", "reopen", "--server", w.srv.URL, "--reason", "second look", w.young.SHA256())
	if code != 0 || !strings.Contains(out, "approved -> held") {
		t.Errorf("reopen: %d\n%s", code, out)
	}
	code, out = w.run("quarantine", "reject", "--server", w.srv.URL, "--reason", "typosquat", "beta==2.0")
	if code != 0 || !strings.Contains(out, "held -> rejected") {
		t.Errorf("reject: %d\n%s", code, out)
	}
	if code, out = w.run("quarantine", "approve", "--server", w.srv.URL, "--reason", "x", "beta==2.0"); code != 1 || !strings.Contains(out, "no files of beta==2.0") {
		t.Errorf("approve a rejected release by name: %d %s", code, out)
	}
	if code, out = w.run("quarantine", "show", "--server", w.srv.URL, "ffffffffffff"); code != 1 || !strings.Contains(out, "server answered 404") {
		t.Errorf("show unknown: %d %s", code, out)
	}
	t.Setenv("AIRLOCK_ADMIN_TOKEN", "wrong")
	if code, out = w.run("quarantine", "list", "--server", w.srv.URL); code != 1 || !strings.Contains(out, "server answered 401") {
		t.Errorf("wrong token: %d %s", code, out)
	}
	t.Setenv("AIRLOCK_ADMIN_TOKEN", "")
	if code, out = w.run("quarantine", "list", "--server", w.srv.URL); code != 2 || !strings.Contains(out, "AIRLOCK_ADMIN_TOKEN") {
		t.Errorf("no token: %d %s", code, out)
	}
}

func TestCheckWhileServerRuns(t *testing.T) {
	w := newCLIWorld(t) // holds the data directory's lock
	code, out := w.run("check", "beta==2.0")
	if code != 1 || !strings.Contains(out, "HOLD  "+w.young.Filename) || !strings.Contains(out, "cooldown [hold]: cooldown until") || !strings.Contains(out, "uploaded ") {
		t.Errorf("check young: %d\n%s", code, out)
	}
	if code, out = w.run("check", "beta==1.0"); code != 0 || !strings.Contains(out, "ALLOW "+w.old.Filename) {
		t.Errorf("check old: %d\n%s", code, out)
	}
	for _, args := range [][]string{{"check", "beta"}, {"check", "beta==9.9"}, {"check", "nosuch==1"}, {"check"}} {
		if code, out := w.run(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, out)
		}
	}
	t.Setenv("AIRLOCK_POLICY_COOLDOWN", "30m")
	t.Setenv("AIRLOCK_POLICY_SCORE_COOLDOWN_BELOW_SCORE", "0") // no risk-adaptive cooldown for this low-score project
	if code, out := w.run("check", "beta==2.0"); code != 0 {
		t.Errorf("check with a 30m cooldown: %d\n%s", code, out)
	}
}

// TestTerminalOutputEscaped: a release whose archive names a member to
// erase the "held" line and print a green "APPROVED OK" reaches the
// reviewer's terminal as visible escapes, in `quarantine show`, `list`
// and `check`.
func TestTerminalOutputEscaped(t *testing.T) {
	w := newCLIWorld(t)
	evil := "x\r\x1b[2K\x1b[32mAPPROVED OK\x1b[0m\x07\u202e.pth"
	d := w.fake.AddWheel(fakepypi.WheelSpec{Name: "gamma", Version: "1.0", Extra: map[string]string{evil: "import os\n"}}, time.Now().Add(-30*24*time.Hour))
	if resp, err := http.Get(w.srv.URL + "/files/gamma/" + d.Filename); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the file should be held: %v %v", resp, err)
	}
	for _, args := range [][]string{
		{"quarantine", "show", "--server", w.srv.URL, d.SHA256()},
		{"quarantine", "list", "--server", w.srv.URL},
		{"quarantine", "show", "--server", w.srv.URL, "--json", d.SHA256()},
		{"check", "gamma==1.0"},
	} {
		_, out := w.run(args...)
		if strings.ContainsAny(out, "\x1b\r\x07\u202e") {
			t.Errorf("%v printed raw control characters:\n%q", args, out)
		}
		if !strings.Contains(out, `\x1b[32mAPPROVED OK`) && !strings.Contains(out, `\u001b[32mAPPROVED OK`) {
			t.Errorf("%v does not show the escaped name:\n%s", args, out)
		}
	}
}

// TestAdminListenSeparatesAdmin: with admin.listen the public address
// serves the index only; the admin API and review page answer on theirs.
func TestAdminListenSeparatesAdmin(t *testing.T) {
	ctx := t.Context()
	w := newCLIWorld(t)
	cfg, err := config.Load("", os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = filepath.Join(t.TempDir(), "data2")
	onTestBackend(t, &cfg)
	cfg.Admin.Listen = "127.0.0.1:0"
	a, err := server.New(ctx, cfg, zerolog.Nop(), version)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	public, admin := httptest.NewServer(a.Handler()), httptest.NewServer(a.AdminHandler())
	defer public.Close()
	defer admin.Close()
	get := func(base, path string) int {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+os.Getenv("AIRLOCK_ADMIN_TOKEN"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get(public.URL, "/simple/beta/"); c != 200 {
		t.Errorf("public index: %d", c)
	}
	for _, p := range []string{"/api/v1/quarantine", "/ui/login"} {
		if c := get(public.URL, p); c != 404 {
			t.Errorf("public %s: %d, want 404", p, c)
		}
		if c := get(admin.URL, p); c != 200 {
			t.Errorf("admin %s: %d, want 200", p, c)
		}
	}
	if c := get(admin.URL, "/simple/beta/"); c != 404 {
		t.Errorf("admin address serves the index: %d", c)
	}
	_ = w
}

func TestDownloadsCommand(t *testing.T) {
	w := newCLIWorld(t)
	req, _ := http.NewRequest(http.MethodGet, w.srv.URL+"/files/beta/"+w.old.Filename, nil)
	req.Header.Set("User-Agent", `pip/26.3 {"ci":true}`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("download: %v %v", resp, err)
	}
	resp.Body.Close()
	var out string
	// Records are written off the request path: give the writer a moment.
	for i := 0; i < 100; i++ {
		var code int
		code, out = w.run("downloads", "--server", w.srv.URL, "beta==1.0")
		if code == 0 && strings.Contains(out, "1 downloads by 1 addresses") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(out, "1 downloads by 1 addresses") || !strings.Contains(out, "pip/26.3 (CI)") || !strings.Contains(out, w.old.Filename) {
		t.Errorf("downloads beta==1.0:\n%s", out)
	}
	if code, out := w.run("downloads", "--server", w.srv.URL, "--json", "--since", "1h", w.old.SHA256()); code != 0 || !strings.Contains(out, `"user_agent"`) {
		t.Errorf("downloads --json --since: %d %s", code, out)
	}
	if code, out := w.run("downloads", "--server", w.srv.URL, "MAL-0000-nope"); code != 1 || !strings.Contains(out, "server answered 404") {
		t.Errorf("unknown advisory: %d %s", code, out)
	}
	if code, out := w.run("downloads", "--since", "yesterday", "x==1"); code != 2 || !strings.Contains(out, "--since") {
		t.Errorf("bad --since: %d %s", code, out)
	}
}
