package policy

import (
	"strings"
	"testing"
	"time"
)

func TestContentCheck(t *testing.T) {
	r := DefaultRules()
	r.Default.Cooldown = 0
	old := t0.Add(-365 * 24 * time.Hour)
	pth := ContentFinding{Severity: "critical", Kind: "pth-exec", Path: "litellm_init.pth", Message: ".pth file with an executable line"}
	blob := ContentFinding{Severity: "medium", Kind: "encoded-blob", Path: "x/blob.py", Message: "very long encoded string literal"}
	for _, tt := range []struct {
		name string
		c    *Content
		want Action
		msg  string
	}{
		{"new executable .pth", &Content{New: []ContentFinding{pth}, PreviousVersion: "1.82.7", FilesAdded: []string{"litellm_init.pth"}}, Hold, "critical pth-exec in litellm_init.pth: .pth file with an executable line (not in 1.82.7)"},
		{"always had the .pth", &Content{Known: []ContentFinding{pth}, PreviousVersion: "1.82.7"}, Allow, "1 finding(s) the project has always had"},
		{"medium warns", &Content{New: []ContentFinding{blob}}, Warn, "encoded-blob"},
		{"could not inspect", &Content{Error: "could not inspect: compression ratio of x is over 200:1"}, Hold, "could not inspect: compression ratio"},
		{"clean", &Content{}, Allow, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := input("litellm", "1.82.8", old)
			in.Content = tt.c
			d := engine(t, r).Evaluate(in, t0)
			if d.Action != tt.want {
				t.Fatalf("%s (%+v), want %s", d.Action, d.Reasons, tt.want)
			}
			var msgs []string
			for _, x := range d.Reasons {
				msgs = append(msgs, x.Message)
			}
			if !strings.Contains(strings.Join(msgs, "|"), tt.msg) {
				t.Errorf("reasons %q lack %q", msgs, tt.msg)
			}
		})
	}
	strict := r
	strict.Default.ContentActions = map[string]Action{"medium": Hold}
	in := input("x", "1", old)
	in.Content = &Content{New: []ContentFinding{blob}}
	if d := engine(t, strict).Evaluate(in, t0); d.Action != Hold || d.Reasons[0].Evidence["path"] != "x/blob.py" {
		t.Errorf("medium: hold: %+v", d)
	}
	bad := r
	bad.Default.ContentActions = map[string]Action{"severe": Hold}
	if err := bad.Validate(); err == nil {
		t.Error("unknown severity accepted")
	}
}
