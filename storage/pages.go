package storage

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// A project page is stored gzipped. One that compresses to more than
// pageChunkBytes (a project with tens of thousands of files) is cut into
// pieces of that size in page_chunks, and its pages record is a marker
// saying how many: bbolt keeps a value inline in a leaf that holds at
// least one neighbour, and copies a changed leaf whole into memory
// (twice, when the file grows), so writing one 17 MB page value cost
// three times its size and its neighbours' — the memory peak of a cold
// 199,000-file page. In pieces, a write touches the page's own pieces.
const pageChunkBytes = 1 << 20

var bucketPageChunks = []byte("page_chunks")

// chunkedMagic starts a pages record that points into page_chunks; it is
// neither gzip (0x1f 0x8b) nor JSON, which is what the other records are.
var chunkedMagic = []byte("\x00airlock-chunks")

var gzipMagic = []byte{0x1f, 0x8b}

func chunkKey(project string, i int) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(project), 0), uint32(i))
}

// GetPage returns the cached page of a project, or ErrNotFound.
func (s *Store) GetPage(ctx context.Context, project string) (CachedPage, error) {
	var cp CachedPage
	var raw [][]byte
	err := s.db.View(ctx, func(tx kvTx) error {
		v := tx.Bucket(bucketPages).Get([]byte(project))
		if v == nil {
			return ErrNotFound
		}
		if !bytes.HasPrefix(v, chunkedMagic) {
			raw = [][]byte{s.copyOut(v)}
			return nil
		}
		n, ok := chunkCount(v)
		if !ok {
			return fmt.Errorf("storage: corrupt page %q: bad chunk marker", project)
		}
		chunks := tx.Bucket(bucketPageChunks)
		for i := range n {
			c := chunks.Get(chunkKey(project, i))
			if c == nil {
				return fmt.Errorf("storage: corrupt page %q: piece %d of %d missing", project, i+1, n)
			}
			raw = append(raw, s.copyOut(c))
		}
		return nil
	})
	if err != nil {
		return cp, err
	}
	if len(raw) > 1 || bytes.HasPrefix(raw[0], gzipMagic) {
		readers := make([]io.Reader, len(raw))
		for i, c := range raw {
			readers[i] = bytes.NewReader(c)
		}
		zr, err := gzip.NewReader(io.MultiReader(readers...))
		if err != nil {
			return cp, fmt.Errorf("storage: corrupt page %q: %w", project, err)
		}
		defer zr.Close()
		if cp, err = readPage(zr); err != nil {
			return cp, fmt.Errorf("storage: corrupt page %q: %w", project, err)
		}
		return cp, nil
	}
	if err := json.Unmarshal(raw[0], &cp); err != nil { // stored before pages were compressed
		return cp, fmt.Errorf("storage: corrupt page %q: %w", project, err)
	}
	return cp, nil
}

// copyOut copies a value read in a transaction to the heap, and on bbolt
// lets the kernel drop the map's pages that held it: read pages of a huge
// project would otherwise stay resident for as long as the process runs.
func (s *Store) copyOut(v []byte) []byte {
	out := bytes.Clone(v)
	if s.bolt != nil {
		releaseMapped(v) // v is bbolt's memory map here, never the heap
	}
	return out
}

func chunkCount(marker []byte) (int, bool) {
	rest := marker[len(chunkedMagic):]
	if len(rest) != 4 {
		return 0, false
	}
	n := int(binary.BigEndian.Uint32(rest))
	return n, n > 1
}

// PutPage stores a project page, gzipped: a big project's page is tens of
// MB of JSON that compresses several times over.
func (s *Store) PutPage(ctx context.Context, cp CachedPage) error {
	var w chunkWriter
	zw, _ := gzip.NewWriterLevel(&w, gzip.BestSpeed)
	if err := writePage(zw, cp); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	key := []byte(cp.Page.Name)
	err := full(s.db.Update(ctx, func(tx kvTx) error {
		chunks := tx.Bucket(bucketPageChunks)
		if err := deleteChunks(tx.Bucket(bucketPages).Get(key), chunks, cp.Page.Name); err != nil {
			return err
		}
		if len(w.chunks) == 1 {
			return tx.Bucket(bucketPages).Put(key, w.chunks[0])
		}
		for i, c := range w.chunks {
			if err := chunks.Put(chunkKey(cp.Page.Name, i), c); err != nil {
				return err
			}
		}
		marker := binary.BigEndian.AppendUint32(bytes.Clone(chunkedMagic), uint32(len(w.chunks)))
		return tx.Bucket(bucketPages).Put(key, marker)
	}))
	if err == nil && len(w.chunks) > 1 {
		s.releasePages()
	}
	return err
}

// deleteChunks removes the pieces an earlier version of the page was
// stored in, if it was.
func deleteChunks(old []byte, chunks kvBucket, project string) error {
	if !bytes.HasPrefix(old, chunkedMagic) {
		return nil
	}
	n, _ := chunkCount(old)
	for i := range n {
		if err := chunks.Delete(chunkKey(project, i)); err != nil {
			return err
		}
	}
	return nil
}

// chunkWriter keeps what is written in pieces of pageChunkBytes, each
// after the first allocated once at its full size: one growing buffer
// would hold up to twice the page while it doubles.
type chunkWriter struct{ chunks [][]byte }

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		switch {
		case len(w.chunks) == 0: // most pages are small: this one grows as needed
			w.chunks = [][]byte{make([]byte, 0, 4096)}
		case len(w.chunks[len(w.chunks)-1]) == pageChunkBytes:
			w.chunks = append(w.chunks, make([]byte, 0, pageChunkBytes))
		}
		last := &w.chunks[len(w.chunks)-1]
		take := min(len(p), pageChunkBytes-len(*last))
		*last = append(*last, p[:take]...)
		p = p[take:]
	}
	return n, nil
}
