package simpleapi

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"airlock/gate"
	"airlock/internal/fakepypi"
	"airlock/policy"
	"airlock/quarantine"
	"airlock/storage"
)

// decisionsDown is a store whose page-wide decision read fails on demand.
type decisionsDown struct {
	quarantine.Store
	down *atomic.Bool
}

func (d decisionsDown) DecisionsOf(ctx context.Context, shas []string) (map[string]storage.DecisionRecord, error) {
	if d.down.Load() {
		return nil, errors.New("decisions unreadable")
	}
	return d.Store.DecisionsOf(ctx, shas)
}

// A page whose decisions cannot be read offers nothing installable: every
// file is listed yanked with "could not evaluate the policy" (fail closed),
// and once the store answers the page is as before.
func TestListingFailsClosedWhenDecisionsCannotBeRead(t *testing.T) {
	var down atomic.Bool
	var q *quarantine.Service
	h := newHarness(t, func(o *gate.Options, _ *fakepypi.Server) {
		engine, err := policy.NewEngine(policy.DefaultRules())
		if err != nil {
			t.Fatal(err)
		}
		q = quarantine.New(decisionsDown{Store: o.Store.(quarantine.Store), down: &down}, engine, nil, o.Now, zerolog.Nop())
		o.Quarantine = q
	})
	const accept = "application/vnd.pypi.simple.v1+json"
	_, body := h.get("/simple/alpha/", "Accept", accept)
	if strings.Contains(string(body), "could not evaluate") || !strings.Contains(string(body), `"filename":"alpha-1.0-py3-none-any.whl"`) {
		t.Fatalf("store up: %s", body)
	}
	down.Store(true)
	q.Invalidate()
	_, body = h.get("/simple/alpha/", "Accept", accept)
	files := strings.Count(string(body), `"filename":`)
	if held := strings.Count(string(body), `"yanked":"held by Airlock: could not evaluate the policy"`); files != 3 || held != files {
		t.Errorf("decisions unreadable: %d of %d files yanked, want all 3:\n%s", held, files, body)
	}
	down.Store(false)
	q.Invalidate()
	if _, body = h.get("/simple/alpha/", "Accept", accept); strings.Contains(string(body), "could not evaluate") {
		t.Errorf("store back: %s", body)
	}
}
