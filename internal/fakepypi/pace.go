package fakepypi

import (
	"net/http"
	"sync/atomic"
	"time"
)

// Pace is a real network's pace for every answer: Latency before the
// first byte, then at most BytesPerSecond per connection (0: unbounded).
type Pace struct {
	Latency        time.Duration
	BytesPerSecond int64
}

// SetPace paces every answer of the index and the file host from now on.
func (s *Server) SetPace(p Pace) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pace = p
}

// BytesServed counts the body bytes the file host has sent (distribution
// and metadata files), since start.
func (s *Server) BytesServed() int64 { return s.fileBytes.Load() }

// paced writes through a pace, counting what it wrote.
type paced struct {
	http.ResponseWriter
	rate    int64
	start   time.Time
	written int64
	count   *atomic.Int64
	done    <-chan struct{}
}

func (p *paced) Write(b []byte) (int, error) {
	total := 0
	for len(b) > 0 {
		n := len(b)
		if p.rate > 0 {
			n = min(n, 32<<10)
		}
		m, err := p.ResponseWriter.Write(b[:n])
		total += m
		p.written += int64(m)
		if p.count != nil {
			p.count.Add(int64(m))
		}
		if err != nil {
			return total, err
		}
		b = b[n:]
		if p.rate > 0 {
			// Sleep until the bytes so far fit the rate.
			due := p.start.Add(time.Duration(float64(p.written) / float64(p.rate) * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				http.NewResponseController(p.ResponseWriter).Flush()
				select {
				case <-time.After(wait):
				case <-p.done:
					return total, http.ErrAbortHandler
				}
			}
		}
	}
	return total, nil
}

func (p *paced) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// withPace wraps a handler's writer in the server's pace; count, when not
// nil, adds the bytes written.
func (s *Server) withPace(w http.ResponseWriter, r *http.Request, count *atomic.Int64) (http.ResponseWriter, bool) {
	s.mu.Lock()
	p := s.pace
	s.mu.Unlock()
	if p.Latency > 0 {
		select {
		case <-time.After(p.Latency):
		case <-r.Context().Done():
			return w, false
		}
	}
	if p.BytesPerSecond == 0 && count == nil {
		return w, true
	}
	return &paced{ResponseWriter: w, rate: p.BytesPerSecond, start: time.Now(), count: count, done: r.Context().Done()}, true
}
