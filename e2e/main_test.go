// Package e2e drives real pip and uv through a running airlock binary in
// front of a local fake PyPI. It needs the client virtual environment that
// scripts/test.sh creates (E2E_VENV); without it the tests fail and
// say how to create it, rather than skip.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"airlock/internal/storetest"
)

var (
	airlockBin string
	venv       string
	repoRoot   string
)

func TestMain(m *testing.M) {
	wd, _ := os.Getwd()
	repoRoot = filepath.Dir(wd)
	dir, err := os.MkdirTemp("", "airlock-e2e-bin")
	if err != nil {
		panic(err)
	}
	airlockBin = filepath.Join(dir, "airlock")
	build := exec.Command("go", "build", "-o", airlockBin, "./cmd/proxy")
	build.Dir = repoRoot
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building airlock:", err)
		os.Exit(1)
	}
	venv = os.Getenv("E2E_VENV")
	if venv == "" {
		venv = filepath.Join(repoRoot, ".venv-e2e")
	}
	code := m.Run()
	storetest.Shutdown()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireVenv fails (never skips) when the clients are missing.
func requireVenv(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"python", "uv"} {
		if _, err := os.Stat(filepath.Join(venv, "bin", bin)); err != nil {
			t.Fatalf("client %s missing in %s: run `bash scripts/test.sh` (it creates the venv with pinned pip and uv)", bin, venv)
		}
	}
}

func fixturesDir() string {
	if d := os.Getenv("PEP740_FIXTURES_DIR"); d != "" {
		return d
	}
	return filepath.Join(repoRoot, "..", "shared", "fixtures", "pep740")
}

// proc is a running airlock process.
type proc struct {
	cmd     *exec.Cmd
	URL     string
	dataDir string
	mu      sync.Mutex
	logs    bytes.Buffer
	done    chan struct{}
	exitErr error
}

func (p *proc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// startAirlock runs `airlock serve` on an ephemeral loopback port and waits
// until it logs where it listens.
func startAirlock(t *testing.T, dataDir string, env ...string) *proc {
	t.Helper()
	p, err := launch(t, dataDir, env...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	return p
}

func launch(t *testing.T, dataDir string, env ...string) (*proc, error) {
	return launchArgs(t, dataDir, nil, env...)
}

// launchArgs starts airlock serve with extra arguments (a --config). With
// STORE_TEST_BACKEND=postgres its records are in a database of the test
// cluster, one per data directory (so a restart finds them), unless the
// test names the database itself (a config, or AIRLOCK_DATABASE_URL= for
// bbolt's own behaviour).
func launchArgs(t *testing.T, dataDir string, args []string, env ...string) (*proc, error) {
	cmd := exec.Command(airlockBin, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir}, args...)...)
	wantDatabase := ""
	if storetest.Postgres() && !slices.Contains(args, "--config") && !slices.ContainsFunc(env, func(e string) bool {
		return strings.HasPrefix(e, "AIRLOCK_DATABASE_URL=")
	}) {
		dsn, err := storetest.DSN(t, dataDir)
		if err != nil {
			return nil, err
		}
		env = append(env, "AIRLOCK_DATABASE_URL="+dsn)
		wantDatabase = "postgresql"
	}
	cmd.Env = append(os.Environ(), env...)
	stderr, _ := cmd.StderrPipe()
	p := &proc{cmd: cmd, dataDir: dataDir, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			var entry struct {
				Message  string `json:"message"`
				Listen   string `json:"listen"`
				Database string `json:"database"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Message == "airlock serving" {
				if wantDatabase != "" && entry.Database != wantDatabase {
					entry.Listen = "" // not on the backend the run is for
				}
				addr <- entry.Listen
			}
		}
		p.exitErr = cmd.Wait()
		close(p.done)
	}()
	select {
	case a := <-addr:
		if a == "" {
			cmd.Process.Kill()
			return nil, fmt.Errorf("airlock serves on another database than %s:\n%s", wantDatabase, p.Logs())
		}
		p.URL = "http://" + a
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("airlock exited before serving: %v\n%s", p.exitErr, p.Logs())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return nil, fmt.Errorf("airlock did not start:\n%s", p.Logs())
	}
}

// backendEnv is what runs a test that starts Airlock with its own
// --config on the run's backend too: PostgreSQL's URL for its data
// directory when STORE_TEST_BACKEND=postgres, nothing otherwise.
func backendEnv(t *testing.T, dataDir string) []string {
	if !storetest.Postgres() {
		return nil
	}
	dsn, err := storetest.DSN(t, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	return []string{"AIRLOCK_DATABASE_URL=" + dsn}
}

// adminCall calls the admin API at base with a bearer token and a JSON
// body ("" for none), and returns the status and the raw answer.
func adminCall(t *testing.T, base, token, method, path, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, base+"/api/v1"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// adminJSON is adminCall decoded as a JSON object.
func adminJSON(t *testing.T, base, token, method, path string) map[string]any {
	t.Helper()
	_, body := adminCall(t, base, token, method, path, "")
	var out map[string]any
	json.Unmarshal(body, &out)
	return out
}

// stop sends SIGTERM and waits for a graceful exit.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// kill9 kills the process without giving it a chance to clean up.
func (p *proc) kill9() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// client is one installer under test.
type client struct {
	name string
	// install returns the command that installs reqs into target from index.
	install func(index, target string, args ...string) *exec.Cmd
}

// cleanEnv drops settings that would let a client bypass the proxy or reuse
// a cache (this machine sets PIP_FIND_LINKS, for one).
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PIP_") || strings.HasPrefix(k, "UV_") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "PIP_CONFIG_FILE=/dev/null", "PIP_NO_INPUT=1", "PIP_DISABLE_PIP_VERSION_CHECK=1",
		"UV_NO_CONFIG=1", "UV_PYTHON_DOWNLOADS=never", "UV_NO_CACHE=1")
}

func pipClient(name, python string) client {
	return client{name: name, install: func(index, target string, args ...string) *exec.Cmd {
		a := append([]string{"-m", "pip", "install", "--no-cache-dir", "--target", target, "--index-url", index}, args...)
		cmd := exec.Command(python, a...)
		cmd.Env = cleanEnv()
		return cmd
	}}
}

func uvClient() client {
	return client{name: "uv", install: func(index, target string, args ...string) *exec.Cmd {
		a := append([]string{"pip", "install", "--target", target, "--python", filepath.Join(venv, "bin", "python")}, args...)
		cmd := exec.Command(filepath.Join(venv, "bin", "uv"), a...)
		// uv reads its index from UV_DEFAULT_INDEX, as a CI job would set it.
		cmd.Env = append(cleanEnv(), "UV_DEFAULT_INDEX="+index)
		return cmd
	}}
}

// clients are the machine's pip, the pinned current pip and the pinned uv.
func clients(t *testing.T) []client {
	requireVenv(t)
	return []client{
		pipClient("machine-pip", "python3"),
		pipClient("pinned-pip", filepath.Join(venv, "bin", "python")),
		uvClient(),
	}
}

// run runs cmd with a deadline and returns its combined output.
func run(t *testing.T, cmd *exec.Cmd) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	c.Env, c.Dir = cmd.Env, cmd.Dir
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	return out.String(), err
}

// showsStatus reports whether a client's output shows an HTTP answer with
// this status: pip prints "HTTP error 403 while getting" or "403 Client
// Error:" or, after retries, "too many 502 error responses"; uv "(403 Held
// by Airlock ...)" or "(401 Unauthorized)". A bare "403" would also match a
// port in a URL (127.0.0.1:34035).
func showsStatus(out string, status int) bool {
	return regexp.MustCompile(fmt.Sprintf(`HTTP error %[1]d |\b%[1]d (Client|Server) Error|too many %[1]d error responses|\(%[1]d [A-Z]`, status)).MatchString(out)
}

func readAll(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}

// webhookRecorder is a local webhook receiver; got returns what it has
// received so far.
func webhookRecorder(t *testing.T) (url string, got func() []map[string]any) {
	var mu sync.Mutex
	var hooks []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p map[string]any
		json.NewDecoder(r.Body).Decode(&p)
		mu.Lock()
		hooks = append(hooks, p)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		return append([]map[string]any(nil), hooks...)
	}
}

// signIn signs in to the review page at base with token and returns the
// sign-in form's cookie and the session cookie it got.
func signIn(t *testing.T, base, token string) (loginCSRF, session *http.Cookie) {
	t.Helper()
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Get(base + "/ui/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "airlock_login_csrf" {
			loginCSRF = c
		}
	}
	_, rest, _ := strings.Cut(string(body), `name="csrf" value="`)
	csrf, _, _ := strings.Cut(rest, `"`)
	if loginCSRF == nil || csrf == "" {
		t.Fatalf("login page at %s: %d, no form cookie\n%s", base, resp.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/ui/login", strings.NewReader(url.Values{"token": {token}, "name": {"e2e reviewer"}, "csrf": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: loginCSRF.Name, Value: loginCSRF.Value})
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "airlock_session" {
			session = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("sign-in at %s: %d, session %+v", base, resp.StatusCode, session)
	}
	return loginCSRF, session
}
