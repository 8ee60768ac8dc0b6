package simpleapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"airlock/gate"
)

// A cold file is downloaded, hashed and checked before its first byte:
// for a large one that takes longer than clients wait for an answer
// (pip reads with a 15 s time-out, uv with 30 s). Nothing of the file may
// go out before it passed, so the client is kept waiting by other means:
//   - clients on Python's HTTP stacks (pip, requests, poetry, httpx/pdm)
//     get a "100 Continue" every keepAliveEvery: they skip any number of
//     1xx answers (RFC 9110 says every client must), and each resets
//     their read time-out;
//   - others (uv: its time-out runs until the final answer) are sent back
//     to the same URL by a 307 every redirectEvery, a new request with a
//     fresh time-out, up to maxWaitHops times (uv follows ten); then a 503
//     with Retry-After, which they retry.
//
// The decision goes on meanwhile, on a context the client's going does
// not end: the next request finds it made.
const (
	keepAliveEvery = 5 * time.Second
	redirectEvery  = 20 * time.Second
	maxWaitHops    = 8
	waitParam      = "airlock-wait"
)

// answer is gate.File's outcome.
type answer struct {
	ans gate.FileAnswer
	err error
}

// fileWaiting asks the gate for a file and keeps the client waiting while
// it decides. done is false when the client was answered meanwhile (sent
// on, or gone).
func (s *Server) fileWaiting(w http.ResponseWriter, r *http.Request, req gate.FileRequest) (gate.FileAnswer, bool, error) {
	limit := s.opt.FillTimeout + s.opt.WriteTimeout
	if limit <= 0 {
		limit = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), limit)
	ch := make(chan answer, 1)
	go func() {
		defer cancel()
		a, err := s.opt.Gate.File(ctx, req)
		ch <- answer{a, err}
	}()
	select { // most answers come at once: no timer for them
	case a := <-ch:
		return a.ans, true, a.err
	default:
	}
	keepAlive := tolerates1xx(r)
	tick := time.NewTicker(keepAliveEvery)
	defer tick.Stop()
	hop := time.NewTimer(redirectEvery)
	defer hop.Stop()
	for {
		select {
		case a := <-ch:
			return a.ans, true, a.err
		case <-tick.C:
			if keepAlive {
				w.WriteHeader(http.StatusContinue)
			}
		case <-hop.C:
			if keepAlive {
				continue
			}
			s.sendOn(w, r, req)
			return gate.FileAnswer{}, false, nil
		case <-r.Context().Done():
			return gate.FileAnswer{}, false, r.Context().Err()
		}
	}
}

// sendOn answers a client that cannot be kept waiting: back to the same
// URL, or after maxWaitHops, a 503 it retries.
func (s *Server) sendOn(w http.ResponseWriter, r *http.Request, req gate.FileRequest) {
	n, _ := strconv.Atoi(r.URL.Query().Get(waitParam))
	if n >= maxWaitHops {
		w.Header().Set("Retry-After", "10")
		writeText(w, http.StatusServiceUnavailable, fmt.Sprintf("503 Airlock: still downloading and checking %s; ask again (it is not served before it passed)", req.Filename))
		return
	}
	q := url.Values{waitParam: {strconv.Itoa(n + 1)}}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, r.URL.Path+"?"+q.Encode(), http.StatusTemporaryRedirect)
}

// tolerates1xx: the client reads past 1xx answers and counts each as
// progress (Python's http.client, h11).
func tolerates1xx(r *http.Request) bool {
	if !r.ProtoAtLeast(1, 1) {
		return false // RFC 9110: no 1xx to an HTTP/1.0 client
	}
	ua := r.UserAgent()
	for _, p := range []string{"pip/", "python-requests/", "poetry/", "pdm/", "python-httpx/", "Python-urllib/"} {
		if strings.HasPrefix(ua, p) {
			return true
		}
	}
	return false
}
