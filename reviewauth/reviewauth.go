// Package reviewauth says who may review and decide: the admin API and
// the review pages accept the shared admin token or a reviewer's own token
// (admin.reviewers_file, read by clientauth), and throttle wrong tokens per
// client address (authlimit; shared through the store so every replica
// throttles a guesser alike). A right token is never refused: nobody can
// lock the admin out by guessing.
package reviewauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"time"

	"airlock/authlimit"
	"airlock/clientauth"
)

// Options configure a Checker.
type Options struct {
	Token string // the shared admin token; empty: nobody signs in
	// Reviewers are per-reviewer tokens; nil: the admin token only.
	Reviewers *clientauth.Authenticator
	// Throttle counts wrong tokens across replicas; nil: this process only.
	Throttle authlimit.Counter
	Now      func() time.Time
}

// Checker checks tokens; safe for concurrent use.
type Checker struct {
	token     string
	reviewers *clientauth.Authenticator
	limiter   *authlimit.Limiter
}

// New builds a Checker: 10 wrong tokens a minute per address, then wait.
func New(opt Options) *Checker {
	c := &Checker{token: opt.Token, reviewers: opt.Reviewers, limiter: authlimit.New(10, time.Minute, opt.Now)}
	if opt.Throttle != nil {
		c.limiter.Share(opt.Throttle)
	}
	return c
}

// Enabled reports whether anyone can sign in (an admin token is set).
func (c *Checker) Enabled() bool { return c != nil && c.token != "" }

// Who is whom a right token names.
type Who struct {
	// Reviewer is the reviewer's name when the token is their own; empty
	// for the shared admin token (the caller says who they are).
	Reviewer string
}

// Own reports whether the token was a reviewer's own.
func (w Who) Own() bool { return w.Reviewer != "" }

var (
	// ErrWrong: the token is neither the admin token nor a reviewer's.
	ErrWrong = errors.New("missing or wrong token")
	// ErrThrottled: too many wrong tokens from this address; wait a minute.
	ErrThrottled = authlimit.ErrThrottled
)

// Check says whom token names, for the request r; a wrong token counts
// against r's address.
func (c *Checker) Check(ctx context.Context, r *http.Request, token string) (Who, error) {
	if !c.Enabled() {
		return Who{}, ErrWrong
	}
	admin := token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(c.token)) == 1
	if admin {
		return Who{}, nil
	}
	if c.reviewers != nil && token != "" {
		if name, err := c.reviewers.Token(r, token); err == nil {
			return Who{Reviewer: name}, nil
		}
	}
	remote := Remote(r)
	if c.limiter.Blocked(ctx, remote) {
		return Who{}, ErrThrottled
	}
	c.limiter.Fail(ctx, remote)
	return Who{}, ErrWrong
}

// Remote is the client address a request is counted against (after the
// trusted proxies' X-Forwarded-For).
func Remote(r *http.Request) string { return authlimit.Remote(r) }
