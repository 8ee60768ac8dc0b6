package authlimit

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	l := New(3, time.Minute, func() time.Time { return now })
	for i := 0; i < 3; i++ {
		if l.Blocked("1.2.3.4") {
			t.Fatalf("blocked after %d failures", i)
		}
		l.Fail("1.2.3.4")
	}
	if !l.Blocked("1.2.3.4") || l.Blocked("5.6.7.8") {
		t.Error("the fourth attempt from the same address is not refused, or another address is")
	}
	now = now.Add(61 * time.Second)
	if l.Blocked("1.2.3.4") {
		t.Error("still blocked after the window")
	}
}
