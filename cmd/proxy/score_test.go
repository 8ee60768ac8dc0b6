package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

func TestScoreCommand(t *testing.T) {
	w := newCLIWorld(t)
	w.fake.SetMeta("beta", fakepypi.ProjectMeta{Maintainers: []string{"solo"}, ProjectURLs: map[string]string{"Source": "https://github.com/acme/beta"}})
	w.fake.SetDownloads("beta", 5, 40, 200)
	w.fake.SetRepo("acme/beta", fakepypi.Repo{CreatedAt: time.Now().Add(-500 * 24 * time.Hour), PushedAt: time.Now(),
		Tags: []fakepypi.FakeTag{{Name: "v1.0", Released: time.Now().Add(-31 * 24 * time.Hour)}}})

	code, out := w.run("score", "--json", "Beta")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var s map[string]any
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, key := range []string{"score", "maintainers", "releases", "flags", "downloads_last_day", "first_release", "repository"} {
		if _, ok := s[key]; !ok {
			t.Errorf("--json lacks %q", key)
		}
	}
	if s["maintainers"] != 1.0 || s["releases"] != 2.0 || s["repository"] != "acme/beta" || s["downloads_last_day"] != 5.0 {
		t.Errorf("facts: %v", s)
	}
	score := s["score"].(float64)
	if score < 0 || score > 100 || score != float64(int(score)) {
		t.Errorf("score %v is not an integer 0-100", score)
	}
	if !strings.Contains(strings.Join(toStrings(s["flags"]), ","), "single-maintainer") {
		t.Errorf("flags: %v", s["flags"])
	}
	// Intervals in JSON are seconds, never Go's nanoseconds.
	cad, _ := s["cadence"].(map[string]any)
	if secs, ok := cad["median_interval_seconds"].(float64); !ok || secs <= 0 || secs > 10*365*24*3600 || cad["median_interval"] != nil {
		t.Errorf("cadence: %v", s["cadence"])
	}
	code, out = w.run("score", "beta")
	if code != 0 || !strings.Contains(out, "commitment score") || !strings.Contains(out, "COMPONENT") || !strings.Contains(out, "maintainers:") {
		t.Errorf("table: %d\n%s", code, out)
	}
	pointsAddUp(t, out, int(score))
	w.fake.SetFault("/api/packages/beta/recent", fakepypi.Fault{Status: 500})
	w.fake.SetFault("/repos/acme/beta", fakepypi.Fault{Status: 500})
	code, out = w.run("score", "beta")
	if code != 0 || !strings.Contains(out, "downloads     unknown") || !strings.Contains(out, "unknown (left out of the score)") {
		t.Errorf("unknown sources: %d\n%s", code, out)
	}
	var partial int
	fmt.Sscanf(out[strings.Index(out, "commitment score ")+len("commitment score "):], "%d", &partial)
	pointsAddUp(t, out, partial)
	if code, out := w.run("score", "nosuch"); code != 2 {
		t.Errorf("unknown project: %d %s", code, out)
	}

	// check shows the signals behind a decision.
	code, out = w.run("check", "beta==2.0")
	if code != 1 || !strings.Contains(out, "signals: score") || !strings.Contains(out, "single-maintainer [warn]") {
		t.Errorf("check: %d\n%s", code, out)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestCheckInspectsContent: check downloads, verifies and inspects the
// release on a scratch directory, as the server would.
func TestCheckInspectsContent(t *testing.T) {
	w := newCLIWorld(t)
	w.fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.7"}, time.Now().Add(-60*24*time.Hour))
	w.fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.8", Extra: map[string]string{
		"litellm_init.pth": "import os; exec(__import__('base64').b64decode('cHJpbnQoMSk='))\n"}}, time.Now().Add(-59*24*time.Hour))
	code, out := w.run("check", "litellm==1.82.8")
	if code != 1 || !strings.Contains(out, "content [hold]: critical pth-exec in litellm_init.pth") || !strings.Contains(out, "previous_version: 1.82.7") {
		t.Errorf("check: %d\n%s", code, out)
	}
	if code, out := w.run("check", "litellm==1.82.7"); code != 0 {
		t.Errorf("clean release: %d\n%s", code, out)
	}
}

// pointsAddUp checks that the score table's points sum to the score.
func pointsAddUp(t *testing.T, out string, score int) {
	t.Helper()
	var sum float64
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] == "COMPONENT" || f[0] == "total" || f[len(f)-1] == "-" {
			continue
		}
		var p float64
		if _, err := fmt.Sscanf(f[len(f)-1], "%g", &p); err != nil || !strings.Contains(line, ".") {
			continue
		}
		if _, ok := map[string]bool{"age": true, "cadence": true, "maintainers": true, "organization": true, "downloads": true, "repository": true}[f[0]]; !ok {
			continue
		}
		sum += p
		rows++
	}
	if rows == 0 || math.Abs(sum-float64(score)) > 0.5+0.05*float64(rows) {
		t.Errorf("points add up to %.1f over %d rows, score is %d:\n%s", sum, rows, score, out)
	}
}
