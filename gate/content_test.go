package gate_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"airlock/gate"
	"airlock/inspect"
	"airlock/internal/fakepypi"
	"airlock/internal/testclock"
)

// noTrees is a forge that has no repository for anything.
type noTrees struct{}

func (noTrees) Tree(context.Context, string, string) (map[string]string, error) {
	return nil, inspect.ErrNoSource
}

// heldMemo is a store whose analysis memo answers only once the fake has
// been asked for a file (or after a few seconds): an inspection that
// starts is held there until then.
type heldMemo struct {
	gate.Store
	asked  func() bool
	before atomic.Bool // the file was asked for before any analysis was read
	first  atomic.Bool
}

func (h *heldMemo) GetAnalysis(ctx context.Context, key string) ([]byte, error) {
	if h.first.CompareAndSwap(false, true) {
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && !h.asked(); {
			time.Sleep(5 * time.Millisecond)
		}
		h.before.Store(h.asked())
	}
	return h.Store.GetAnalysis(ctx, key)
}

// TestSdistFetchedWhileTheWheelIsInspected: where no repository can be
// read, a wheel is compared with its release's sdist; the sdist is
// downloaded while the wheel is inspected, not after, so the client waits
// for one download and one inspection, not two of each in a row.
func TestSdistFetchedWhileTheWheelIsInspected(t *testing.T) {
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	files := map[string]string{"alpha/__init__.py": "from .core import run\n", "alpha/core.py": "def run():\n    return 1\n"}
	extra := map[string]string{}
	for p, body := range files {
		extra[p] = body
	}
	wheel := fake.AddWheel(fakepypi.WheelSpec{Name: "alpha", Version: "1.0", Extra: extra}, uploaded)
	sdist := fake.AddSdistWith("alpha", "1.0", files, uploaded)
	sdistPath := "/packages/" + sdist.SHA256()[:8] + "/" + sdist.Filename
	var held *heldMemo
	g := newGate(t, fake, testclock.New(time.Now()).Now, func(o *gate.Options) {
		held = &heldMemo{Store: o.Store, asked: func() bool { return fake.Hits(sdistPath) > 0 }}
		o.Store, o.Sources = held, noTrees{}
	})
	ans, err := g.File(t.Context(), gate.FileRequest{Project: "alpha", Filename: wheel.Filename})
	if err != nil || !ans.View.Serve {
		t.Fatalf("wheel: %+v %v", ans, err)
	}
	if !held.first.Load() {
		t.Fatal("the wheel was not inspected")
	}
	if !held.before.Load() {
		t.Error("the sdist was downloaded only after the wheel's inspection")
	}
	if n := fake.Hits(sdistPath); n != 1 {
		t.Errorf("sdist downloaded %d times, want 1", n)
	}
	if c := ans.View.Inputs.Content; c == nil || !strings.Contains(c.Note, "compared with "+sdist.Filename) {
		t.Errorf("the wheel was not compared with its sdist: %+v", c)
	}
}
