package work_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"airlock/index"
	"airlock/internal/storetest"
	"airlock/internal/testclock"
	"airlock/metrics"
	"airlock/storage"
	"airlock/work"
)

type checker struct {
	mu     sync.Mutex
	fail   map[string]int // filename -> failures left
	seen   []string
	budget map[string]bool
}

func (c *checker) Check(_ context.Context, it storage.WorkItem, budget func(string, int64) bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, it.Filename)
	if c.fail[it.Filename] > 0 {
		c.fail[it.Filename]--
		return "", errors.New("upstream down")
	}
	c.budget[it.Filename] = budget(it.Project, it.Size)
	return "done", nil
}

func file(name string, size int64) index.File {
	return index.File{Filename: name, Size: size, Hashes: index.Sha256(name + "-sha")}
}

// The queue on a real store: asked-for work runs before cooling work, a
// failure is retried after its back-off (not before), and the daily budget
// stops background downloads once spent.
func TestQueue(t *testing.T) {
	ctx := t.Context()
	store, err := storetest.Open(t, filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := testclock.New(time.Now())
	q := work.New(work.Options{Store: store, Metrics: metrics.New(), Log: zerolog.Nop(), Now: clock.Now, Workers: 1,
		ProjectBytes: 150, Retry: work.Backoff{Base: time.Minute, Max: time.Hour}})
	q.Add(ctx, "p", []index.File{file("cool-1.whl", 100), file("cool-2.whl", 100)}, work.PriorityCooling)
	q.Add(ctx, "p", []index.File{file("asked.whl", 10)}, work.PriorityAsked)
	c := &checker{fail: map[string]int{"cool-1.whl": 1}, budget: map[string]bool{}}
	if n := q.RunPending(ctx, c); n != 3 {
		t.Fatalf("ran %d items", n)
	}
	if c.seen[0] != "asked.whl" {
		t.Errorf("asked-for work did not run first: %v", c.seen)
	}
	if n := q.RunPending(ctx, c); n != 0 {
		t.Errorf("a failed item ran again before its back-off: %d", n)
	}
	clock.Advance(2 * time.Minute)
	if n := q.RunPending(ctx, c); n != 1 || c.seen[len(c.seen)-1] != "cool-1.whl" {
		t.Errorf("after the back-off: %d ran, %v", n, c.seen)
	}
	// 10 + 100 fit the project's 150 bytes; the second 100 does not.
	if !c.budget["asked.whl"] || !c.budget["cool-2.whl"] || c.budget["cool-1.whl"] {
		t.Errorf("budget: %v", c.budget)
	}
	if depth, _, _ := store.WorkStats(ctx); depth != 0 {
		t.Errorf("%d items left", depth)
	}
}

// While clients wait on checks (Busy), workers leave the CPU and the
// upstream to them; once they are done, the queue goes on.
func TestWorkersYieldToClients(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	store, err := storetest.Open(t, filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var mu sync.Mutex
	busy := true
	q := work.New(work.Options{Store: store, Metrics: metrics.New(), Log: zerolog.Nop(), Workers: 2,
		Busy: func() bool { mu.Lock(); defer mu.Unlock(); return busy }})
	q.Add(ctx, "p", []index.File{file("cool.whl", 10)}, work.PriorityCooling)
	c := &checker{budget: map[string]bool{}}
	done := make(chan struct{})
	go func() { q.Run(ctx, c, nil, 0); close(done) }()
	seen := func() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.seen) }
	time.Sleep(time.Second)
	if n := seen(); n != 0 {
		t.Fatalf("a worker took an item while clients were waiting (%d)", n)
	}
	mu.Lock()
	busy = false
	mu.Unlock()
	for deadline := time.Now().Add(5 * time.Second); seen() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the queue did not go on once the clients were served")
		}
	}
	cancel()
	<-done
}
