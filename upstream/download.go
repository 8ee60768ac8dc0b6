package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Download streams the file at rawURL into w, which must enforce its own
// size cap. Only allowed hosts are contacted, redirects included.
func (c *Client) Download(ctx context.Context, rawURL string, w io.ReaderFrom) (err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("%w: bad file url", ErrUnavailable)
	}
	if err := c.CheckHost(u); err != nil {
		return err
	}
	start := time.Now()
	defer func() { c.observe("file", start, err) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", c.opt.UserAgent)
	// Ask for the bytes as stored: a transparently decompressed body would
	// not hash to the published digest.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, ErrHostNotAllowed) {
			return err
		}
		return fmt.Errorf("%w: %s", ErrUnavailable, redact(err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return ErrNotFound
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%w: %s answered %s", ErrUnavailable, u.Host, resp.Status)
	}
	body := &readSide{r: resp.Body}
	if _, err := w.ReadFrom(body); err != nil {
		// Only a failure reading from the upstream is the upstream's; a
		// failure writing (the store is full) is passed on as it is.
		if body.err != nil && !errors.Is(body.err, io.EOF) || ctx.Err() != nil {
			return fmt.Errorf("%w: download interrupted: %s", ErrUnavailable, redact(err))
		}
		return err
	}
	return nil
}

// readSide remembers the last error reading the upstream's body.
type readSide struct {
	r   io.Reader
	err error
}

func (b *readSide) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil {
		b.err = err
	}
	return n, err
}
