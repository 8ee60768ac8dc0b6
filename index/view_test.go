package index

import (
	"fmt"
	"slices"
	"testing"
)

// A view shows the page's files as the gate marked them, without changing
// the page: left out, yanked with the gate's reason (the upstream's own
// reason after it), or as listed.
func TestViewMarksWithoutCopying(t *testing.T) {
	p := &Page{Name: "p", Versions: []string{"1.0", "2.0"}, Files: []File{
		{Filename: "p-1.0.tar.gz", Size: 1},
		{Filename: "p-2.0.tar.gz", Size: -1},
		{Filename: "p-2.0-py3-none-any.whl", Size: 3, Yanked: true, YankedReason: "broken"},
		{Filename: "p-2.0-cp312-cp312-linux_x86_64.whl", Size: 4},
	}}
	before := fmt.Sprintf("%+v", p.Files)
	if v := ViewOf(p); v.APIVersion() != "1.0" || len(slices.Collect(v.Files())) != 4 {
		t.Fatalf("unmarked view: api %s", v.APIVersion())
	}
	v := ViewOf(p)
	v.Hide(1)
	v.Yank(2, "held by Airlock: cooldown")
	v.Yank(3, "held by Airlock: cooldown")
	got := slices.Collect(v.Files())
	if len(got) != 3 || got[0].Filename != "p-1.0.tar.gz" || got[0].Yanked || got[1].Filename != "p-2.0-py3-none-any.whl" || got[2].Filename != "p-2.0-cp312-cp312-linux_x86_64.whl" {
		t.Fatalf("shown: %+v", got)
	}
	if !got[1].Yanked || got[1].YankedReason != "held by Airlock: cooldown; yanked upstream: broken" {
		t.Errorf("yanked upstream too: %q", got[1].YankedReason)
	}
	if !got[2].Yanked || got[2].YankedReason != "held by Airlock: cooldown" {
		t.Errorf("yanked: %q", got[2].YankedReason)
	}
	if len(v.reasons) != 1 {
		t.Errorf("one reason kept once, got %d", len(v.reasons))
	}
	if v.APIVersion() != "1.4" {
		t.Errorf("the file of unknown size is left out: api %s, want 1.4", v.APIVersion())
	}
	if fmt.Sprintf("%+v", p.Files) != before {
		t.Error("the view changed the page")
	}
	for f := range v.Files() {
		_ = f
		break // stopping early is allowed
	}
}
