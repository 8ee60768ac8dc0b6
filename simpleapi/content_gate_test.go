package simpleapi

import (
	"airlock/inspect"
	"archive/zip"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

var pthPayload = map[string]string{"litellm_init.pth": "import os, base64; exec(base64.b64decode('cHJpbnQoInB3bmVkIik='))\n"}

// TestPoisonedReleaseIsHeld: 1.82.7 is clean, 1.82.8 adds litellm_init.pth
// that decodes and executes a payload; both are past their cooldown, and
// nothing has looked inside them yet. The page lists 1.82.8 (nothing on it
// says otherwise); its download brings the evidence and is refused, and
// from then on the page marks it held, so a retry resolves to 1.82.7.
func TestPoisonedReleaseIsHeld(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t)
	old := uploaded
	clean := h.fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.7"}, old)
	poisoned := h.fake.AddWheel(fakepypi.WheelSpec{Name: "litellm", Version: "1.82.8", Extra: pthPayload}, old.Add(time.Hour))
	_, page := h.jsonPage("litellm")
	if f := fileByName(page, poisoned.Filename); f == nil || f["yanked"] != nil {
		t.Fatalf("before any download the page has no reason to hold 1.82.8: %v", f)
	}
	if h.fake.Hits(upstreamFilePath(poisoned)) != 0 {
		t.Error("rendering the page downloaded a distribution")
	}
	resp, _ := h.get(fileURL(poisoned))
	if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Status, "403 Held by Airlock (content): critical pth-exec in litellm_init.pth") {
		t.Errorf("poisoned download: %s", resp.Status)
	}
	_, page = h.jsonPage("litellm")
	f := fileByName(page, poisoned.Filename)
	if f == nil || !strings.Contains(f["yanked"].(string), "critical pth-exec in litellm_init.pth") {
		t.Fatalf("after the download brought evidence, the page does not hold 1.82.8: %v", f)
	}
	if fileByName(page, clean.Filename)["yanked"] != nil {
		t.Error("clean release marked")
	}
	v, _ := h.config.Quarantine.Get(ctx, poisoned.SHA256())
	c := v.Inputs.Content
	if c == nil || c.PreviousVersion != "1.82.7" || len(c.FilesAdded) != 1 || c.FilesAdded[0] != "litellm_init.pth" {
		t.Errorf("diff evidence: %+v", c)
	}
	if resp, _ := h.get(fileURL(clean)); resp.StatusCode != 200 {
		t.Errorf("clean release: %s", resp.Status)
	}
	// A metadata request does not undo the decision.
	if resp, _ := h.get(fileURL(poisoned) + ".metadata"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("metadata of the poisoned release: %s", resp.Status)
	}
}

func TestAlwaysShippedPthIsInformational(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t)
	pth := map[string]string{"distutils-precedence.pth": "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'\n"}
	h.fake.AddWheel(fakepypi.WheelSpec{Name: "setuptools", Version: "80.0", Extra: pth}, uploaded)
	cur := h.fake.AddWheel(fakepypi.WheelSpec{Name: "setuptools", Version: "80.1", Extra: pth}, uploaded.Add(time.Hour))
	if resp, _ := h.get(fileURL(cur)); resp.StatusCode != 200 {
		t.Fatalf("setuptools: %s", resp.Status)
	}
	v, _ := h.config.Quarantine.Get(ctx, cur.SHA256())
	if !strings.Contains(v.Decision.Summary(), "1 finding(s) the project has always had: pth-exec in distutils-precedence.pth") {
		t.Errorf("known finding not recorded: %s", v.Decision.Summary())
	}
}

func TestBombIsHeldNotCrashed(t *testing.T) {
	h := newHarness(t)
	var bomb bytes.Buffer
	zw := zip.NewWriter(&bomb)
	w, _ := zw.Create("bomb/zeros.bin")
	zero := make([]byte, 1<<20)
	for i := 0; i < 80; i++ {
		w.Write(zero)
	}
	zw.Close()
	d := &fakepypi.Dist{Project: "bomb", Version: "1.0", Filename: "bomb-1.0-py3-none-any.whl", Data: bomb.Bytes(), UploadTime: uploaded}
	h.fake.Add(d)
	resp, body := h.get(fileURL(d))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Status, "could not inspect: compression ratio") {
		t.Errorf("bomb: %s\n%s", resp.Status, body)
	}
	// A corrupt archive (whose bytes match the index) is held too.
	bad := &fakepypi.Dist{Project: "corrupt", Version: "1.0", Filename: "corrupt-1.0.tar.gz", Data: []byte("\x1f\x8b\x08\x00 not gzip"), UploadTime: uploaded}
	h.fake.Add(bad)
	if resp, _ := h.get(fileURL(bad)); resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Status, "could not inspect: corrupt archive") {
		t.Errorf("corrupt: %s", resp.Status)
	}
}

// A finding in a release whose earlier release was never looked into
// (nothing found could hold the file, so 1.0 was not fetched) does not
// say "(not in 1.0)": it says no earlier release was compared, and the
// content check says why.
func TestNotComparedSaysSo(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t)
	h.fake.AddWheel(fakepypi.WheelSpec{Name: "cmp", Version: "1.0"}, uploaded)
	cur := h.fake.AddWheel(fakepypi.WheelSpec{Name: "cmp", Version: "1.1", Extra: map[string]string{"cmp/sub/x.pth": "import os\n"}}, uploaded.Add(time.Hour))
	if resp, _ := h.get(fileURL(cur)); resp.StatusCode != 200 {
		t.Fatalf("cmp 1.1: %s", resp.Status)
	}
	v, _ := h.config.Quarantine.Get(ctx, cur.SHA256())
	summary := v.Decision.Summary()
	for _, r := range v.Decision.Reasons {
		summary += " | " + r.Message
	}
	if strings.Contains(summary, "not in 1.0") || !strings.Contains(summary, "no earlier release compared") {
		t.Errorf("a finding compared with a release never looked into: %s", summary)
	}
	if v.Inputs.Content == nil || !strings.Contains(v.Inputs.Content.Note, "not compared with 1.0") || v.Inputs.Content.PreviousVersion != "" {
		t.Errorf("content evidence: %+v", v.Inputs.Content)
	}
}

// TestReportOfOlderRulesIsMadeAgain: a stored inspection report made by
// older rules (here: rules that did not know .pth lines) is made again
// before it is compared with. Otherwise every finding the newer rules make
// is "new" in the next release — an upgrade would hold setuptools for the
// .pth it always shipped.
func TestReportOfOlderRulesIsMadeAgain(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t)
	pth := map[string]string{"distutils-precedence.pth": "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'\n"}
	h.fake.AddWheel(fakepypi.WheelSpec{Name: "setuptools", Version: "80.0", Extra: pth}, uploaded)
	prev := h.fake.AddWheel(fakepypi.WheelSpec{Name: "setuptools", Version: "80.1", Extra: pth}, uploaded.Add(time.Hour))
	if resp, _ := h.get(fileURL(prev)); resp.StatusCode != 200 {
		t.Fatalf("setuptools 80.1: %s", resp.Status)
	}
	cur := h.fake.AddWheel(fakepypi.WheelSpec{Name: "setuptools", Version: "80.2", Extra: pth}, uploaded.Add(2*time.Hour))
	h.advance(2 * time.Minute) // past the page's time to live: 80.2 is listed
	rec, err := h.store.GetInspection(ctx, prev.SHA256())
	if err != nil || rec.Rules != inspect.RulesVersion {
		t.Fatalf("stored report: %+v %v", rec, err)
	}
	var rep inspect.Report
	json.Unmarshal(rec.Report, &rep)
	rep.Findings = nil // what older rules found
	rec.Report, _ = json.Marshal(rep)
	rec.Rules = ""
	if err := h.store.PutInspection(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if resp, _ := h.get(fileURL(cur)); resp.StatusCode != 200 {
		t.Fatalf("setuptools 80.2 compared with a report of older rules: %s", resp.Status)
	}
	if rec, _ := h.store.GetInspection(ctx, prev.SHA256()); rec.Rules != inspect.RulesVersion || !strings.Contains(string(rec.Report), "pth-exec") {
		t.Errorf("the baseline's report was not made again: %+v", rec)
	}
}
