package simpleapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/url"
	"time"

	"airlock/gate"
	"airlock/index"
)

// render returns the page in the given media type with the gate applied.
// The body is reused until a file's state changes or a time-bound hold on
// the page ends. The listing may wait on the network (signals, earlier
// attestations), so it runs outside the entry's lock, once for all
// concurrent requests of the same page, media type and generation. A page
// too large for the page cache is rendered for each request in the one
// form it needs (gzip for pip and uv), so its plain body and its gzip form
// are never in memory together.
func (s *Server) render(ctx context.Context, e *gate.Entry, media string, gz bool) (gate.RenderedBody, error) {
	g := s.opt.Gate
	gen := g.Generation()
	kept := g.Keeps(e)
	if kept {
		if rb, ok := g.RenderedBody(e, media); ok {
			return rb, nil
		}
		gz = false // a kept page is rendered in both forms
	}
	v, err, _ := s.renders.Do(g.RenderKey(e, media, gen, gz), func() (any, error) {
		return s.renderListing(context.WithoutCancel(ctx), e, media, gen, kept, gz) // shared: not cut short by one client
	})
	if err != nil {
		return gate.RenderedBody{}, err
	}
	return v.(gate.RenderedBody), nil
}

// newRenderedBody computes a body's validator and its gzip form once, so
// warm requests only compare and write.
func newRenderedBody(b []byte, gen uint64, until time.Time) gate.RenderedBody {
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	zw.Write(b)
	zw.Close()
	return gate.RenderedBody{Body: b, Gen: gen, Until: until, ETag: pageETag(sha256.Sum256(b)), Gzip: gz.Bytes()}
}

// pageETag names a plain body by its sha256 (the gzip form adds "-gz").
func pageETag(sum [sha256.Size]byte) string { return `"` + hex.EncodeToString(sum[:12]) + `"` }

// renderListing renders a page: a kept page in both forms, remembered in
// its entry so warm requests only compare and write; a page not kept in
// the one form asked for, the gzip form streamed from the renderer with
// the plain body hashed on the way (the ETag is the same either way) but
// never held.
func (s *Server) renderListing(ctx context.Context, e *gate.Entry, media string, gen uint64, kept, gz bool) (gate.RenderedBody, error) {
	view, until := s.opt.Gate.Listing(ctx, &e.Cached.Page, s.opt.HideHeld)
	rw := localURLs(view.Page.Name)
	write := index.WriteHTML
	if media == index.MediaJSON {
		write = index.WriteJSON
	}
	if gz {
		return renderGzip(view, rw, write, gen, until)
	}
	b, err := index.Render(view, rw, write)
	if err != nil {
		return gate.RenderedBody{}, err
	}
	if !kept {
		return gate.RenderedBody{Body: b, Gen: gen, Until: until, ETag: pageETag(sha256.Sum256(b))}, nil
	}
	rb := newRenderedBody(b, gen, until)
	s.opt.Gate.KeepRendered(e, media, rb)
	return rb, nil
}

// renderGzip renders a view straight into its gzip form.
func renderGzip(view *index.View, rw index.Rewrite, write index.Writer, gen uint64, until time.Time) (gate.RenderedBody, error) {
	var out bytes.Buffer
	out.Grow(64 * len(view.Page.Files)) // what a page's gzip form takes per file, about
	h := sha256.New()
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	if err := write(io.MultiWriter(h, zw), view, rw); err != nil {
		return gate.RenderedBody{}, err
	}
	if err := zw.Close(); err != nil {
		return gate.RenderedBody{}, err
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return gate.RenderedBody{Gen: gen, Until: until, ETag: pageETag(sum), Gzip: out.Bytes()}, nil
}

// localURLs rewrites every file, metadata and provenance URL to Airlock's
// own endpoints so that a client never talks to another host. The metadata
// URL is the file URL plus ".metadata" (PEP 658), so it follows.
func localURLs(project string) index.Rewrite {
	return func(f index.File) (string, string) {
		fileURL := "/files/" + project + "/" + url.PathEscape(f.Filename)
		prov := ""
		if f.Provenance != "" {
			if v, ok := index.VersionFromFilename(project, f.Filename); ok {
				prov = "/integrity/" + project + "/" + url.PathEscape(v) + "/" + url.PathEscape(f.Filename) + "/provenance"
			}
		}
		return fileURL, prov
	}
}

// renderList is the root list in a media type, rendered once per read of
// the list.
func renderList(l *gate.List, media string) (gate.RenderedBody, error) {
	key := "list/" + media
	if v, ok := l.Derived.Get(key); ok {
		return v.(gate.RenderedBody), nil
	}
	var b []byte
	var err error
	if media == index.MediaJSON {
		b, err = index.RenderProjectListJSON(l.Names)
	} else {
		b, err = index.RenderProjectListHTML(l.Names)
	}
	if err != nil {
		return gate.RenderedBody{}, err
	}
	rb := newRenderedBody(b, 0, time.Time{})
	l.Derived.Put(key, rb)
	return rb, nil
}

// fetchedAt is for the staleness header.
func staleHeader(t time.Time) string { return t.UTC().Format(time.RFC1123) }
