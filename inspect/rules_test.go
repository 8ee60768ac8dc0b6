package inspect

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"airlock/internal/malcorpus"
)

// rulesFingerprints records, for each RulesVersion, what the rules find in
// the corpus. Stored reports are made again only when RulesVersion
// changes, so a change to what inspection finds must come with a new
// version: this test fails until it does.
var rulesFingerprints = map[string]string{
	"2026-12-03":   "39d8dad16f7fbf52",
	"2026-12-03.2": "3abaa1cbb4de4e32",
	"2026-12-03.3": "3abaa1cbb4de4e32",
}

func TestRulesVersion(t *testing.T) {
	h := sha256.New()
	for _, s := range malcorpus.Shapes {
		for _, kind := range []string{"wheel", "sdist"} {
			build, ok := s.Variants()[kind]
			if !ok {
				continue
			}
			fn, data := build()
			rep, err := inspectBytes(t, fn, data)
			if err != nil {
				fmt.Fprintf(h, "%s: %v\n", fn, err)
				continue
			}
			for _, f := range rep.Findings {
				fmt.Fprintf(h, "%s|%s|%s|%s|%d|%s\n", fn, f.Severity, f.Kind, f.Path, f.Line, f.Message)
			}
		}
	}
	got := hex.EncodeToString(h.Sum(nil))[:16]
	if want := rulesFingerprints[RulesVersion]; got != want {
		t.Fatalf("what inspection finds in the corpus changed (fingerprint %s, recorded %q for %s): give RulesVersion a new value and record %s for it in rulesFingerprints", got, want, RulesVersion, got)
	}
}
