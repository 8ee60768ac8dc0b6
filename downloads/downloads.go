// Package downloads records every file Airlock serves: when, what, to
// which address and client. A request only hands its record to a buffer;
// one writer stores the records in batches, so a warm download costs no
// database write of its own.
package downloads

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"airlock/storage"
)

// Sink stores a batch of records; *storage.Store is one.
type Sink interface {
	PutDownloads(ctx context.Context, recs []storage.DownloadRecord) error
}

const (
	bufferSize = 1 << 16
	batchMax   = 2048
	// maxPending bounds the records kept in memory while the store
	// refuses them (a full disk): beyond it the oldest are dropped, and
	// said so, rather than stalling every download.
	maxPending = 1 << 20
	// writeEvery spaces the writes: a busy mirror's records go in one
	// transaction a second instead of one per few requests (each commit
	// costs a sync), at the price of up to a second of records if the
	// process is killed (Close writes what is queued).
	writeEvery = 500 * time.Millisecond
)

// Recorder batches records into a Sink.
type Recorder struct {
	sink    Sink
	log     zerolog.Logger
	ch      chan storage.DownloadRecord
	done    chan struct{}
	closing sync.Once
	closed  chan struct{}
	retry   time.Duration
}

// New starts a recorder's writer.
func New(sink Sink, log zerolog.Logger) *Recorder {
	r := &Recorder{sink: sink, log: log, ch: make(chan storage.DownloadRecord, bufferSize), done: make(chan struct{}), closed: make(chan struct{}), retry: time.Second}
	go r.write()
	return r
}

// Record queues a record. It waits only when the buffer is full.
func (r *Recorder) Record(rec storage.DownloadRecord) { r.ch <- rec }

// Close stores what is queued and stops the writer.
func (r *Recorder) Close() {
	r.closing.Do(func() { close(r.closed); close(r.ch) })
	<-r.done
}

func (r *Recorder) write() {
	defer close(r.done)
	// The records outlive the requests that made them; the store bounds
	// each write.
	ctx := context.Background()
	var pending []storage.DownloadRecord
	for {
		if len(pending) == 0 {
			rec, ok := <-r.ch
			if !ok {
				return
			}
			pending = append(pending, rec)
		}
		open := r.drain(&pending)
		for len(pending) > 0 {
			n := min(len(pending), batchMax)
			if err := r.sink.PutDownloads(ctx, pending[:n]); err != nil {
				r.log.Error().Err(err).Int("pending", len(pending)).Msg("download records not stored; retrying")
				if len(pending) > maxPending {
					drop := len(pending) - maxPending
					r.log.Error().Int("dropped", drop).Msg("download records dropped: the store refused them too long")
					pending = pending[drop:]
				}
				if !open {
					return // shutting down: the store will not recover now
				}
				time.Sleep(r.retry)
				open = r.drain(&pending)
				continue
			}
			pending = pending[n:]
		}
		if !open {
			return
		}
		r.pause()
	}
}

// pause waits writeEvery, or less if the recorder is closing.
func (r *Recorder) pause() {
	select {
	case <-time.After(writeEvery):
	case <-r.closed:
	}
}

// drain moves what is queued into pending without waiting; it reports
// whether the channel is still open.
func (r *Recorder) drain(pending *[]storage.DownloadRecord) bool {
	for {
		select {
		case rec, ok := <-r.ch:
			if !ok {
				return false
			}
			*pending = append(*pending, rec)
		default:
			return true
		}
	}
}
