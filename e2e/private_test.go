package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"airlock/internal/fakepypi"
)

// TestPrivateIndexWithoutDependencyConfusion is the torchtriton shape
// (December 2022): an organisation's private index serves torchtriton 2.0;
// someone uploads torchtriton 3.0 to the public index. Through Airlock,
// real pip and uv install 2.0, the public upload is reported, a project
// only the private index has installs (its name learned from the private
// index's list, not from a pattern), one only the public index has
// installs, and clients without the right credentials get 401.
func TestPrivateIndexWithoutDependencyConfusion(t *testing.T) {
	cls := clients(t)
	public := fakepypi.New()
	t.Cleanup(public.Close)
	publicTorch := public.AddWheel(fakepypi.WheelSpec{Name: "torchtriton", Version: "3.0"}, uploaded)
	public.AddWheel(fakepypi.WheelSpec{Name: "publiconly", Version: "1.0"}, uploaded)

	private := fakepypi.New() // HTML pages, no JSON API, no upload times, basic auth
	t.Cleanup(private.Close)
	private.SetHTMLOnly(true)
	private.SetNoJSONAPI(true)
	private.SetBasicAuth("airlock", "index-pass")
	now := time.Now() // the organisation's own releases install at once
	private.AddWheel(fakepypi.WheelSpec{Name: "torchtriton", Version: "2.0"}, now)
	private.AddWheel(fakepypi.WheelSpec{Name: "privateonly", Version: "1.0"}, now)

	hookURL, hooks := webhookRecorder(t)

	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("ci-pass"), bcrypt.MinCost)
	users := filepath.Join(dir, "users")
	os.WriteFile(users, []byte("ci:"+string(hash)+"\n"), 0o600)
	cfg := filepath.Join(dir, "airlock.yaml")
	os.WriteFile(cfg, []byte(`indexes:
  - name: internal
    url: `+private.Index.URL+`
    file_hosts: [`+private.FileHost()+`]
    username: airlock
    password_env: INTERNAL_INDEX_PASSWORD
    projects: [torchtriton]
auth:
  clients:
    users_file: `+users+`
notify:
  webhooks: [`+hookURL+`]
`), 0o600)
	p, err := launchArgs(t, filepath.Join(dir, "data"), []string{"--config", cfg},
		append(airlockEnv(public, "AIRLOCK_SIGNALS_ENABLED=false"), "INTERNAL_INDEX_PASSWORD=index-pass")...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	withCreds := strings.Replace(p.URL, "http://", "http://ci:ci-pass@", 1) + "/simple/"

	for _, c := range cls {
		t.Run(c.name, func(t *testing.T) {
			target := t.TempDir()
			if out, err := run(t, c.install(withCreds, target, "torchtriton", "privateonly", "publiconly")); err != nil {
				t.Fatalf("install: %v\n%s", err, out)
			}
			assertInstalled(t, target, map[string]string{"torchtriton": "2.0", "privateonly": "1.0", "publiconly": "1.0"})
			// The credentials in ~/.netrc instead of the URL.
			home := t.TempDir()
			host := strings.TrimPrefix(p.URL, "http://")
			host = host[:strings.LastIndex(host, ":")]
			os.WriteFile(filepath.Join(home, ".netrc"), []byte("machine "+host+" login ci password ci-pass\n"), 0o600)
			cmd := c.install(p.URL+"/simple/", t.TempDir(), "privateonly")
			cmd.Env = append(cmd.Env, "HOME="+home, "NETRC="+filepath.Join(home, ".netrc"))
			if out, err := run(t, cmd); err != nil {
				t.Errorf("install with credentials in .netrc: %v\n%s", err, out)
			}
			// Without the right credentials the install fails at once, with
			// no prompt (PIP_NO_INPUT): uv prints the 401; pip, which hides it,
			// finds nothing. Airlock logs each refusal.
			for _, index := range []string{p.URL + "/simple/", strings.Replace(p.URL, "http://", "http://ci:wrong@", 1) + "/simple/"} {
				before := strings.Count(p.Logs(), "client not authenticated")
				out, err := run(t, c.install(index, t.TempDir(), "publiconly"))
				if err == nil || !(showsStatus(out, 401) || strings.Contains(out, "No matching distribution")) {
					t.Errorf("install with %s: %v, want a failure:\n%s", index, err, out)
				}
				if strings.Count(p.Logs(), "client not authenticated") == before {
					t.Errorf("install with %s: Airlock refused nothing", index)
				}
			}
		})
	}
	// The public torchtriton was never downloaded, and its upload is reported.
	if n := public.Hits("/packages/" + publicTorch.SHA256()[:8] + "/" + publicTorch.Filename); n != 0 {
		t.Errorf("the public torchtriton was downloaded %d times", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	var confusion map[string]any
	for confusion == nil && time.Now().Before(deadline) {
		for _, h := range hooks() {
			if h["event"] == "dependency_confusion" {
				confusion = h
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if confusion == nil || confusion["project"] != "torchtriton" || !strings.Contains(confusion["text"].(string), "internal") {
		t.Errorf("no dependency_confusion webhook for torchtriton: %v", confusion)
	}
	if logs := p.Logs(); !strings.Contains(logs, `"kind":"dependency_confusion"`) || !strings.Contains(logs, `"client":"ci"`) {
		t.Errorf("logs lack the confusion event or the client's identity")
	}
	if strings.Contains(p.Logs(), "index-pass") || strings.Contains(p.Logs(), "ci-pass") {
		t.Error("a password reached the log")
	}
	// The JSON API answers for both kinds of project, from their owner.
	for project, want := range map[string]string{"privateonly": "privateonly-1.0", "torchtriton": "torchtriton-2.0", "publiconly": "publiconly-1.0"} {
		req, _ := http.NewRequest(http.MethodGet, p.URL+"/pypi/"+project+"/json", nil)
		req.SetBasicAuth("ci", "ci-pass")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), p.URL+"/files/"+project+"/"+want) || strings.Contains(string(body), "torchtriton-3.0") {
			t.Errorf("JSON API of %s: %d %s", project, resp.StatusCode, body)
		}
	}
	resp, err := http.Get(p.URL + "/simple/privateonly/")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" || !strings.Contains(string(body), "credentials required") {
			t.Errorf("no credentials: %d %q", resp.StatusCode, body)
		}
	}
}
