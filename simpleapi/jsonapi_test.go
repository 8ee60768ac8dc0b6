package simpleapi

import (
	"encoding/json"
	"strings"
	"testing"
)

// The JSON API says what the index serves: files at Airlock's URLs, a held
// release marked yanked with the reason, upstream keys passed through.
func TestJSONAPIShowsWhatTheIndexServes(t *testing.T) {
	h, old, young := newGateHarness(t, nil)
	resp, body := h.get("/pypi/Beta/json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("json api: %d %s", resp.StatusCode, body)
	}
	var doc struct {
		Info      map[string]any              `json:"info"`
		Releases  map[string][]map[string]any `json:"releases"`
		URLs      []map[string]any            `json:"urls"`
		Ownership map[string]any              `json:"ownership"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Info["name"] != "beta" || doc.Ownership == nil {
		t.Errorf("upstream keys not passed through: %s", body)
	}
	files := map[string]map[string]any{}
	for _, fs := range doc.Releases {
		for _, f := range fs {
			files[f["filename"].(string)] = f
		}
	}
	o, y := files[old.Filename], files[young.Filename]
	if o == nil || y == nil {
		t.Fatalf("files missing: %s", body)
	}
	if o["url"] != h.http.URL+"/files/beta/"+old.Filename || o["yanked"] != false {
		t.Errorf("served file: %v", o)
	}
	if y["yanked"] != true || !strings.Contains(y["yanked_reason"].(string), "cooldown") {
		t.Errorf("held file not marked: %v", y)
	}
	// The newest release Airlock serves, not the held newest upload: a bot
	// reading info.version proposes what the index gives.
	if doc.Info["version"] != old.Version || len(doc.URLs) == 0 || doc.URLs[0]["filename"] != old.Filename {
		t.Errorf("info.version %v, urls %v: want the served %s", doc.Info["version"], doc.URLs, old.Version)
	}
	// One release, and a release the upstream does not have.
	resp, body = h.get("/pypi/beta/" + young.Version + "/json")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"yanked":true`) || strings.Contains(string(body), old.Filename) {
		t.Errorf("release json: %d %s", resp.StatusCode, body)
	}
	if resp, _ := h.get("/pypi/beta/9.9/json"); resp.StatusCode != 404 {
		t.Errorf("unknown release: %d", resp.StatusCode)
	}
	if resp, _ := h.get("/pypi/nosuch/json"); resp.StatusCode != 404 {
		t.Errorf("unknown project: %d", resp.StatusCode)
	}
}
