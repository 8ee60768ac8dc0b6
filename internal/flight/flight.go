// Package flight runs one shared call for all concurrent callers of a key,
// detached from the callers: a caller that hangs up stops waiting, but the
// call goes on (bounded by its timeout) for the others and for the cache it
// fills. The page fetch, the root list fetch and file downloads use it.
package flight

import (
	"context"
	"time"

	"golang.org/x/sync/singleflight"
)

// Do runs fn once for key across concurrent callers, on a context that
// keeps ctx's values but not its cancellation, bounded by timeout.
func Do[T any](ctx context.Context, g *singleflight.Group, key string, timeout time.Duration, fn func(context.Context) (T, error)) (T, error) {
	ch := g.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		return fn(fctx)
	})
	var zero T
	select {
	case <-ctx.Done():
		return zero, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return zero, res.Err
		}
		return res.Val.(T), nil
	}
}
