// Package authlimit slows down token guessing: after a number of failed
// attempts from one address within a window, further attempts from it are
// refused until the window has passed. Shared by the admin API and the
// review page.
package authlimit

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limiter counts failures per remote address. It is safe for concurrent use.
type Limiter struct {
	max    int
	window time.Duration
	now    func() time.Time
	shared Counter

	mu       sync.Mutex
	failures map[string][]time.Time
}

// Counter keeps failures where every replica sees them (the store).
type Counter interface {
	Failures(ctx context.Context, remote string, since time.Time) (int, error)
	AddFailure(ctx context.Context, remote string, at time.Time) error
}

// Share counts failures in c instead of this process, so guessing across
// replicas is throttled as on one.
func (l *Limiter) Share(c Counter) { l.shared = c }

// ErrThrottled: the address sent too many wrong credentials lately.
var ErrThrottled = errors.New("too many failed attempts from this address; wait a minute")

// New allows max failures per window from one address.
func New(max int, window time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{max: max, window: window, now: now, failures: map[string][]time.Time{}}
}

// Blocked reports whether remote has failed too often lately.
func (l *Limiter) Blocked(ctx context.Context, remote string) bool {
	if l.shared != nil {
		n, err := l.shared.Failures(ctx, remote, l.now().Add(-l.window))
		// It is only asked after a wrong token: when the count cannot be
		// read, refusing costs a guesser, never the right token.
		return err != nil || n >= l.max
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(remote)) >= l.max
}

// Fail records a failed attempt.
func (l *Limiter) Fail(ctx context.Context, remote string) {
	if l.shared != nil {
		l.shared.AddFailure(ctx, remote, l.now())
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) > 10_000 { // bound the memory an attacker can make us use
		l.failures = map[string][]time.Time{}
	}
	l.failures[remote] = append(l.recent(remote), l.now())
}

func (l *Limiter) recent(remote string) []time.Time {
	cutoff := l.now().Add(-l.window)
	kept := l.failures[remote][:0]
	for _, t := range l.failures[remote] {
		if t.After(cutoff) {
			kept = append(kept, t)
		}
	}
	if len(kept) == 0 {
		delete(l.failures, remote)
		return nil
	}
	l.failures[remote] = kept
	return kept
}

// Remote is the address a request came from (host, without the port): the
// key the limiter counts by, and what the audit log records.
func Remote(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
