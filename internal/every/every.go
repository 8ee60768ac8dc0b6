// Package every runs a function on an interval until a context ends: the
// loop behind every background refresh (feeds, index lists, warnings).
package every

import (
	"context"
	"time"
)

// Run calls fn every interval, the first time after one interval, until
// ctx ends.
func Run(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
