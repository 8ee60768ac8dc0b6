package authlimit

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	l := New(3, time.Minute, func() time.Time { return now })
	for i := 0; i < 3; i++ {
		if l.Blocked(ctx, "1.2.3.4") {
			t.Fatalf("blocked after %d failures", i)
		}
		l.Fail(ctx, "1.2.3.4")
	}
	if !l.Blocked(ctx, "1.2.3.4") || l.Blocked(ctx, "5.6.7.8") {
		t.Error("the fourth attempt from the same address is not refused, or another address is")
	}
	now = now.Add(61 * time.Second)
	if l.Blocked(ctx, "1.2.3.4") {
		t.Error("still blocked after the window")
	}
}

type counter struct {
	n   map[string]int
	err error
}

func (c *counter) Failures(_ context.Context, remote string, _ time.Time) (int, error) {
	return c.n[remote], c.err
}
func (c *counter) AddFailure(_ context.Context, remote string, _ time.Time) error {
	c.n[remote]++
	return nil
}

// Shared, the limiter counts where every replica counts; a count that
// cannot be read refuses the guesser (it is asked only after a wrong token).
func TestSharedCounter(t *testing.T) {
	ctx := t.Context()
	c := &counter{n: map[string]int{}}
	l := New(3, time.Minute, nil)
	l.Share(c)
	for i := 0; i < 3; i++ {
		if l.Blocked(ctx, "1.2.3.4") {
			t.Fatalf("blocked after %d failures", i)
		}
		l.Fail(ctx, "1.2.3.4")
	}
	if !l.Blocked(ctx, "1.2.3.4") || c.n["1.2.3.4"] != 3 {
		t.Errorf("after 3 failures: blocked %v, shared count %d", l.Blocked(ctx, "1.2.3.4"), c.n["1.2.3.4"])
	}
	c.err = errors.New("database down")
	if !l.Blocked(ctx, "5.6.7.8") {
		t.Error("an unreadable count let a guesser through")
	}
}
