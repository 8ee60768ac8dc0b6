package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

// malRecord is a synthetic OSV record (no real malicious package is used).
func malRecord(id, project, version, sha string) string {
	versions, integrity := "", ""
	if version != "" {
		versions = `"` + version + `"`
	}
	if sha != "" {
		integrity = `,"database_specific":{"indicators":{"package_integrity":[{"filename":"f","hashes":{"sha256":"` + sha + `"}}]}}`
	}
	return `{"id":"` + id + `","published":"2026-03-24T10:00:00Z","summary":"Malicious code in ` + project + ` (PyPI)",
"affected":[{"package":{"ecosystem":"PyPI","name":"` + project + `"},"versions":[` + versions + `]` + integrity + `}]}`
}

// TestAdvisoryBlocksWhatWasServed: a release pip installed through Airlock
// is named by a MAL advisory afterwards. The next install is refused with
// the advisory's ID, the webhook says how often it had been downloaded,
// and the download records name the earlier download with pip's user
// agent. A record with only file hashes blocks by hash; a vulnerability
// warns and serves; a feed that becomes unreadable keeps blocking.
func TestAdvisoryBlocksWhatWasServed(t *testing.T) {
	requireVenv(t)
	pip := pipClient("pinned-pip", filepath.Join(venv, "bin", "python"))
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	victim := fake.AddWheel(fakepypi.WheelSpec{Name: "victim", Version: "1.0"}, uploaded)
	fake.AddWheel(fakepypi.WheelSpec{Name: "victim", Version: "0.9"}, uploaded.Add(-time.Hour))
	hashed := fake.AddWheel(fakepypi.WheelSpec{Name: "hashed", Version: "1.0"}, uploaded)
	fake.AddWheel(fakepypi.WheelSpec{Name: "vulnpkg", Version: "1.0"}, uploaded)

	hookURL, hooks := webhookRecorder(t)

	dir := t.TempDir()
	feed := filepath.Join(dir, "malicious-packages")
	write := func(rel, body string) {
		p := filepath.Join(feed, "osv", rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("malicious/pypi/unrelated/MAL-2026-100.json", malRecord("MAL-2026-100", "unrelated", "1.0", ""))
	const token = "advisory-token-0123456789abcdefghij"
	a := startAirlock(t, filepath.Join(dir, "data"), airlockEnv(fake, "AIRLOCK_FEEDS_OSV="+feed, "AIRLOCK_ADMIN_TOKEN="+token,
		"AIRLOCK_NOTIFY_WEBHOOKS="+hookURL, "AIRLOCK_SIGNALS_ENABLED=false", "AIRLOCK_INDEX_TTL=1ms")...)
	admin := func(method, path string) map[string]any { return adminJSON(t, a.URL, token, method, path) }

	for _, req := range []string{"victim==1.0", "hashed==1.0", "vulnpkg==1.0"} {
		if out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), req)); err != nil {
			t.Fatalf("%s before any advisory: %v\n%s", req, err, out)
		}
	}

	// The news: a MAL record for victim 1.0, one for hashed's file by hash
	// only, a vulnerability in vulnpkg.
	write("malicious/pypi/victim/MAL-2026-200.json", malRecord("MAL-2026-200", "victim", "1.0", ""))
	write("malicious/pypi/other/MAL-2026-201.json", malRecord("MAL-2026-201", "other-name", "", hashed.SHA256()))
	write("vulns/GHSA-test-0001.json", `{"id":"GHSA-test-0001","summary":"Path traversal","database_specific":{"severity":"HIGH"},
"affected":[{"package":{"ecosystem":"PyPI","name":"vulnpkg"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.1"}]}]}]}`)
	if got := admin(http.MethodPost, "/feeds/refresh"); got["records"] != 4.0 {
		t.Fatalf("refresh: %v", got)
	}

	check := func(stage string) {
		t.Helper()
		out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), "victim==1.0"))
		if err == nil || !strings.Contains(out, "MAL-2026-200") {
			t.Errorf("%s: victim==1.0 installed or refused without the advisory's ID: %v\n%s", stage, err, out)
		}
		out, err = run(t, pip.install(a.URL+"/simple/", t.TempDir(), "hashed==1.0"))
		if err == nil {
			t.Errorf("%s: a file named by hash installed:\n%s", stage, out)
		}
	}
	check("after the advisory")
	// Unpinned, pip takes the release before the malicious one.
	target := t.TempDir()
	if out, err := run(t, pip.install(a.URL+"/simple/", target, "victim")); err != nil {
		t.Errorf("unpinned victim: %v\n%s", err, out)
	}
	assertInstalled(t, target, map[string]string{"victim": "0.9"})
	if out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), "vulnpkg==1.0")); err != nil {
		t.Errorf("a vulnerability must warn, not refuse: %v\n%s", err, out)
	}

	// Who downloaded it: the earlier download, with pip's user agent.
	dl := admin(http.MethodGet, "/downloads?target=MAL-2026-200")
	recs, _ := dl["downloads"].([]any)
	if len(recs) != 1 || !strings.HasPrefix(recs[0].(map[string]any)["user_agent"].(string), "pip/") || recs[0].(map[string]any)["sha256"] != victim.SHA256() {
		t.Errorf("downloads of MAL-2026-200: %v", dl)
	}
	// The webhook said so.
	var blocked map[string]any
	for deadline := time.Now().Add(10 * time.Second); blocked == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, h := range hooks() {
			if h["sha256"] == victim.SHA256() && h["state"] == "blocked" {
				blocked = h
			}
		}
	}
	if blocked == nil || blocked["downloads"] != 1.0 || !strings.Contains(blocked["text"].(string), "downloaded 1 times") {
		t.Errorf("webhook for the blocked file: %v", blocked)
	}

	// The feed breaks: the blocks stay.
	write("malicious/pypi/victim/MAL-2026-999.json", "{not json")
	if got := admin(http.MethodPost, "/feeds/refresh"); got["records"] != 4.0 || len(got["errors"].([]any)) != 1 {
		t.Fatalf("refresh of a broken feed: %v", got)
	}
	check("with the feed unreadable")
	// An approval cannot lift it; only an audited override can.
	if got := admin(http.MethodPost, "/quarantine/"+victim.SHA256()[:12]+"/approve"); got["error"] == nil {
		t.Errorf("plain approve of a malicious file: %v", got)
	}
}
